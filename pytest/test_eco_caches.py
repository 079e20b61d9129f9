"""Shared caches nobody here wrote, in front of mod_condcache: Varnish and
Apache's own mod_cache (cache_disk) as a reverse proxy.  Once their copy
expires they revalidate with the stored ETag, get a 304, and keep serving
the stored body; a 304 that did not repeat ETag and Last-Modified byte for
byte would make mod_cache throw its entry away."""
import os
import time

import pytest

from clients import build_request, RawConnection
from eco_util import make_writable_by_server, need_program, Varnishd
from headers import parse_http_date
from logs import eco_log_conf, EcoLog
from tags import sha1_tag


OLD = 1600000000
BLOB = bytes((i * 131 + (i >> 8)) & 0xFF for i in range(150 * 1024))


def wait_past(seconds_from, ttl, margin=0.3):
    """Sleeps until `ttl` seconds (plus a margin) after time `seconds_from`:
    a deadline for the cached copy to be stale, not a measurement."""
    left = seconds_from + ttl + margin - time.time()
    if left > 0:
        time.sleep(left)


def still_fresh(resp, max_age, margin=0.3):
    """mod_cache counts a response's age from its Date header (whole
    seconds): true when a request sent now certainly finds it fresh."""
    return time.time() + margin < parse_http_date(resp.header("Date")) + max_age


def get(port, path, headers=()):
    with RawConnection("127.0.0.1", port, timeout=30) as c:
        c.send(build_request("GET", path, list(headers),
                             host="127.0.0.1:%d" % port))
        return c.read_response("GET")


# ---------------------------------------------------------------------------
# Varnish

VCL = """vcl 4.1;
backend default {
    .host = "127.0.0.1";
    .port = "%d";
}
sub vcl_backend_response {
    set beresp.ttl = 1s;
    set beresp.grace = 0s;
    set beresp.keep = 60s;
    return (deliver);
}
"""


