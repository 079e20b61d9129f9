"""Test environment for mod_condcache: the session's `CondCacheEnv` and
its servers (`Httpd`: generated config, docroot files, start / stop /
graceful, and the server's own view of its logs, status page and clients).

Modelled on the pytest harnesses of mod_http2 / mod_md: one `CondCacheEnv`
per session, one `Httpd` (a server root with its own config, docroot, logs
and port) per test class or per test.  What a server is asked and what it
says are in modules of their own, one concern each: tags.py (what a tag
should be), clients.py (HTTP clients), logs.py (access log, status page,
error_log), procs.py (/proc), headers.py (header values).
"""
import atexit
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests

import logs
import procs
from clients import (REQ_ID_HEADER, RawConnection, build_request, free_port,
                     next_req_id)

APACHE_BIN = os.environ.get("APACHE_BIN", "/usr/sbin/apache2")
MODULES_DIR = os.environ.get("APACHE_MODULES_DIR", "/usr/lib/apache2/modules")
REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODULE = os.path.join(REPO_DIR, ".libs", "mod_condcache.so")
MPMS = ("prefork", "worker", "event")

# How long after a file's last change (ctime) the module will store its
# digest.  The module does not cache digests of files changed less than
# ~1 s before the request, so tests that need cache hits wait this long.
SETTLE_SECONDS = float(os.environ.get("CONDCACHE_SETTLE", "1.2"))


# --------------------------------------------------------------------------
# Docroot files

def write_file(path, data, mode=0o644, mtime=None):
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def deploy_versions(path, versions, stop, pause=0.002):
    """Puts versions[1], [2], ... (round and round) in place at `path`, as
    an atomic deploy does: each written beside it, then renamed over it;
    until the threading.Event `stop` is set.  A thread's target."""
    i = 0
    while not stop.is_set():
        i += 1
        tmp = "%s.tmp%d" % (path, i)
        write_file(tmp, versions[i % len(versions)])
        os.replace(tmp, path)
        time.sleep(pause)


