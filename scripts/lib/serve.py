"""What itv's loopback test servers share (scripts/feeds/test-server.py, scripts/notify/*.py).

A script imports it from its own directory's sibling:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    import serve

make_certs(dir)   a test CA (ca.pem) and a server certificate for IP 127.0.0.1 only (server.pem/server.key),
                  made once: a restarted server keeps them, so clients keep trusting ca.pem.
tls_context(dir)  a server TLS context with that certificate.
start(stop)       unblocks SIGTERM/SIGINT (a parent may have spawned us with them blocked) and makes SIGTERM
                  call `stop` (default: exit at once).
free_port()       an ephemeral port of 127.0.0.1 that nothing listens on (for servers that take a port number).
ready(*ports)     prints the ready line, "<port> [<port> ...]", which the tests wait for.
wait_forever()    sleeps until the process is stopped.
"""
import os, signal, socket, ssl, subprocess, time


def make_certs(directory):
    def run(*args):
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=directory)
    os.makedirs(directory, exist_ok=True)
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


def tls_context(directory, purpose=None):
    if purpose is None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    else:
        context = ssl.create_default_context(purpose)
    context.load_cert_chain(os.path.join(directory, "server.pem"), os.path.join(directory, "server.key"))
    return context


def start(stop=None):
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    signal.signal(signal.SIGTERM, (lambda *_: stop()) if stop else (lambda *_: os._exit(0)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ready(*ports):
    print(*ports, flush=True)


def wait_forever():
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
