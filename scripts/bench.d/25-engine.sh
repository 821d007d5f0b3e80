#!/usr/bin/env bash
# Engine overhead (issue 4): a rollout of a no-op step to 200 fleet hosts, next to the bare SSH fan-out over
# the same fleet in the same run. Target: the engine under 15 % slower than the like-for-like bare fan-out.
#
# One 200-host fleet, measured alternately, 3 rounds (ITV_BENCH_ENGINE_ROUNDS; medians reported):
#   probe    `itvd probe --parallel 50`: one connection + `true` per host (the SSH issue's figure)
#   fanout3  itv-bench-fanout (the daemon's libssh2 executor, no engine): one connection per host running the
#            very commands a host run sends (detect, install, verify), parallel 50: the like-for-like baseline
#   engine   itvd run + `itvctl rollout start`: one wave (size: rest, approval: auto, parallel: 50), daemon
#            parallel 50; wall time from `rollout start` until `rollout watch` sees it succeeded
# Overhead: median over rounds of engine wall / fan-out wall of the same round, minus 1.
# Fleet addresses: ITV_BENCH_ENGINE_FLEET_BASE (default 127.0.210).
# CPU: the client's own (rusage of the measured child) for probe/fanout3; for the engine the daemon's utime +
# stime (/proc/PID/stat) plus the itvctl processes. A last, uncounted round under `strace -c` counts the
# daemon's fsync/fdatasync calls (one or more per SQLite commit: WAL, synchronous=FULL).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${ITV_BIN_DIR:?ITV_BIN_DIR must name the release binaries}"
base="${ITV_BENCH_ENGINE_FLEET_BASE:-127.0.210}"
dir="$(mktemp -d /tmp/itv-bench-engine.XXXXXX)"
daemon_pid=""
cleanup() {
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$daemon_pid" 2>/dev/null || true
    fi
    bash "$root/scripts/fleet.sh" stop "$dir/fleet" || true
    rm -rf "$dir"
}
trap cleanup EXIT

bash "$root/scripts/fleet.sh" start 200 "$dir/fleet" "$base" >"$dir/fleet.log" 2>&1 || { cat "$dir/fleet.log" >&2; exit 1; }

mkdir -p "$dir/playbooks" "$dir/run"
cat >"$dir/playbooks/noop.yaml" <<'YAML'
apiVersion: itv/v1
id: noop
name: No-op application (engine benchmark)
vendor: itv bench
targets: [fleet]
steps:
  detect: cat /opt/itv-host/v 2>/dev/null || true
  install: echo {{version}} > /opt/itv-host/v
  verify: test "$(cat /opt/itv-host/v)" = {{version}}
  timeout: 1m
  idempotent: true
rollout:
  waves:
    - {name: all, size: rest, approval: auto, parallel: 50}
  max_failures: 0
  on_failure: halt
YAML
cat >"$dir/itvd.yaml" <<'CONF'
playbooks: playbooks
inventory: fleet/inventory.yaml
state: state
socket: run/itvd.sock
ssh: {identity: fleet/id_ed25519, known_hosts: fleet/known_hosts, connect_timeout: 10s}
parallel: 50
operators: [root]
CONF
"$bin/itvd" check --config "$dir/itvd.yaml" >/dev/null
"$bin/itvd" run --config "$dir/itvd.yaml" --log stderr </dev/null >"$dir/itvd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 200); do "$bin/itvctl" --socket "$dir/run/itvd.sock" status >/dev/null 2>&1 && break; sleep 0.1; done
"$bin/itvctl" --socket "$dir/run/itvd.sock" status >/dev/null || { cat "$dir/itvd.log" >&2; exit 1; }

python3 - "$bin" "$dir" "$daemon_pid" <<'PY'
import os, resource, shutil, statistics, subprocess, sys, time

bin_dir, d, daemon = sys.argv[1], sys.argv[2], int(sys.argv[3])
hosts = 200
sock = f"{d}/run/itvd.sock"
ctl = [f"{bin_dir}/itvctl", "--socket", sock]
tick = os.sysconf("SC_CLK_TCK")

