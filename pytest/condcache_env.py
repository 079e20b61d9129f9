"""Test environment for mod_condcache: generated httpd configs, server
control, error_log guard, raw HTTP client and independent tag helpers.

Modelled on the pytest harnesses of mod_http2 / mod_md: one `CondCacheEnv`
per session, one `Httpd` (a server root with its own config, docroot, logs
and port) per test class or per test.
"""
import atexit
import base64
import ctypes
import hashlib
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from email.utils import formatdate, parsedate_to_datetime

import requests

APACHE_BIN = os.environ.get("APACHE_BIN", "/usr/sbin/apache2")
MODULES_DIR = os.environ.get("APACHE_MODULES_DIR", "/usr/lib/apache2/modules")
REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODULE = os.path.join(REPO_DIR, ".libs", "mod_condcache.so")
MPMS = ("prefork", "worker", "event")

# How long after a file's last change (ctime) the module will store its
# digest.  The module does not cache digests of files changed less than
# ~1 s before the request, so tests that need cache hits wait this long.
SETTLE_SECONDS = float(os.environ.get("CONDCACHE_SETTLE", "1.2"))

STATUS_KEYS = (
    "Capacity", "EntriesInUse", "Hits", "Misses", "Inserts", "Evictions",
    "FilesHashed", "BytesHashed", "Waits", "Uncached", "LockRecoveries",
    "SharedMemoryBytes", "BytesPerEntry",
)

NOTE_VALUES = ("hit", "miss", "shared", "uncached", "changed", "busy",
               "too-large", "error", "no-store", "bypass", "-")

REQ_ID_HEADER = "X-CC-Req"
_req_counter = itertools.count(1)


def next_req_id():
    return "r%d-%d" % (os.getpid(), next(_req_counter))


# --------------------------------------------------------------------------
# Independent tag helpers

def b64(data):
    return base64.b64encode(data).decode("ascii")


def sha1_tag(data):
    """core's `FileETag Digest` form: base64 (padded) of SHA-1, quoted."""
    return '"%s"' % b64(hashlib.sha1(data).digest())


def md5_tag(data):
    return '"%s"' % hashlib.md5(data).hexdigest()


def sha256_tag(data):
    """Subresource Integrity form."""
    return '"sha256-%s"' % b64(hashlib.sha256(data).digest())


class _XXH128(ctypes.Structure):
    _fields_ = [("low64", ctypes.c_uint64), ("high64", ctypes.c_uint64)]


def _load_xxh3():
    for name in ("libxxhash.so.0", "libxxhash.so"):
        try:
            lib = ctypes.CDLL(name)
            fn = lib.XXH3_128bits
        except (OSError, AttributeError):
            continue
        fn.restype = _XXH128
        fn.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        # known answer: xxh128sum of an empty file
        h = fn(b"", 0)
        if "%016x%016x" % (h.high64, h.low64) == "99aa06d3014798d86001c324468d497f":
            return fn
    return None


_xxh3_128 = _load_xxh3()
XXH128_RE = re.compile(r'^"[0-9a-f]{32}"$')


def have_xxh128():
    return _xxh3_128 is not None


def xxh128_tag(data):
    """`"` + canonical (big-endian) XXH3-128 hex + `"`, as xxh128sum prints.
    Needs libxxhash via ctypes; None when it is not there."""
    if _xxh3_128 is None:
        return None
    h = _xxh3_128(data, len(data))
    return '"%016x%016x"' % (h.high64, h.low64)


TAG_FUNCS = {"sha1": sha1_tag, "md5": md5_tag, "sha256": sha256_tag,
             "xxh128": xxh128_tag}

TAG_RES = {
    "sha1": re.compile(r'^"[A-Za-z0-9+/]{27}="$'),
    "md5": re.compile(r'^"[0-9a-f]{32}"$'),
    "sha256": re.compile(r'^"sha256-[A-Za-z0-9+/]{43}="$'),
    "xxh128": XXH128_RE,
}


def content_tag(algo, data):
    return TAG_FUNCS[algo](data)


def file_tag(algo, path):
    with open(path, "rb") as f:
        return content_tag(algo, f.read())


