"""Helpers for the reliability tests (issue 4: test_reliability_*.py) and
the load scripts scripts/soak-*.

Nothing here changes the shared harness (conftest.py, condcache_env.py); it
adds what the reliability tests need on top of it:

  - KeepAlive: an http.client keep-alive client that tells a stale
    keep-alive connection (closed by the server before it read our request,
    which every HTTP client retries) from a real failure;
  - process helpers: the children of httpd's parent, their memory
    (/proc/PID/smaps_rollup), SIGKILL by pid;
  - consume_error_log(): the error_log check for tests that kill children
    on purpose (the harness never allows "exit signal" lines, so such a
    test checks the lines itself, allowing exactly the kills it made, and
    moves the harness's offset past them);
  - report(): lines printed in a "reliability" section of the terminal
    summary (numbers worth seeing that do not decide pass or fail);
  - run_script(): runs a scripts/soak-* script with --json and returns its
    summary;
  - standalone_server(): a server for a script run by hand (no pytest).
"""
import contextlib
import hashlib
import base64
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(HERE)
SCRIPTS_DIR = os.path.join(REPO_DIR, "scripts")
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from condcache_env import (REQ_ID_HEADER, check_error_lines,  # noqa: E402
                           next_req_id)


# --------------------------------------------------------------------------
# Tags

def tag_of(data, algo="sha1"):
    """The module's tag for `data` (independent of the module)."""
    if algo == "sha1":
        return '"%s"' % base64.b64encode(hashlib.sha1(data).digest()).decode()
    if algo == "md5":
        return '"%s"' % hashlib.md5(data).hexdigest()
    if algo == "sha256":
        return '"sha256-%s"' % base64.b64encode(
            hashlib.sha256(data).digest()).decode()
    raise ValueError(algo)


def file_tag(path, algo="sha1"):
    h = {"sha1": hashlib.sha1, "md5": hashlib.md5,
         "sha256": hashlib.sha256}[algo]()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    d = h.digest()
    if algo == "md5":
        return '"%s"' % d.hex()
    if algo == "sha256":
        return '"sha256-%s"' % base64.b64encode(d).decode()
    return '"%s"' % base64.b64encode(d).decode()


# --------------------------------------------------------------------------
# A keep-alive client

class Response:
    __slots__ = ("status", "headers", "body", "t_send", "t_recv", "fresh",
                 "req_id")

    def __init__(self, status, headers, body, t_send, t_recv, fresh):
        self.status = status
        self.headers = headers      # dict, lower-case names
        self.body = body
        self.t_send = t_send        # time.monotonic() before the request
        self.t_recv = t_recv        # ... after the whole response
        self.fresh = fresh          # sent on a new connection
        self.req_id = None          # the X-CC-Req header sent, if any

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)


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

    request() returns a Response.  A stale keep-alive connection is retried
    once on a new connection and counted in .stale_retries; any other
    failure (and a failure on a fresh connection) raises RequestFailed
    with the cause."""

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
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        if resp.will_close:
            self.close()
        else:
            self.used += 1
        return Response(resp.status, hdrs, body, t0, t1, fresh)

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


def status_counters(host, port, path="/condcache-status?auto"):
    c = KeepAlive(host, port)
    try:
        r = c.get(path)
    finally:
        c.close()
    if r.status != 200:
        raise RuntimeError("status handler answered %d" % r.status)
    out = {}
    for line in r.body.decode("latin-1").splitlines():
        k, _, v = line.partition(":")
        try:
            out[k.strip()] = int(v.strip())
        except ValueError:
            pass
    return out


# --------------------------------------------------------------------------
# Processes

def proc_stat(pid):
    """(state, ppid) of a process, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return rest[0], int(rest[1])
    except (OSError, IndexError, ValueError):
        return None


