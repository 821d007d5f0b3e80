#!/usr/bin/env python3
"""`itvd check` on 300 playbooks and 800 hosts, beside PyYAML merely parsing the same files."""
import glob, os, resource, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(__file__))
import gen_set

def timed(fn, runs):
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus), max(after.ru_maxrss / 1024, 0)

def main():
    itvd = os.path.join(os.environ["ITV_BIN_DIR"], "itvd")
    with tempfile.TemporaryDirectory(prefix="itv-bench-check-") as d:
        gen_set.main(d, 300, 800)
        def check():
            r = subprocess.run([itvd, "check", "--quiet", "--config", d + "/itvd.yaml"], capture_output=True)
            if r.returncode != 0:
                sys.exit("itvd check failed on the generated set:\n" + r.stderr.decode()[:2000])
        files = sorted(glob.glob(d + "/playbooks/*.yaml")) + [d + "/inventory.yaml"]
        script = ("import yaml,sys\nL=getattr(yaml,'CSafeLoader',yaml.SafeLoader)\n"
                  "for f in sys.argv[1:]: yaml.load(open(f),Loader=L)\n")
        def pyyaml():
            subprocess.run([sys.executable, "-c", script] + files, check=True)
        wall, cpu, _ = timed(check, 7)
        bwall, bcpu, _ = timed(pyyaml, 7)
        try:
            import yaml
            loader = "CSafeLoader (libyaml)" if hasattr(yaml, "CSafeLoader") else "SafeLoader (pure Python)"
        except ImportError:
            loader = "?"
        print(f"set: 300 playbooks, 800 hosts ({sum(os.path.getsize(f) for f in files) // 1024} KiB of YAML)")
        print(f"{'':38} {'wall (median of 7)':>20} {'CPU':>10}")
        print(f"{'itvd check (load + validate + plan)':38} {wall * 1000:>17.0f} ms {cpu * 1000:>7.0f} ms")
        print(f"{'baseline: PyYAML ' + loader + ', parse only':38} {bwall * 1000:>17.0f} ms {bcpu * 1000:>7.0f} ms")
        print(f"ratio itvd/baseline: {wall / bwall:.2f}x wall; target: well under 1 s")

main()
