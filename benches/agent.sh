#!/usr/bin/env bash
# Benchmark of the running agent (`alma-ext agent`, release build) against
# the real alma-ext-server on loopback, on the KVM-host fixture (5 guests):
#   - idle RSS (VmRSS after hours-long-equivalent idling, and VmHWM),
#   - CPU time per check-in (in the daemon, and as a one-shot `alma-ext checkin`),
#   - wakeups per hour of the idle daemon with the default config
#     (context switches of the process, counted by the kernel).
# Peers measured in the same run: `sleep` (the floor of any process) and an
# idle `python3` that has imported what a Python agent needs (json, urllib,
# ssl): the runtime of the Ubuntu Pro client's daemon, whose own tests allow
# it 14-20 MB.
# Writes benches/results/agent.md. BENCH_IDLE_SECS (default 600) is the idle
# window; BENCH_LOOP_SECS (default 185) the 1-minute-interval window.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
idle_secs=${BENCH_IDLE_SECS:-600}
loop_secs=${BENCH_LOOP_SECS:-185}
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build -q --release -p alma-ext-agent -p alma-ext-server
A=$top/target/release/alma-ext
S=$top/target/release/alma-ext-server
work=$(mktemp -d /tmp/alma-ext-bench-agent.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$S" serve --listen 127.0.0.1:$port --database "sqlite://$work/fleet.db" --rate-every 0 --checkin-interval 60 >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
key=$("$S" contract create --customer Bench --product virtual --quantity 10 --starts 2026-01-01 \
    --format json --database "sqlite://$work/fleet.db" | python3 -c 'import json,sys; print(json.load(sys.stdin)["activation_key"])')

root=$work/root
cp -r agent/tests/fixtures/libvirt/kvmhost "$root"
"$A" register --server "http://127.0.0.1:$port" --key "$key" --root "$root" >/dev/null

status() { awk -v k="$2:" '$1==k {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
ctxt() { echo $(( $(status "$1" voluntary_ctxt_switches) + $(status "$1" nonvoluntary_ctxt_switches) )); }
hz=$(getconf CLK_TCK)

# 1. One-shot check-ins (process start, facts, HTTP, exit).
oneshot=$(python3 - "$A" "$root" <<'PY'
import os, sys, time
a, root = sys.argv[1], sys.argv[2]
n, cpu, wall = 50, 0.0, 0.0
for _ in range(n):
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY); os.dup2(fd, 1); os.dup2(fd, 2)
        os.execv(a, [a, "checkin", "--root", root])
    _, st, ru = os.wait4(pid, 0)
    wall += time.perf_counter() - t
    assert os.waitstatus_to_exitcode(st) == 0
    cpu += ru.ru_utime + ru.ru_stime
print(f"{cpu/n*1000:.1f} {wall/n*1000:.1f}")
PY
)
oneshot_cpu=${oneshot% *}; oneshot_wall=${oneshot#* }

# 2. The daemon checking in every minute: CPU per check-in.
mkdir -p "$root/etc/alma-ext"
printf '[checkin]\ninterval = "1m"\nsplay = "0"\n[log]\nlevel = "info"\n' >"$root/etc/alma-ext/agent.toml"
"$A" agent --root "$root" 2>"$work/loop.log" &
apid=$!; pids+=($apid)
sleep 5
c0=$(cpu_ticks $apid); n0=$(grep -c "checked in" "$work/loop.log" || true)
sleep "$loop_secs"
c1=$(cpu_ticks $apid); n1=$(grep -c "checked in" "$work/loop.log" || true)
kill $apid; wait $apid 2>/dev/null || true
checkins=$((n1 - n0))
daemon_cpu=$(python3 -c "print(f'{($c1-$c0)/$hz*1000/max($checkins,1):.1f}')")

# 3. The idle daemon with the default config (4 h interval, 5 min facts
#    poll), next to its peers.
rm -f "$root/etc/alma-ext/agent.toml"
"$A" agent --root "$root" 2>"$work/idle.log" &
apid=$!; pids+=($apid)
sleep infinity &
spid=$!; pids+=($spid)
python3 -c 'import json, ssl, urllib.request, time; ctx = ssl.create_default_context(); time.sleep(10**6)' &
ppid=$!; pids+=($ppid)
sleep 5
w0=$(ctxt $apid); ic0=$(cpu_ticks $apid); sw0=$(ctxt $spid); pw0=$(ctxt $ppid)
sleep "$idle_secs"
w1=$(ctxt $apid); ic1=$(cpu_ticks $apid); sw1=$(ctxt $spid); pw1=$(ctxt $ppid)
per_hour() { python3 -c "print(round(($2-$1)*3600/$idle_secs))"; }
wake=$(per_hour "$w0" "$w1"); swake=$(per_hour "$sw0" "$sw1"); pwake=$(per_hour "$pw0" "$pw1")
idle_cpu=$(python3 -c "print(f'{($ic1-$ic0)/$hz*1000*3600/$idle_secs:.0f}')")
rss=$(status $apid VmRSS); hwm=$(status $apid VmHWM)
srss=$(status $spid VmRSS); prss=$(status $ppid VmRSS)
kib() { python3 -c "print(f'{$1/1024:.1f}')"; }

mkdir -p benches/results
cat > benches/results/agent.md <<MD
# Agent: the running daemon

\`benches/agent.sh\`, release build, $(nproc) cores, $(date -u +%Y-%m-%d). The agent runs against the real
alma-ext-server on 127.0.0.1 (SQLite), on the KVM-host fixture root (5 guests parsed from libvirt XML and
/proc at every facts poll and check-in). Idle window ${idle_secs} s with the default config (check-in every
4 h, facts poll every 5 min, no watchdog); check-in loop ${loop_secs} s at a 1-minute interval.

| Measure | alma-ext agent | sleep (floor) | idle python3 (json, ssl, urllib) |
|---------|---------------:|--------------:|-------------------------------:|
| Idle RSS (MiB) | $(kib $rss) | $(kib $srss) | $(kib $prss) |
| Peak RSS, VmHWM (MiB) | $(kib $hwm) | | |
| Wakeups per hour (context switches, idle) | $wake | $swake | $pwake |
| CPU per hour idle (ms) | $idle_cpu | | |
| CPU per check-in in the daemon (ms) | $daemon_cpu ($checkins check-ins) | | |
| CPU per one-shot \`alma-ext checkin\` (ms) | $oneshot_cpu (wall $oneshot_wall ms) | | |

Target: idle RSS at most 8 MiB (the Ubuntu Pro client's daemon is allowed 14 to 20 MB by its own tests).
Wakeups come from the facts poll (12 per hour) and the clock's 10-minute sleep slices (6 per hour); tokio's
hierarchical timer wheel splits each long sleep into a few shorter epoll waits, and each wake costs one or
two context switches. With the shipped unit's \`WatchdogSec=2min\` add 60 pings per hour. In the check-in
loop the server is started with \`--checkin-interval 60\` (the server may only lengthen the agent's interval).
MD
cat benches/results/agent.md
