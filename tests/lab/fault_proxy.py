"""An HTTP proxy in front of the lab's S3 (Ceph RGW) that injects faults RGW does not make on
demand: a chosen request answered with a server error, a request body altered in flight, a
response header rewritten. Everything else passes through unchanged, so the engine talks to the
real S3 server. (A test tool: never part of the roles or the engine.)

A rule is a function (method, path, headers) -> an action or None:
  ("fail", status[, code])           answer with that status and an S3 error body (code: SlowDown)
  ("flip_byte", offset)              forward the body with one byte flipped
  ("set_response_header", name, v)   forward, then rewrite a header of the answer
  ("delay", seconds)                 wait, then forward (a slow request, to signal a run mid-way)
  ("count",)                         forward unchanged; only counted in hits
"""

import http.client
import http.server
import threading
import time

ERROR_BODY = """<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>{code}</Code><Message>injected by the test's fault proxy</Message></Error>"""
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection", "upgrade"}


class FaultProxy:
    def __init__(self, target_port, rules):
        self.target_port = int(target_port)
        self.rules = list(rules)
        self.hits = []  # (method, path, action) of every request a rule acted on
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                action = proxy.action(self.command, self.path, self.headers)
                if action and action[0] == "fail":
                    error = ERROR_BODY.format(code=action[2] if len(action) > 2 else "SlowDown").encode()
                    self.send_response(action[1])
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(error)))
                    if len(action) > 2:
                        self.send_header("x-amz-error-code", action[2])  # what a HEAD (no body) says
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(error)
                    return
                if action and action[0] == "delay":
                    time.sleep(action[1])
                if action and action[0] == "flip_byte" and body:
                    at = min(action[1], len(body) - 1)
                    body = body[:at] + bytes([body[at] ^ 0xFF]) + body[at + 1 :]
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.target_port, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status, answer.reason)
                for name, value in answer.getheaders():
                    if name.lower() in HOP_BY_HOP or (name.lower() == "content-length" and self.command != "HEAD"):
                        continue
                    if action and action[0] == "set_response_header" and name.lower() == action[1].lower():
                        value = action[2]
                    self.send_header(name, value)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def action(self, method, path, headers):
        for rule in self.rules:
            action = rule(method, path, headers)
            if action:
                self.hits.append((method, path, action))
                return action
        return None

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def copy_to(key, status=503):
    """Fails every server-side copy (CopyObject, UploadPartCopy) whose target is key."""

    def rule(method, path, headers):
        target = path.split("?", 1)[0]
        if method == "PUT" and headers.get("x-amz-copy-source") and target.endswith(f"/{key}"):
            return ("fail", status)
        return None

    return rule


def copy_to_pattern(pattern, status=503):
    """Fails every server-side copy whose target key matches the regular expression pattern."""
    import re

    def rule(method, path, headers):
        target = path.split("?", 1)[0]
        if method == "PUT" and headers.get("x-amz-copy-source") and re.search(f"/{pattern}$", target):
            return ("fail", status)
        return None

    return rule
