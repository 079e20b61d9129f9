"""Twin servers (module on vs not loaded) with mod_dav + mod_dav_fs.

A `Dav On` scope with `CondCache On` in it: mod_dav compares a client's
If-Match / If-None-Match with mod_dav_fs's own tag (the metadata tag core
sends), so a GET there answered with the module's content tag would make
every careful client's PUT fail with 412 (and the lost-update protection
would compare tags from two different schemes).  The module must stand
aside where Dav is On: GET, HEAD and conditional GETs there are byte for
byte what httpd sends without it, PUT/DELETE preconditions with the tag GET
returned behave the same on both twins, and PROPFIND's getetag is the tag
GET sends.  A static file outside the DAV scope on the same server is the
module's.

The Debian package litmus (the WebDAV server test suite) is run against
both twins, each over its own fresh DAV directory (litmus writes), and
must give the same result per test.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

import pytest

from condcache_env import write_file
from eco_util import make_writable_by_server, require_program
from twin import CONDITIONALS, own_validators, Twin

OLD = 1600000000
FILE = b"a file in the DAV scope, long enough for a few ranges\n" * 4
PAGE = b"<p>a page in the DAV scope</p>\n"
STATIC = b"a static file outside the DAV scope, long enough for ranges\n" * 4

# files in each twin's own DAV directory; every one is written with the
# same bytes and mtime on both, so core's tags agree between the twins
DAV_FILES = {
    "file.txt": FILE,
    "page.html": PAGE,
    "etag.txt": FILE,
    "lost-update.txt": b"version 1 of the document\n",
    "bogus.txt": b"nobody may overwrite this with a bogus tag\n",
    "delete-me.txt": b"delete me with the right tag only\n",
    "head-tag.txt": b"a PUT with the tag HEAD returned\n",
    "inm-star.txt": b"If-None-Match: * must not overwrite me\n",
}

LITMUS_SUITES = "basic copymove props locks http"
LITMUS_TIMEOUT = 120


def dav_dir(srv):
    return os.path.join(srv.dir, "dav")


def conf(srv, on):
    # the same text on both twins: module directives inside <IfModule>
    return """
DavLockDB {lockdir}/DavLock
Alias /dav/ {dav}/
<Directory {dav}>
    Dav On
    Require all granted
    <IfModule mod_condcache.c>
        CondCache On
    </IfModule>
</Directory>
# a DAV scope set by <Location>, over a directory where CondCache is on
<Directory {root}/shared-dav>
    <IfModule mod_condcache.c>
        CondCache On
    </IfModule>
</Directory>
<Location /shared-dav/>
    Dav On
</Location>
<Directory {root}/static>
    <IfModule mod_condcache.c>
        CondCache On
    </IfModule>
</Directory>
""".format(lockdir=os.path.join(srv.dir, "davlock"), dav=dav_dir(srv),
           root=srv.docroot)


def populate(srv):
    srv.write("static/file.txt", STATIC, mtime=OLD)
    srv.write("shared-dav/file.txt", FILE, mtime=OLD)


@pytest.fixture(scope="module")
def twin(env):
    env.require_module()
    t = Twin(env, "dav", conf, modules=["dav", "dav_fs"], populate=populate)
    for srv in (t.on, t.off):
        make_writable_by_server(env, os.path.join(srv.dir, "davlock"))
        d = make_writable_by_server(env, dav_dir(srv))
        for name, data in DAV_FILES.items():
            p = write_file(os.path.join(d, name), data, mtime=OLD)
            if env.is_root:
                shutil.chown(p, env.user, env.group)
    t.on.last_populated = time.time()
    t.start()
    yield t
    t.stop()


# --------------------------------------------------------------------------
# Reads in the DAV scopes: httpd's own responses

@pytest.mark.parametrize("path", ["/dav/file.txt", "/dav/page.html",
                                  "/shared-dav/file.txt", "/dav/missing.txt",
                                  "/dav/file.txt/extra"])
@pytest.mark.parametrize("name,method,make", CONDITIONALS,
                         ids=[c[0] for c in CONDITIONALS])
def test_dav_reads_left_alone(twin, path, name, method, make):
    """GET, HEAD and every conditional GET where Dav is On are exactly what
    httpd sends without the module (core's metadata tag, mod_dav's rules)."""
    twin.check(method, path, own_validators(twin, path, make),
               expect="alone")


@pytest.mark.parametrize("name,method,make", CONDITIONALS,
                         ids=[c[0] for c in CONDITIONALS])
def test_static_outside_dav_is_ours(twin, name, method, make):
    """The same server outside the DAV scope: the module's content tag."""
    path = "/static/file.txt"
    twin.check(method, path, own_validators(twin, path, make),
               expect="ours", data=STATIC)


