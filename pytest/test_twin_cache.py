"""Twin servers (module on vs not loaded) with mod_cache in front of the
module in the same server: `CacheEnable disk /` (mod_cache_disk, its
CacheRoot in the server's directory under the test's temp dir, owned by
the server user), `CacheHeader On` and `CacheDetailHeader On` (X-Cache and
X-Cache-Detail: "MISS/HIT/REVALIDATE from 127.0.0.1", no port in them on
this httpd; twin.py's normalisation would replace one), in both of
mod_cache's modes:

  - `CacheQuickHandler On` (the default): mod_cache answers from its
    quick handler, before any other module; it stores what the handler
    chain produced through its CACHE_SAVE filter.
  - `CacheQuickHandler Off`: mod_cache runs as an ordinary handler (hook
    REALLY_FIRST).  The old mod_condcache ran its handler before every
    other, so the files it served were never seen by mod_cache: always
    MISS, never stored.

Freshness: the "on" twin's `CondCache On` scope has `CondCacheMaxAge 60`,
which makes the module send `Cache-Control: max-age=60` and a matching
`Expires`.  The "off" twin (no module, so no CondCacheMaxAge) gets the same
freshness from mod_expires, `ExpiresDefault "access plus 60 seconds"`,
which also sends `Cache-Control: max-age=60` and `Expires`.  mod_expires is
active only in the off twin (inside `<IfModule !mod_condcache.c>`): had it
been on in both, it would fill in these headers wherever the module failed
to, and the on twin's files would be cacheable even without the module's
CondCacheMaxAge.  This way what mod_cache sees on the on twin is the
module's own response, and the comparison (cache_headers=True for
Twin.assert_ours, then Cache-Control and Expires compared separately)
checks that it equals what mod_expires gives core's.

The requests, in order, each to both twins:
  1. GET                               -> 200, X-Cache MISS (stored)
  2. GET                               -> 200, HIT (the stored copy)
  3. GET with the server's own ETag and Last-Modified (If-None-Match,
     If-Modified-Since)                -> 304 from the cache, HIT
  4. GET with `Cache-Control: no-cache` -> 200, MISS: mod_cache does not use
     its entry for such a request at all, it sends the request on to the
     handler unconditionally and stores the new response
  5. GET with `Cache-Control: max-age=0` -> 200, REVALIDATE: the entry is
     stale for this request, mod_cache adds the stored ETag and
     Last-Modified to the request, the module answers that conditional
     request with 304 and mod_cache sends its copy ("conditional cache
     hit: entity refreshed")
  6. HEAD                              -> 200, HIT
  7. GET with a Range                  -> 206, HIT
With mod_cache replaying the module's response the on twin's ETag is the
module's content tag; everything else must be what the off twin sends,
and the X-Cache sequence must be the same on both.  A file outside the
module's scope goes through the same sequence and must be byte for byte
the off twin's.

mod_cache's Age header counts whole seconds from the stored Date, so the
two requests of every pair are sent within one second of the clock (see
same_second()); the same keeps the twins' Expires (request time + 60 s)
comparable."""
import os
import time

import pytest

from eco_util import make_writable_by_server
from logs import LEFT_NOTES, PRODUCED_NOTES
from tags import sha1_tag
from twin import Twin

OLD = 1600000000
DATA = b"a file the module serves and mod_cache stores, with ranges\n" * 20
OUTSIDE = b"a file outside the CondCache scope, stored by mod_cache\n" * 20

IN_SCOPE = "/c/page.txt"
OUT_OF_SCOPE = "/o/page.txt"

MODULES = ["cache", "cache_disk", "expires"]


def populate(srv):
    srv.write(IN_SCOPE, DATA, mtime=OLD)
    srv.write(OUT_OF_SCOPE, OUTSIDE, mtime=OLD)


def make_conf(env, quick):
    def conf(srv, on):
        cache = make_writable_by_server(env, os.path.join(srv.dir, "cache"))
        return """
CacheQuickHandler {quick}
CacheRoot {cache}
CacheEnable disk /
CacheHeader On
CacheDetailHeader On
<Directory {root}/c>
    <IfModule mod_condcache.c>
        CondCache On
        CondCacheMaxAge 60
    </IfModule>
    <IfModule !mod_condcache.c>
        ExpiresActive On
        ExpiresDefault "access plus 60 seconds"
    </IfModule>
</Directory>
<Directory {root}/o>
    ExpiresActive On
    ExpiresDefault "access plus 60 seconds"
</Directory>
""".format(quick=quick, cache=cache, root=srv.docroot)
    return conf


@pytest.fixture(scope="module", params=["Off", "On"],
                ids=["quick-handler-off", "quick-handler-on"])
def twin(env, request):
    t = Twin(env, "cache-quick-" + request.param.lower(),
             make_conf(env, request.param), modules=MODULES,
             populate=populate)
    t.start()
    yield t
    t.stop()


