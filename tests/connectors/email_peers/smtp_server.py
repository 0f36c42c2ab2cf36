#!/usr/bin/python3
"""A real SMTP server for the email connector's tests: aiosmtpd (Debian's
python3-aiosmtpd) on 127.0.0.1, started and stopped by the test.

Every message it accepts becomes two files in --outbox: N.eml (the bytes as
received, after dot-unstuffing) and N.json (the envelope: mail_from,
rcpt_tos, the authenticated user). N.json is written last, by rename, so a
reader that sees it sees the whole message.

  --tls starttls   STARTTLS offered and required before MAIL and AUTH (default)
  --tls implicit   TLS from the first byte (smtps)
  --tls none       no TLS offered at all; AUTH allowed in clear
A recipient whose address starts with "refused" is answered 550.
With --user/--password, AUTH PLAIN and LOGIN accept only that pair and are
required before MAIL. When the server is listening it writes --ready-file.
It runs until SIGTERM.
"""
import argparse
import json
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Outbox:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # A way for tests to see a refused recipient.
        if address.startswith("refused"):
            return "550 5.1.1 <%s>: no such user here" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            number = self.count
        base = os.path.join(self.folder, str(number))
        with open(base + ".eml", "wb") as out:
            out.write(envelope.original_content or b"")
        envelope_json = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "auth_user": session.auth_data if session.authenticated else None,
        }
        with open(base + ".json.tmp", "w") as out:
            json.dump(envelope_json, out)
        os.rename(base + ".json.tmp", base + ".json")
        return "250 OK queued as %d" % number


def make_authenticator(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        if (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
                and auth_data.password.decode() == password):
            return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)
    return authenticate


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--outbox", required=True)
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--tls", choices=["starttls", "implicit", "none"], default="starttls")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()

    context = None
    if args.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    options = {"hostname": "127.0.0.1", "port": args.port, "ready_timeout": 10,
               "server_hostname": "cadre-test-smtp", "decode_data": False}
    if args.tls == "starttls":
        options.update(tls_context=context, require_starttls=True, auth_require_tls=True)
    elif args.tls == "implicit":
        options.update(ssl_context=context, auth_require_tls=False)
    else:
        options.update(auth_require_tls=False)
    if args.user:
        options.update(authenticator=make_authenticator(args.user, args.password or ""),
                       auth_required=True)

    os.makedirs(args.outbox, exist_ok=True)
    controller = Controller(Outbox(args.outbox), **options)
    controller.start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with open(args.ready_file + ".tmp", "w") as out:
        out.write(str(args.port))
    os.rename(args.ready_file + ".tmp", args.ready_file)
    while not stop.wait(3600):
        pass
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