# --------------------------------------------------------------------------
# The lost-update protection

def statuses(pair):
    return tuple(r.status for r in pair)


def tag_from(twin, method, path):
    """headers(srv) giving If-Match with the tag `method` returned there."""
    seen = {}
    for srv in (twin.on, twin.off):
        r = twin._send(srv, method, path, [], b"")
        assert r.status == 200, r
        assert r.header("ETag"), "%s %s: no ETag\n%r" % (method, path, r)
        seen[srv.port] = r.header("ETag")
    return seen


def test_put_if_match_tag_from_get(twin):
    """GET, then PUT with If-Match: the tag GET returned: the server takes
    the write (204) on both twins, not 412; the old tag then no longer
    matches (412 on both), the new one does."""
    path = "/dav/lost-update.txt"
    seen = tag_from(twin, "GET", path)
    on, off = twin.pair("PUT", path, lambda s: [("If-Match", seen[s.port])],
                        body=b"version 2 of the document\n")
    assert statuses((on, off)) == (204, 204), (on, off)
    # a second writer still holding the first tag loses, on both
    on, off = twin.pair("PUT", path, lambda s: [("If-Match", seen[s.port])],
                        body=b"version 2b, a lost update\n")
    assert statuses((on, off)) == (412, 412), (on, off)
    # and re-reading gives a tag that works again, once the file is old
    # enough for core to send a strong tag (a file changed within the
    # second gets a weak one, which If-Match never matches: 412 on both)
    seen_weak = tag_from(twin, "GET", path)
    on, off = twin.pair("PUT", path,
                        lambda s: [("If-Match", seen_weak[s.port])],
                        body=b"version 2c, weak tag\n")
    want = tuple(412 if seen_weak[s.port].startswith("W/") else 204
                 for s in (twin.on, twin.off))
    assert statuses((on, off)) == want, (seen_weak, on, off)
    if 412 in want:
        time.sleep(1.1)
    seen2 = tag_from(twin, "GET", path)
    assert not seen2[twin.on.port].startswith("W/"), seen2
    assert seen2[twin.on.port] != seen[twin.on.port]
    on, off = twin.pair("PUT", path, lambda s: [("If-Match", seen2[s.port])],
                        body=b"version 3 of the document\n")
    assert statuses((on, off)) == (204, 204), (on, off)
    on, off = twin.pair("GET", path)
    assert on.body == off.body == b"version 3 of the document\n"


def test_put_if_match_tag_from_head(twin):
    path = "/dav/head-tag.txt"
    seen = tag_from(twin, "HEAD", path)
    on, off = twin.pair("PUT", path, lambda s: [("If-Match", seen[s.port])],
                        body=b"written with HEAD's tag\n")
    assert statuses((on, off)) == (204, 204), (on, off)


def test_put_if_match_bogus(twin):
    """If-Match with a tag the resource never had: 412 on both, and the
    file is not written."""
    path = "/dav/bogus.txt"
    twin.check("PUT", path, [("If-Match", '"bogus"')],
               body=b"overwritten!\n")
    on, off = twin.pair("PUT", path, [("If-Match", '"bogus"')],
                        body=b"overwritten!\n")
    assert statuses((on, off)) == (412, 412), (on, off)
    on, off = twin.pair("GET", path)
    assert on.body == off.body == DAV_FILES["bogus.txt"]


def test_put_if_none_match_star(twin):
    """If-None-Match: * (create only): 412 over an existing file, 201 for
    a new one, on both."""
    on, off = twin.pair("PUT", "/dav/inm-star.txt",
                        [("If-None-Match", "*")], body=b"clobbered\n")
    assert statuses((on, off)) == (412, 412), (on, off)
    on, off = twin.pair("PUT", "/dav/created-once.txt",
                        [("If-None-Match", "*")], body=b"new file\n")
    assert statuses((on, off)) == (201, 201), (on, off)