def daemon_cpu():
    fields = open(f"/proc/{daemon}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick  # utime, stime (fields 14 and 15 of stat)

def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

def timed(argv):
    c0, t0 = children_cpu(), time.monotonic()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p, time.monotonic() - t0, children_cpu() - c0

def probe():
    p, wall, cpu = timed([f"{bin_dir}/itvd", "probe", "--inventory", f"{d}/fleet/inventory.yaml",
                          "--identity", f"{d}/fleet/id_ed25519", "--known-hosts", f"{d}/fleet/known_hosts",
                          "--parallel", "50"])
    ok = sum(1 for line in p.stdout.splitlines() if line.startswith("fleet-") and "  ok  " in line)
    return ok, wall, cpu

def fanout3(version):
    # The commands a host run sends, rendered as the engine renders them (values shell-quoted).
    q = f"'{version}'"
    p, wall, cpu = timed([f"{bin_dir}/itv-bench-fanout", f"{d}/fleet/inventory.yaml", f"{d}/fleet/id_ed25519",
                          f"{d}/fleet/known_hosts", "50",
                          "cat /opt/itv-host/v 2>/dev/null || true",
                          f"echo {q} > /opt/itv-host/v",
                          f'test "$(cat /opt/itv-host/v)" = {q}'])
    fields = dict(kv.split("=") for kv in p.stdout.split())
    return int(fields.get("ok", -1)), wall, cpu

def engine(version):
    d0, c0, t0 = daemon_cpu(), children_cpu(), time.monotonic()
    start = subprocess.run(ctl + ["rollout", "start", "noop", "--version", version],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if start.returncode != 0:
        sys.exit(f"rollout start {version} failed: {start.stderr.strip()}")
    rid = start.stdout.strip()
    w = subprocess.run(ctl + ["rollout", "watch", rid], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    dcpu, ccpu = daemon_cpu() - d0, children_cpu() - c0
    show = subprocess.run(ctl + ["--json", "rollout", "show", rid], stdout=subprocess.PIPE, text=True)
    import json
    info = json.loads(show.stdout)
    rollout = info.get("rollout", info)
    ok = rollout.get("hostCounts", rollout.get("host_counts", {})).get("succeeded", 0)
    if w.returncode != 0 or rollout.get("phase") != "succeeded":
        sys.exit(f"rollout {rid} ({version}) did not succeed: watch exited {w.returncode}, "
                 f"phase {rollout.get('phase')}: {w.stderr.strip()}")
    return ok, wall, dcpu, ccpu

# Warm-up (not counted): binaries, keys, the daemon's first rollout and state store.
probe(); fanout3("0.0"); engine("1")

rows = {"probe": [], "fanout3": [], "engine": []}
rounds = max(1, int(os.environ.get("ITV_BENCH_ENGINE_ROUNDS", "3")))
for i in range(1, rounds + 1):
    version = str(i + 1)  # 2, 3, 4, ...: every host installs in every round
    rows["probe"].append(probe())
    rows["fanout3"].append(fanout3(f"0.{i}"))
    rows["engine"].append(engine(version))

def med(xs): return statistics.median(xs)

print(f"{hosts} hosts, parallel 50, median of {rounds} rounds (each round: probe, fanout3, engine)")
print(f"{'':<40} {'ok':>4} {'wall s':>7} {'hosts/s':>8} {'CPU ms/host':>12}  (rounds: wall s)")
for name, label in (("probe", "itvd probe (1 cmd/host)"), ("fanout3", "bare fan-out (3 cmds/host)")):
    r = rows[name]
    wall = med([x[1] for x in r])
    print(f"{label:<40} {min(x[0] for x in r):>4} {wall:>7.2f} {hosts / wall:>8.1f} "
          f"{med([x[2] for x in r]) * 1000 / hosts:>12.2f}  ({', '.join(f'{x[1]:.2f}' for x in r)})")
r = rows["engine"]
ewall = med([x[1] for x in r])
print(f"{'engine rollout (detect/install/verify)':<40} {min(x[0] for x in r):>4} {ewall:>7.2f} "
      f"{hosts / ewall:>8.1f} {med([x[2] for x in r]) * 1000 / hosts:>12.2f}  "
      f"({', '.join(f'{x[1]:.2f}' for x in r)})  daemon; itvctl "
      f"{med([x[3] for x in r]) * 1000 / hosts:.2f} ms/host")
base3 = med([x[1] for x in rows["fanout3"]])
base1 = med([x[1] for x in rows["probe"]])
# Paired: each round's engine against the fan-out measured just before it (the machine's load drifts).
over3 = med([(e[1] / f[1] - 1) * 100 for e, f in zip(rows["engine"], rows["fanout3"])])
print(f"engine overhead vs bare fan-out of the same 3 commands (median of per-round ratios): {over3:+.1f} % "
      f"(target < 15 %: {'met' if over3 < 15 else 'MISSED'}); ratio of the medians {(ewall / base3 - 1) * 100:+.1f} %; "
      f"vs itvd probe (1 command): {(ewall / base1 - 1) * 100:+.1f} %")
fcpu = med([x[2] for x in rows["fanout3"]]) * 1000 / hosts
dcpu = med([x[2] for x in rows["engine"]]) * 1000 / hosts
print(f"CPU per host: daemon {dcpu:.2f} ms vs bare fan-out client {fcpu:.2f} ms (same SSH work): "
      f"the engine's own share ~{dcpu - fcpu:.2f} ms/host")
per_round = [(e[1] / f[1] - 1) * 100 for e, f in zip(rows["engine"], rows["fanout3"])]
print(f"overhead per round: {', '.join(f'{x:+.1f} %' for x in per_round)}")

# Uncounted profile round: the daemon's durable syncs (SQLite commits) under strace -c.
strace = shutil.which("strace")
if strace and os.environ.get("ITV_BENCH_ENGINE_STRACE", "1") == "1":
    out = f"{d}/strace.txt"
    tracer = subprocess.Popen([strace, "-f", "-c", "-w", "-e", "trace=fsync,fdatasync", "-o", out, "-p", str(daemon)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    _, swall, _, _ = engine("5")
    tracer.terminate()
    tracer.wait(timeout=30)
    syncs, sync_seconds = 0, 0.0
    for line in open(out).read().splitlines():
        parts = line.split()
        if parts and parts[-1] in ("fsync", "fdatasync"):
            sync_seconds += float(parts[1])
            syncs += int(parts[3])
    print(f"profile round (under strace, not counted, {swall:.2f} s): {syncs} fsync/fdatasync by the daemon for "
          f"{hosts} host runs ({syncs / hosts:.2f} per host run; an upper bound of SQLite commits: WAL sync per commit, plus checkpoints), "
          f"{sync_seconds * 1000 / max(syncs, 1):.1f} ms each on average (wall): a host run waits for 3 of them in "
          f"series (each step's result is durable before the next step is sent)")
PY
