#!/usr/bin/env python3
"""Operator commands at the seed's scale, and at ten times it (`make bench`, section 55-scale).

Seed scale (300 procedures, 800 hosts, 20 tenants; gen_set.py --local): `host list`, `rollout show` of an
800-host rollout, `audit` with 10,000 records, `release list`: median and p99 of itvctl beside curl asking
the same socket the same question, and itvd's RSS after them. Ten times (3,000 procedures, 8,000 hosts):
`itvd check` time beside the seed's, the daemon's RSS, `host list --procedure P` latency.
$ITV_BIN_DIR: the release binaries.
"""
import glob, http.client, json, os, re, signal, socket, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(__file__))
import gen_set

BIN = os.environ["ITV_BIN_DIR"]
ITVD, ITVCTL = BIN + "/itvd", BIN + "/itvctl"


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("itvd", timeout=120)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(120)
        self.sock.connect(self.path)


def call(sock, method, target, body=None):
    c = UnixConnection(sock)
    try:
        c.request(method, target, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def bulk(sock, requests, workers=8):
    """Many requests on the socket, `workers` at a time; their HTTP statuses."""
    statuses = [0] * len(requests)
    def work(k):
        for i in range(k, len(requests), workers):
            statuses[i] = call(sock, *requests[i])[0]
    threads = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def rss_mb(pid):
    fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def p(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def timed(cmd, n):
    """n sequential runs: their wall times and the size of the answer, or the error of the first that failed."""
    out, size = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out.append(time.perf_counter() - t0)
        if r.returncode != 0:
            return f"FAILED (exit {r.returncode}): {r.stderr.decode(errors='replace').strip()[:200]}", None
        size = len(r.stdout)
    return out, size


class Daemon:
    def __init__(self, d):
        self.dir, self.sock = d, d + "/run/itvd.sock"
        os.makedirs(d + "/state", exist_ok=True)
        os.makedirs(d + "/run", exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d + "/id"], check=True)
        open(d + "/known_hosts", "w").close()
        with open(d + "/itvd.yaml", "a") as f:
            f.write("state: state\nsocket: run/itvd.sock\nssh: {identity: id, known_hosts: known_hosts}\n"
                    "operators: [root]\nreaders: [root]\n")
        t0 = time.perf_counter()
        self.process = subprocess.Popen([ITVD, "run", "--config", d + "/itvd.yaml", "--log", "stderr"],
                                        stdout=subprocess.DEVNULL, stderr=open(d + "/itvd.log", "w"))
        deadline = time.time() + 300
        while subprocess.run([ITVCTL, "--socket", self.sock, "status"], capture_output=True).returncode != 0:
            if self.process.poll() is not None or time.time() > deadline:
                sys.exit("itvd did not serve its socket:\n" + open(d + "/itvd.log").read()[-2000:])
            time.sleep(0.2)
        self.ready = time.perf_counter() - t0

    def ctl(self, *args):
        return [ITVCTL, "--socket", self.sock, *args]

    def curl(self, target):
        return ["curl", "-sf", "--unix-socket", self.sock, "http://itvd" + target]

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def row(name, values, size=None):
    if isinstance(values, str):
        print(f"{name:48} {values}")
        return
    extra = f" {size / 1e6:>8.2f} MB" if size is not None else ""
    print(f"{name:48} {statistics.median(values) * 1000:>8.1f} ms {p(values, 0.99) * 1000:>8.1f} ms{extra}")


def seed_scale(d):
    gen_set.main(d, 300, 800, local=True)
    daemon = Daemon(d)
    try:
        for round_ in (1, 2, 3):
            gen_set.publish(d, round_)
            status, _ = call(daemon.sock, "POST", "/v1/feeds/check", {"procedures": []})
            assert status == 200, status
        status, body = call(daemon.sock, "POST", "/v1/rollouts", {"procedure": "proc-000"})
        assert status == 200, body
        rid = json.loads(body)["rollout"]["id"]
        call(daemon.sock, "POST", "/v1/windows/evening/open", {})
        for _ in range(600):  # the canary is refused at once (nothing listens on the hosts): halted
            if json.loads(call(daemon.sock, "GET", f"/v1/rollouts/{rid}")[1])["rollout"]["phase"] == "halted":
                break
            time.sleep(0.1)
        t0 = time.perf_counter()
        statuses = bulk(daemon.sock, [("POST", f"/v1/rollouts/{rid}/pause", {"reason": f"change {i}: "
                                       + "Wartungsfenster laut Absprache mit dem Fachamt"}) for i in range(10_000)])
        audit_wall = time.perf_counter() - t0
        assert all(s in (200, 409) for s in statuses), set(statuses)
        rss_before = rss_mb(daemon.process.pid)
        print(f"seed scale: 300 procedures, 800 hosts, 20 tenants; 900 releases; rollout {rid} of 800 hosts "
              f"(halted); 10,000 audit records written in {audit_wall:.1f} s (8 clients); "
              f"itvd ready in {daemon.ready:.1f} s, RSS {rss_before[0]:.0f} MB")
        print(f"{'':48} {'median':>11} {'p99':>11} {'answer':>11}")
        for name, args, target, n in [
            ("host list", ["host", "list"], "/v1/hosts", 10),
            ("rollout show (800 hosts)", ["rollout", "show", str(rid)], f"/v1/rollouts/{rid}", 100),
            ("audit (newest page)", ["audit"], "/v1/audit", 50),
            ("release list", ["release", "list"], "/v1/releases", 100),
        ]:
            human, size = timed(daemon.ctl(*args), n)
            row(f"itvctl {name}", human)
            js, size = timed(daemon.ctl("--json", *args), n)
            row(f"itvctl --json {name}", js, size)
            curl, size = timed(daemon.curl(target), n)
            row(f"baseline: curl {target}", curl, size)
        whole, size = timed(daemon.ctl("--json", "audit", "--all"), 10)
        row("itvctl --json audit --all (every page)", whole, size)
        shown = len(json.loads(call(daemon.sock, "GET", "/v1/audit")[1])["entries"])
        total = len(json.loads(subprocess.run(daemon.ctl("--json", "audit", "--all"), capture_output=True).stdout)
                    ["entries"])
        print(f"itvctl audit shows the newest {shown:,} of the {total:,} audit records; --all every one")
        after = rss_mb(daemon.process.pid)
        print(f"itvd RSS after them: {after[0]:.0f} MB (peak {after[1]:.0f} MB)")
    finally:
        daemon.stop()


def ten_times(d):
    gen_set.main(d + "/one", 300, 800)  # the baseline: the same shape at the seed's size
    gen_set.main(d, 3000, 8000)
    # Feeds point at a closed loopback port: the daemon never reaches outside this machine.
    for f in glob.glob(d + "/playbooks/*.yaml"):
        text = open(f).read()
        open(f, "w").write(re.sub(r"https://vendor\d+\.example", "https://127.0.0.1:9", text))
    def check(config):
        t0 = time.perf_counter()
        r = subprocess.run([ITVD, "check", "--quiet", "--config", config], capture_output=True)
        if r.returncode != 0:
            sys.exit("itvd check failed:\n" + r.stderr.decode()[:2000])
        return time.perf_counter() - t0
    seed = statistics.median(check(d + "/one/itvd.yaml") for _ in range(3))
    ten = statistics.median(check(d + "/itvd.yaml") for _ in range(3))
    print(f"ten times: 3,000 procedures, 8,000 hosts")
    print(f"itvd check: {ten:.2f} s (median of 3); baseline, the same set at 300 procedures and 800 hosts: "
          f"{seed:.2f} s ({ten / seed:.0f}x)")
    daemon = Daemon(d)
    try:
        ready = rss_mb(daemon.process.pid)
        print(f"itvd ready in {daemon.ready:.1f} s, RSS {ready[0]:.0f} MB")
        print(f"{'':48} {'median':>11} {'p99':>11} {'answer':>11}")
        ctl, _ = timed(daemon.ctl("host", "list", "--procedure", "proc-007"), 50)
        row("itvctl host list --procedure proc-007", ctl)
        js, size = timed(daemon.ctl("--json", "host", "list", "--procedure", "proc-007"), 50)
        row("itvctl --json host list --procedure proc-007", js, size)
        curl, size = timed(daemon.curl("/v1/hosts?procedure=proc-007"), 50)
        row("baseline: curl /v1/hosts?procedure=proc-007", curl, size)
        after = rss_mb(daemon.process.pid)
        print(f"itvd RSS after them: {after[0]:.0f} MB (peak {after[1]:.0f} MB)")
    finally:
        daemon.stop()


def main():
    with tempfile.TemporaryDirectory(prefix="itv-bench-scale-") as d:
        seed_scale(d + "/seed")
        print()
        ten_times(d + "/ten")
    print("targets: every answer complete; host list (12 MB) within 2 s, the others within 1 s")


main()
