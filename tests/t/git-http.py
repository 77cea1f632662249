#!/usr/bin/env python3
"""Smart-HTTP git server for the tests, on loopback: git http-backend behind
HTTP Basic authentication with a token as the password.

usage: git-http.py PROJECT_ROOT TOKEN_FILE [LIFETIME]
Prints its port. Any user name is accepted with the token; requests without it
get 401. Each request is appended to PROJECT_ROOT/../http.log, with "v2" at
the end when it asked for protocol v2 (the Git-Protocol header, which is
passed on to git http-backend as a web server would, unless PROTOCOL_V0=1 in
the environment: then the server speaks only v0, as an older one does)."""
import base64, http.server, os, subprocess, sys, threading

ROOT, TOKEN_FILE = sys.argv[1], sys.argv[2]
LIFETIME = float(sys.argv[3]) if len(sys.argv) > 3 else 600
LOG = os.path.join(os.path.dirname(os.path.abspath(ROOT)), "http.log")


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def authorised(self):
        token = open(TOKEN_FILE).read().strip()
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return password == token

    def handle_any(self):
        ok = self.authorised()
        protocol = self.headers.get("Git-Protocol", "")
        with open(LOG, "a") as f:
            f.write("%s %s %s%s\n" % (self.command, self.path, "authorised" if ok else "401",
                                       " v2" if "version=2" in protocol else ""))
        if not ok:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length", 0) or 0)
        body = self.rfile.read(length) if length else b""
        env = dict(os.environ, GIT_PROJECT_ROOT=ROOT, GIT_HTTP_EXPORT_ALL="1",
                   PATH_INFO=path, QUERY_STRING=query, REQUEST_METHOD=self.command,
                   CONTENT_TYPE=self.headers.get("Content-Type", ""),
                   CONTENT_LENGTH=str(len(body)), REMOTE_USER="test")
        if protocol and not os.environ.get("PROTOCOL_V0"):
            env["HTTP_GIT_PROTOCOL"] = protocol
        out = subprocess.run(["git", "http-backend"], input=body, env=env,
                             stdout=subprocess.PIPE).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.split(b"\r\n"):
            name, _, value = line.decode().partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # a client may stop reading once it has what it wanted

    do_GET = do_POST = handle_any


server = http.server.ThreadingHTTPServer((os.environ.get("BIND", "127.0.0.1"), 0), Handler)
print(server.server_address[1], flush=True)
threading.Timer(LIFETIME, server.shutdown).start()
server.serve_forever()
