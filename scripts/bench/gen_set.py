#!/usr/bin/env python3
"""Generates a configuration set of a production's size: N playbooks and an M-host inventory in DIR."""
import os, sys

def main(out, playbooks=300, hosts=800):
    os.makedirs(out + "/playbooks", exist_ok=True)
    tenants = [f"t{i:02d}" for i in range(20)]
    with open(out + "/inventory.yaml", "w") as f:
        f.write("defaults: {user: itv, port: 22}\ntenants:\n")
        for t in tenants:
            f.write(f"  {t}: {{name: Gemeinde {t}}}\n")
        f.write("hosts:\n")
        for i in range(hosts):
            kind = "servers" if i % 10 == 0 else "workstations"
            os_ = "windows" if i % 4 == 1 else "linux"
            f.write(f"  h{i:04d}: {{address: 10.{i // 250}.{i % 250}.1, tenant: {tenants[i % 20]}, "
                    f"groups: [{kind}, g{i % 30:02d}], os: {os_}}}\n")
    kinds = ["json", "atom", "rss", "github", "html", "text"]
    schemes = ["dotted", "semver", "debian", "pep440", "date"]
    for p in range(playbooks):
        kind = kinds[p % len(kinds)]
        extra = "  select: latest.version\n" if kind == "json" else (
            "  match: 'v(?<version>[0-9.]+)'\n" if kind in ("html", "text") else "  select: title\n")
        with open(f"{out}/playbooks/proc-{p:03d}.yaml", "w") as f:
            f.write(f"""apiVersion: itv/v1
id: proc-{p:03d}
name: Procedure {p}
vendor: Vendor {p % 40}
targets: [g{p % 30:02d}, servers]
feed:
  kind: {kind}
  url: https://vendor{p % 40}.example/feed/{p}
{extra}  scheme: {schemes[p % len(schemes)]}
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

if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:]))