def core_meta_tag(path, inode=False):
    """core's metadata ETag for the default `FileETag MTime Size`:
    "size-mtime" in hex, mtime in microseconds (ap_make_etag_ex)."""
    st = os.stat(path)
    mtime_us = st.st_mtime_ns // 1000
    if inode:
        return '"%x-%x-%x"' % (st.st_ino, st.st_size, mtime_us)
    return '"%x-%x"' % (st.st_size, mtime_us)


def strip_weak(tag):
    return tag[2:] if tag and tag.startswith("W/") else tag


def with_suffix(tag, suffix):
    """`"abc"` + "gzip" -> `"abc-gzip"` (what mod_deflate/mod_brotli do)."""
    assert tag.endswith('"')
    return tag[:-1] + "-" + suffix + '"'


# --------------------------------------------------------------------------
# Header helpers

def http_date(t=None):
    return formatdate(time.time() if t is None else t, usegmt=True)


def rfc850_date(t):
    return time.strftime("%A, %d-%b-%y %H:%M:%S GMT", time.gmtime(t))


def asctime_date(t):
    s = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(t))
    # asctime pads the day with a space, not a zero
    parts = s.split(" ")
    if parts[2].startswith("0"):
        parts[2] = " " + parts[2][1:]
    return " ".join(parts)


def parse_http_date(value):
    return parsedate_to_datetime(value).timestamp()


def parse_cache_control(value):
    """Parses a Cache-Control value (possibly several fields joined with
    ',') into an ordered list of (directive-lower, value-or-None)."""
    out = []
    if value is None:
        return out
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" in part:
            k, v = part.split("=", 1)
            v = v.strip()
            if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
                v = v[1:-1]
            out.append((k.strip().lower(), v))
        else:
            out.append((part.lower(), None))
    return out


def cache_control_dict(value):
    """Like parse_cache_control but as a dict; asserts no directive is
    repeated (a repeated max-age is a bug we want to see)."""
    items = parse_cache_control(value)
    names = [k for k, _ in items]
    assert len(names) == len(set(names)), \
        "repeated Cache-Control directive in %r" % value
    return dict(items)


# --------------------------------------------------------------------------
# Raw HTTP/1.1 client

class RawResponse:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers          # list of (name, value), as received
        self.body = body
        self.raw_head = raw_head
        self.req_id = None

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
        return "<RawResponse %d %r, %d body bytes>\n%s" % (
            self.status, self.headers, len(self.body),
            self.raw_head.decode("latin-1"))