def same_second(budget=0.3):
    """Waits until the clock is at least `budget` seconds away from the
    next whole second, so that a pair of requests sent now falls within
    one second (mod_cache's Age and the Expires both count whole
    seconds)."""
    frac = time.time() % 1
    if frac > 1 - budget:
        time.sleep(1 - frac + 0.02)


def x_cache(resp):
    v = resp.header("X-Cache")
    return v.split()[0] if v else None


# (name, method, make(first_response) -> headers, X-Cache, status, who
#  answers: True the module (its note says what it did), False mod_cache
#  from its copy (the module's note is "-", whichever mode mod_cache runs
#  in: as twin.py says, a response it did not produce has no note))
STEPS = [
    ("first", "GET", lambda r: [], "MISS", 200, True),
    ("second", "GET", lambda r: [], "HIT", 200, False),
    ("own-validators", "GET",
     lambda r: [("If-None-Match", r.header("ETag")),
                ("If-Modified-Since", r.header("Last-Modified"))],
     "HIT", 304, False),
    ("no-cache", "GET", lambda r: [("Cache-Control", "no-cache")],
     "MISS", 200, True),
    ("max-age=0", "GET", lambda r: [("Cache-Control", "max-age=0")],
     "REVALIDATE", 200, True),
    ("head", "HEAD", lambda r: [], "HIT", 200, False),
    ("range", "GET", lambda r: [("Range", "bytes=5-104")], "HIT", 206, False),
]


def run_steps(twin, path, data, ours):
    """Sends STEPS to both twins; checks that the X-Cache sequence is the
    expected one on both, then every pair; returns the pairs by name."""
    first = {}
    pairs = []
    for name, method, make, _, _, _ in STEPS:
        def headers(srv, make=make):
            return make(first[srv.port]) if first else []
        same_second()
        on, off = twin.pair(method, path, headers)
        if not first:
            first[twin.on.port], first[twin.off.port] = on, off
        pairs.append((on, off))
    want = [s[3] for s in STEPS]
    seq_on = [x_cache(on) for on, _ in pairs]
    seq_off = [x_cache(off) for _, off in pairs]
    assert (seq_on, seq_off) == (want, want), \
        "%s %s: X-Cache sequences\n  on:  %r\n  off: %r\n  want %r" % (
            twin.on.name, path, seq_on, seq_off, want)
    for (name, method, _, _, want_status, module_serves), (on, off) in \
            zip(STEPS, pairs):
        what = "%s %s %s (%s)" % (method, path, name, twin.on.name)
        assert on.status == off.status == want_status, \
            "%s: want %d on both\n--- on:\n%r\n--- off:\n%r" % (
                what, want_status, on, off)
        note = twin.note(on)
        if ours:
            if module_serves:
                assert note in PRODUCED_NOTES, "%s: note %r, want the " \
                    "module to answer mod_cache" % (what, note)
            else:
                assert note in LEFT_NOTES, "%s: note %r, want mod_cache to " \
                    "answer from its copy" % (what, note)
            twin.assert_ours(on, off, data=data, cache_headers=True,
                             what=what)
            # the same freshness, from the module and from mod_expires
            for h in ("Cache-Control", "Expires"):
                assert on.header(h) == off.header(h) is not None, \
                    "%s: %s differs\n--- on:\n%r\n--- off:\n%r" % (
                        what, h, on, off)
            assert on.header("Cache-Control") == "max-age=60", (what, on)
            assert on.header("ETag") == sha1_tag(data), (what, on)
        else:
            assert note in LEFT_NOTES, (what, note)
            twin.assert_same(on, off, what)
        if method == "GET" and want_status == 200:
            assert on.body == off.body == data, what
    return {name: pair for (name, *_), pair in zip(STEPS, pairs)}


def check_revalidation(byname):
    """Step 5: mod_cache sent its conditional request (the ETag and
    Last-Modified it had stored) to the handler and got a 304, which is
    the only way to "entity refreshed" (a 200 would have replaced the
    entry).  mod_cache puts the client's own headers back before the
    request is logged, so the access log cannot show that request's
    If-None-Match; on the on twin the module's note shows it answered."""
    for resp in byname["max-age=0"]:
        assert "conditional cache hit: entity refreshed" in (
            resp.header("X-Cache-Detail") or ""), resp


def test_module_responses_cached(twin):
    """mod_cache stores and replays the files the module serves exactly as
    it does core's: the same X-Cache sequence, the same responses but for
    the content tag."""
    check_revalidation(run_steps(twin, IN_SCOPE, DATA, ours=True))


def test_other_files_cached_alone(twin):
    """A file outside the module's scope: every response through mod_cache
    is byte for byte the off twin's."""
    check_revalidation(run_steps(twin, OUT_OF_SCOPE, OUTSIDE, ours=False))
