#!/usr/bin/env bash
# Benchmark: `alma-ext switch` plan + apply (journal, byte-exact backups,
# atomic writes with fsync, state), without dnf and rpm, on a copy of the
# AlmaLinux 9 fixture root, against the common manual method: `sed -i`
# over a copy of /etc/yum.repos.d plus writing the new repo file with cat.
# Both start from a fresh copy each run (hyperfine --prepare).
# Writes benches/results/switch.md.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
cargo build -q --release -p alma-ext-switcher --example switch_no_dnf
bin=$top/target/release/examples/switch_no_dnf
work=$(mktemp -d /tmp/alma-ext-bench-switch.XXXXXX)
trap 'rm -rf "$work"' EXIT
fixture=$top/tests/fixtures/almalinux/9
[ -d "$fixture/etc/yum.repos.d" ] || { echo "fixture root missing: $fixture/etc/yum.repos.d" >&2; exit 1; }
cat > "$work/target.toml" <<'TOML'
gpgkey = ["file:///etc/pki/rpm-gpg/RPM-GPG-KEY-vendor-extended"]
[auth]
username = "customer-0042"
password = "bench"
[repos.baseos]
id = "ext-baseos"
name = "AlmaLinux $releasever - BaseOS (extended support)"
baseurl = "https://updates.example.jp/almalinux/$releasever/BaseOS/$basearch/os/"
[repos.appstream]
id = "ext-appstream"
name = "AlmaLinux $releasever - AppStream (extended support)"
baseurl = "https://updates.example.jp/almalinux/$releasever/AppStream/$basearch/os/"
TOML
cat > "$work/sed.sh" <<'SH'
#!/bin/sh
# What an admin does by hand: disable the replaced repos, repoint extras to
# the vault, add the new repo file.
set -e
d=$1/etc/yum.repos.d
sed -i 's/^enabled=1/enabled=0/' "$d/almalinux-baseos.repo" "$d/almalinux-appstream.repo"
sed -i -e 's|^mirrorlist=|#mirrorlist=|' \
  -e 's|^# baseurl=https://repo.almalinux.org/almalinux/\$releasever/|baseurl=https://vault.almalinux.org/9.6/|' "$d/almalinux-extras.repo"
cat > "$d/alma-ext-extended.repo" <<'REPO'
[ext-baseos]
name=AlmaLinux $releasever - BaseOS (extended support)
baseurl=https://updates.example.jp/almalinux/$releasever/BaseOS/$basearch/os/
enabled=1
gpgcheck=1
[ext-appstream]
name=AlmaLinux $releasever - AppStream (extended support)
baseurl=https://updates.example.jp/almalinux/$releasever/AppStream/$basearch/os/
enabled=1
gpgcheck=1
REPO
chmod 600 "$d/alma-ext-extended.repo"
SH
chmod +x "$work/sed.sh"
prep="rm -rf $work/root && cp -a $fixture $work/root && chmod -R u+w $work/root"
hyperfine --warmup 5 --runs 100 \
  --prepare "$prep" \
  --export-markdown "$work/table.md" \
  -n "alma-ext plan+apply (no dnf)" "$bin $work/root $work/target.toml" \
  -n "sed -i over yum.repos.d" "$work/sed.sh $work/root" >&2
{
  echo "# Switch: plan + apply vs. sed -i"
  echo
  echo "AlmaLinux 9 fixture root (11 repo files, 33 sections), fresh copy per run;"
  echo "dnf makecache and rpm --import are not counted. alma-ext writes a journal"
  echo "with byte-exact backups, fsyncs every file and directory, keeps owner, mode"
  echo "and SELinux label, and records the state; sed does none of that."
  echo
  echo "Machine: $(nproc) cores, $(uname -sr), $(date -u +%Y-%m-%d)."
  echo
  cat "$work/table.md"
} > benches/results/switch.md
cat benches/results/switch.md
