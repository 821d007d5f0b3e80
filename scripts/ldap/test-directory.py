#!/usr/bin/python3
"""A test directory for itv's ldap: inventory source, made for Debian's slapd.

Usage: test-directory.py DIR [--computers N] [--many N] [--huge BYTES] [--control] [--duplicate]

Writes into DIR (which must not exist): a test CA and a server certificate for 127.0.0.1 (openssl), a
slapd.conf with the Active Directory schema Debian ships (msuser.schema), StartTLS offered, a read-only
service account, and a database loaded with slapadd:

  dc=coop,dc=test
    ou=Gemeinden
      ou=Egling     ou=Schule, ou=Verwaltung   computers EGL-PC-nnn (Windows 10, Windows Server, Debian)
      ou=Icking     ou=Schule, ou=Verwaltung   computers ICK-PC-nnn
    ou=Groups       one group per municipality and OU ("Egling Schule", ...), computers carry memberOf
    ou=Service      cn=itvd (the account itvd binds as)
    ou=Dup          --duplicate: a second EGL-PC-001
    ou=Many         --many N: N more computers
    ou=Huge         --huge BYTES: one computer whose operatingSystem is BYTES long
    ou=Control      --control: one computer whose cn holds control characters

Prints one JSON line: port, slapd (the command line to start it in the foreground), ca, password_file, bind_dn.
The caller starts slapd as its own child and stops it by PID.
"""
import argparse
import base64
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import serve  # noqa: E402  (scripts/lib/serve.py: a free loopback port)

SCHEMAS = ["core", "cosine", "inetorgperson", "nis", "msuser"]
BASE = "dc=coop,dc=test"
BIND_DN = "cn=itvd,ou=Service," + BASE
PASSWORD = "directory-pw-4711"
MUNICIPALITIES = [("Egling", "EGL"), ("Icking", "ICK")]
SYSTEMS = ["Windows 10 Enterprise", "Windows Server 2022 Standard", "Debian GNU/Linux 12"]
OUS = ["Schule", "Verwaltung"]


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_certificates(d):
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem", "-days", "2", "-subj", "/CN=itv test directory CA")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr", "-subj", "/CN=127.0.0.1")
    with open(f"{d}/san.ext", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key",
        "-CAcreateserial", "-out", f"{d}/server.pem", "-days", "2", "-extfile", f"{d}/san.ext")
    # A CA that signed nothing here: a client trusting only it must refuse the server.
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", f"{d}/other-ca.key", "-out", f"{d}/other-ca.pem", "-days", "2", "-subj", "/CN=another CA")


def config(d):
    includes = "".join(f"include /etc/ldap/schema/{s}.schema\n" for s in SCHEMAS)
    # slapd and libldap use GnuTLS: GnuTLS priority strings (docs/TECH-NOTES.md 27).
    return f"""{includes}modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
TLSCACertificateFile {d}/ca.pem
TLSCertificateFile {d}/server.pem
TLSCertificateKeyFile {d}/server.key
TLSCipherSuite NORMAL:-VERS-TLS1.0:-VERS-TLS1.1
sizelimit size.soft=300 size.hard=300 size.pr=200 size.prtotal=unlimited
database mdb
maxsize 1073741824
suffix "{BASE}"
rootdn "cn=admin,{BASE}"
rootpw {PASSWORD}-admin
directory {d}/db
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
"""


def entry(dn, attributes):
    lines = [attr("dn", dn)]
    for name, values in attributes:
        for v in values if isinstance(values, list) else [values]:
            lines.append(attr(name, v))
    return "\n".join(lines) + "\n\n"


def attr(name, value):
    safe = value.isascii() and all(0x20 <= ord(c) < 0x7F for c in value) and not value.startswith((" ", ":", "<"))
    if safe:
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode()).decode()}"


def computer(dn, cn, system, dns, groups):
    attributes = [
        ("objectClass", "computer"), ("cn", cn), ("sn", cn), ("instanceType", "4"),
        ("nTSecurityDescriptor", "AA"), ("objectCategory", f"cn=Computer,cn=Schema,cn=Configuration,{BASE}"),
    ]
    if system is not None:
        attributes.append(("operatingSystem", system))
    if dns is not None:
        attributes.append(("dNSHostName", dns))
    if groups:
        attributes.append(("memberOf", groups))
    return entry(dn, attributes)


