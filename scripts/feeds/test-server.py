#!/usr/bin/env python3
"""A hostile-and-polite feed server for itv's feed tests and bench (127.0.0.1 only).

Usage: test-server.py DIR [--feeds N]
Creates a CA and a server certificate (SAN IP:127.0.0.1 only) in DIR, starts an HTTPS and a plain HTTP
server on ephemeral ports and prints one line: "<https_port> <http_port>". Stop it with SIGTERM.

Routes (both servers):
  /feed/NAME[?v=VERSION]  Atom releases feed; ETag + Last-Modified; 304 on If-None-Match / If-Modified-Since
  /status/CODE            that status, no body
  /retry-seconds          503 with Retry-After: 120
  /retry-date             429 with Retry-After as an HTTP date one hour ahead
  /big                    3 GB body with Content-Length, streamed from a small buffer
  /big-nolength           3 GB body without Content-Length (ends when the connection closes)
  /endless                chunked body that never ends
  /gzip-bomb              Content-Encoding gzip: 32 KB on the wire, 32 MB decompressed
  /slow                   1 byte per second
  /slow-feed/NAME         a valid feed after 3 s (for concurrency limits)
  /redirect/N             N redirects, then /feed/redirected
  /redirect-loop          redirects to itself
  /to-http                redirects to the plain http server
  /via-https              redirects to the https server's /to-http (http -> https -> http)
  /long-validators        a valid feed whose ETag is 4,000 characters long (Last-Modified is normal)
  /stats                  JSON: requests per path, most concurrent requests per Host header
  /files/NAME             the file DIR/files/NAME (artifacts, checksum files, signatures), streamed; 404 if absent
  /files-to-http/NAME     redirects to the plain http server's /files/NAME (an artifact download downgraded)
  /files-redirect/NAME    redirects (302) to /files/NAME on the same server
  /files-slow/NAME        /files/NAME at about 640 KiB/s (64 KiB every 0.1 s), for killing a download midway
  /publish/NAME?v=VERSION makes VERSION the release that /mutable/NAME offers (204)
  /mutable/NAME?mode=M    the feed of the version last published (1.0.0 before), with a strong ETag of its
                          content and a Last-Modified that never changes (a document replaced within the same
                          second). M says how conditional requests are answered:
                            rfc         If-None-Match decides when sent (RFC 9110 13.1.3), else If-Modified-Since
                            date-first  If-Modified-Since decides when sent, even beside If-None-Match (wrong)
                            stale       304 to any conditional request (a broken cache)
                          Every 304 carries the current ETag.
"""
import hashlib, socket, email.utils, urllib.parse, xml.sax.saxutils, gzip, http.server, json, os, socketserver, ssl, sys, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import serve  # noqa: E402  (scripts/lib/serve.py: certificates, signals, the ready line)

DIR = sys.argv[1]
LOCK = threading.Lock()
COUNTS, ACTIVE, MAX_ACTIVE, AGENTS = {}, {}, {}, set()
PORTS = {}
PUBLISHED = {}
CHUNK = b"x" * 65536
BOMB = gzip.compress(b"\0" * (32 * 1024 * 1024), 9)
LAST_MODIFIED = email.utils.formatdate(1_700_000_000, usegmt=True)


