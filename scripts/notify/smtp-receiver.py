#!/usr/bin/env python3
"""An SMTP server for itv's mail tests (aiosmtpd from Debian's python3-aiosmtpd; 127.0.0.1 only).

Usage: /usr/bin/python3 smtp-receiver.py DIR [--plain] [--credentials USER:PASSWORD]
Without --plain: makes a CA and a server certificate (SAN IP:127.0.0.1) in DIR unless they exist, offers
STARTTLS and requires it before MAIL (and before AUTH). With --credentials, AUTH PLAIN/LOGIN must succeed
with them. Listens on an ephemeral port and prints "<port>". Each message is stored as DIR/mail-N.eml,
and DIR/mail-N.json says who sent it to whom, whether the session was encrypted and who authenticated.
Stop it with SIGTERM.
"""
import json, os, ssl, sys, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import serve  # noqa: E402  (scripts/lib/serve.py: certificates, signals, the ready line)

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

DIR = sys.argv[1]
ARGS = sys.argv[2:]
PLAIN = "--plain" in ARGS
CREDENTIALS = ARGS[ARGS.index("--credentials") + 1] if "--credentials" in ARGS else None
LOCK = threading.Lock()
COUNT = [0]


class Handler:
    async def handle_DATA(self, server, session, envelope):
        with LOCK:
            COUNT[0] += 1
            n = COUNT[0]
        with open(os.path.join(DIR, f"mail-{n}.eml"), "wb") as f:
            f.write(envelope.original_content or envelope.content)
        meta = {"from": envelope.mail_from, "to": envelope.rcpt_tos, "tls": session.ssl is not None,
                "user": session.auth_data.login.decode() if session.authenticated and session.auth_data else None}
        with open(os.path.join(DIR, f"mail-{n}.json"), "w") as f:
            json.dump(meta, f)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    user, password = CREDENTIALS.split(":", 1)
    ok = auth_data.login.decode() == user and auth_data.password.decode() == password
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


def main():
    stop = threading.Event()
    serve.start(stop.set)
    os.makedirs(DIR, exist_ok=True)
    kwargs = {}
    if not PLAIN:
        serve.make_certs(DIR)
        kwargs.update(tls_context=serve.tls_context(DIR, ssl.Purpose.CLIENT_AUTH), require_starttls=True)
    if CREDENTIALS:
        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=not PLAIN)
    else:
        kwargs.update(auth_require_tls=not PLAIN)
    port = serve.free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    serve.ready(port)
    while not stop.is_set():
        time.sleep(0.2)
    controller.stop()


if __name__ == "__main__":
    main()
