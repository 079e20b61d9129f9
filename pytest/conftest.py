"""pytest harness for mod_condcache.

Run (from the repository root), once per MPM:

    /usr/bin/python3 -m pytest pytest/ --mpm=event
    /usr/bin/python3 -m pytest pytest/ --mpm=worker
    /usr/bin/python3 -m pytest pytest/ --mpm=prefork

Options / environment:
    --mpm=prefork|worker|event   (env CONDCACHE_MPM; default event)
    --module=PATH                (env CONDCACHE_MODULE; default .libs/mod_condcache.so)
    --missing-module=fail|skip   what to do when the .so is not built (default fail)
    --keep-dirs                  keep /tmp/condcache-tests-* (kept anyway on failure)

Each test class gets its own server (see the `httpd` fixture): the class sets
`modules`, and the class methods `populate(srv)` (write docroot files) and
`conf(srv)` (config text appended to the generated base config).  After every
test the error_log lines written since the previous check are scanned; a test
that expects error lines declares them with
`@pytest.mark.expect_errors(r"regex", ...)` or by appending to the
`expect_errors` fixture list.
"""
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from condcache_env import CondCacheEnv, MPMS  # noqa: E402
from logs import HARD_CRASH_RE, check_error_lines  # noqa: E402


def pytest_addoption(parser):
    g = parser.getgroup("condcache")
    g.addoption("--mpm", action="store", default=None, choices=MPMS,
                help="httpd MPM to test with (env CONDCACHE_MPM, default event)")
    g.addoption("--module", action="store", default=None,
                help="path of mod_condcache.so (env CONDCACHE_MODULE)")
    g.addoption("--missing-module", action="store", default="fail",
                choices=("fail", "skip"),
                help="when mod_condcache.so is missing: fail or skip "
                     "the tests that need it")
    g.addoption("--keep-dirs", action="store_true", default=False,
                help="keep the generated server directories")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "expect_errors(*regexes): error_log lines the test "
                   "is allowed (and usually expected) to produce")
    config.addinivalue_line(
        "markers", "core_only: the test runs httpd without mod_condcache")


_ENV = None


def _mpm(config):
    return config.getoption("--mpm") or os.environ.get("CONDCACHE_MPM") or "event"


def pytest_report_header(config):
    mod = config.getoption("--module") or os.environ.get("CONDCACHE_MODULE") \
        or "(default) .libs/mod_condcache.so"
    return "condcache: mpm=%s module=%s" % (_mpm(config), mod)


@pytest.fixture(scope="session")
def env(request):
    global _ENV
    e = CondCacheEnv(mpm=_mpm(request.config),
                     module_path=request.config.getoption("--module"),
                     keep=request.config.getoption("--keep-dirs"),
                     missing_module=request.config.getoption(
                         "--missing-module"))
    _ENV = e
    yield e
    e.cleanup()
    if e.failed or e.keep:
        sys.stderr.write("\ncondcache test dirs kept in %s\n" % e.base_dir)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and _ENV is not None:
        _ENV.failed = True


@pytest.fixture(scope="class")
def httpd(env, request):
    """A running server configured by the requesting test class."""
    cls = request.cls
    srv = env.start_server(
        cls.__name__ if cls else request.node.name,
        conf=cls.conf if hasattr(cls, "conf") else "",
        modules=getattr(cls, "modules", ()),
        with_module=getattr(cls, "with_module", True),
        populate=getattr(cls, "populate", None),
        log_level=getattr(cls, "log_level", None),
        settle=getattr(cls, "settle", True))
    yield srv
    srv.stop()
    # crash indicators written after the last test (shutdown included)
    lines, srv.checked_offset = srv.error_log_lines_since(srv.checked_offset)
    crashes = [ln for ln in lines if HARD_CRASH_RE.search(ln)]
    if crashes:
        env.failed = True
        pytest.fail("crash indicators in %s after the last test:\n%s"
                    % (srv.error_log, "\n".join(crashes)), pytrace=False)


@pytest.fixture
def new_server(env, request):
    """Factory for servers owned by one test: new_server(name, conf,
    modules=..., with_module=True, start=True, populate=callable).
    All are stopped at the end of the test."""
    made = []

    def factory(name, conf="", modules=(), with_module=True, start=True,
                populate=None, settle=False):
        srv = env.start_server(name, conf, modules=modules,
                               with_module=with_module, populate=populate,
                               start=False)
        made.append(srv)    # stopped at the end even if its start fails
        if start:
            srv.start()
            if settle:
                srv.settle()
        return srv

    yield factory
    for s in made:
        s.stop()


@pytest.fixture
def expect_errors():
    """A list of regexes; append to allow error_log lines in this test."""
    return []


@pytest.fixture(autouse=True)
def _error_log_guard(request, env, expect_errors):
    yield
    expected = list(expect_errors)
    for m in request.node.iter_markers("expect_errors"):
        expected.extend(m.args)
    # give the server a moment to write lines for the last request
    time.sleep(0.005)
    problems = []
    for srv in list(env.servers):
        lines, srv.checked_offset = srv.error_log_lines_since(srv.checked_offset)
        bad = check_error_lines(lines, expected)
        if bad:
            problems.append("%s:\n  %s" % (srv.error_log, "\n  ".join(bad)))
    if problems:
        env.failed = True
        pytest.fail("unexpected error_log lines during this test:\n"
                    + "\n".join(problems), pytrace=False)