def make_big_file(path, size, random_bytes=True, mtime=None):
    """A file of `size` bytes without Python loops: random head (1 MiB of
    urandom) repeated with os.copy_file_range-free writes, or sparse."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    with open(path, "wb") as f:
        if random_bytes:
            block = os.urandom(min(size, 1 << 20))
            left = size
            while left > 0:
                n = min(left, len(block))
                f.write(block[:n])
                left -= n
        else:
            f.truncate(size)
    os.chmod(path, 0o644)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


class Httpd:
    """One server root: conf/httpd.conf, htdocs/, logs/, run/."""

    _serial = itertools.count(1)

    def __init__(self, env, name):
        self.env = env
        self.name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:60]
        self.dir = os.path.join(env.base_dir,
                                "%s-%d" % (self.name, next(self._serial)))
        self.conf_dir = os.path.join(self.dir, "conf")
        self.docroot = os.path.join(self.dir, "htdocs")
        self.logs_dir = os.path.join(self.dir, "logs")
        self.run_dir = os.path.join(self.dir, "run")
        for d in (self.dir, self.conf_dir, self.docroot, self.logs_dir,
                  self.run_dir):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        self.conf_path = os.path.join(self.conf_dir, "httpd.conf")
        self.error_log = os.path.join(self.logs_dir, "error_log")
        self.access_log = os.path.join(self.logs_dir, "access_log")
        self.pid_file = os.path.join(self.run_dir, "httpd.pid")
        self.port = free_port()
        self.host = "127.0.0.1"
        self.running = False
        self.pid = None
        self.last_populated = time.time()
        self.with_module = True
        # error_log offset already checked by the guard
        self.checked_offset = 0

    # -- files -------------------------------------------------------------
    def path(self, rel):
        return os.path.join(self.docroot, rel.lstrip("/"))

    # settle() counts from the end of the last write: the file's ctime is
    # set by its last write (and utime), not when writing began.
    def write(self, rel, data, mode=0o644, mtime=None):
        path = write_file(self.path(rel), data, mode=mode, mtime=mtime)
        self.last_populated = time.time()
        return path

    def big(self, rel, size, random_bytes=True, mtime=None):
        path = make_big_file(self.path(rel), size, random_bytes, mtime)
        self.last_populated = time.time()
        return path

    def mkdir(self, rel, mode=0o755):
        p = self.path(rel)
        os.makedirs(p, exist_ok=True)
        os.chmod(p, mode)
        return p

    def read(self, rel):
        with open(self.path(rel), "rb") as f:
            return f.read()

    def settle(self, seconds=SETTLE_SECONDS):
        """Sleeps until the files written so far are old enough for the
        module to cache their digests."""
        left = self.last_populated + seconds - time.time()
        if left > 0:
            time.sleep(left)

    # -- config ------------------------------------------------------------
    def base_conf(self, modules=(), with_module=True, log_level=None,
                  global_conf=""):
        env = self.env
        mods = ["authz_core", "mime", "dir", "alias"]
        for m in modules:
            if m not in mods:
                mods.append(m)
        if "deflate" in mods or "brotli" in mods:
            if "filter" not in mods:
                mods.append("filter")
        lines = [
            "# generated by pytest/condcache_env.py",
            "ServerRoot %s" % self.dir,
            "ServerName 127.0.0.1",
            "Listen 127.0.0.1:%d" % self.port,
            "PidFile %s" % self.pid_file,
            "DefaultRuntimeDir %s" % self.run_dir,
            "ErrorLog %s" % self.error_log,
            "LogFormat %s condcache" % logs.LOG_FORMAT,
            "CustomLog %s condcache" % self.access_log,
            "LoadModule mpm_%s_module %s/mod_mpm_%s.so"
            % (env.mpm, MODULES_DIR, env.mpm),
        ]
        if env.is_root:
            lines += ["User %s" % env.user, "Group %s" % env.group]
        for m in mods:
            if m == "cgi":
                # mod_cgi forks from threads badly; cgid for threaded MPMs
                m = "cgi" if env.mpm == "prefork" else "cgid"
            lines.append("LoadModule %s_module %s/mod_%s.so"
                         % (m, MODULES_DIR, m))
            if m == "cgid":
                lines.append("ScriptSock %s/cgisock" % self.run_dir)
        if with_module:
            lines.append("LoadModule condcache_module %s" % env.module_path)
        lines.append("LogLevel %s" % (log_level or (
            "info condcache:debug" if with_module else "info")))
        lines += env.mpm_conf()
        lines += [
            "Timeout 15",
            "KeepAlive On",
            "TypesConfig /etc/mime.types",
            "AddType text/css .css",
            "AddType text/plain .txt",
            "AddType text/html .html",
            "DocumentRoot %s" % self.docroot,
            "<Directory />",
            "    AllowOverride None",
            "    Require all denied",
            "</Directory>",
            "<Directory %s>" % self.docroot,
            "    AllowOverride None",
            "    Options None",
            "    Require all granted",
            "</Directory>",
        ]
        if with_module:
            lines += [
                "<Location /condcache-status>",
                "    CondCacheStatus On",
                "</Location>",
            ]
        if global_conf:
            lines.append(global_conf)
        return "\n".join(lines) + "\n"

    def install(self, conf="", modules=(), with_module=True, log_level=None,
                global_conf=""):
        """Writes conf/httpd.conf: the base config plus `conf` (text with
        {docroot}, {dir}, {port} placeholders already filled by caller)."""
        self.with_module = with_module
        text = self.base_conf(modules, with_module, log_level, global_conf)
        text += conf + "\n"
        with open(self.conf_path, "w") as f:
            f.write(text)
        os.chmod(self.conf_path, 0o644)
        return self.conf_path

    # -- control -----------------------------------------------------------
    def apachectl(self, *args, timeout=30):
        cmd = [APACHE_BIN, "-f", self.conf_path] + list(args)
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout)

    def config_test(self):
        p = self.apachectl("-t")
        return p.returncode, p.stdout + p.stderr

    def _read_pid(self):
        try:
            with open(self.pid_file) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def _port_answers(self):
        try:
            with socket.create_connection((self.host, self.port), timeout=1):
                return True
        except OSError:
            return False

    def _ready(self):
        """The server answers HTTP (not just accepts the connection)."""
        try:
            with RawConnection(self.host, self.port, timeout=2) as c:
                c.send(build_request("HEAD", "/__startup_probe__"))
                c.read_response("HEAD")
            return True
        except (OSError, ValueError, ConnectionError):
            return False

    def _change_port(self):
        """Another process took our port between free_port() and httpd's
        bind(): move this server (config included) to a new one."""
        old = self.port
        self.port = free_port()
        with open(self.conf_path) as f:
            text = f.read()
        text = text.replace("127.0.0.1:%d" % old, "127.0.0.1:%d" % self.port)
        with open(self.conf_path, "w") as f:
            f.write(text)

    def start(self, check=True, _tries=3):
        log_offset = self.error_log_size()
        p = self.apachectl("-k", "start")
        if p.returncode != 0:
            if _tries > 1 and "Address already in use" in p.stderr:
                self._change_port()
                return self.start(check, _tries - 1)
            if check:
                raise RuntimeError("httpd start failed (rc=%d): %s\n%s"
                                   % (p.returncode, p.stdout, p.stderr))
            return p
        self.env.register(self)
        deadline = time.time() + 20
        while time.time() < deadline:
            self.pid = self._read_pid()
            if self.pid and self._ready():
                self.running = True
                return p
            lines, _ = self.error_log_lines_since(log_offset)
            text = "\n".join(lines)
            if "could not bind" in text or "no listening sockets" in text:
                # the daemon has given up (it detached before binding)
                self.running = True
                self.stop()
                if _tries > 1 and "Address already in use" in text:
                    self._change_port()
                    # those startup lines are not a test failure
                    self.checked_offset = self.error_log_size()
                    return self.start(check, _tries - 1)
                raise RuntimeError("httpd could not listen:\n" + text)
            time.sleep(0.05)
        self.running = True   # so stop() tries to clean up
        raise RuntimeError("httpd did not come up on port %d; error_log:\n%s"
                           % (self.port, self.error_log_text()[-3000:]))

    def stop(self):
        if not self.running:
            return
        pid = self.pid or self._read_pid()
        p = self.apachectl("-k", "stop")
        if p.returncode != 0 and pid and procs.pid_alive(pid):
            # `-k stop` parses the config (and loads the module) first; if
            # that fails, signal our own server directly
            procs.kill(pid, signal.SIGTERM)
        if pid and not procs.wait_gone(pid, 15):
            # our own server that ignored the stop: kill it and its
            # children by pid, so that no orphans are left behind
            for k in [pid] + procs.children(pid):
                procs.kill(k, signal.SIGKILL)
            time.sleep(0.2)
        self.running = False
        self.pid = None

    def graceful(self, timeout=20):
        before = logs.count_resumes(self.error_log)
        p = self.apachectl("-k", "graceful")
        if p.returncode != 0:
            raise RuntimeError("graceful failed: %s %s" % (p.stdout, p.stderr))
        deadline = time.time() + timeout
        while time.time() < deadline:
            if logs.count_resumes(self.error_log) > before and \
                    self._ready():
                return
            time.sleep(0.05)
        raise RuntimeError("graceful restart did not complete")

    # -- logs (logs.py reads them) -----------------------------------------
    def error_log_text(self):
        return logs.read_text(self.error_log)

    def error_log_size(self):
        return logs.size_of(self.error_log)

    def error_log_lines_since(self, offset):
        return logs.lines_since(self.error_log, offset)

    def access_entries(self):
        return logs.access_entries(self.access_log)

    def note(self, req, timeout=5):
        """The module's request note (`%{condcache}n`) of a request sent by
        get()/raw(): a response with .req_id, or the id itself."""
        req_id = req if isinstance(req, str) else req.req_id
        assert req_id, "request was sent without a request id"
        note = logs.note_of(self.access_log, req_id, timeout)
        if note is None:
            raise AssertionError("no access_log line for %s" % req_id)
        return note

    # -- clients -----------------------------------------------------------
    def url(self, path):
        return "http://%s:%d%s" % (self.host, self.port, path)

    def get(self, path, headers=None, method="GET", **kw):
        """requests-based request, no Accept-Encoding unless given, one
        connection per request. Returns the requests.Response with .req_id."""
        hdrs = {"Accept-Encoding": "identity"}
        hdrs.update(headers or {})
        req_id = next_req_id()
        hdrs[REQ_ID_HEADER] = req_id
        kw.setdefault("timeout", 15)
        kw.setdefault("allow_redirects", False)
        with requests.Session() as sess:
            sess.trust_env = False      # no proxies from the environment
            r = sess.request(method, self.url(path), headers=hdrs, **kw)
        r.req_id = req_id
        return r

    def head(self, path, headers=None, **kw):
        return self.get(path, headers=headers, method="HEAD", **kw)

    def raw(self, method, path, headers=None, body=b"", version="HTTP/1.1",
            host=None, data=None):
        """Sends one request on a new connection with exactly the given
        headers (plus Host, Connection: close and the request id header),
        returns a RawResponse. `data` sends those bytes verbatim instead."""
        req_id = next_req_id()
        if data is None:
            data = build_request(method, path, headers,
                                 host="%s:%d" % (self.host, self.port)
                                 if host is None else host,
                                 body=body, version=version, req_id=req_id)
        with RawConnection(self.host, self.port) as c:
            c.send(data)
            resp = c.read_response(method)
        resp.req_id = req_id
        return resp

    def connect(self):
        return RawConnection(self.host, self.port)

    def status(self):
        """The module's status page (?auto) as a dict.  A request that
        finds no child to answer within the timeout (a loaded machine,
        while children are killed and respawned) is asked once more: the
        page is the tests' instrument, not what they test."""
        try:
            r = self.get(logs.STATUS_PATH)
        except requests.exceptions.RequestException as e:
            sys.stderr.write("status page: %r; asking again\n" % (e,))
            r = self.get(logs.STATUS_PATH, timeout=60)
        assert r.status_code == 200, "status handler: %d %s" % (
            r.status_code, r.text[:300])
        return logs.parse_status(r.text)

    def wait_status(self, pred, what, timeout=60, interval=0.1):
        """Polls the status page until pred(status) holds and returns that
        status; fails naming `what` (and the last status seen) when it
        does not within `timeout` seconds.  For what the background worker
        does in its own time (warm-up, queue)."""
        deadline = time.time() + timeout
        while True:
            st = self.status()
            if pred(st):
                return st
            if time.time() > deadline:
                raise AssertionError("status: %s not reached within %s s; "
                                     "last status: %r" % (what, timeout, st))
            time.sleep(interval)

    def notes(self, reqs, timeout=5):
        """The notes of many requests sent by get()/raw() (responses or
        ids), in their order; reads the access log once per round."""
        ids = [r if isinstance(r, str) else r.req_id for r in reqs]
        got = logs.notes_of(self.access_log, ids, timeout)
        missing = [i for i in ids if i not in got]
        if missing:
            raise AssertionError("no access_log line for %d requests, "
                                 "e.g. %s" % (len(missing), missing[:3]))
        return [got[i] for i in ids]


