#!/usr/bin/env bash
# benches/packaging.sh: what the packaging costs and how tight the units are,
# next to peers measured in the same run on the same machine.
#  - systemd-analyze security exposure of our two units vs. the distribution
#    units of comparable daemons installed here (nginx, postgresql@,
#    systemd-timesyncd, systemd-networkd);
#  - size of the RPMs and of what they install;
#  - wall time of packaging/build --no-cargo --no-srpm (the rpmbuild part)
#    vs. rpmbuild of a one-file package (the fixed cost of rpmbuild itself).
# Writes benches/results/packaging.md. Needs a prior packaging/build.
set -euo pipefail
cd "$(dirname "$0")/.."
out=benches/results/packaging.md
target=$(cargo metadata --format-version 1 --no-deps --offline | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
version=$(sed -n 's/^Version:[[:space:]]*//p' packaging/alma-ext.spec)
arch=$(rpm --eval '%{_arch}')
[ -f "$target/rpm/alma-ext-$version-1.$arch.rpm" ] || packaging/build --release 1 >/dev/null 2>&1

score() { systemd-analyze security --offline=true --no-pager "$1" 2>/dev/null | grep -oE 'Overall exposure level[^:]*: [0-9.]+' | grep -oE '[0-9.]+$' || true; }

{
echo "# Packaging"
echo
echo "Measured $(date -u +%Y-%m-%d) on $(. /etc/os-release; echo "$PRETTY_NAME"), systemd $(systemd-analyze --version | head -n1 | awk '{print $2}'), $(nproc) cores."
echo
echo "## Exposure (systemd-analyze security --offline=true; 0 = locked down, 10 = unconfined)"
echo
echo "| Unit | Runs as | Exposure |"
echo "|---|---|---|"
echo "| alma-ext-server.service (ours) | alma-ext-server | $(score systemd/alma-ext-server.service) |"
echo "| alma-ext-agent.service (ours) | root (switch needs it) | $(score systemd/alma-ext-agent.service) |"
for peer in systemd-timesyncd.service systemd-networkd.service nginx.service postgresql@.service; do
    f=/lib/systemd/system/$peer
    [ -f "$f" ] || continue
    user=$(grep -m1 -E '^(User|DynamicUser)=' "$f" | cut -d= -f2 || true); user=${user:-"no User=: starts as root"}
    echo "| $peer (Debian 12) | $user | $(score "$f") |"
done
echo
echo "## Package size"
echo
echo "| RPM | File size | Installed size |"
echo "|---|---|---|"
for p in alma-ext alma-ext-server; do
    f=$target/rpm/$p-$version-1.$arch.rpm
    echo "| $p | $(du -h "$f" | cut -f1) | $(rpm -qp --qf '%{SIZE}' "$f" 2>/dev/null | awk '{printf "%.1f MiB", $1/1048576}') |"
done
f=$target/rpm/alma-ext-$version-1.src.rpm
[ -f "$f" ] && echo "| alma-ext (SRPM, sources + vendored crates) | $(du -h "$f" | cut -f1) | - |"
echo
echo "## Build time of the RPM step (cargo not counted)"
echo
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/top"
cat >"$tmp/one.spec" <<'SPEC'
Name: one
Version: 1
Release: 1
Summary: one file
License: MIT
%description
One file.
%install
mkdir -p %{buildroot}/usr/share/one && echo one > %{buildroot}/usr/share/one/one
%files
/usr/share/one/one
SPEC
if command -v hyperfine >/dev/null; then
    hyperfine --runs 3 --export-markdown "$tmp/h.md" \
        -n "packaging/build --no-cargo --no-srpm (2 RPMs)" "packaging/build --no-cargo --no-srpm --out $tmp/o >/dev/null 2>&1" \
        -n "rpmbuild -bb of a one-file package (peer)" "rpmbuild -bb --quiet --define '_topdir $tmp/top' $tmp/one.spec >/dev/null 2>&1" >/dev/null
    cat "$tmp/h.md"
else
    echo "(hyperfine not installed)"
fi
} >"$out"
cat "$out"
