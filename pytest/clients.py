"""HTTP clients of the tests, the soak scripts and bench/run, and the one
response type they all return.

  - RawConnection / build_request: exact bytes on one TCP connection,
    responses framed by Content-Length, chunked or close, and timed (time
    to first byte, to last byte, bytes on the wire) for bench/run;
  - KeepAlive: an http.client keep-alive client that tells a stale
    keep-alive connection (closed by the server before it read our
    request, which every HTTP client retries) from a real failure;
  - curl_exchange / parse_curl_heads: curl with its `-D -` header dump
    parsed (HTTP/2, TLS, an h2c upgrade's interim 101);
  - request ids: the X-CC-Req header each request carries, so that
    logs.py can find the request's access_log line (and its note);
  - free_port: a port of 127.0.0.1 for a server to listen on.

Standard library only, so bench/run can use it.
"""
import http.client
import itertools
import os
import re
import socket
import subprocess
import time

REQ_ID_HEADER = "X-CC-Req"
_req_counter = itertools.count(1)


def next_req_id():
    """Unique across the processes of a run (pytest-xdist workers, the
    scripts they start): the pid and a counter."""
    return "r%d-%d" % (os.getpid(), next(_req_counter))


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------------------
# The response

class RawResponse:
    """One response, as received: headers in order and as sent, the body
    (decoded from chunked framing, never from a content coding)."""

    def __init__(self, version, status, reason, headers, body, raw_head=b""):
        self.version = version          # "HTTP/1.1", "HTTP/2"
        self.status = status
        self.reason = reason
        self.headers = headers          # list of (name, value), as received
        self.body = body
        self.raw_head = raw_head        # the head's bytes (raw client only)
        self.req_id = None              # the X-CC-Req header sent, if any
        # timing, by the client that measured it
        self.ttfb = self.total = None   # RawConnection.request: seconds
        self.wire_len = None            # ... bytes read, head included
        self.t_send = self.t_recv = None    # KeepAlive: time.monotonic()
        self.fresh = None               # KeepAlive: sent on a new connection

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has(self, name):
        return self.header(name) is not None

    def __repr__(self):
        head = "\n".join("%s: %s" % kv for kv in self.headers)
        return "<%s %d %s, %d body bytes>\n%s\n\n%r" % (
            self.version, self.status, self.reason, len(self.body), head,
            self.body[:300])


# --------------------------------------------------------------------------
# Raw HTTP/1.1