class TestVarnish:
    @classmethod
    def populate(cls, srv):
        for name in ("a", "b", "c"):
            srv.write("v/%s.bin" % name, BLOB + name.encode(), mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return eco_log_conf(srv) + """
<Directory {r}/v>
    CondCache On
    CondCacheMaxAge 1
</Directory>
""".format(r=srv.docroot)

    @pytest.fixture(scope="class")
    def varnish(self, httpd):
        binary = need_program("varnishd", "varnish")
        v = Varnishd(binary, os.path.join(httpd.dir, "varnish"),
                     VCL % httpd.port)
        try:
            v.start(lambda: get(v.port, "/__varnish_probe__").status == 404)
        except RuntimeError as e:
            v.stop()
            pytest.skip("varnishd does not run here: %s" % e)
        yield v
        v.stop()

    def test_expired_object_revalidated_with_304(self, httpd, varnish):
        path = "/v/a.bin"
        body = httpd.read(path)
        tag = sha1_tag(body)
        log = EcoLog(httpd)
        mark = log.mark()
        r1 = get(varnish.port, path)
        t1 = time.time()
        assert r1.status == 200
        assert r1.body == body
        assert r1.header("ETag") == tag
        wait_past(t1, 1)
        for round_ in (1, 2):
            r = get(varnish.port, path)
            t = time.time()
            assert r.status == 200
            assert r.body == body
            assert r.header("ETag") == tag
            assert r.header("Via", "").find("varnish") >= 0
            got = log.for_path(path, since=mark, count=1 + round_)
            assert [(e["status"], e["inm"]) for e in got] == \
                [(200, None)] + [(304, tag)] * round_, got
            wait_past(t, 1)

    def test_changed_file_fetched_again(self, httpd, varnish):
        path = "/v/b.bin"
        log = EcoLog(httpd)
        mark = log.mark()
        r1 = get(varnish.port, path)
        t1 = time.time()
        assert r1.status == 200
        old_tag = r1.header("ETag")
        new = BLOB[::-1]
        httpd.write(path, new, mtime=OLD)
        wait_past(t1, 1)
        r2 = get(varnish.port, path)
        assert r2.status == 200
        assert r2.body == new
        assert r2.header("ETag") == sha1_tag(new) != old_tag
        got = log.for_path(path, since=mark, count=2)
        # asked conditionally with the old tag; answered with the new body
        assert [(e["status"], e["inm"]) for e in got] == \
            [(200, None), (200, old_tag)]

    def test_client_revalidates_through_varnish(self, httpd, varnish):
        path = "/v/c.bin"
        tag = sha1_tag(httpd.read(path))
        r1 = get(varnish.port, path)
        assert r1.status == 200
        r2 = get(varnish.port, path, [("If-None-Match", tag)])
        assert r2.status == 304
        assert r2.body == b""
        assert r2.header("ETag") == tag


# ---------------------------------------------------------------------------
# mod_cache + mod_cache_disk as a reverse proxy

FRONT_MODULES = ["proxy", "proxy_http", "cache", "cache_disk", "headers"]


class TestModCacheInFront:
    @classmethod
    def populate(cls, srv):
        for name in ("a", "b", "c"):
            srv.write("mc/%s.bin" % name, BLOB + name.encode(), mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return eco_log_conf(srv) + """
<Directory {r}/mc>
    CondCache On
    CondCacheMaxAge 1
</Directory>
""".format(r=srv.docroot)

    @pytest.fixture(scope="class")
    def front(self, env, httpd):
        def populate(f):
            make_writable_by_server(env, os.path.join(f.dir, "cache"))

        def conf(f):
            return """
CacheRoot {cache}
CacheEnable disk /
CacheHeader on
CacheDetailHeader on
CacheLock off
ProxyPass / http://127.0.0.1:{port}/
LogFormat "%>s\\t%U\\t%{{cache-status}}e\\t%{{X-Cache}}o" cachelog
CustomLog {logs}/cache_log cachelog
""".format(cache=os.path.join(f.dir, "cache"), port=httpd.port,
           logs=f.logs_dir)

        f = env.start_server("modcache-front", conf, modules=FRONT_MODULES,
                         with_module=False, populate=populate)
        yield f
        f.stop()

    def x_cache(self, r):
        v = r.header("X-Cache") or ""
        return v.split()[0] if v else None

    def test_revalidated_entry_kept(self, httpd, front):
        path = "/mc/a.bin"
        body = httpd.read(path)
        tag = sha1_tag(body)
        log = EcoLog(httpd)
        mark = log.mark()
        r1 = get(front.port, path)
        t1 = time.time()
        assert r1.status == 200 and r1.body == body
        assert self.x_cache(r1) == "MISS"
        assert r1.header("ETag") == tag
        r2 = get(front.port, path)
        assert r2.body == body
        if still_fresh(r1, 1):
            assert self.x_cache(r2) == "HIT"
        wait_past(t1, 1)
        r3 = get(front.port, path)
        assert r3.status == 200
        assert r3.body == body
        assert self.x_cache(r3) == "REVALIDATE", r3
        assert "entity refreshed" in (r3.header("X-Cache-Detail") or "")
        assert r3.header("ETag") == tag
        r4 = get(front.port, path)
        assert r4.body == body
        if still_fresh(r3, 1):
            # the entry, refreshed by the 304, is served again
            assert self.x_cache(r4) == "HIT"
        # one full fetch, then only conditional ones answered 304
        got = log.for_path(path, since=mark, count=2)
        assert (got[0]["status"], got[0]["inm"]) == (200, None), got
        assert len(got) >= 2
        assert all((e["status"], e["inm"]) == (304, tag) for e in got[1:]), got

    def test_304_repeats_validators_byte_for_byte(self, httpd, front):
        path = "/mc/b.bin"
        log = EcoLog(httpd)
        mark = log.mark()
        r1 = get(front.port, path)
        t1 = time.time()
        assert r1.status == 200
        wait_past(t1, 1)
        r2 = get(front.port, path)
        assert self.x_cache(r2) == "REVALIDATE"
        got = log.for_path(path, since=mark, count=2)
        assert [e["status"] for e in got] == [200, 304], got
        full, nm = got
        # what mod_cache received, as the backend logged it
        assert nm["inm"] == full["etag"]
        assert nm["etag"] == full["etag"]
        assert nm["lastmod"] == full["lastmod"]
        # and as it is on the wire, with mod_cache's two validators
        direct = get(httpd.port, path)
        again = get(httpd.port, path, [
            ("If-None-Match", direct.header("ETag")),
            ("If-Modified-Since", direct.header("Last-Modified"))])
        assert again.status == 304
        for h in ("ETag", "Last-Modified", "Cache-Control"):
            assert again.header_all(h) == direct.header_all(h), h
        assert (again.header("Expires") is None) == \
            (direct.header("Expires") is None)

    def test_changed_file_replaces_entry(self, httpd, front):
        path = "/mc/c.bin"
        r1 = get(front.port, path)
        t1 = time.time()
        assert r1.status == 200
        new = BLOB[:1000] + b"changed"
        httpd.write(path, new, mtime=OLD)
        wait_past(t1, 1)
        r2 = get(front.port, path)
        assert r2.status == 200
        assert r2.body == new
        assert r2.header("ETag") == sha1_tag(new)
        r3 = get(front.port, path)
        assert r3.body == new