def ldif(args):
    out = [entry(BASE, [("objectClass", ["dcObject", "organization"]), ("o", "coop"), ("dc", "coop")])]
    for ou in ["Gemeinden", "Groups", "Service"] + [o for o, on in [
            ("Dup", args.duplicate), ("Many", args.many), ("Huge", args.huge), ("Control", args.control)] if on]:
        out.append(entry(f"ou={ou},{BASE}", [("objectClass", "organizationalUnit"), ("ou", ou)]))
    out.append(entry(BIND_DN, [("objectClass", ["person"]), ("cn", "itvd"), ("sn", "itvd"),
                               ("userPassword", PASSWORD)]))
    members = {}
    n = 0
    for town, prefix in MUNICIPALITIES:
        town_dn = f"ou={town},ou=Gemeinden,{BASE}"
        out.append(entry(town_dn, [("objectClass", "organizationalUnit"), ("ou", town)]))
        for ou in OUS:
            out.append(entry(f"ou={ou},{town_dn}", [("objectClass", "organizationalUnit"), ("ou", ou)]))
        for i in range(1, args.computers // len(MUNICIPALITIES) + 1):
            ou = OUS[i % len(OUS)]
            cn = f"{prefix}-PC-{i:03d}"
            dn = f"cn={cn},ou={ou},{town_dn}"
            group = f"cn={town} {ou},ou=Groups,{BASE}"
            members.setdefault(group, []).append(dn)
            out.append(computer(dn, cn, SYSTEMS[n % len(SYSTEMS)], f"{cn.lower()}.{town.lower()}.coop.test",
                                [group]))
            n += 1
    for group, dns in members.items():
        name = group.split(",")[0][3:]
        out.append(entry(group, [("objectClass", "groupOfNames"), ("cn", name), ("member", dns)]))
    if args.duplicate:
        out.append(computer(f"cn=EGL-PC-001,ou=Dup,{BASE}", "EGL-PC-001", SYSTEMS[0], "dup.coop.test", []))
    for i in range(args.many):
        cn = f"MANY-{i:05d}"
        out.append(computer(f"cn={cn},ou=Many,{BASE}", cn, SYSTEMS[0], f"{cn.lower()}.coop.test", []))
    if args.huge:
        out.append(computer(f"cn=HUGE-01,ou=Huge,{BASE}", "HUGE-01", "Windows " + "x" * args.huge,
                            "huge-01.coop.test", []))
    if args.control:
        cn = "EVIL\x1b[31mPC\x07"
        out.append(computer(f"cn=EVIL-01,ou=Control,{BASE}", cn, SYSTEMS[0], "evil-01.coop.test", []))
    return "".join(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--computers", type=int, default=20)
    p.add_argument("--many", type=int, default=0)
    p.add_argument("--huge", type=int, default=0)
    p.add_argument("--control", action="store_true")
    p.add_argument("--duplicate", action="store_true")
    args = p.parse_args()
    d = os.path.abspath(args.dir)
    os.makedirs(d + "/db")
    make_certificates(d)
    with open(f"{d}/slapd.conf", "w") as f:
        f.write(config(d))
    with open(f"{d}/test.ldif", "w") as f:
        f.write(ldif(args))
    # -q: quick load (no consistency checks on a fresh database); the LDIF is ours.
    run("/usr/sbin/slapadd", "-q", "-f", f"{d}/slapd.conf", "-l", f"{d}/test.ldif")
    fd = os.open(f"{d}/password", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, (PASSWORD + "\n").encode())
    os.close(fd)
    port = serve.free_port()
    # -d 256: stay in the foreground and log statistics (-d 0 hides fatal errors: docs/TECH-NOTES.md 27).
    slapd = ["/usr/sbin/slapd", "-h", f"ldap://127.0.0.1:{port}/", "-f", f"{d}/slapd.conf", "-d", "256"]
    print(json.dumps({"port": port, "slapd": slapd, "ca": f"{d}/ca.pem", "other_ca": f"{d}/other-ca.pem",
                      "password_file": f"{d}/password", "bind_dn": BIND_DN, "base": BASE,
                      "admin_dn": f"cn=admin,{BASE}", "admin_password": PASSWORD + "-admin"}))


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as e:
        sys.stderr.write(f"{' '.join(e.cmd)}: {e.stderr.decode(errors='replace')}\n")
        sys.exit(1)
