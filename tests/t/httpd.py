#!/usr/bin/env python3
"""A tiny HTTP server for the tests, on loopback only.

GET  /status/NAME  answers with the status code written in DIR/NAME (200 when absent);
                   NAME may name a file in a subdirectory (host/health).
POST /hook         appends the request (headers and body) as one JSON line to DIR/hook.log
                   and answers with the code in DIR/hook.status (200 when absent).
Prints the port it listens on, then serves until killed or for at most --lifetime seconds.
"""
import http.server, json, os, sys, threading, time

DIR = sys.argv[1]
LIFETIME = float(sys.argv[2]) if len(sys.argv) > 2 else 600


def code_from(path, default=200):
    try:
        with open(path) as f:
            return int(f.read().strip() or default)
    except (OSError, ValueError):
        return default


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body=b"ok\n"):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/status/"):
            name = os.path.normpath(self.path[len("/status/"):])
            if name.startswith(("..", "/")):
                self.reply(403)
            else:
                self.reply(code_from(os.path.join(DIR, name)))
        else:
            self.reply(404)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        code = code_from(os.path.join(DIR, "hook.status"))
        if code < 300:
            with open(os.path.join(DIR, "hook.log"), "a") as f:
                f.write(json.dumps({"path": self.path,
                                    "headers": dict(self.headers),
                                    "body": body.decode("utf-8", "replace")}) + "\n")
        self.reply(code)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
threading.Timer(LIFETIME, server.shutdown).start()
server.serve_forever()
