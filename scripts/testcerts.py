"""What the local test servers share (scripts/feeds/test-server.py, scripts/notify/*-receiver.py): a throwaway CA
and a server certificate for 127.0.0.1 (EC P-256, two days), made with openssl(1) once per directory."""
import os
import subprocess


def make_certs(directory):
    """Writes ca.pem, ca.key, server.pem and server.key into `directory`, unless server.pem is there already."""
    def run(*args):
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=directory)
    if os.path.exists(os.path.join(directory, "server.pem")):
        return
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=itv test CA")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(directory, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
