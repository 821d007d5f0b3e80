#!/usr/bin/env bash
# SSH fan-out: `true` on 50 and on 200 fleet hosts at parallel 50, with `itvd probe` (libssh2) and with
# OpenSSH's client (`xargs -P 50 ssh`, strict host key checking), in the same run against the same fleet.
# Figures: hosts per second (wall), the client's own CPU per host (rusage of the client processes only: the
# fleet's sshd processes are not descendants of the measured command), and the client's max RSS.
# Targets (issue 3): client CPU <= 6 ms/host, >= 1.5x OpenSSH's hosts/s, itvd probe under 50 MB RSS.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${ITV_BIN_DIR:?ITV_BIN_DIR must name the release binaries}"
dir="$(mktemp -d /tmp/itv-bench-fleet.XXXXXX)"
trap 'bash "$root/scripts/fleet.sh" stop "$dir"; rm -rf "$dir"' EXIT
base="${ITV_BENCH_FLEET_BASE:-127.0.200}"

bash "$root/scripts/fleet.sh" start 200 "$dir" "$base"

# Inventories of the first 50 and of all 200 hosts; ssh argument lines for xargs.
for n in 50 200; do
    { sed -n '1,/^hosts:/p' "$dir/inventory.yaml"; awk -v n="$n" '/^  fleet-/ && ++k <= n' "$dir/inventory.yaml"; } \
        >"$dir/inv$n.yaml"
    awk -v n="$n" '/^  fleet-/ && ++k <= n' "$dir/inventory.yaml" \
        | sed -E 's/.*address: ([0-9.]+), port: ([0-9]+).*/-p \2 root@\1 true/' >"$dir/ssh$n.txt"
done

PYTHONPATH="$root/scripts/bench" python3 - "$bin/itvd" "$dir" <<'PY'
import subprocess, sys
from measure import measure

itvd, d = sys.argv[1], sys.argv[2]
ssh_opts = ["ssh", "-F", "/dev/null", "-i", f"{d}/id_ed25519", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={d}/known_hosts",
            "-o", "LogLevel=ERROR", "-o", "ControlMaster=no"]

def run_itvd(n):
    proc, wall, cpu, _ = measure([itvd, "probe", "--inventory", f"{d}/inv{n}.yaml", "--identity", f"{d}/id_ed25519",
                                 "--known-hosts", f"{d}/known_hosts", "--parallel", "50"])
    ok = sum(1 for line in proc.stdout.splitlines() if line.startswith("fleet-") and "  ok  " in line)
    return ok, wall, cpu

def run_ssh(n):
    proc, wall, cpu, _ = measure(["xargs", "-P", "50", "-n", "4"] + ssh_opts, stdin=f"{d}/ssh{n}.txt")
    return (n if proc.returncode == 0 else -1), wall, cpu

# Warm up caches (binaries, keys) with a small run of each; not counted.
run_itvd(50); run_ssh(50)
print(f"{'hosts':>5}  {'client':<10} {'ok':>4} {'hosts/s':>8} {'CPU ms/host':>12}")
peak_rss = 0.0
for n in (50, 200):
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: measure itvd first, in a fresh interpreter.
    rss_probe = subprocess.run([sys.executable, "-c",
        "import resource,subprocess,sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
        itvd, "probe", "--inventory", f"{d}/inv{n}.yaml", "--identity", f"{d}/id_ed25519",
        "--known-hosts", f"{d}/known_hosts", "--parallel", "50"], capture_output=True, text=True)
    peak_rss = max(peak_rss, int(rss_probe.stdout.strip() or 0) / 1024)
    ok_i, wall_i, cpu_i = run_itvd(n)
    ok_s, wall_s, cpu_s = run_ssh(n)
    hps_i, hps_s = n / wall_i, n / wall_s
    ms_i, ms_s = cpu_i * 1000 / n, cpu_s * 1000 / n
    print(f"{n:>5}  {'itvd probe':<10} {ok_i:>4} {hps_i:>8.1f} {ms_i:>12.2f}")
    print(f"{n:>5}  {'openssh':<10} {ok_s if ok_s >= 0 else 'FAIL':>4} {hps_s:>8.1f} {ms_s:>12.2f}")
    print(f"{n:>5}  ratio: itvd probe at {hps_i / hps_s:.2f}x OpenSSH's hosts/s (target >= 1.5x), "
          f"{ms_s / ms_i:.1f}x less client CPU per host (target <= 6 ms/host: {'met' if ms_i <= 6 else 'MISSED'})")
print(f"itvd probe max RSS: {peak_rss:.1f} MB (target < 50 MB: {'met' if peak_rss < 50 else 'MISSED'})")
PY
