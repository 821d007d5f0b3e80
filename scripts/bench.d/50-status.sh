#!/usr/bin/env bash
# `itvctl status` latency against a running itvd with 300 procedures and 800 hosts loaded (median and
# p99 over 1,000 calls), beside curl asking the same socket the same question (the baseline: process
# start + one HTTP request, without itvctl's own work).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 - "$ITV_BIN_DIR" <<'PY'
import glob, os, re, signal, statistics, subprocess, sys, tempfile, time
sys.path.insert(0, "scripts/bench")
import gen_set

bin_dir = sys.argv[1]
itvd, itvctl = bin_dir + "/itvd", bin_dir + "/itvctl"
usage = subprocess.run([itvd, "--help"], capture_output=True, text=True).stdout
if not re.search(r"^\s+run\b", usage, re.M):
    print("skipped: this itvd has no `run` subcommand yet (the control socket is served by `itvd run`)")
    sys.exit(0)

def p(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]

with tempfile.TemporaryDirectory(prefix="itv-bench-status-") as d:
    gen_set.main(d, 300, 800)
    # Feeds point at a closed loopback port: the daemon never reaches outside this machine.
    for f in glob.glob(d + "/playbooks/*.yaml"):
        text = open(f).read()
        open(f, "w").write(re.sub(r"https://vendor\d+\.example", "https://127.0.0.1:9", text))
    socket = d + "/itvd.sock"
    os.makedirs(d + "/state")
    daemon = subprocess.Popen(
        [itvd, "run", "--config", d + "/itvd.yaml", "--socket", socket, "--state", d + "/state"],
        stdout=subprocess.DEVNULL, stderr=open(d + "/itvd.log", "w"))
    try:
        deadline = time.time() + 60
        while subprocess.run([itvctl, "--socket", socket, "status"], capture_output=True).returncode != 0:
            if daemon.poll() is not None or time.time() > deadline:
                sys.exit("itvd did not serve its socket:\n" + open(d + "/itvd.log").read()[-2000:])
            time.sleep(0.2)
        def timed(cmd, n=1000):
            out = []
            for _ in range(n):
                t0 = time.perf_counter()
                r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                out.append(time.perf_counter() - t0)
                if r.returncode != 0:
                    sys.exit(f"{cmd} failed with {r.returncode}")
            return out
        ctl = timed([itvctl, "--socket", socket, "status"])
        curl = timed(["curl", "-sf", "--unix-socket", socket, "http://itvd/v1/status"])
        print("itvd with 300 procedures, 800 hosts; 1,000 sequential calls each")
        print(f"{'':40} {'median':>10} {'p99':>10}")
        print(f"{'itvctl status':40} {statistics.median(ctl) * 1000:>7.2f} ms {p(ctl, 0.99) * 1000:>7.2f} ms")
        print(f"{'baseline: curl --unix-socket /v1/status':40} {statistics.median(curl) * 1000:>7.2f} ms "
              f"{p(curl, 0.99) * 1000:>7.2f} ms")
        print("target: itvctl status answers within 1 s")
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
PY
