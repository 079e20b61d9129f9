"""Clients nobody here wrote revalidate against mod_condcache and get 304s:
curl (--etag-save / --etag-compare), Python's cachecontrol over requests,
and headless Chromium.  What went over the wire is read from the server's
access log, which records each request's If-None-Match."""
import base64
import os
import time

import pytest
import requests

from eco_util import Chromium, CHROMIUM_NAMES, need_program, run, which
from headers import parse_http_date
from logs import eco_log_conf, EcoLog
from tags import sha1_tag


OLD = 1600000000
TEXT = b"".join(b"line %d of a text that clients keep\n" % i
                for i in range(200))


# ---------------------------------------------------------------------------
# curl


class TestCurl:
    @classmethod
    def populate(cls, srv):
        for name in ("a", "b", "c"):
            srv.write("c/%s.txt" % name, TEXT + name.encode(), mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return eco_log_conf(srv) + """
<Directory {r}/c>
    CondCache On
    CondCacheNoCache On
</Directory>
""".format(r=srv.docroot)

    def curl(self, *args):
        curl = need_program("curl", "curl")
        p = run([curl, "-sS", "-w", "%{http_code}"] + list(args), timeout=30)
        assert p.returncode == 0, p.stderr
        return int(p.stdout[-3:])

    def test_etag_save_then_compare_304(self, httpd, tmp_path):
        url = httpd.url("/c/a.txt")
        etag_file, body = tmp_path / "etag", tmp_path / "body"
        log = EcoLog(httpd)
        mark = log.mark()
        assert self.curl("-o", str(body), "--etag-save", str(etag_file),
                         url) == 200
        assert body.read_bytes() == httpd.read("c/a.txt")
        tag = etag_file.read_text().strip()
        assert tag == sha1_tag(httpd.read("c/a.txt"))
        body2 = tmp_path / "body2"
        assert self.curl("-o", str(body2), "--etag-compare", str(etag_file),
                         url) == 304
        assert not body2.exists() or body2.read_bytes() == b""
        got = log.for_path("/c/a.txt", since=mark, count=2)
        assert [(e["status"], e["inm"]) for e in got] == \
            [(200, None), (304, tag)]

    def test_compare_and_save_same_file(self, httpd, tmp_path):
        # the documented idiom: one file for both, repeated runs
        url = httpd.url("/c/b.txt")
        etag_file = tmp_path / "etag"
        codes = [self.curl("-o", os.devnull, "--etag-compare", str(etag_file),
                           "--etag-save", str(etag_file), url)
                 for _ in range(3)]
        assert codes == [200, 304, 304]
        assert etag_file.read_text().strip() == sha1_tag(httpd.read("c/b.txt"))

    def test_changed_file_200_and_new_tag(self, httpd, tmp_path):
        url = httpd.url("/c/c.txt")
        etag_file = tmp_path / "etag"
        assert self.curl("-o", os.devnull, "--etag-save", str(etag_file),
                         url) == 200
        old_tag = etag_file.read_text().strip()
        new = TEXT + b"a new version\n"
        httpd.write("c/c.txt", new, mtime=OLD)
        body = tmp_path / "body"
        assert self.curl("-o", str(body), "--etag-compare", str(etag_file),
                         "--etag-save", str(etag_file), url) == 200
        assert body.read_bytes() == new
        assert etag_file.read_text().strip() == sha1_tag(new) != old_tag


# ---------------------------------------------------------------------------
# Python cachecontrol (python3-cachecontrol) over requests


def cached_session():
    cc = pytest.importorskip(
        "cachecontrol", reason="python3-cachecontrol is not installed "
                               "(scripts/install-deps test)")
    from cachecontrol.cache import DictCache
    return cc.CacheControl(requests.Session(), cache=DictCache())


class TestCacheControlLibrary:
    @classmethod
    def populate(cls, srv):
        for d in ("nocache", "maxage0", "maxage1", "plain"):
            srv.write("%s/data.json" % d,
                      b'{"dir": "%s", "items": [%s]}\n'
                      % (d.encode(), b", ".join(b"%d" % i for i in range(500))),
                      mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return eco_log_conf(srv) + """
<Directory {r}>
    CondCache On
</Directory>
<Directory {r}/nocache>
    CondCacheNoCache On
</Directory>
<Directory {r}/maxage0>
    CondCacheMaxAge 0
</Directory>
<Directory {r}/maxage1>
    CondCacheMaxAge 1
</Directory>
""".format(r=srv.docroot)

    @pytest.mark.parametrize("d", ["nocache", "maxage0", "plain"])
    def test_second_fetch_revalidated(self, httpd, d):
        sess = cached_session()
        path = "/%s/data.json" % d
        body = httpd.read(path)
        log = EcoLog(httpd)
        mark = log.mark()
        r1 = sess.get(httpd.url(path), timeout=15)
        assert r1.status_code == 200
        assert not getattr(r1, "from_cache", False)
        assert r1.content == body
        tag = r1.headers["ETag"]
        assert tag == sha1_tag(body)
        r2 = sess.get(httpd.url(path), timeout=15)
        # the library hands back its stored copy, refreshed by the 304
        assert r2.status_code == 200
        assert r2.from_cache is True
        assert r2.content == body
        assert r2.headers["ETag"] == tag
        got = log.for_path(path, since=mark, count=2)
        assert [(e["status"], e["inm"]) for e in got] == \
            [(200, None), (304, tag)]

    def test_fresh_then_expired(self, httpd):
        sess = cached_session()
        path = "/maxage1/data.json"
        body = httpd.read(path)
        log = EcoLog(httpd)
        mark = log.mark()
        r1 = sess.get(httpd.url(path), timeout=15)
        assert r1.status_code == 200 and r1.content == body
        tag = r1.headers["ETag"]
        # wait until the response is past its max-age=1 by the server's clock
        expires = parse_http_date(r1.headers["Date"]) + 1
        while time.time() < expires + 1.05:
            time.sleep(0.05)
        r2 = sess.get(httpd.url(path), timeout=15)
        assert r2.from_cache is True
        assert r2.content == body
        got = log.for_path(path, since=mark, count=2)
        assert [(e["status"], e["inm"]) for e in got] == \
            [(200, None), (304, tag)]

    def test_changed_file_replaces_cached_copy(self, httpd):
        sess = cached_session()
        path = "/nocache/other.json"
        httpd.write(path, b'{"v": 1}\n', mtime=OLD)
        r1 = sess.get(httpd.url(path), timeout=15)
        assert r1.content == b'{"v": 1}\n'
        httpd.write(path, b'{"v": 2, "longer": true}\n', mtime=OLD)
        r2 = sess.get(httpd.url(path), timeout=15)
        assert r2.status_code == 200
        assert not r2.from_cache
        assert r2.content == b'{"v": 2, "longer": true}\n'
        r3 = sess.get(httpd.url(path), timeout=15)
        assert r3.from_cache is True
        assert r3.content == r2.content


# ---------------------------------------------------------------------------
# Headless Chromium

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGA"
    "WjR9awAAAABJRU5ErkJggg==")
PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>page</title>
<link rel="stylesheet" href="style.css">
<script src="app.js"></script>
</head><body><p id="p">styled</p><img id="img" src="pixel.png"></body></html>
"""
CSS = b"#p { color: rgb(1, 2, 3); }\n" + b"/* padding */\n" * 50
JS = b"window.appRan = (window.appRan || 0) + 1;\n" + b"// padding\n" * 50
SUBRESOURCES = ("style.css", "app.js", "pixel.png")


def chromium_binary():
    for name in CHROMIUM_NAMES:
        p = which(name)
        if p:
            return p
    pytest.skip("no chromium: install the Debian package chromium "
                "(scripts/install-deps test)")


class TestChromium:
    @classmethod
    def populate(cls, srv):
        for d in ("session", "runs"):
            srv.write("nc/%s/page.html" % d, PAGE, mtime=OLD)
            srv.write("nc/%s/style.css" % d, CSS, mtime=OLD)
            srv.write("nc/%s/app.js" % d, JS, mtime=OLD)
            srv.write("nc/%s/pixel.png" % d, PNG, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return eco_log_conf(srv) + """
AddType text/javascript .js
AddType image/png .png
<Directory {r}/nc>
    CondCache On
    CondCacheNoCache On
</Directory>
""".format(r=srv.docroot)

    def browser(self, tmp_path, profile):
        b = Chromium(chromium_binary(), str(profile),
                     str(tmp_path / "chromium.log"))
        try:
            b.start()
        except Exception as e:  # noqa: BLE001 - no usable browser here
            b.close()
            pytest.skip("chromium does not start headless here: %s" % e)
        return b

    def page_ok(self, b):
        assert b.evaluate("window.appRan") == 1
        assert b.evaluate("getComputedStyle(document.getElementById('p'))"
                          ".color") == "rgb(1, 2, 3)"
        assert b.evaluate("document.getElementById('img').naturalWidth") == 1

    def check_loads(self, httpd, log, d, first_mark, second_mark):
        tags = {n: sha1_tag(httpd.read("nc/%s/%s" % (d, n)))
                for n in SUBRESOURCES}
        for n in SUBRESOURCES:
            path = "/nc/%s/%s" % (d, n)
            first = log.for_path(path, since=first_mark)
            second = log.for_path(path, since=second_mark)
            assert [e["status"] for e in first[:1]] == [200], (n, first)
            assert [(e["status"], e["inm"], e["etag"]) for e in second] == \
                [(304, tags[n], tags[n])], (n, second)
            assert "Chrome" in (second[0]["ua"] or "")

    def test_one_session_navigates_twice(self, httpd, tmp_path):
        log = EcoLog(httpd)
        b = self.browser(tmp_path, tmp_path / "profile")
        try:
            m1 = log.mark()
            b.load(httpd.url("/nc/session/page.html"))
            self.page_ok(b)
            log.for_path("/nc/session/pixel.png", since=m1)
            m2 = log.mark()
            # a new navigation (not a reload) to the page: the browser uses
            # its cache, revalidating what says no-cache
            b.load(httpd.url("/nc/session/page.html?second"))
            self.page_ok(b)
        finally:
            b.close()
        self.check_loads(httpd, log, "session", m1, m2)

    def test_two_runs_same_profile(self, httpd, tmp_path):
        log = EcoLog(httpd)
        profile = tmp_path / "profile"
        m1 = log.mark()
        b = self.browser(tmp_path, profile)
        try:
            b.load(httpd.url("/nc/runs/page.html"))
            self.page_ok(b)
        finally:
            b.close()
        log.for_path("/nc/runs/pixel.png", since=m1)
        m2 = log.mark()
        b = self.browser(tmp_path, profile)
        try:
            b.load(httpd.url("/nc/runs/page.html"))
            self.page_ok(b)
        finally:
            b.close()
        self.check_loads(httpd, log, "runs", m1, m2)
        # the page itself came from the disk cache too, revalidated
        page = log.for_path("/nc/runs/page.html", since=m2)
        assert [(e["status"], e["inm"]) for e in page] == \
            [(304, sha1_tag(PAGE))]