class RawConnection:
    """One TCP connection; send exact bytes, read responses framed by
    Content-Length / chunked / close. No transformation of anything."""

    def __init__(self, host, port, timeout=10):
        self.host, self.port = host, port
        self.sock = socket.create_connection((host, port), timeout=timeout)
        # a request goes out whole, at once: no Nagle delay in the timings
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()          # received, not yet read
        self.consumed = 0               # bytes read out of buf so far
        self.first_byte_at = None       # perf_counter() of the first recv

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        self.first_byte_at = None
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            return False
        if self.first_byte_at is None:
            self.first_byte_at = time.perf_counter()
        self.buf += chunk
        return True

    def _take(self, n):
        out = bytes(self.buf[:n])
        del self.buf[:n]
        self.consumed += n
        return out

    def _read_until(self, marker):
        while marker not in self.buf:
            if not self._fill():
                raise ConnectionError("connection closed before %r; got %r"
                                      % (marker, bytes(self.buf[:200])))
        return self._take(self.buf.index(marker) + len(marker))

    def _read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise ConnectionError("connection closed with %d of %d bytes"
                                      % (len(self.buf), n))
        return self._take(n)

    def _read_all(self):
        while self._fill():
            pass
        return self._take(len(self.buf))

    def read_response(self, method="GET"):
        start = self.consumed
        while True:
            head = self._read_until(b"\r\n\r\n")
            lines = head[:-4].split(b"\r\n")
            m = re.match(rb"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
            if not m:
                raise ValueError("bad status line %r" % lines[0])
            version = m.group(1).decode()
            status = int(m.group(2))
            reason = (m.group(3) or b"").decode("latin-1")
            headers = []
            for line in lines[1:]:
                k, _, v = line.partition(b":")
                headers.append((k.decode("latin-1"),
                                v.strip(b" \t").decode("latin-1")))
            if 100 <= status < 200 and status != 101:
                continue
            break
        resp = RawResponse(version, status, reason, headers, b"", head)
        if method.upper() == "HEAD" or status in (204, 304) or status < 200:
            resp.wire_len = self.consumed - start
            return resp
        te = resp.header("Transfer-Encoding")
        cl = resp.header("Content-Length")
        if te and "chunked" in te.lower():
            body = bytearray()
            while True:
                size_line = self._read_until(b"\r\n")
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    # trailers
                    while self._read_until(b"\r\n") != b"\r\n":
                        pass
                    break
                body += self._read_exact(size)
                self._read_exact(2)
            resp.body = bytes(body)
        elif cl is not None:
            resp.body = self._read_exact(int(cl))
        else:
            resp.body = self._read_all()
        resp.wire_len = self.consumed - start
        return resp

    def request(self, method, path, headers=None, body=b"", host=None,
                version="HTTP/1.1", close=False, req_id=None):
        """Sends one request (build_request; Host is this connection's
        host:port unless given) and reads its response, timed: .ttfb from
        sending to the first byte, .total to the last, .wire_len bytes."""
        data = build_request(method, path, headers,
                             host="%s:%d" % (self.host, self.port)
                             if host is None else host,
                             body=body, version=version, close=close,
                             req_id=req_id)
        waiting = bool(self.buf)    # an answer already here (pipelined)
        t0 = time.perf_counter()
        self.send(data)
        resp = self.read_response(method)
        t1 = time.perf_counter()
        resp.ttfb = 0.0 if waiting or self.first_byte_at is None \
            else self.first_byte_at - t0
        resp.total = t1 - t0
        resp.req_id = req_id
        return resp


def build_request(method, path, headers=None, host="127.0.0.1", body=b"",
                  version="HTTP/1.1", close=True, req_id=None):
    """Request bytes. `headers` is a list of (name, value) or a dict; values
    are sent exactly as given (str -> latin-1, bytes as is). Host and
    Connection: close are added unless present (pass host=None to omit)."""
    if isinstance(headers, dict):
        headers = list(headers.items())
    headers = list(headers or [])
    names = {k.lower() for k, _ in headers}
    lines = [("%s %s %s" % (method, path, version)).encode("latin-1")]
    if host is not None and "host" not in names:
        lines.append(b"Host: " + host.encode("latin-1"))
    for k, v in headers:
        if isinstance(v, str):
            v = v.encode("latin-1")
        lines.append(k.encode("latin-1") + b": " + v)
    if close and "connection" not in names:
        lines.append(b"Connection: close")
    if req_id:
        lines.append(("%s: %s" % (REQ_ID_HEADER, req_id)).encode())
    if body and "content-length" not in names:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


# --------------------------------------------------------------------------
# A keep-alive client

# Failures of a request sent on a reused keep-alive connection that mean
# the server had closed it before reading the request (no response byte
# was received).  RFC 9112 9.3.1: a client may retry such an idempotent
# request on a new connection, and every browser does.
STALE_KEEPALIVE = (http.client.RemoteDisconnected, ConnectionResetError,
                   BrokenPipeError, ConnectionAbortedError)


class RequestFailed(Exception):
    pass


class KeepAlive:
    """One HTTP/1.1 connection, reopened when needed.

    request() returns a RawResponse (with .t_send, .t_recv, .fresh).  A
    stale keep-alive connection is retried once on a new connection and
    counted in .stale_retries; any other failure (and a failure on a fresh
    connection) raises RequestFailed with the cause."""

    def __init__(self, host, port, timeout=20, req_ids=False):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = None
        self.used = 0           # requests answered on the current connection
        self.stale_retries = 0
        self.retried_ids = []   # request ids of the retried requests
        self.connections = 0
        self.req_ids = req_ids

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.conn = None
        self.used = 0

    def _open(self):
        self.close()
        self.conn = http.client.HTTPConnection(self.host, self.port,
                                               timeout=self.timeout)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connections += 1

    def _once(self, method, path, headers):
        fresh = self.conn is None or self.used == 0
        if self.conn is None:
            self._open()
        t0 = time.monotonic()
        self.conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in headers:
            self.conn.putheader(k, v)
        self.conn.endheaders()
        resp = self.conn.getresponse()
        body = resp.read()
        t1 = time.monotonic()
        r = RawResponse("HTTP/1.1" if resp.version == 11 else "HTTP/1.0",
                        resp.status, resp.reason, resp.getheaders(), body)
        r.t_send, r.t_recv, r.fresh = t0, t1, fresh
        if resp.will_close:
            self.close()
        else:
            self.used += 1
        return r

    def request(self, method, path, headers=(), retry_stale=True):
        headers = list(headers)
        req_id = None
        if self.req_ids:
            req_id = next_req_id()
            headers.append((REQ_ID_HEADER, req_id))
        reused = self.conn is not None and self.used > 0
        try:
            r = self._once(method, path, headers)
            r.req_id = req_id
            return r
        except STALE_KEEPALIVE as e:
            self.close()
            if not (reused and retry_stale):
                raise RequestFailed("%s %s on a fresh connection: %r"
                                    % (method, path, e))
            self.stale_retries += 1
            if req_id:
                self.retried_ids.append(req_id)
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise RequestFailed("%s %s: %r" % (method, path, e))
        try:
            r = self._once(method, path, headers)
            r.req_id = req_id
            return r
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise RequestFailed("%s %s (retried on a fresh connection): %r"
                                % (method, path, e))

    def get(self, path, headers=()):
        return self.request("GET", path, headers)


# --------------------------------------------------------------------------
# curl

def parse_curl_heads(data):
    """curl's `-D -` output (bytes): ([(status line, [(name, value)])] in
    order, the rest).  Several heads: interim responses (a 101 Switching
    Protocols on an h2c upgrade) come before the final one."""
    heads = []
    while data.startswith(b"HTTP/"):
        head, _, data = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        hdrs = [tuple(x.strip() for x in ln.split(":", 1))
                for ln in lines[1:] if ":" in ln]
        heads.append((lines[0].strip(), hdrs))
    return heads, data


class CurlExchange:
    """One curl exchange: the interim responses (a 101 on an h2c upgrade),
    the final status line and the final response as a RawResponse."""

    def __init__(self, interim, status_line, response):
        self.interim = interim
        self.status_line = status_line
        self.response = response

    def __repr__(self):
        return "interim=%r\n%s\n%r" % (self.interim, self.status_line,
                                        self.response)


def curl_exchange(url, args=(), headers=(), head=False, req_id=None,
                  curl="curl"):
    """curl with the headers dumped to stdout and, but for HEAD (`-I`,
    whose headers curl also writes to the output), the body after them.
    With `req_id` the request carries it (for the module's note)."""
    cmd = [curl, "-sS", "--noproxy", "*", "--max-time", "30", "-D", "-",
           "-o", "/dev/null" if head else "/dev/stdout"]
    if head:
        cmd.append("-I")
    if req_id:
        cmd += ["-H", "%s: %s" % (REQ_ID_HEADER, req_id)]
    for k, v in headers:
        cmd += ["-H", "%s: %s" % (k, v)]
    cmd += list(args) + [url]
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (
            " ".join(cmd), p.returncode, p.stderr.decode(errors="replace")))
    heads, body = parse_curl_heads(p.stdout)
    assert heads, "no response from %s: %r" % (" ".join(cmd), p.stdout)
    status_line, hdrs = heads[-1]
    parts = status_line.split(None, 2)
    resp = RawResponse(parts[0], int(parts[1]),
                       parts[2] if len(parts) > 2 else "", hdrs,
                       b"" if head else body)
    resp.req_id = req_id
    return CurlExchange(heads[:-1], status_line, resp)