def feed(name, version):
    version = xml.sax.saxutils.escape(version)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{name}</title><id>tag:test,2024:{name}</id>"
        f'<entry><title>v{version}</title><id>tag:github.com,2008:Repository/1/v{version}</id>'
        f'<link rel="alternate" href="/{name}/releases/tag/v{version}"/></entry>'
        f'<entry><title>v1.0.0</title><id>tag:github.com,2008:Repository/1/v1.0.0</id>'
        f'<link rel="alternate" href="/{name}/releases/tag/v1.0.0"/></entry></feed>\n'
    ).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle + delayed ACK stall each response 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        if not any(k.lower() == "content-length" for k, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self):
        host = self.headers.get("Host", "").rsplit(":", 1)[0]
        path, _, query = self.path.partition("?")
        with LOCK:
            COUNTS[path] = COUNTS.get(path, 0) + 1
            ACTIVE[host] = ACTIVE.get(host, 0) + 1
            MAX_ACTIVE[host] = max(MAX_ACTIVE.get(host, 0), ACTIVE[host])
            AGENTS.add(self.headers.get("User-Agent", ""))
        try:
            self.route(path, query)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        finally:
            with LOCK:
                ACTIVE[host] -= 1

    def route(self, path, query):
        if path.startswith("/feed/") or path.startswith("/slow-feed/"):
            if path.startswith("/slow-feed/"):
                time.sleep(3)
            name = path.rsplit("/", 1)[1]
            version = urllib.parse.unquote(query[2:]) if query.startswith("v=") else "2.0.0"
            etag = '"%s-%d"' % (name, len(version))
            if self.headers.get("If-None-Match") == etag or self.headers.get("If-Modified-Since") == LAST_MODIFIED:
                return self.send(304, headers=[("ETag", etag)])
            return self.send(200, feed(name, version), [
                ("Content-Type", "application/atom+xml; charset=utf-8"), ("ETag", etag),
                ("Last-Modified", LAST_MODIFIED)])
        if path.startswith("/publish/"):
            with LOCK:
                PUBLISHED[path.rsplit("/", 1)[1]] = urllib.parse.unquote(query[2:])
            return self.send(204)
        if path.startswith("/mutable/"):
            name = path.rsplit("/", 1)[1]
            with LOCK:
                body = feed(name, PUBLISHED.get(name, "1.0.0"))
            mode = urllib.parse.parse_qs(query).get("mode", ["rfc"])[0]
            etag = '"%s"' % hashlib.sha256(body).hexdigest()[:32]
            inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
            if mode == "stale":
                fresh = inm is not None or ims is not None
            elif mode == "date-first" and ims is not None:
                fresh = ims == LAST_MODIFIED
            elif inm is not None:
                fresh = etag in [t.strip().removeprefix("W/") for t in inm.split(",")]
            else:
                fresh = ims == LAST_MODIFIED
            if fresh:
                return self.send(304, headers=[("ETag", etag), ("Last-Modified", LAST_MODIFIED)])
            return self.send(200, body, [
                ("Content-Type", "application/atom+xml; charset=utf-8"), ("ETag", etag),
                ("Last-Modified", LAST_MODIFIED)])
        if path.startswith("/files/") or path.startswith("/files-slow/"):
            slow = path.startswith("/files-slow/")
            name = urllib.parse.unquote(path.split("/", 2)[2])
            full = os.path.join(DIR, "files", name)
            if "/" in name or name.startswith(".") or not os.path.isfile(full):
                return self.send(404)
            size = os.path.getsize(full)
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            with open(full, "rb") as f:
                while True:
                    chunk = f.read(65536 if slow else 1 << 20)
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    if slow:
                        self.wfile.flush()
                        time.sleep(0.1)
            return
        if path.startswith("/files-to-http/"):
            return self.send(302, headers=[("Location", f"http://127.0.0.1:{PORTS['http']}/files/{path[15:]}")])
        if path.startswith("/files-redirect/"):
            return self.send(302, headers=[("Location", f"/files/{path[16:]}")])
        if path == "/long-validators":
            return self.send(200, feed("long", "2.0.0"), [
                ("Content-Type", "application/atom+xml; charset=utf-8"), ("ETag", '"%s"' % ("e" * 4000)),
                ("Last-Modified", LAST_MODIFIED)])
        if path == "/stats":
            with LOCK:
                body = json.dumps({"counts": COUNTS, "max_concurrent": MAX_ACTIVE, "agents": sorted(AGENTS)}).encode()
            return self.send(200, body, [("Content-Type", "application/json")])
        if path.startswith("/status/"):
            return self.send(int(path[8:]))
        if path == "/retry-seconds":
            return self.send(503, headers=[("Retry-After", "120")])
        if path == "/retry-date":
            when = email.utils.formatdate(time.time() + 3600, usegmt=True)
            return self.send(429, headers=[("Retry-After", when)])
        if path in ("/big", "/big-nolength"):
            self.send_response(200)
            if path == "/big":
                self.send_header("Content-Length", str(3 * 1024 ** 3))
            else:
                self.close_connection = True
                self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(3 * 1024 ** 3 // len(CHUNK)):
                self.wfile.write(CHUNK)
            return
        if path == "/endless":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while True:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
        if path == "/gzip-bomb":
            return self.send(200, BOMB, [("Content-Encoding", "gzip"), ("Content-Type", "application/atom+xml")])
        if path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(1000):
                self.wfile.write(b"<")
                self.wfile.flush()
                time.sleep(1)
            return
        if path.startswith("/redirect/"):
            n = int(path[10:])
            target = f"/redirect/{n - 1}" if n > 1 else "/feed/redirected"
            return self.send(302, headers=[("Location", target)])
        if path == "/redirect-loop":
            return self.send(302, headers=[("Location", "/redirect-loop")])
        if path == "/via-https":
            return self.send(302, headers=[("Location", f"https://127.0.0.1:{PORTS['https']}/to-http")])
        if path == "/to-http":
            return self.send(302, headers=[("Location", f"http://127.0.0.1:{PORTS['http']}/feed/plain")])
        return self.send(404)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 512


def main():
    serve.start()
    serve.make_certs(DIR)
    plain = Server(("127.0.0.1", 0), Handler)
    tls = Server(("127.0.0.1", 0), Handler)
    tls.socket = serve.tls_context(DIR).wrap_socket(tls.socket, server_side=True)
    PORTS["http"], PORTS["https"] = plain.server_address[1], tls.server_address[1]
    for s in (plain, tls):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    serve.ready(PORTS["https"], PORTS["http"])
    serve.wait_forever()


if __name__ == "__main__":
    main()
