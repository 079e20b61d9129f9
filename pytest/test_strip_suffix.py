"""CondCacheStripCodingSuffix: other handlers' tags revalidate behind
mod_deflate (Apache bug 45023).

A CGI script (/bin/sh through mod_cgi / mod_cgid) and a PHP script under
php-fpm (mod_proxy_fcgi) each send `ETag: "v1"` and answer 304 when
If-None-Match is exactly `"v1"`; they echo the If-None-Match and If-Match
they were handed.  mod_deflate compresses their output (SetOutputFilter
DEFLATE for CGI, AddOutputFilterByType for PHP's text/html) and tags it
`"v1-gzip"`.  Covered:

  - the first GET with Accept-Encoding: gzip: a gzip body tagged "v1-gzip";
  - revalidating with If-None-Match: "v1-gzip": 304 with ETag "v1-gzip"
    with the directive On, and (the baseline, bug 45023) a 200 with it Off
    or unset;
  - what the application is handed: suffixes of accepted codings taken off
    in If-None-Match and If-Match (lists and weak tags included), never
    those of refused codings (a 200, "v1-gzip" handed on; If-Match a 412),
    nor unknown suffixes; -br and -zstd alike, the 304 carries the suffix
    the client sent; If-Match "v1-gzip" is a 200 with the directive, a 412
    without it;
  - `.htaccess` (AllowOverride FileInfo) turns it on;
  - real clients: curl --compressed with --etag-save / --etag-compare gets a
    304 where the directive is On and a 200 where it is not.
"""
import gzip
import os
import re
import subprocess

import pytest

from eco_util import require_program
from test_twin_php import PHP_FPM, PhpFpm, need_file

OLD = 1600000000

CGI = b"""#!/bin/sh
if [ "$HTTP_IF_NONE_MATCH" = '"v1"' ]; then
    printf 'Status: 304 Not Modified\\nETag: "v1"\\n\\n'
    exit 0
fi
printf 'Content-Type: text/html\\nETag: "v1"\\n\\n'
printf 'inm=[%s] im=[%s]\\n' "$HTTP_IF_NONE_MATCH" "$HTTP_IF_MATCH"
i=0
while [ $i -lt 60 ]; do
    echo "<p>hello from the cgi script, line $i</p>"
    i=$((i + 1))
done
"""

PHP = b"""<?php
header('ETag: "v1"');
if (($_SERVER['HTTP_IF_NONE_MATCH'] ?? '') === '"v1"') {
    http_response_code(304);
    exit;
}
header('Content-Type: text/html; charset=UTF-8');
echo "inm=[" . ($_SERVER['HTTP_IF_NONE_MATCH'] ?? '') . "] im=["
    . ($_SERVER['HTTP_IF_MATCH'] ?? '') . "]\\n";
for ($i = 0; $i < 60; $i++) {
    echo "<p>hello from the php script, line $i</p>\\n";
}
"""

HELLO = {"cgi": b"hello from the cgi script", "php": b"hello from the php script"}


def fpm_dir(env):
    return os.path.join(env.base_dir, "strip-suffix-fpm")


def echoed(body):
    """(If-None-Match, If-Match) the application was handed, as it echoed
    them on its first line."""
    m = re.match(rb"inm=\[(.*?)\] im=\[(.*?)\]\n", body)
    assert m, body[:200]
    return m.group(1).decode(), m.group(2).decode()


def body_of(r):
    enc = r.header("Content-Encoding")
    if enc == "gzip":
        return gzip.decompress(r.body)
    assert enc is None, r
    return r.body


