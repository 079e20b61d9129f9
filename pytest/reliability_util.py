"""Helpers of the reliability tests (test_reliability_*.py) and the load
scripts scripts/soak-* that belong to neither alone:

  - consume_error_log(): the error_log check for tests that kill children
    on purpose (the harness never allows "exit signal" lines, so such a
    test checks the lines itself, allowing exactly the kills it made, and
    moves the harness's offset past them);
  - report(): lines printed in a "reliability" section of the terminal
    summary (numbers worth seeing that do not decide pass or fail);
  - run_script() / emit(): a scripts/soak-* run with --json and its
    summary, from both ends;
  - standalone_server(): a server for a script run by hand (no pytest);
  - wait_ctime_older_than(): settling one big file.

Clients, tags, /proc and log parsing are the harness's: clients.py,
tags.py, procs.py, logs.py.
"""
import contextlib
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(HERE)
SCRIPTS_DIR = os.path.join(REPO_DIR, "scripts")
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from logs import check_error_lines  # noqa: E402


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
        yield env.start_server(name, conf, with_module=with_module,
                               populate=populate, settle=True)
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