@pytest.mark.expect_errors(r"\[dav:error\].*Could not DELETE "
                           r"/dav/delete-me\.txt due to a failed "
                           r"precondition")
def test_delete_if_match(twin):
    path = "/dav/delete-me.txt"
    on, off = twin.pair("DELETE", path, [("If-Match", '"bogus"')])
    assert statuses((on, off)) == (412, 412), (on, off)
    seen = tag_from(twin, "GET", path)
    on, off = twin.pair("DELETE", path,
                        lambda s: [("If-Match", seen[s.port])])
    assert statuses((on, off)) == (204, 204), (on, off)


PROPFIND = b"""<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>
"""


def getetag(twin, srv, path):
    r = twin._send(srv, "PROPFIND", path,
                   [("Depth", "0"),
                    ("Content-Type", 'application/xml; charset="utf-8"')],
                   PROPFIND)
    assert r.status == 207, r
    tags = [e.text for e in ET.fromstring(r.body).iter("{DAV:}getetag")]
    assert len(tags) == 1 and tags[0], r
    return tags[0]


def test_propfind_getetag_is_get_etag(twin):
    """PROPFIND's getetag is the tag GET and HEAD send, on the module's
    twin as without it."""
    path = "/dav/etag.txt"
    on_get, off_get = twin.pair("GET", path)
    on_head, _ = twin.pair("HEAD", path)
    on_prop, off_prop = getetag(twin, twin.on, path), \
        getetag(twin, twin.off, path)
    assert on_prop == off_prop
    assert on_get.header("ETag") == on_prop, (on_get, on_prop)
    assert on_head.header("ETag") == on_prop, (on_head, on_prop)
    assert off_get.header("ETag") == off_prop


# --------------------------------------------------------------------------
# litmus against both twins

_TEST_RE = re.compile(r"^\s*(\d+)\.\s(\S+?)\.*\s(.*)$")
_CONT_RE = re.compile(r"^\s+\.{3,}\s*(.*)$")
_SUITE_RE = re.compile(r"^-> running `([^']+)':")
_SUMMARY_RE = re.compile(r"^<- summary for `([^']+)': of (\d+) tests run: "
                         r"(\d+) passed, (\d+) failed")
_RESULT_RE = re.compile(r"^(pass|FAIL|SKIPPED|skipped|fail|ERROR)\b\s*(.*)$")


def parse_litmus(out, port):
    """Litmus's report as {(suite, "NN.name"): (result, detail, warnings)}
    and {suite: (run, passed, failed)}.  litmus writes each test's line
    twice, "\r NN. name....... " then "\r NN. name....... pass"; a
    "WARNING: ..." after the name puts the result on a continuation line
    "    ....... pass (with 1 warning)".  The server's port is replaced."""
    results, summaries = {}, {}
    suite, current, warnings = None, None, []
    for line in re.split(r"[\r\n]", out.replace(":%d" % port, ":PORT")):
        line = line.rstrip()
        if not line:
            continue
        m = _SUITE_RE.match(line)
        if m:
            suite, current = m.group(1), None
            continue
        m = _SUMMARY_RE.match(line)
        if m:
            summaries[m.group(1)] = tuple(int(x) for x in m.group(2, 3, 4))
            current = None
            continue
        m = _CONT_RE.match(line)
        if m:
            text = m.group(1)
        else:
            m = _TEST_RE.match(line)
            if not m or suite is None:
                continue
            key = (suite, "%02d.%s" % (int(m.group(1)), m.group(2)))
            if key != current:
                current, warnings = key, []
            text = m.group(3)
        if current is None:
            continue
        if text.startswith("WARNING:"):
            warnings.append(text)
            continue
        r = _RESULT_RE.match(text)
        if r:
            results[current] = (r.group(1), r.group(2), tuple(warnings))
        else:
            results.setdefault(current, ("unfinished", text,
                                         tuple(warnings)))
    return results, summaries


