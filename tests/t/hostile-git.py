#!/usr/bin/env python3
"""A smart-HTTP git server that misbehaves on purpose, for the tests.

usage: hostile-git.py PROJECT_ROOT DIR [LIFETIME]
Listens on BIND (default 127.0.0.1) and prints its port. Before each request
it reads the mode from DIR/mode (one line; "honest" when absent):

  honest         git http-backend over PROJECT_ROOT, as a real server
  incomplete     the real ref advertisement, but the pack holds only the
                 wanted commit objects (made by git pack-objects), no trees
  manyrefs N     the real refs followed by N more (refs/heads/bulk/..., names
                 repeating every 20000), then
                 silence: the list never ends and the connection stays open
  toomanyrefs N  the real refs and N more, with a proper end of the list
  stall          the HTTP headers and the first ref, then silence
  redirect URL   302 to URL followed by the request's path below the
                 repository name (URL names the repository)

Requests for protocol v2 (a Git-Protocol header) are passed on to git
http-backend as v2, and the modes above leave those that are not ref listings
alone. Three more modes lie in the v2 ls-refs answer only; everything else,
the whole v0 fetch among it, stays honest:

  lsrefs-says OID [N]  ls-refs names OID for the ref asked about, after N
                 other refs (a server that ignores ref-prefix)
  lsrefs-stall   the v2 capability advertisement's headers, then silence
  lsrefs-garbage the v2 ls-refs answer is not pkt-lines

Every request is logged with "v2" after auth= when it asked for protocol v2.

Every request is appended to DIR/requests.log as "METHOD PATH MODE auth=yes|no [v2]";
a client that leaves a silent connection is logged as "closed PATH".
"""
import http.server, os, select, socket, subprocess, sys, threading, time

ROOT, DIR = sys.argv[1], sys.argv[2]
LIFETIME = float(sys.argv[3]) if len(sys.argv) > 3 else 600
LOG = os.path.join(DIR, "requests.log")
log_lock = threading.Lock()


def log(line):
    with log_lock, open(LOG, "a") as f:
        f.write(line + "\n")


def pkt(data):
    return b"%04x" % (len(data) + 4) + data


def read_pkts(body):
    """The payloads of the pkt-lines in body (flush packets skipped)."""
    out, i = [], 0
    while i + 4 <= len(body):
        n = int(body[i:i + 4], 16)
        if n < 4:  # flush, delimiter, response end
            i += 4
            continue
        out.append(body[i + 4:i + n])
        i += n
    return out


