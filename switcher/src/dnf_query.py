# Ask dnf which repositories it loads for a root. Shipped inside alma-ext
# (switcher/src/dnfquery.rs) and run with the interpreter dnf itself runs
# with; prints one JSON document on stdout.
#
# Request on stdin: {"root": "/abs/root", "parse": ["/abs/file.repo", ...]}
# - root "/" is the running system; any other root is read the way
#   `dnf --installroot=ROOT` with ROOT's own dnf.conf, vars and reposdirs
#   reads it, never the host's.
# - "parse": extra files read one by one as repo files (the parser tests).
#
# Exit 3 with {"error": "no-dnf"} when the dnf module cannot be imported.
import glob
import json
import logging
import os
import sys


class Collect(logging.Handler):
    def __init__(self):
        logging.Handler.__init__(self, logging.WARNING)
        self.messages = []

    def emit(self, record):
        try:
            self.messages.append(record.getMessage())
        except Exception:  # a message dnf could not format is still a warning
            self.messages.append(str(record.msg))


def inside(root, path):
    if root == "/":
        return path
    return os.path.join(root, path.lstrip("/"))


def strs(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value if str(v)]


def os_release_major(root):
    for p in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            with open(inside(root, p)) as f:
                for line in f:
                    k, _, v = line.strip().partition("=")
                    if k == "VERSION_ID":
                        v = v.strip().strip('"').strip("'")
                        return v.split(".")[0] or None
        except OSError:
            continue
    return None


def describe(repo, raw_id, path):
    return {
        "id": repo.id,
        "section": raw_id,
        "file": path,
        "enabled": bool(repo.enabled),
        "baseurl": strs(repo.baseurl),
        "mirrorlist": strs(repo.mirrorlist),
        "metalink": strs(repo.metalink),
    }


def main():
    req = json.load(sys.stdin)
    root = req["root"]
    try:
        import dnf.conf
        import dnf.conf.read
        import dnf.exceptions
        import dnf.rpm
        import dnf.util
    except ImportError as e:
        json.dump({"error": "no-dnf", "message": str(e)}, sys.stdout)
        return 3

    collect = Collect()
    logging.getLogger("dnf").addHandler(collect)
    logging.getLogger("dnf").propagate = False

    conf = dnf.conf.Conf()
    config_file = inside(root, "/etc/dnf/dnf.conf")
    has_config = os.path.isfile(config_file)
    if has_config:
        conf.config_file_path = config_file
        conf.read(config_file, priority=dnf.conf.PRIO_MAINCONFIG)
    reposdirs = [inside(root, d) for d in conf.reposdir]
    varsdirs = list(conf.varsdir)
    conf.substitutions.update_from_etc(root, varsdir=varsdirs)

    if "releasever" in conf.substitutions:
        source = "vars"
    else:
        releasever = None
        try:
            releasever = dnf.rpm.detect_releasever(root)
        except Exception as e:  # a damaged rpm database: say so, go on
            collect.messages.append("detecting releasever: %s" % e)
        source = "rpmdb"
        if releasever is None:
            releasever = os_release_major(root)
            source = "os-release" if releasever else "none"
        if releasever is not None:
            conf.releasever = releasever

    reader = dnf.conf.read.RepoReader(conf, None)

    def read(path):
        out = {"path": path, "error": None, "repos": []}
        try:
            for r in reader._get_repos(path):
                out["repos"].append(describe(r, getattr(r, "_section", r.id), path))
        except dnf.exceptions.ConfigError as e:
            out["error"] = str(e)
            out["repos"] = []
        return out

    sources = []
    if has_config:
        sources.append(config_file)
    found = []
    for d in reposdirs:
        found.extend(glob.glob(os.path.join(d, "*.repo")))
    # dnf's own order (older dnf 4 releases sort the plain paths).
    split = getattr(dnf.util, "split_path", None)
    found.sort(key=(lambda x: split(x[:-5])) if split else None)
    sources.extend(found)

    files = []
    repos = []
    seen = set()
    for path in sources:
        f = read(path)
        files.append(f)
        for r in f["repos"]:
            if r["id"] in seen:
                collect.messages.append(
                    "Repository %s is listed more than once in the configuration" % r["id"])
                continue
            seen.add(r["id"])
            repos.append(r)

    parsed = [read(p) for p in req.get("parse", [])]

    json.dump({
        "root": root,
        "config_file": config_file if has_config else None,
        "reposdirs": reposdirs,
        "varsdirs": varsdirs,
        "releasever": conf.substitutions.get("releasever"),
        "releasever_source": source,
        "basearch": conf.substitutions.get("basearch"),
        "vars": dict(conf.substitutions),
        "files": files,
        "repos": repos,
        "parsed": parsed,
        "warnings": collect.messages,
    }, sys.stdout)
    return 0


# The section name as written (`[$id]` before substitution), kept by
# _get_repos on the repo it builds.
def _patch_reader():
    import dnf.conf.read
    orig = dnf.conf.read.RepoReader._build_repo

    def build(self, parser, id_, repofn):
        repo = orig(self, parser, id_, repofn)
        repo._section = id_
        return repo

    dnf.conf.read.RepoReader._build_repo = build


if __name__ == "__main__":
    try:
        _patch_reader()
    except ImportError:
        pass
    sys.exit(main())
