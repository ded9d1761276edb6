# alma-ext security-status: what dnf sees in a root. Shipped inside the
# alma-ext binary and run as `python3 -I -c`, with its input as JSON on
# stdin (credentials never on a command line) and its answer as JSON on
# stdout. It only asks dnf: the installed packages (the root's rpm
# database), which enabled repository carries which installed package name,
# and the advisories dnf would list with `dnf updateinfo list` (advisory
# packages newer than the latest installed package of that name and arch).
# Nothing is decided here; alma-ext classifies the answer.
import json
import logging
import os
import sys
import tempfile


def main(logdir):
    req = json.load(sys.stdin)
    # dnf and librepo report repository failures through logging; they are
    # collected per repository below instead.
    for name in ("dnf", "dnf.rpm", "librepo", "libdnf"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    import dnf
    import dnf.exceptions
    import hawkey
    import rpm

    root = req["root"]
    system = root == "/"

    def in_root(p):
        return p if system else os.path.join(root, p.lstrip("/"))

    def confined(p):
        """`p`, a path of the machine, on disk inside the root with every
        symlink resolved inside it (as a chroot would): dnf --installroot
        reads TLS files on this host, so it is handed these instead."""
        if system:
            return p
        parts = [c for c in p.split("/") if c]
        done = []
        hops = 0
        while parts:
            c = parts.pop(0)
            if c == ".":
                continue
            if c == "..":
                if done:
                    done.pop()
                continue
            here = os.path.join(root, *done, c)
            if os.path.islink(here):
                hops += 1
                if hops > 40:
                    break
                target = os.readlink(here)
                if target.startswith("/"):
                    done = []
                parts = [x for x in target.split("/") if x] + parts
                continue
            done.append(c)
        return os.path.join(root, *done)

    base = dnf.Base()
    conf = base.conf
    if req.get("config_file"):
        conf.config_file_path = req["config_file"]
        conf.read(priority=dnf.conf.PRIO_MAINCONFIG)
    conf.installroot = root
    if not system:
        conf.reposdir = [in_root(d) for d in conf.reposdir]
        conf.cachedir = in_root(conf.cachedir)
        conf.persistdir = in_root(conf.persistdir)
    # hawkey.log: a throw-away directory, never the root's or this machine's.
    conf.logdir = logdir
    conf.substitutions["releasever"] = str(req["releasever"])
    conf.substitutions.update_from_etc(root, varsdir=conf.varsdir)
    conf.cacheonly = bool(req["offline"])
    base.read_all_repos()

    # A repo's TLS files are paths of the machine: inside the root. (The
    # extra repos below come with theirs already resolved in the root.)
    if not system:
        for repo in base.repos.values():
            for k in ("sslcacert", "sslclientcert", "sslclientkey"):
                v = getattr(repo, k, None)
                if v:
                    setattr(repo, k, confined(v))

    for spec in req.get("extra_repos", []):
        rid = spec["id"]
        if rid in base.repos:
            base.repos[rid].enable()
            continue
        opts = {"name": spec["name"], "baseurl": [spec["baseurl"]], "gpgcheck": False}
        for k in ("username", "password", "sslclientcert", "sslclientkey", "sslcacert"):
            if spec.get(k):
                opts[k] = spec[k]
        base.repos.add_new_repo(rid, conf, **opts)

    repos = []
    for repo in sorted(base.repos.iter_enabled(), key=lambda r: r.id):
        urls = list(repo.baseurl or [])
        for u in (repo.mirrorlist, repo.metalink):
            if u:
                urls.append(u)
        entry = {"id": repo.id, "urls": urls, "loaded": True, "error": None}
        try:
            repo.load()
        except dnf.exceptions.RepoError as e:
            entry["loaded"] = False
            entry["error"] = str(e)
            repo.disable()
        repos.append(entry)

    # libdnf reads the rpm database at <installroot><%_dbpath>; the root's
    # own path, not this machine's rpm configuration.
    rpm.addMacro("_dbpath", req["dbpath"])
    base.fill_sack(load_system_repo=True, load_available_repos=True)
    sack = base.sack

    installed = sack.query().installed().run()
    names = sorted({p.name for p in installed})
    carriers = {}
    nevra_repos = {}
    if names:
        for p in sack.query().available().filterm(name=names).run():
            carriers.setdefault(p.reponame, set()).add(p.name)
            nevra_repos.setdefault((p.name, p.evr, p.arch), set()).add(p.reponame)

    types = {
        hawkey.ADVISORY_SECURITY: "security",
        hawkey.ADVISORY_BUGFIX: "bugfix",
        hawkey.ADVISORY_ENHANCEMENT: "enhancement",
        hawkey.ADVISORY_NEWPACKAGE: "newpackage",
    }
    advisories = []
    latest = sack.query().installed().latest(1)
    for ap in latest.get_advisory_pkgs(hawkey.GT):
        a = ap.get_advisory(sack)
        advisories.append({
            "id": a.id,
            "type": types.get(a.type, "unknown"),
            "severity": a.severity or None,
            "cves": sorted({r.id for r in a.references if r.type == hawkey.REFERENCE_CVE}),
            "name": ap.name,
            "evr": ap.evr,
            "arch": ap.arch,
            "repos": sorted(nevra_repos.get((ap.name, ap.evr, ap.arch), ())),
        })

    json.dump({
        "installed": [
            {"name": p.name, "evr": p.evr, "arch": p.arch}
            for p in sorted(installed, key=lambda p: (p.name, p.arch, p.evr))
        ],
        "repos": repos,
        "carriers": {k: sorted(v) for k, v in carriers.items()},
        "advisories": advisories,
    }, sys.stdout)


try:
    with tempfile.TemporaryDirectory(prefix="alma-ext-security-") as d:
        main(d)
except Exception as e:  # one line for alma-ext to show
    sys.stderr.write("%s: %s\n" % (type(e).__name__, e))
    sys.exit(1)