def mode():
    try:
        with open(os.path.join(DIR, "mode")) as f:
            words = f.read().split()
    except OSError:
        words = []
    return words or ["honest"]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def repo_and_rest(self):
        path = self.path.partition("?")[0].lstrip("/")
        name, _, _ = path.partition("/")
        return os.path.join(ROOT, name), self.path[len(name) + 1:]

    def advertisement(self, repo):
        """The real advertisement: the refs and the flush packet that ends them."""
        return subprocess.run(["git", "upload-pack", "--stateless-rpc", "--advertise-refs", repo],
                              stdout=subprocess.PIPE, check=True).stdout

    def start_advertisement(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/x-git-upload-pack-advertisement")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(pkt(b"# service=git-upload-pack\n") + b"0000")

    def hang(self):
        """Stays silent until the client goes away (or the server's lifetime ends)."""
        self.wfile.flush()
        end = time.time() + LIFETIME
        while time.time() < end:
            ready, _, _ = select.select([self.connection], [], [], 0.2)
            if ready:
                try:
                    if not self.connection.recv(65536):
                        break
                except OSError:
                    break
        log("closed %s" % self.path)
        self.close_connection = True

    def send_refs(self, repo, count, finish):
        adv = self.advertisement(repo)
        tip = adv[4:44]
        self.start_advertisement()
        try:
            self.wfile.write(adv[:-4])  # the real refs, without their end
            # One block of names, sent again and again: the server must
            # outpace the client, even a sanitizer build of it.
            block = b"".join(pkt(b"%s refs/heads/bulk/%08d\n" % (tip, n)) for n in range(20000))
            for start in range(0, count, 20000):
                n = min(20000, count - start)
                self.wfile.write(block if n == 20000 else block[:n * len(block) // 20000])
            if finish:
                self.wfile.write(b"0000")
                return
        except (BrokenPipeError, ConnectionResetError):
            log("closed %s" % self.path)
            return
        self.hang()

    def stall(self, repo):
        self.start_advertisement()
        self.wfile.write(self.advertisement(repo)[:200])
        self.hang()

    def commits_only(self, repo, body):
        lines = read_pkts(body)
        wants = [l.split()[1] for l in lines if l.startswith(b"want ")]
        sideband = any(b"side-band" in l for l in lines if l.startswith(b"want "))
        out = pkt(b"NAK\n")
        if any(l.strip() == b"done" for l in lines):
            pack = subprocess.run(["git", "-C", repo, "pack-objects", "--stdout", "-q"],
                                  input=b"\n".join(wants) + b"\n",
                                  stdout=subprocess.PIPE, check=True).stdout
            if sideband:
                for i in range(0, len(pack), 65000):
                    out += pkt(b"\x01" + pack[i:i + 65000])
                out += b"0000"
            else:
                out += pack
        self.send_response(200)
        self.send_header("Content-Type", "application/x-git-upload-pack-result")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def lsrefs_lie(self, repo, body, oid, extra):
        asked = [l.split()[1] for l in read_pkts(body) if l.startswith(b"ref-prefix ")]
        # Ids of no object: the client must pick its ref by name.
        out = b"".join(pkt(b"%040x refs/heads/bulk/%08d\n" % (n + 1, n)) for n in range(extra))
        out += b"".join(pkt(b"%s %s\n" % (oid.encode(), ref)) for ref in asked) + b"0000"
        self.send_response(200)
        self.send_header("Content-Type", "application/x-git-upload-pack-result")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def garbage(self):
        out = b"this is not a pkt-line\n" * 10
        self.send_response(200)
        self.send_header("Content-Type", "application/x-git-upload-pack-result")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def backend(self, body):
        path, _, query = self.path.partition("?")
        env = dict(os.environ, GIT_PROJECT_ROOT=ROOT, GIT_HTTP_EXPORT_ALL="1",
                   PATH_INFO=path, QUERY_STRING=query, REQUEST_METHOD=self.command,
                   CONTENT_TYPE=self.headers.get("Content-Type", ""),
                   CONTENT_LENGTH=str(len(body)))
        if self.v2:
            env["HTTP_GIT_PROTOCOL"] = "version=2"
        out = subprocess.run(["git", "http-backend"], input=body, env=env,
                             stdout=subprocess.PIPE).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
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

    def handle_any(self):
        how = mode()
        length = int(self.headers.get("Content-Length", 0) or 0)
        body = self.rfile.read(length) if length else b""
        self.v2 = "version=2" in self.headers.get("Git-Protocol", "")
        log("%s %s %s auth=%s%s" % (self.command, self.path, " ".join(how),
                                     "yes" if self.headers.get("Authorization") else "no",
                                     " v2" if self.v2 else ""))
        repo, rest = self.repo_and_rest()
        listing = self.command == "GET" and "/info/refs" in self.path
        lsrefs = self.v2 and self.command == "POST" and b"command=ls-refs" in body
        if how[0] == "redirect":
            self.send_response(302)
            self.send_header("Location", how[1] + rest)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif how[0] in ("manyrefs", "toomanyrefs") and listing:
            self.send_refs(repo, int(how[1]), how[0] == "toomanyrefs")
        elif how[0] == "stall" and (listing or not self.v2):
            self.stall(repo)
        elif how[0] == "incomplete" and self.command == "POST" and not self.v2:
            self.commits_only(repo, body)
        elif how[0] == "lsrefs-says" and lsrefs:
            self.lsrefs_lie(repo, body, how[1], int(how[2]) if len(how) > 2 else 0)
        elif how[0] == "lsrefs-stall" and listing and self.v2:
            self.start_advertisement()
            self.hang()
        elif how[0] == "lsrefs-garbage" and lsrefs:
            self.garbage()
        else:
            self.backend(body)

    do_GET = do_POST = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


server = Server((os.environ.get("BIND", "127.0.0.1"), 0), Handler)
print(server.server_address[1], flush=True)
threading.Timer(LIFETIME, server.shutdown).start()
server.serve_forever()