class RawConnection:
    """One TCP connection; send exact bytes, read responses framed by
    Content-Length / chunked / close. No transformation of anything."""

    def __init__(self, host, port, timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

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
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def _read_until(self, marker):
        while marker not in self.buf:
            if not self._fill():
                raise ConnectionError("connection closed before %r; got %r"
                                      % (marker, self.buf[:200]))
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise ConnectionError("connection closed with %d of %d bytes"
                                      % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read_all(self):
        while self._fill():
            pass
        out, self.buf = self.buf, b""
        return out

    def read_response(self, method="GET"):
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
            return resp
        te = resp.header("Transfer-Encoding")
        cl = resp.header("Content-Length")
        if te and "chunked" in te.lower():
            body = b""
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
            resp.body = body
        elif cl is not None:
            resp.body = self._read_exact(int(cl))
        else:
            resp.body = self._read_all()
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
# Config generation

LOG_FORMAT = ('"%{%s}t\\t%P\\t%m\\t%U%q\\t%>s\\t%B\\t%{condcache}n'
              '\\t%{ETag}o\\t%{' + REQ_ID_HEADER + '}i"')

ERROR_LEVEL_RE = re.compile(r"\[([\w.-]*):(emerg|alert|crit|error)\]")
CRASH_RE = re.compile(r"Segmentation fault|exit signal|AH00052|"
                      r"\[core:crit\]|\[core:alert\]|\[[\w.-]*:emerg\]")
HARD_CRASH_RE = re.compile(r"Segmentation fault|exit signal|AH00052")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


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
            "LogFormat %s condcache" % LOG_FORMAT,
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

    def _pid_alive(self, pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        # a zombie (not reaped by us: daemonized, reparented) counts as gone
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().split(") ", 1)[1].startswith("Z"):
                    return False
        except (OSError, IndexError):
            return False
        return True

    @staticmethod
    def _children_of(pid):
        kids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                kids.append(int(d))
        return kids

    def stop(self):
        if not self.running:
            return
        pid = self.pid or self._read_pid()
        p = self.apachectl("-k", "stop")
        if p.returncode != 0 and pid and self._pid_alive(pid):
            # `-k stop` parses the config (and loads the module) first; if
            # that fails, signal our own server directly
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.time() + 15
        while pid and self._pid_alive(pid) and time.time() < deadline:
            time.sleep(0.05)
        if pid and self._pid_alive(pid):
            # our own server that ignored the stop: kill it and its
            # children by pid, so that no orphans are left behind
            kids = self._children_of(pid)
            for k in [pid] + kids:
                try:
                    os.kill(k, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        self.running = False
        self.pid = None

    def _count_resumes(self):
        return self.error_log_text().count("resuming normal operations")

    def graceful(self, timeout=20):
        before = self._count_resumes()
        p = self.apachectl("-k", "graceful")
        if p.returncode != 0:
            raise RuntimeError("graceful failed: %s %s" % (p.stdout, p.stderr))
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self._count_resumes() > before and self._ready():
                return
            time.sleep(0.05)
        raise RuntimeError("graceful restart did not complete")

    # -- logs --------------------------------------------------------------
    def error_log_text(self):
        try:
            with open(self.error_log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def error_log_size(self):
        try:
            return os.path.getsize(self.error_log)
        except FileNotFoundError:
            return 0

    def error_log_lines_since(self, offset):
        try:
            with open(self.error_log, "rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            return [], offset
        # only complete lines
        end = data.rfind(b"\n") + 1
        lines = data[:end].decode("utf-8", "replace").splitlines()
        return lines, offset + end

    def access_entries(self):
        out = []
        try:
            with open(self.access_log, "rb") as f:
                data = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return out
        for line in data.splitlines():
            parts = line.split("\t")
            if len(parts) < 9:
                continue
            out.append({
                "time": parts[0], "pid": parts[1], "method": parts[2],
                "uri": parts[3], "status": parts[4], "bytes": parts[5],
                "note": parts[6], "etag": parts[7], "req_id": parts[8],
            })
        return out

    def note(self, req, timeout=5):
        """The module's request note (`%{condcache}n`) of a request sent by
        get()/raw(): a response with .req_id, or the id itself."""
        req_id = req if isinstance(req, str) else req.req_id
        assert req_id, "request was sent without a request id"
        deadline = time.time() + timeout
        while True:
            for e in self.access_entries():
                if e["req_id"] == req_id:
                    return e["note"]
            if time.time() > deadline:
                raise AssertionError("no access_log line for %s" % req_id)
            time.sleep(0.02)

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
        r = self.get("/condcache-status?auto")
        assert r.status_code == 200, "status handler: %d %s" % (
            r.status_code, r.text[:300])
        out = {}
        for line in r.text.splitlines():
            if ":" not in line:
                continue
            k, v = line.split(":", 1)
            v = v.strip()
            try:
                out[k.strip()] = int(v)
            except ValueError:
                out[k.strip()] = v
        return out


class CondCacheEnv:
    def __init__(self, mpm="event", module_path=None, keep=False):
        if mpm not in MPMS:
            raise ValueError("unknown MPM %r" % mpm)
        self.mpm = mpm
        self.module_path = module_path or os.environ.get(
            "CONDCACHE_MODULE", DEFAULT_MODULE)
        self.is_root = os.geteuid() == 0
        self.user = os.environ.get("CONDCACHE_USER", "www-data")
        self.group = os.environ.get("CONDCACHE_GROUP", "www-data")
        self.keep = keep
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


def check_error_lines(lines, expected=()):
    """Returns the lines that make a test fail: crash indicators and
    error-or-worse lines not matching any of `expected` (regexes).
    Hard crash lines (segfault, exit signal, AH00052) are never allowed."""
    bad = []
    pats = [re.compile(p) for p in expected]
    for line in lines:
        if HARD_CRASH_RE.search(line):
            bad.append(line)
            continue
        if CRASH_RE.search(line) or ERROR_LEVEL_RE.search(line):
            if not any(p.search(line) for p in pats):
                bad.append(line)
    return bad
