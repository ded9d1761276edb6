#!/usr/bin/env bash
# Benchmark of `alma-ext security-status` (release build) on a root with
# 1,500 installed packages and repositories of 20,000 packages, against
# `dnf updateinfo list --security` on the same root, in the same run:
#   - baseos (community): 20,000 packages (pkg00000..pkg19999, 1.1-1.el9) and
#     an updateinfo.xml with 500 security advisories for pkg00000..pkg00499;
#   - ext-baseos (extended): 1,000 of them (pkg00000..pkg00999);
#   - the root has pkg00000..pkg01499 1.0-1.el9 installed (rpm --justdb).
# Both repositories are in the root's repo files (a switched-looking root
# without the switch: both tools load the same two repositories), served over
# HTTP on 127.0.0.1. Cold: dnf's cache of the root removed before each run
# (metadata downloaded and parsed); warm: the cache kept (alma-ext with
# --offline, dnf with -C). Wall time and peak RSS (GNU time), BENCH_RUNS
# runs each (default 3), median.
# Writes benches/results/security-status.md.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
runs=${BENCH_RUNS:-3}
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build -q --release -p alma-ext-agent
A=${ALMA_EXT_BIN:-$top/target/release/alma-ext}
work=$(mktemp -d /tmp/alma-ext-bench-security.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Packages: one spec, one subpackage per name (one rpmbuild run).
spec() { # version count file
    python3 - "$1" "$2" "$3" <<'EOF'
import sys
ver, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(out, "w") as f:
    f.write(f"Name: bench-base\nVersion: {ver}\nRelease: 1.el9\nSummary: bench\nLicense: MIT\n"
            "BuildArch: noarch\nAutoReqProv: no\n%description\nbench\n")
    for i in range(n):
        f.write(f"%package -n pkg{i:05d}\nSummary: bench\n%description -n pkg{i:05d}\nbench\n%files -n pkg{i:05d}\n")
    f.write("%files\n")
EOF
}
build() { # version count
    local t=$work/rpmbuild-$1
    mkdir -p "$t/SPECS"
    spec "$1" "$2" "$t/SPECS/bench.spec"
    rpmbuild --define "_topdir $t" --nodeps -bb --quiet "$t/SPECS/bench.spec" >/dev/null 2>&1
    echo "$t/RPMS/noarch"
}
echo "building 1,500 + 20,000 packages..." >&2
old=$(build 1.0 1500)
new=$(build 1.1 20000)

www=$work/www
mkdir -p "$www/baseos" "$www/ext-baseos"
for i in $(seq -f %05g 0 19999); do ln "$new/pkg$i-1.1-1.el9.noarch.rpm" "$www/baseos/"; done
for i in $(seq -f %05g 0 999); do ln "$new/pkg$i-1.1-1.el9.noarch.rpm" "$www/ext-baseos/"; done
createrepo_c -q --workers 2 "$www/baseos"
createrepo_c -q --workers 2 "$www/ext-baseos"
python3 - "$work/updateinfo.xml" <<'EOF'
import sys
sev = ["Critical", "Important", "Moderate", "Low"]
with open(sys.argv[1], "w") as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n<updates>\n')
    for i in range(500):
        f.write(f'''<update from="bench" status="final" type="security" version="1">
<id>ALSA-2026:{i:04d}</id><title>{sev[i % 4]}: pkg{i:05d}</title>
<issued date="2026-01-01 00:00:00"/><severity>{sev[i % 4]}</severity><description>b</description>
<references><reference href="https://www.cve.org/CVERecord?id=CVE-2026-{i:05d}" id="CVE-2026-{i:05d}" type="cve" title="t"/></references>
<pkglist><collection short="c"><name>c</name>
<package name="pkg{i:05d}" version="1.1" release="1.el9" epoch="0" arch="noarch" src="x"><filename>pkg{i:05d}-1.1-1.el9.noarch.rpm</filename></package>
</collection></pkglist></update>
''')
    f.write("</updates>\n")
EOF
modifyrepo_c --mdtype=updateinfo "$work/updateinfo.xml" "$www/baseos/repodata" >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$www" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

root=$work/root
mkdir -p "$root/etc/yum.repos.d" "$root/var/lib/rpm" "$root/etc/dnf"
cp tests/fixtures/almalinux/9/etc/os-release "$root/etc/"
printf '[main]\n' >"$root/etc/dnf/dnf.conf"
for r in baseos ext-baseos; do
    printf '[%s]\nname=%s\nbaseurl=http://127.0.0.1:%s/%s/\ngpgcheck=0\nenabled=1\n' \
        "$r" "$r" "$port" "$r" >"$root/etc/yum.repos.d/$r.repo"
done
rpm --root "$root" --dbpath /var/lib/rpm --justdb --nodeps -i "$old"/pkg*.rpm 2>/dev/null
# dnf's CLI reads <root><%_dbpath of this machine's rpm>; point that at the
# root's database so it sees the same installed packages.
dbp=$(rpm --eval %_dbpath)
if [ "$dbp" != /var/lib/rpm ]; then
    mkdir -p "$(dirname "$root$dbp")"
    ln -s "$(realpath --relative-to="$(dirname "$root$dbp")" "$root/var/lib/rpm")" "$root$dbp"
fi
cat >"$work/target.toml" <<EOF
gpgcheck = false
[repos.baseos]
id = "ext-baseos"
name = "ext-baseos"
baseurl = "http://127.0.0.1:$port/ext-baseos/"
EOF

DNF=(dnf --installroot="$root" --releasever=9 --setopt=reposdir="$root/etc/yum.repos.d"
    --config="$root/etc/dnf/dnf.conf" -q)
ALMA=("$A" security-status --root "$root" --target "$work/target.toml" --format json)

# Check first: both see the same 500 pending security advisories.
rm -rf "$root/var/cache/dnf"
n_alma=$("${ALMA[@]}" | python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["summary"]; print("%d (coverage: %s)" % (len(d["advisories"]["pending"]), ", ".join("%s %s" % (k, v) for k, v in s.items())))')
n_dnf=$("${DNF[@]}" updateinfo list --security | grep -c '^ALSA-' || true)
echo "alma-ext: $n_alma; dnf: $n_dnf advisories" >&2

measure() { # label cold|warm cmd...
    local label=$1 mode=$2; shift 2
    local out=$work/times-$RANDOM
    : >"$out"
    # Warm: fill dnf's cache of the root first (both tools share it).
    if [ "$mode" = warm ]; then "${ALMA[@]}" >/dev/null 2>&1 || true; fi
    for _ in $(seq "$runs"); do
        [ "$mode" = cold ] && rm -rf "$root/var/cache/dnf"
        /usr/bin/time -f '%e %M' -a -o "$out" "$@" >/dev/null 2>&1 || true
    done
    python3 - "$label" "$out" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[2]) if l.strip() and l[0].isdigit()]
wall = statistics.median(float(r[0]) for r in rows)
rss = max(int(r[1]) for r in rows)
print(f"| {sys.argv[1]} | {wall:.2f} | {rss / 1024:.0f} |")
EOF
}

{
    echo "# security-status: alma-ext vs dnf updateinfo"
    echo
    echo "Root with 1,500 installed packages (rpm --justdb); repositories of"
    echo "20,000 (community, 500 security advisories) and 1,000 (extended)"
    echo "packages over HTTP on 127.0.0.1. Median of $runs runs; peak RSS the"
    echo "largest. alma-ext also classifies every installed package by the"
    echo "repositories that carry it; dnf only lists the advisories."
    echo
    echo "Machine: $(nproc) cores, $(uname -sr), $(date -u +%F)."
    echo "Pending advisories found: alma-ext $n_alma; dnf $n_dnf."
    echo
    echo "| Command | Wall [s] | Peak RSS [MiB] |"
    echo "|:---|---:|---:|"
    measure '`alma-ext security-status` (cold cache)' cold "${ALMA[@]}"
    measure '`dnf updateinfo list --security` (cold cache)' cold "${DNF[@]}" updateinfo list --security
    measure '`alma-ext security-status --offline` (warm cache)' warm "${ALMA[@]}" --offline
    measure '`dnf -C updateinfo list --security` (warm cache)' warm "${DNF[@]}" -C updateinfo list --security
} >"$top/benches/results/security-status.md"
cat "$top/benches/results/security-status.md"