class CondCacheEnv:
    """The session: the MPM, the module under test, and every server made
    (all stopped at exit)."""

    def __init__(self, mpm="event", module_path=None, keep=False,
                 missing_module="fail"):
        if mpm not in MPMS:
            raise ValueError("unknown MPM %r" % mpm)
        self.mpm = mpm
        self.module_path = module_path or os.environ.get(
            "CONDCACHE_MODULE", DEFAULT_MODULE)
        self.is_root = os.geteuid() == 0
        self.user = os.environ.get("CONDCACHE_USER", "www-data")
        self.group = os.environ.get("CONDCACHE_GROUP", "www-data")
        self.keep = keep
        # what require_module() does when the .so is not built: fail, skip
        self.missing_module = missing_module
        self.base_dir = tempfile.mkdtemp(prefix="condcache-tests-",
                                         dir=os.environ.get("CONDCACHE_TMP",
                                                            "/tmp"))
        os.chmod(self.base_dir, 0o755)
        self.servers = []
        self._lock = threading.Lock()
        self.failed = False
        # never leave servers behind, even if pytest is interrupted
        atexit.register(self.stop_all)

    def module_available(self):
        return os.path.isfile(self.module_path)

    def require_module(self):
        """Fails (or, with --missing-module=skip, skips) the test asking
        when mod_condcache.so is not built."""
        if self.module_available():
            return
        import pytest   # only tests ask; the scripts use no pytest
        msg = ("mod_condcache.so not found at %s (build it with "
               "`make -f Makefile.apxs`, or pass --module)" % self.module_path)
        if self.missing_module == "skip":
            pytest.skip(msg)
        pytest.fail(msg, pytrace=False)

    def mpm_conf(self):
        if self.mpm == "prefork":
            return [
                "StartServers 8",
                "MinSpareServers 8",
                "MaxSpareServers 16",
                "ServerLimit 40",
                "MaxRequestWorkers 40",
                "MaxConnectionsPerChild 0",
            ]
        return [
            "StartServers 2",
            "ServerLimit 8",
            "ThreadLimit 16",
            "ThreadsPerChild 16",
            "MinSpareThreads 8",
            "MaxSpareThreads 64",
            "MaxRequestWorkers 64",
            "MaxConnectionsPerChild 0",
        ]

    def new_server(self, name):
        return Httpd(self, name)

    def start_server(self, name, conf="", modules=(), with_module=True,
                     populate=None, log_level=None, start=True,
                     settle=False):
        """A server configured and (unless start=False) started: the one
        way the fixtures, the ecosystem tests and the scripts make one.
        `conf` and `populate` may be callables taking the server (its port
        and dirs are known by then); the caller stops it (or env.stop_all
        does)."""
        if with_module:
            self.require_module()
        srv = self.new_server(name)
        if populate:
            populate(srv)
        srv.install(conf(srv) if callable(conf) else conf, modules=modules,
                    with_module=with_module, log_level=log_level)
        if start:
            srv.start()
            if settle:
                srv.settle()
        return srv

    def register(self, srv):
        with self._lock:
            if srv not in self.servers:
                self.servers.append(srv)

    def running_servers(self):
        return [s for s in self.servers if s.running]

    def stop_all(self):
        for s in self.servers:
            try:
                s.stop()
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass

    def cleanup(self):
        self.stop_all()
        if not self.keep and not self.failed:
            shutil.rmtree(self.base_dir, ignore_errors=True)
