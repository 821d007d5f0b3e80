#!/usr/bin/env python3
"""The demo's vendor feed: serves the files of DIR on 127.0.0.1:PORT (0: a free port), GET and HEAD only.

Usage: feed-server.py DIR PORT        prints the port it listens on, then serves until SIGTERM.

Conditional GET as RFC 9110 says, with validators that tell every version of a file apart: a strong ETag from
the file's content (SHA-256) and Last-Modified from its modification time. If-None-Match decides when the
request has it (weak comparison, lists and `*`); If-Modified-Since is looked at only without it. Python's
http.server sends Last-Modified alone, and its one-second resolution hides a file replaced within the second
it was fetched: the demo publishes release 1.2.0 right after the 1.1.0 rollout, often within one second.
"""
import email.utils, hashlib, http.server, os, signal, sys, urllib.parse

ROOT = os.path.realpath(sys.argv[1])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))

    def do_HEAD(self):
        self.answer(body=False)

    def do_GET(self):
        self.answer(body=True)

    def answer(self, body):
        path = os.path.realpath(os.path.join(ROOT, urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")))
        if not path.startswith(ROOT + os.sep) or not os.path.isfile(path):
            return self.reply(404, b"not found\n", [("Content-Type", "text/plain")], body)
        with open(path, "rb") as f:
            content = f.read()
            mtime = int(os.fstat(f.fileno()).st_mtime)
        etag = '"%s"' % hashlib.sha256(content).hexdigest()
        headers = [("ETag", etag), ("Last-Modified", email.utils.formatdate(mtime, usegmt=True)),
                   ("Content-Type", "application/json" if path.endswith(".json") else "application/octet-stream"),
                   ("Cache-Control", "no-cache")]
        if self.not_modified(etag, mtime):
            return self.reply(304, b"", headers, False)
        self.reply(200, content, headers, body)

    def not_modified(self, etag, mtime):
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = [t.strip() for t in inm.split(",")]
            return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)
        ims = self.headers.get("If-Modified-Since")
        if ims is None:
            return False
        try:
            since = email.utils.parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        return mtime <= since

    def reply(self, code, content, headers, body):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        if code != 304:
            self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if body and content:
            self.wfile.write(content)


def main():
    # A parent may have started us with signals blocked (Swift's Process passes its thread's mask on).
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