def children(ppid):
    """Live (not zombie) child processes of `ppid`: httpd's children under
    every MPM (threads of a child are not processes of their own)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st and st[1] == ppid and st[0] != "Z":
            out.append(int(name))
    return sorted(out)


def busy_children(ppid):
    """Children that are running on a CPU or waiting for the disk (R or D):
    those are likely hashing or serving."""
    out = []
    for pid in children(ppid):
        st = proc_stat(pid)
        if st and st[0] in ("R", "D"):
            out.append(pid)
        else:
            # a threaded child: any of its threads running?
            try:
                for tid in os.listdir("/proc/%d/task" % pid):
                    with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                        if f.read().rsplit(")", 1)[1].split()[0] in ("R", "D"):
                            out.append(pid)
                            break
            except OSError:
                pass
    return out


def smaps_rollup(pid):
    """/proc/PID/smaps_rollup in kB ({'Rss': .., 'Private_Dirty': .., ...}),
    or None when the process is gone."""
    out = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                m = re.match(r"^(\w+):\s+(\d+) kB", line)
                if m:
                    out[m.group(1)] = int(m.group(2))
    except OSError:
        return None
    return out


def _socket_inodes(local_port, remote_port):
    """Inodes of the TCP sockets (server side) from 127.0.0.1:local_port to
    127.0.0.1:remote_port."""
    want_l = "0100007F:%04X" % local_port
    want_r = "0100007F:%04X" % remote_port
    out = set()
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[1] == want_l and parts[2] == want_r:
                    out.add(parts[9])
    except OSError:
        pass
    return out


def child_serving(ppid, server_port, client_port):
    """The child of `ppid` that holds the server side of the connection
    from our local port `client_port`, or None."""
    inodes = _socket_inodes(server_port, client_port)
    if not inodes:
        return None
    links = {"socket:[%s]" % i for i in inodes}
    for pid in children(ppid):
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                try:
                    if os.readlink("/proc/%d/fd/%s" % (pid, fd)) in links:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


def pid_alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] != "Z"


# --------------------------------------------------------------------------
# error_log

KILLED_RE = re.compile(r"AH00052: child pid (\d+) exit signal Killed \(9\)")


def consume_error_log(srv, allowed=(), killed_pids=()):
    """Checks the error_log lines the harness has not checked yet, as the
    harness would, but also allows "child pid N exit signal Killed (9)" for
    each N in `killed_pids` (and nothing else of the sort); then moves the
    harness's offset past them.  Returns the offending lines."""
    lines, srv.checked_offset = srv.error_log_lines_since(srv.checked_offset)
    killed = {int(p) for p in killed_pids}

    def killed_here(line):
        m = KILLED_RE.search(line)
        return m is not None and int(m.group(1)) in killed

    return check_error_lines([l for l in lines if not killed_here(l)],
                             allowed)


# --------------------------------------------------------------------------
# Reporting

class _Reporter:
    def __init__(self):
        self.lines = []

    def pytest_terminal_summary(self, terminalreporter):
        if self.lines:
            terminalreporter.section("reliability (informational)")
            for ln in self.lines:
                terminalreporter.write_line(ln)


_REPORTER = None


def report(config, line):
    """Prints `line` now (to stderr, shown with -s) and in the terminal
    summary, in a "reliability (informational)" section."""
    global _REPORTER
    if config is not None:
        if _REPORTER is None or not config.pluginmanager.is_registered(
                _REPORTER):
            _REPORTER = _Reporter()
            config.pluginmanager.register(_REPORTER, "condcache-reliability")
        _REPORTER.lines.append(line)
    sys.stderr.write("[reliability] %s\n" % line)


# --------------------------------------------------------------------------
# Scripts

def run_script(name, args, timeout):
    """Runs scripts/<name> with --json; returns (summary dict, process).
    The summary is the last line of stdout."""
    cmd = [sys.executable, os.path.join(SCRIPTS_DIR, name), "--json"] + \
        [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise AssertionError("%s printed no summary (rc %d)\nstdout:\n%s\n"
                             "stderr:\n%s" % (name, p.returncode,
                                              p.stdout[-3000:],
                                              p.stderr[-3000:]))
    return json.loads(lines[-1]), p


def emit(summary, as_json):
    """How the scripts print their summary."""
    if as_json:
        print(json.dumps(summary, sort_keys=True))
    else:
        print(json.dumps(summary, sort_keys=True, indent=2))
    sys.stdout.flush()


# --------------------------------------------------------------------------
# A server for scripts run by hand

@contextlib.contextmanager
def standalone_server(name, conf, populate=None, mpm="event", module=None,
                      with_module=True, keep=False):
    """A started Httpd from the harness, outside pytest; stopped (and its
    directory removed unless keep) on exit.  `conf(srv)` returns the config
    text, `populate(srv)` writes files."""
    from condcache_env import CondCacheEnv
    env = CondCacheEnv(mpm=mpm, module_path=module, keep=keep)
    try:
        srv = env.new_server(name)
        if populate:
            populate(srv)
        srv.install(conf(srv), with_module=with_module)
        srv.start()
        srv.settle()
        yield srv
    finally:
        env.cleanup()
        if keep:
            sys.stderr.write("server directory kept in %s\n" % env.base_dir)


def wait_ctime_older_than(path, seconds=1.5):
    """Sleeps until the file's ctime is `seconds` in the past, so that the
    module stores its digest (it does not for a file changed in the last
    second).  Httpd.settle() counts from when a big file was begun, not
    from when it was finished."""
    left = os.stat(path).st_ctime + seconds - time.time()
    if left > 0:
        time.sleep(left)


def kill(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False
