"""Helpers for the ecosystem tests (test_eco_*.py): finding the
third-party programs they need, and drivers for the clients and caches the
tests put in front of mod_condcache (Chromium over the DevTools pipe,
varnishd, strace), and the third-party JavaScript of pytest/js (installed
from its package-lock.json with `npm ci`): an RFC 9651 Structured Fields
parser (`sf_parse`).  The tests' second access log is logs.py's (EcoLog);
servers come from CondCacheEnv.start_server.

Nothing here decides a test's outcome by timing: waits are deadlines for
something that must happen, never measurements.
"""
import fcntl
import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from clients import free_port
from procs import tracer_pid


def make_writable_by_server(env, path):
    """Directories the server's children (User www-data when root) write."""
    os.makedirs(path, exist_ok=True)
    if env.is_root:
        shutil.chown(path, env.user, env.group)
    return path


def run(cmd, timeout=60, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(cmd, timeout=timeout, **kw)


def which(name, *extra):
    for cand in (name,) + extra:
        p = shutil.which(cand)
        if p:
            return p
    for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def need_program(name, package, *alternatives):
    """The program's path, or a skip that says what to install."""
    p = which(name, *alternatives)
    if not p:
        pytest.skip("%s not found: install the Debian package %s "
                    "(scripts/install-deps test)" % (name, package))
    return p


def require_program(name, package, *alternatives):
    """The program's path, or a failure that says what to install: for
    the suites whose programs scripts/install-deps installs (the twins),
    where a missing one is a broken setup, not a reason to skip."""
    p = which(name, *alternatives)
    if not p:
        pytest.fail("%s is missing: install the Debian package %s "
                    "(scripts/install-deps test)" % (name, package),
                    pytrace=False)
    return p


def terminate(proc, timeout=10):
    """Stops a child process we started (by its own pid)."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


# --------------------------------------------------------------------------
# Third-party JavaScript from npm (pytest/js): package.json and
# package-lock.json name exact versions; `npm ci --prefix pytest/js`
# installs them into pytest/js/node_modules, once (a stamp of the lock's
# hash says it is done; a changed lock installs again).  After that
# nothing needs the network.

JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
_NPM_STAMP = ".condcache-lock-sha256"


def _lock_digest(js_dir):
    with open(os.path.join(js_dir, "package-lock.json"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def npm_ci(js_dir=JS_DIR, timeout=300):
    """Installs pytest/js's locked packages unless they already are; the
    path of node.  Fails (not skips) when node or npm is missing or the
    install fails: scripts/install-deps test installs them, and the tests
    that need a parser nobody here wrote are not optional."""
    node = require_program("node", "nodejs", "nodejs")
    stamp = os.path.join(js_dir, "node_modules", _NPM_STAMP)
    want = _lock_digest(js_dir)
    # pytest-xdist workers may get here at once: one installs, the other
    # waits for it and then finds the stamp
    lock_path = os.path.join(tempfile.gettempdir(), "condcache-npm-%s.lock"
                             % hashlib.sha256(js_dir.encode()).hexdigest()[:16])
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(stamp) as f:
                if f.read().strip() == want:
                    return node
        except OSError:
            pass
        npm = require_program("npm", "npm")
        p = run([npm, "ci", "--prefix", js_dir, "--no-audit", "--no-fund",
                 "--ignore-scripts"], timeout=timeout)
        if p.returncode != 0:
            pytest.fail("npm ci --prefix %s failed (%d):\n%s%s"
                        % (js_dir, p.returncode, p.stdout, p.stderr),
                        pytrace=False)
        with open(stamp, "w") as f:
            f.write(want + "\n")
    return node


def sf_parse(values, kind="dictionary", js_dir=JS_DIR):
    """Parses field values as RFC 9651 Structured Fields with the npm
    package structured-headers (pytest/js/sf_parse.mjs, one node process
    for all of them).  `values`: strings; `kind`: "dictionary", "list" or
    "item".  One result per value, in order: None when the value is not a
    valid field of that kind, else for a dictionary its members in order
    as [(key, member)], a member being a dict {"type", "value", "params"}
    ("binary" values in standard base64, "integer" for numbers without a
    fraction: the package gives 1.0 and 1 alike) or for an inner list
    {"type": "inner-list", "items", "params"}."""
    node = npm_ci(js_dir)
    values = list(values)
    p = run([node, os.path.join(js_dir, "sf_parse.mjs")], timeout=60,
            input=json.dumps([[kind, v] for v in values]), cwd=js_dir)
    assert p.returncode == 0, "sf_parse.mjs failed: %s" % p.stderr
    out = []
    for r in json.loads(p.stdout):
        if not r["ok"]:
            out.append(None)
        elif kind == "dictionary":
            out.append([tuple(m) for m in r["value"]])
        else:
            out.append(r["value"])
    return out


# --------------------------------------------------------------------------
# Headless Chromium driven over the DevTools protocol on a pipe
# (--remote-debugging-pipe: the browser reads commands on fd 3 and writes
# replies and events on fd 4, each message a JSON text ended by NUL).

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio",
    "--no-default-browser-check", "--password-store=basic",
    "--disable-features=MediaRouter,OptimizationHints,Translate",
]


class CdpError(Exception):
    pass


class Chromium:
    def __init__(self, binary, profile_dir, log_path):
        self.binary = binary
        self.profile_dir = profile_dir
        self.log_path = log_path
        self.proc = None
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def start(self, timeout=30):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def child_fds():
            # dup first: a pipe end may already be fd 3 or 4
            a, b = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [self.binary] + CHROMIUM_FLAGS + [
            "--user-data-dir=" + self.profile_dir,
            "--remote-debugging-pipe", "about:blank"]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, preexec_fn=child_fds,
                                     close_fds=False,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.call("Browser.getVersion", timeout=timeout)
        target = self.call("Target.createTarget", {"url": "about:blank"})
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target["targetId"],
                                  "flatten": True})["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Network.enable", session=True)
        return self

    def _send(self, method, params=None, session=False):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def _recv(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no message from chromium")
            r, _, _ = select.select([self.from_browser], [], [], left)
            if not r:
                continue
            data = os.read(self.from_browser, 1 << 16)
            if not data:
                raise CdpError("chromium closed the pipe (see %s)"
                               % self.log_path)
            self.buf += data
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=False, timeout=30):
        mid = self._send(method, params, session)
        deadline = time.time() + timeout
        while True:
            m = self._recv(deadline)
            if m.get("id") == mid:
                if "error" in m:
                    raise CdpError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def wait_event(self, name, timeout=30):
        deadline = time.time() + timeout
        while True:
            for i, m in enumerate(self.events):
                if m.get("method") == name:
                    del self.events[i]
                    return m
            self.events.append(self._recv(deadline))

    def load(self, url, timeout=30):
        """Navigates and waits for the load event (every subresource of the
        page fetched); returns the Network.responseReceived events seen."""
        self.events = []
        res = self.call("Page.navigate", {"url": url}, session=True)
        if res.get("errorText"):
            raise CdpError("navigate %s: %s" % (url, res["errorText"]))
        self.wait_event("Page.loadEventFired", timeout)
        return [m["params"]["response"] for m in self.events
                if m.get("method") == "Network.responseReceived"]

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression,
                                           "returnByValue": True},
                      session=True)
        return r.get("result", {}).get("value")

    def close(self):
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self.call("Browser.close", timeout=10)
                self.proc.wait(15)
        except (CdpError, TimeoutError, OSError, subprocess.TimeoutExpired):
            pass
        terminate(self.proc)
        for fd in (self.to_browser, self.from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()
        self.proc = None


# --------------------------------------------------------------------------
# varnishd in the foreground

class Varnishd:
    def __init__(self, binary, workdir, vcl_text, port=None):
        self.binary = binary
        self.workdir = workdir
        self.port = port or free_port()
        self.vcl_path = os.path.join(workdir, "test.vcl")
        self.log_path = os.path.join(workdir, "varnishd.log")
        self.proc = None
        os.makedirs(workdir, exist_ok=True)
        with open(self.vcl_path, "w") as f:
            f.write(vcl_text)

    def start(self, probe, timeout=60):
        """Starts varnishd and waits until `probe()` (a request through it)
        returns true."""
        args = [self.binary, "-F", "-n", os.path.join(self.workdir, "n"),
                "-a", "127.0.0.1:%d" % self.port, "-T", "none",
                "-f", self.vcl_path, "-s", "malloc,32m",
                "-p", "vcc_allow_inline_c=off"]
        if os.geteuid() == 0:
            # no jail: as root the default one wants the varnish users and
            # a workdir they own; the test has no need for privilege drop
            args[1:1] = ["-j", "none"]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("varnishd exited with %s:\n%s"
                                   % (self.proc.returncode, self.log_text()))
            try:
                if probe():
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("varnishd did not answer on port %d:\n%s"
                           % (self.port, self.log_text()))

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        terminate(self.proc, timeout=20)
        if self.proc is not None:
            self.log.close()
        self.proc = None


# --------------------------------------------------------------------------
# Slowing one system call down in running processes (strace fault injection)

class SyscallDelay:
    """Attaches strace to `pids` (all their threads) and delays every call
    of `syscall` by `delay_us` microseconds on entry.  While attached the
    processes run normally otherwise.  stop() detaches (the calls run at
    full speed again)."""

    def __init__(self, strace, pids, syscall, delay_us, out_path):
        self.args = [strace, "-f", "-qq", "-o", out_path, "-e",
                     "trace=" + syscall, "-e",
                     "inject=%s:delay_enter=%d" % (syscall, delay_us)]
        for p in pids:
            self.args += ["-p", str(p)]
        self.out_path = out_path
        self.proc = None

    def start(self, pids_expected, timeout=15):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        # attached when every process shows strace as its tracer
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("strace exited: %s"
                                   % self.proc.stderr.read().decode())
            if all(tracer_pid(p) == self.proc.pid
                   for p in pids_expected):
                return self
            time.sleep(0.05)
        raise RuntimeError("strace did not attach to %s" % pids_expected)

    def stop(self):
        terminate(self.proc, timeout=20)
        self.proc = None


class SyscallTrace(SyscallDelay):
    """Records the calls of `syscalls` (comma-separated) that `pids` (all
    their threads) make while attached; no delay."""

    def __init__(self, strace, pids, syscalls, out_path):
        self.args = [strace, "-f", "-qq", "-o", out_path,
                     "-e", "trace=" + syscalls]
        for p in pids:
            self.args += ["-p", str(p)]
        self.out_path = out_path
        self.proc = None

    def lines(self):
        with open(self.out_path, errors="replace") as f:
            return f.read().splitlines()
