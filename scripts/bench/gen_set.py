#!/usr/bin/env python3
"""Generates a configuration set of a production's size: N playbooks and an M-host inventory in 20 tenants.

Usage: gen_set.py DIR [PLAYBOOKS [HOSTS]] [--local]
       gen_set.py --publish DIR ROUND

Without --local (`itvd check` benches): feeds at vendorN.example, hosts at 10.x addresses; nothing is
contacted. With --local, a set a running itvd can live with on this machine without reaching anything
outside it: every feed is a local JSON file (file://DIR/feeds/), every host is a loopback address on port 9
where nothing listens (a connection is refused at once), two procedures in three run on every host (browsers,
office, PDF tools, viewers, agents) and the others on one group and the servers (`host list` is then about
12 MB of JSON), and DIR/set.json says what to expect:
hosts, procedures, tenants, (host, procedure) pairs, each procedure's host count. `--publish DIR ROUND`
makes every feed of a local set offer the releases up to ROUND (1, 2, ...): one new release per procedure.
"""
import json, os, sys

SCHEMES = ["dotted", "semver", "debian", "pep440", "date"]


def version(scheme, r):
    """Release r (1, 2, ...) of a procedure, under its scheme."""
    if scheme == "date":
        return f"2025.1.{r}"
    if scheme == "debian":
        return f"1.{r}.0-1"
    return f"1.{r}.0"


def host_groups(i):
    return ["servers" if i % 10 == 0 else "workstations", f"g{i % 30:02d}"]


def main(out, playbooks=300, hosts=800, local=False):
    os.makedirs(out + "/playbooks", exist_ok=True)
    tenants = [f"t{i:02d}" for i in range(20)]
    with open(out + "/inventory.yaml", "w") as f:
        f.write(f"defaults: {{user: itv, port: {9 if local else 22}}}\ntenants:\n")
        for t in tenants:
            f.write(f"  {t}: {{name: Gemeinde {t}}}\n")
        f.write("hosts:\n")
        for i in range(hosts):
            kind, group = host_groups(i)
            os_ = "windows" if i % 4 == 1 else "linux"
            address = f"127.254.{i // 250}.{i % 250 + 1}" if local else f"10.{i // 250}.{i % 250}.1"
            f.write(f"  h{i:04d}: {{address: {address}, tenant: {tenants[i % 20]}, "
                    f"groups: [{kind}, {group}], os: {os_}}}\n")
    kinds = ["json", "atom", "rss", "github", "html", "text"]
    counts = {}
    if local:
        os.makedirs(out + "/feeds", exist_ok=True)
    for p in range(playbooks):
        scheme = SCHEMES[p % len(SCHEMES)]
        everywhere = local and p % 3 != 2
        targets = "[workstations, servers]" if everywhere else f"[g{p % 30:02d}, servers]"
        counts[f"proc-{p:03d}"] = sum(
            1 for i in range(hosts)
            if everywhere or host_groups(i)[1] == f"g{p % 30:02d}" or host_groups(i)[0] == "servers")
        if local:
            feed = (f"  kind: json\n  url: file://{os.path.abspath(out)}/feeds/proc-{p:03d}.json\n"
                    f"  select: 'releases[*].version'\n")
            with open(f"{out}/feeds/proc-{p:03d}.json", "w") as f:
                f.write('{"releases": []}\n')
        else:
            kind = kinds[p % len(kinds)]
            extra = "  select: latest.version\n" if kind == "json" else (
                "  match: 'v(?<version>[0-9.]+)'\n" if kind in ("html", "text") else "  select: title\n")
            feed = f"  kind: {kind}\n  url: https://vendor{p % 40}.example/feed/{p}\n{extra}"
        with open(f"{out}/playbooks/proc-{p:03d}.yaml", "w") as f:
            f.write(f"""apiVersion: itv/v1
id: proc-{p:03d}
name: Procedure {p}
vendor: Vendor {p % 40}
targets: {targets}
feed:
{feed}  scheme: {scheme}
  every: 1h
steps:
  detect:
    linux: cat /opt/proc-{p}/VERSION
    windows: (Get-Item 'C:\\Program Files\\Proc{p}\\app.exe').VersionInfo.ProductVersion
  install:
    linux: /opt/itv/bin/install proc-{p} {{{{version}}}}
    windows: winget install --id Vendor.Proc{p} --version {{{{version}}}} --silent
  verify:
    linux: /opt/proc-{p}/bin/selftest --expect {{{{version}}}}
    windows: if ((Get-Item 'C:\\Program Files\\Proc{p}\\app.exe').VersionInfo.ProductVersion -ne {{{{version}}}}) {{ exit 1 }}
  rollback:
    linux: /opt/itv/bin/install proc-{p} {{{{previous}}}}
    windows: winget install --id Vendor.Proc{p} --version {{{{previous}}}} --silent --force
  timeout: 20m
  idempotent: true
rollout:
  waves:
    - {{name: canary, size: 1, approval: auto}}
    - {{name: pilot, size: 10%, approval: operator, bake: 2h}}
    - {{name: broad, size: rest, approval: window, parallel: 50}}
  max_failures: 5%
  window: evening
""")
    with open(out + "/itvd.yaml", "w") as f:
        f.write("playbooks: playbooks\ninventory: inventory.yaml\nwindows:\n  evening: {duration: 4h}\n")
    if local:
        with open(out + "/set.json", "w") as f:
            json.dump({"hosts": hosts, "procedures": playbooks, "tenants": len(tenants),
                       "pairs": sum(counts.values()), "host_counts": counts}, f, indent=1, sort_keys=True)


def publish(out, round_):
    """Every feed of a local set offers its releases 1...round_, newest first (as vendors list them)."""
    for name in sorted(os.listdir(out + "/feeds")):
        p = int(name[len("proc-"):-len(".json")])
        scheme = SCHEMES[p % len(SCHEMES)]
        releases = [{"version": version(scheme, r)} for r in range(round_, 0, -1)]
        with open(f"{out}/feeds/{name}.tmp", "w") as f:
            json.dump({"releases": releases}, f)
        os.replace(f"{out}/feeds/{name}.tmp", f"{out}/feeds/{name}")


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--publish":
        publish(args[1], int(args[2]))
    else:
        local = "--local" in args
        args = [a for a in args if a != "--local"]
        main(args[0], *(int(a) for a in args[1:]), local=local)