class TestStripSuffix:
    modules = ["cgi", "deflate", "proxy", "proxy_fcgi"]

    @pytest.fixture(scope="class", autouse=True)
    def fpm(self, env):
        need_file(PHP_FPM, "php8.2-fpm")
        f = PhpFpm(fpm_dir(env))
        f.start()
        yield f
        f.stop()

    @classmethod
    def populate(cls, srv):
        for d in ("on", "off", "unset", "ht"):
            srv.write("cgi-%s/app" % d, CGI, mode=0o755, mtime=OLD)
            srv.write("php-%s/app.php" % d, PHP, mtime=OLD)
        for app in ("cgi", "php"):
            srv.write("%s-ht/.htaccess" % app,
                      b"CondCacheStripCodingSuffix On\n", mtime=OLD)

    @classmethod
    def conf(cls, srv):
        sock = os.path.join(fpm_dir(srv.env), "php.sock")
        out = []
        for d, line in (("on", "CondCacheStripCodingSuffix On"),
                        ("off", "CondCacheStripCodingSuffix Off"),
                        ("unset", ""), ("ht", "AllowOverride FileInfo")):
            out.append("""
ScriptAlias /cgi-{d}/ {r}/cgi-{d}/
<Directory {r}/cgi-{d}>
    Options +ExecCGI
    CondCache On
    SetOutputFilter DEFLATE
    {line}
</Directory>
<Directory {r}/php-{d}>
    <FilesMatch \\.php$>
        SetHandler "proxy:unix:{sock}|fcgi://localhost"
    </FilesMatch>
    AddOutputFilterByType DEFLATE text/html
    {line}
</Directory>
""".format(r=srv.docroot, d=d, line=line, sock=sock))
        return "".join(out)

    @staticmethod
    def path(app, d):
        return "/cgi-%s/app" % d if app == "cgi" else "/php-%s/app.php" % d

    def req(self, httpd, app, d, ae="gzip", headers=()):
        h = [("Accept-Encoding", ae)] if ae is not None else []
        return httpd.raw("GET", self.path(app, d), h + list(headers))

    # -- the first response ---------------------------------------------------
    @pytest.mark.parametrize("app", ["cgi", "php"])
    @pytest.mark.parametrize("d", ["on", "off"])
    def test_first_get_gzip_variant(self, httpd, app, d):
        r = self.req(httpd, app, d)
        assert r.status == 200, r
        assert r.header("Content-Encoding") == "gzip", r
        assert r.header("ETag") == '"v1-gzip"', r
        body = gzip.decompress(r.body)
        assert HELLO[app] in body
        assert echoed(body) == ("", "")

    # -- revalidation ----------------------------------------------------------
    @pytest.mark.parametrize("app", ["cgi", "php"])
    @pytest.mark.parametrize("d", ["on", "ht"])
    def test_revalidate_304(self, httpd, app, d):
        r = self.req(httpd, app, d, headers=[("If-None-Match", '"v1-gzip"')])
        assert r.status == 304, r
        assert r.header("ETag") == '"v1-gzip"', r
        assert r.body == b""
        assert r.header("Content-Encoding") is None, r

    @pytest.mark.parametrize("app", ["cgi", "php"])
    @pytest.mark.parametrize("d", ["off", "unset"])
    def test_baseline_bug_45023_200(self, httpd, app, d):
        """Without the directive the application never matches its own
        tag: a full 200 each time (what the directive fixes)."""
        r = self.req(httpd, app, d, headers=[("If-None-Match", '"v1-gzip"')])
        assert r.status == 200, r
        assert r.header("ETag") == '"v1-gzip"', r
        assert echoed(body_of(r)) == ('"v1-gzip"', "")

    @pytest.mark.parametrize("app", ["cgi", "php"])
    @pytest.mark.parametrize("inm,handed", [
        ('"x", "v1-gzip"', '"x", "v1"'),
        ('"a-gzip", "b"', '"a", "b"'),
        ('W/"w-gzip"', 'W/"w"'),
    ])
    def test_list_stripped(self, httpd, app, inm, handed):
        r = self.req(httpd, app, "on", headers=[("If-None-Match", inm)])
        if '"v1' in inm:
            assert r.status == 304, r
            assert r.header("ETag") == '"v1-gzip"', r
        else:
            assert r.status == 200, r
            assert echoed(body_of(r))[0] == handed

    @pytest.mark.parametrize("app", ["cgi", "php"])
    @pytest.mark.parametrize("ae", [None, "identity", "gzip;q=0", "br",
                                    "deflate"])
    def test_not_stripped_when_coding_refused(self, httpd, app, ae):
        r = self.req(httpd, app, "on", ae=ae,
                     headers=[("If-None-Match", '"v1-gzip"')])
        assert r.status == 200, r
        assert r.header("Content-Encoding") is None, r
        assert r.header("ETag") == '"v1"', r
        assert echoed(r.body) == ('"v1-gzip"', "")

    @pytest.mark.parametrize("app", ["cgi", "php"])
    def test_unknown_suffix_not_stripped(self, httpd, app):
        r = self.req(httpd, app, "on", ae="gzip, xz, deflate",
                     headers=[("If-None-Match", '"v1-xz", "v1-deflate"')])
        assert r.status == 200, r
        assert echoed(body_of(r)) == ('"v1-xz", "v1-deflate"', "")

    @pytest.mark.parametrize("app", ["cgi", "php"])
    @pytest.mark.parametrize("coding", ["br", "zstd"])
    def test_other_coding_suffixes(self, httpd, app, coding):
        """-br and -zstd (tags of mod_brotli or of a sidecar): stripped when
        the coding is accepted, and the 304 says the tag the client holds."""
        held = '"v1-%s"' % coding
        r = self.req(httpd, app, "on", ae=coding,
                     headers=[("If-None-Match", held)])
        assert r.status == 304, r
        assert r.header("ETag") == held, r

    @pytest.mark.parametrize("app", ["cgi", "php"])
    def test_if_match_stripped(self, httpd, app):
        r = self.req(httpd, app, "on", headers=[("If-Match", '"v1-gzip"')])
        assert r.status == 200, r
        assert r.header("Content-Encoding") == "gzip", r
        assert echoed(gzip.decompress(r.body)) == ("", '"v1"')

    @pytest.mark.parametrize("app", ["cgi", "php"])
    @pytest.mark.parametrize("d,ae", [("on", "identity"), ("on", "br"),
                                      ("off", "gzip"), ("unset", "gzip")])
    def test_if_match_kept_412(self, httpd, app, d, ae):
        """If-Match "v1-gzip" handed on as sent (coding refused, or the
        directive not on): httpd checks it against the application's "v1"
        and answers 412, as without the module."""
        r = self.req(httpd, app, d, ae=ae, headers=[("If-Match", '"v1-gzip"')])
        assert r.status == 412, r
        assert b"hello from" not in r.body

    # -- curl ---------------------------------------------------------------
    @pytest.mark.parametrize("app", ["cgi", "php"])
    @pytest.mark.parametrize("d,want", [("on", 304), ("off", 200)])
    def test_curl_etag_compare(self, httpd, tmp_path, app, d, want):
        curl = require_program("curl", "curl")
        etags = str(tmp_path / "etag")
        url = httpd.url(self.path(app, d))
        base = [curl, "-sS", "--noproxy", "*", "--max-time", "30",
                "--compressed", "-o", str(tmp_path / "body"),
                "-w", "%{http_code}"]
        p = subprocess.run(base + ["--etag-save", etags, url],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and p.stdout == "200", (p.stdout, p.stderr)
        with open(etags) as f:
            assert f.read().strip() == '"v1-gzip"'
        with open(tmp_path / "body", "rb") as f:
            assert HELLO[app] in f.read()   # curl decoded the gzip body
        p = subprocess.run(base + ["--etag-compare", etags, url],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert p.stdout == str(want), (p.stdout, p.stderr)
