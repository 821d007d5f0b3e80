#!/usr/bin/env python3
"""A webhook receiver for itv's notification tests and the demo (HTTPS on 127.0.0.1 only).

Usage: webhook-receiver.py DIR [--port N] [--fail-first N] [--secret FILE] [--print]
Creates a CA and a server certificate (SAN IP:127.0.0.1) in DIR unless they exist (a restarted receiver
keeps them), listens on --port (default: an ephemeral one) and prints "<port>" once it listens.
Every POST is logged to DIR/attempts.jsonl; the first --fail-first of them are answered 503 (the receiver
is "down"), the others 200 and also logged to DIR/received.jsonl with the X-ITV-* headers, the body and,
with --secret, whether X-ITV-Signature is the HMAC-SHA256 of the body under the file's key.
--print writes "<event>: <message>" and the command of each delivery to stdout (for the demo).
Stop it with SIGTERM.
"""
import hashlib, hmac, http.server, json, os, socketserver, sys, threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import serve  # noqa: E402  (scripts/lib/serve.py: certificates, signals, the ready line)

DIR = sys.argv[1]
ARGS = sys.argv[2:]


def option(name, default=None):
    return ARGS[ARGS.index(name) + 1] if name in ARGS else default


PORT = int(option("--port", "0"))
FAIL_FIRST = int(option("--fail-first", "0"))
SECRET = None
if option("--secret"):
    with open(option("--secret"), "rb") as f:
        SECRET = f.read().rstrip(b"\r\n")
PRINT = "--print" in ARGS
LOCK = threading.Lock()
STATE = {"attempts": 0}


def append(name, record):
    with LOCK, open(os.path.join(DIR, name), "a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 1 << 20))
        with LOCK:
            STATE["attempts"] += 1
            attempt = STATE["attempts"]
        headers = {k: self.headers.get(k) for k in ("X-ITV-Signature", "X-ITV-Delivery", "X-ITV-Event")}
        append("attempts.jsonl", {"attempt": attempt, "path": self.path, "headers": headers})
        if attempt <= FAIL_FIRST:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        record = {"path": self.path, "headers": headers, "body": body.decode("utf-8", "replace")}
        if SECRET is not None:
            expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
            record["signature_valid"] = hmac.compare_digest(expected, headers["X-ITV-Signature"] or "")
        append("received.jsonl", record)
        if PRINT:
            try:
                doc = json.loads(body)
                print(f"webhook: {doc.get('event')}: {doc.get('message')}", flush=True)
                if doc.get("command"):
                    print(f"webhook:   {doc.get('command')}", flush=True)
            except ValueError:
                pass
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    serve.start()
    serve.make_certs(DIR)
    server = Server(("127.0.0.1", PORT), Handler)
    server.socket = serve.tls_context(DIR).wrap_socket(server.socket, server_side=True)
    serve.ready(server.server_address[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