def start_litmus(litmus, url, workdir):
    os.makedirs(workdir, exist_ok=True)
    env = dict(os.environ, TESTS=LITMUS_SUITES)
    env.pop("http_proxy", None)
    env.pop("HTTP_PROXY", None)
    return subprocess.Popen([litmus, "-k", url], cwd=workdir, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def finish_litmus(proc, deadline):
    try:
        out, _ = proc.communicate(timeout=max(1, deadline - time.time()))
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        out += b"\n*** litmus killed after %ds ***\n" % LITMUS_TIMEOUT
    return proc.returncode, out.decode("utf-8", "replace")


# mod_dav logs what litmus provokes on purpose (bad lock tokens, COPY/MOVE
# onto existing or parentless destinations, unknown methods ...) at error
# level: the same lines on both twins, none of them the module's.
# The test also checks that both twins logged the same such lines.
LITMUS_ERRORS = (
    r"\[dav:error\]",
    r"\[core:error\].*AH0054[01]: XML [Pp]arser [Ee]rror",
)


def error_lines_since(srv, offset):
    """The error-or-worse lines logged since `offset`, without what differs
    between any two servers (time, pids, client port, server port)."""
    lines, _ = srv.error_log_lines_since(offset)
    out = []
    for ln in lines:
        if not re.search(r"\[[\w.-]*:(emerg|alert|crit|error)\]", ln):
            continue
        ln = re.sub(r"^\[[^]]*\] ", "", ln)
        ln = re.sub(r"\[pid [^]]*\] |\[client [^]]*\] ", "", ln)
        out.append(ln.replace(":%d" % srv.port, ":PORT"))
    return sorted(out)


@pytest.mark.expect_errors(*LITMUS_ERRORS)
def test_litmus_same_per_test(twin):
    """litmus gives the same result for every test with the module as
    without it, and without it the run is a sane one."""
    litmus = require_program("litmus", "litmus")
    work = tempfile.mkdtemp(prefix="litmus-", dir=twin.on.dir)
    deadline = time.time() + LITMUS_TIMEOUT
    procs = {}
    offsets = {srv.port: srv.error_log_size() for srv in (twin.on, twin.off)}
    for which, srv in (("on", twin.on), ("off", twin.off)):
        procs[which] = start_litmus(litmus, srv.url("/dav/"),
                                    os.path.join(work, which))
    runs = {w: finish_litmus(p, deadline) for w, p in procs.items()}
    report = "\n".join("===== litmus against the %s twin (exit %s):\n%s"
                       % (w, rc, out) for w, (rc, out) in runs.items())
    on_res, on_sum = parse_litmus(runs["on"][1], twin.on.port)
    off_res, off_sum = parse_litmus(runs["off"][1], twin.off.port)

    # the report was read whole: every suite ran, every test is counted
    suites = LITMUS_SUITES.split()
    for res, summ in ((on_res, on_sum), (off_res, off_sum)):
        assert sorted(summ) == sorted(suites), report
        for suite in suites:
            assert sum(k[0] == suite for k in res) == summ[suite][0], \
                (suite, report)
    # the module-off run is a sane one: basic and copymove pass whole,
    # and most of the rest
    for suite in ("basic", "copymove"):
        assert off_sum[suite][0] >= 10 and off_sum[suite][2] == 0, report
        assert all(v[0] == "pass" for k, v in off_res.items()
                   if k[0] == suite), report
    assert sum(v[0] == "pass" for v in off_res.values()) >= 90, report

    # the same result, test by test (and the same warnings)
    diff = ["%s %s: on %r, off %r" % (k[0], k[1], on_res.get(k),
                                      off_res.get(k))
            for k in sorted(set(on_res) | set(off_res))
            if on_res.get(k) != off_res.get(k)]
    assert not diff, "litmus results differ with the module:\n  %s\n%s" % (
        "\n  ".join(diff), report)
    assert on_sum == off_sum, report
    assert runs["on"][0] == runs["off"][0], report

    # and what mod_dav logged about litmus's requests is the same on both
    time.sleep(0.1)
    errs = {w: error_lines_since(srv, offsets[srv.port])
            for w, srv in (("on", twin.on), ("off", twin.off))}
    assert errs["on"] == errs["off"], "error_log lines differ:\n--- on:\n" \
        "%s\n--- off:\n%s" % ("\n".join(errs["on"]), "\n".join(errs["off"]))
