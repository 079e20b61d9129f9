"""CondCachePrecompressed: sidecars (F.br, F.gz, F.zst) sent in F's place,
once they are known to decode to exactly F's bytes.

Sidecars are made with Debian's command-line tools (`brotli`, `gzip -n`,
`zstd`) and responses decoded with Python's gzip module and the same tools,
then compared with F.  Covered:

  - each coding: Content-Encoding, F's Content-Type / Content-Language /
    Last-Modified, Content-Length of the sidecar, the body is the sidecar
    byte for byte, ETag `"<tag of F>-br|-gzip|-zstd"`, Vary: Accept-Encoding
    on every response for F (identity and 304 included);
  - the choice: q-values, ties by the directive's order, identity only
    when rated above every coding, q=0, `*`, no Accept-Encoding, a missing
    or invalid best sidecar falls back to the next, then to F; no-gzip /
    no-brotli (SetEnv, SetEnvIf);
  - no double compression behind mod_deflate and mod_brotli
    (AddOutputFilterByType, SetOutputFilter);
  - conditionals on a variant: If-None-Match (variant tag 304, F's tag
    200), If-Match (200, 412), Range (206 of the encoded bytes), If-Range,
    HEAD;
  - verification: stale, truncated, garbage, foreign, empty sidecars and a
    decompression bomb are never sent, one warning per sidecar version, the
    decision remembered (no second decode); FIFO, directory and dangling
    symlink sidecars are ignored; fresh (unsettled) sidecars are decoded
    again on each request; the counters VariantsServed / VariantsChecked /
    VariantsRejected / BytesDecoded;
  - CondCacheIntegrity: Unencoded-Digest of F on a variant, no Repr-Digest;
  - CondCacheInlineHashMax and CondCacheMaxFileSize bound sidecars;
  - .htaccess On / Off, server-level inheritance;
  - bad arguments fail `apache2 -t`;
  - Off by default: twins (module on without the directive vs no module)
    answer alike over a docroot with sidecars.
"""
import gzip
import os
import re
import subprocess
import time

import pytest

from eco_util import require_program
from headers import http_date
from tags import integrity_member, sha1_tag, sha256_tag, with_suffix
from twin import Twin

OLD = 1600000000
CSS = b"".join(b".rule-%d { color: #%06x; margin: %dpx; }\n" % (i, i * 997, i)
               for i in range(400))
HTML = b"<!doctype html>\n" + b"".join(
    b"<p>paragraph %d of the page, with some words</p>\n" % i
    for i in range(300))
OTHER = b"".join(b"var x%d = %d * 7;\n" % (i, i) for i in range(500))
T = sha1_tag(CSS)
T_HTML = sha1_tag(HTML)

CODINGS = ("br", "gzip", "zstd")
EXT = {"br": ".br", "gzip": ".gz", "zstd": ".zst"}
WARN = r"does not decode to the bytes of"


# --------------------------------------------------------------------------
# Compression and decoding with Debian's tools

def _tool(coding):
    return {"br": ("brotli", "brotli"), "gzip": ("gzip", "gzip"),
            "zstd": ("zstd", "zstd")}[coding]


def compress(coding, data, fast=False):
    prog = require_program(*_tool(coding))
    cmd = {"br": [prog, "-c", "-q", "5" if fast else "11"],
           "gzip": [prog, "-n", "-6" if fast else "-9", "-c"],
           "zstd": [prog, "-q", "-3" if fast else "-19", "-c"]}[coding]
    p = subprocess.run(cmd, input=data, capture_output=True, timeout=60,
                       check=True)
    return p.stdout


def decode(coding, data):
    if coding == "gzip":
        return gzip.decompress(data)
    prog = require_program(*_tool(coding))
    p = subprocess.run([prog, "-d", "-c"], input=data, capture_output=True,
                       timeout=60, check=True)
    return p.stdout


# the sidecars of the shared files, made once per session
_SIDECARS = {}


def sidecar(coding, data):
    key = (coding, data)
    if key not in _SIDECARS:
        _SIDECARS[key] = compress(coding, data)
    return _SIDECARS[key]


def write_with_sidecars(srv, rel, data, codings=CODINGS, mtime=OLD):
    srv.write(rel, data, mtime=mtime)
    for c in codings:
        srv.write(rel + EXT[c], sidecar(c, data), mtime=mtime)


# --------------------------------------------------------------------------
# Response helpers

def vary_tokens(r):
    vals = ",".join(r.header_all("Vary"))
    return [v.strip().lower() for v in vals.split(",") if v.strip()]


def has_vary_ae(r):
    return "accept-encoding" in vary_tokens(r)


def get(srv, path, ae=None, headers=(), method="GET"):
    h = []
    if ae is not None:
        h.append(("Accept-Encoding", ae))
    h.extend(headers)
    return srv.raw(method, path, h)


def counters(srv):
    st = srv.status()
    return {k: st.get(k) for k in ("VariantsServed", "VariantsChecked",
                                   "VariantsRejected", "BytesDecoded")}


def delta(before, after):
    return {k: after[k] - before[k] for k in before}


def warnings_since(srv, offset, name=None):
    """The module's 'does not decode' warnings written after `offset`
    (for sidecar `name` if given)."""
    time.sleep(0.05)
    lines, _ = srv.error_log_lines_since(offset)
    out = [ln for ln in lines if WARN in ln and "condcache:warn" in ln]
    if name:
        out = [ln for ln in out if name in ln]
    return out


def assert_variant(r, coding, data, tag, sc, ctype="text/css"):
    """`r` is the 200 sending sidecar `sc` of `data` coded with `coding`."""
    assert r.status == 200, r
    assert r.header_all("Content-Encoding") == [coding], r
    assert r.header("Content-Type", "").startswith(ctype), r
    assert r.header("ETag") == with_suffix(tag, coding), r
    assert int(r.header("Content-Length")) == len(sc), r
    assert r.body == sc, "the body is not the sidecar's bytes"
    assert decode(coding, r.body) == data
    assert r.header("Last-Modified") == http_date(OLD), r
    assert has_vary_ae(r), r


def assert_identity(r, data, tag, vary=True):
    assert r.status == 200, r
    assert r.header("Content-Encoding") is None, r
    assert r.body == data
    assert r.header("ETag") == tag, r
    if vary:
        assert has_vary_ae(r), r


# --------------------------------------------------------------------------

class TestVariants:
    """Each coding, the choice among them, no-gzip / no-brotli,
    conditionals on a variant, integrity, counters."""
    modules = ["env", "setenvif"]

    @classmethod
    def populate(cls, srv):
        write_with_sidecars(srv, "p/style.css", CSS)
        write_with_sidecars(srv, "p/count.css", OTHER + b"/* count */\n")
        write_with_sidecars(srv, "p/page.html", HTML, codings=("gzip",))
        write_with_sidecars(srv, "p/de/text.css", CSS)
        write_with_sidecars(srv, "p/nogz/style.css", CSS)
        write_with_sidecars(srv, "p/nobr/style.css", CSS)
        write_with_sidecars(srv, "p/order/style.css", CSS)
        write_with_sidecars(srv, "p/integrity/style.css", CSS)
        write_with_sidecars(srv, "p/s256/style.css", CSS)
        write_with_sidecars(srv, "p/idx/index.html", HTML)
        srv.write("p/nosidecar.css", CSS, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
<Directory {r}/p>
    CondCache On
    CondCachePrecompressed br gzip zstd
</Directory>
<Directory {r}/p/de>
    DefaultLanguage de
</Directory>
<Directory {r}/p/nogz>
    SetEnv no-gzip 1
</Directory>
SetEnvIf Request_URI "^/p/nobr/" no-brotli
<Directory {r}/p/order>
    CondCachePrecompressed zstd gzip br
</Directory>
<Directory {r}/p/integrity>
    CondCacheIntegrity sha-256
</Directory>
<Directory {r}/p/s256>
    CondCacheDigest sha256
</Directory>
<Directory {r}/p/idx>
    DirectoryIndex index.html
</Directory>
""".format(r=srv.docroot)

    @pytest.mark.parametrize("coding", CODINGS)
    def test_each_coding(self, httpd, coding):
        r = get(httpd, "/p/style.css", coding)
        assert_variant(r, coding, CSS, T, sidecar(coding, CSS))

    def test_no_accept_encoding_is_identity(self, httpd):
        r = get(httpd, "/p/style.css")
        assert_identity(r, CSS, T)
        assert r.header("Last-Modified") == http_date(OLD)
        assert r.header("Content-Type").startswith("text/css")

    def test_identity_304_has_vary(self, httpd):
        r = get(httpd, "/p/style.css", headers=[("If-None-Match", T)])
        assert r.status == 304, r
        assert r.header("ETag") == T
        assert has_vary_ae(r), r
        assert r.body == b""

    def test_content_language_of_file(self, httpd):
        plain = get(httpd, "/p/de/text.css")
        assert plain.header("Content-Language") == "de", plain
        r = get(httpd, "/p/de/text.css", "br")
        assert_variant(r, "br", CSS, T, sidecar("br", CSS))
        assert r.header("Content-Language") == "de", r

    @pytest.mark.parametrize("ae,want", [
        ("gzip, br, zstd", "br"),           # tie: the directive's order
        ("zstd, gzip", "gzip"),
        ("gzip;q=0.5, zstd", "zstd"),
        ("br;q=0.8, gzip;q=0.9", "gzip"),
        ("br;q=0.1, gzip;q=0.2, zstd;q=0.3", "zstd"),
        ("identity, br", "br"),             # identity not rated higher
        ("identity;q=1, br;q=0.5", None),   # identity rated higher
        ("br;q=0.5, identity;q=0.6, gzip;q=0.4", None),
        ("identity;q=0.9, br;q=0.8, gzip;q=0.95", "gzip"),
        ("br;q=0", None),
        ("br;q=0, gzip;q=0, zstd;q=0", None),
        ("br;q=0, gzip", "gzip"),
        ("*", "br"),
        ("*;q=0.5, gzip", "gzip"),
        ("gzip;q=0, *", "br"),
        ("br;q=0, *", "gzip"),
        ("br;q=0, gzip;q=0, *", "zstd"),
        ("*;q=0", None),
        ("deflate, compress", None),
        ("", None),
        ("BR", "br"),
        ("GZip;Q=0.5, Zstd;q=0.4", "gzip"),
        ("gzip ; q=0.5 , br ; q=0.6", "br"),
        ("br;q=0.001", "br"),
        ("gzip;q=1.000, br;q=0.999", "gzip"),
    ])
    def test_choice(self, httpd, ae, want):
        r = get(httpd, "/p/style.css", ae)
        if want is None:
            assert_identity(r, CSS, T)
        else:
            assert_variant(r, want, CSS, T, sidecar(want, CSS))

    @pytest.mark.parametrize("ae,want", [
        ("gzip, br, zstd", "zstd"),
        ("br, gzip", "gzip"),
        ("br;q=1, zstd;q=0.9", "br"),
    ])
    def test_choice_tie_follows_directive_order(self, httpd, ae, want):
        r = get(httpd, "/p/order/style.css", ae)
        assert_variant(r, want, CSS, T, sidecar(want, CSS))

    def test_missing_best_sidecar_falls_back(self, httpd):
        # page.html has only page.html.gz
        r = get(httpd, "/p/page.html", "br, zstd, gzip;q=0.5")
        assert_variant(r, "gzip", HTML, T_HTML, sidecar("gzip", HTML),
                       ctype="text/html")
        r = get(httpd, "/p/page.html", "br, zstd")
        assert_identity(r, HTML, T_HTML)

    def test_no_gzip_env(self, httpd):
        r = get(httpd, "/p/nogz/style.css", "gzip")
        assert_identity(r, CSS, T)
        r = get(httpd, "/p/nogz/style.css", "gzip, br;q=0.5")
        assert_variant(r, "br", CSS, T, sidecar("br", CSS))

    def test_no_brotli_setenvif(self, httpd):
        r = get(httpd, "/p/nobr/style.css", "br")
        assert_identity(r, CSS, T)
        r = get(httpd, "/p/nobr/style.css", "br, zstd;q=0.5")
        assert_variant(r, "zstd", CSS, T, sidecar("zstd", CSS))

    @pytest.mark.parametrize("path,ae,headers,method,status", [
        ("/p/style.css", None, [("If-Match", '"x"')], "GET", 412),
        ("/p/style.css", "br", [("If-Match", '"x"')], "GET", 412),
        ("/p/style.css", None, [("Range", "bytes=0-9")], "GET", 206),
        ("/p/style.css", None, [], "HEAD", 200),
        ("/p/style.css", "deflate", [], "GET", 200),
        ("/p/nosidecar.css", "br, gzip", [], "GET", 200),
        ("/p/nosidecar.css", None, [("If-None-Match", T)], "GET", 304),
    ], ids=["412-identity", "412-br", "206-identity", "head-identity",
            "unlisted-coding", "no-sidecar", "no-sidecar-304"])
    def test_vary_on_every_response(self, httpd, path, ae, headers, method,
                                    status):
        r = get(httpd, path, ae, headers, method=method)
        assert r.status == status, r
        assert has_vary_ae(r), r
        if status == 412:
            assert r.body == b""

    def test_sha256_digest_tag(self, httpd):
        """Another digest: the variant's tag is that digest's tag of F with
        the suffix; the check compares with that digest."""
        r = get(httpd, "/p/s256/style.css", "br")
        assert_variant(r, "br", CSS, sha256_tag(CSS), sidecar("br", CSS))

    def test_directory_index(self, httpd):
        r = get(httpd, "/p/idx/", "gzip, br")
        assert_variant(r, "br", HTML, T_HTML, sidecar("br", HTML),
                       ctype="text/html")

    # -- conditionals on a variant ----------------------------------------
    def test_inm_variant_tag_304(self, httpd):
        tag = with_suffix(T, "br")
        r = get(httpd, "/p/style.css", "br", [("If-None-Match", tag)])
        assert r.status == 304, r
        assert r.header("ETag") == tag
        assert has_vary_ae(r), r
        assert r.header("Content-Encoding") is None, r
        assert r.body == b""

    def test_inm_variant_tag_in_list_304(self, httpd):
        tag = with_suffix(T, "zstd")
        r = get(httpd, "/p/style.css", "zstd",
                [("If-None-Match", '"nope", %s' % tag)])
        assert r.status == 304, r
        assert r.header("ETag") == tag

    @pytest.mark.parametrize("name,headers,method", [
        ("weak", [("If-None-Match", "W/" + with_suffix(T, "br"))], "GET"),
        ("star", [("If-None-Match", "*")], "GET"),
        ("ims", [("If-Modified-Since", http_date(OLD))], "GET"),
        ("head", [("If-None-Match", with_suffix(T, "br"))], "HEAD"),
    ])
    def test_other_304s_of_variant(self, httpd, name, headers, method):
        r = get(httpd, "/p/style.css", "br", headers, method=method)
        assert r.status == 304, r
        assert r.header("ETag") == with_suffix(T, "br"), r
        assert r.header("Content-Encoding") is None, r
        assert has_vary_ae(r), r
        assert r.body == b""

    def test_inm_file_tag_while_variant_chosen_200(self, httpd):
        r = get(httpd, "/p/style.css", "br", [("If-None-Match", T)])
        assert_variant(r, "br", CSS, T, sidecar("br", CSS))

    def test_inm_other_coding_tag_200(self, httpd):
        # the client holds the gzip variant; br is chosen now
        r = get(httpd, "/p/style.css", "br, gzip",
                [("If-None-Match", with_suffix(T, "gzip"))])
        assert_variant(r, "br", CSS, T, sidecar("br", CSS))

    def test_inm_variant_tag_without_coding_200(self, httpd):
        # no Accept-Encoding: F is the representation; its tag is not the
        # variant's
        r = get(httpd, "/p/style.css",
                headers=[("If-None-Match", with_suffix(T, "br"))])
        assert_identity(r, CSS, T)

    def test_if_match_variant_tag_200(self, httpd):
        r = get(httpd, "/p/style.css", "br",
                [("If-Match", with_suffix(T, "br"))])
        assert_variant(r, "br", CSS, T, sidecar("br", CSS))

    def test_if_match_other_412(self, httpd):
        r = get(httpd, "/p/style.css", "br", [("If-Match", '"other"')])
        assert r.status == 412, r
        assert r.body == b"" or r.header("Content-Encoding") is None
        # no sidecar bytes in a 412
        assert sidecar("br", CSS) not in r.body

    def test_range_on_variant(self, httpd):
        sc = sidecar("br", CSS)
        r = get(httpd, "/p/style.css", "br", [("Range", "bytes=0-9")])
        assert r.status == 206, r
        assert r.header("Content-Encoding") == "br", r
        assert r.header("Content-Range") == "bytes 0-9/%d" % len(sc), r
        assert r.body == sc[:10]
        assert r.header("ETag") == with_suffix(T, "br")
        assert has_vary_ae(r)

    def test_multiple_ranges_of_variant(self, httpd):
        sc = sidecar("zstd", CSS)
        r = get(httpd, "/p/style.css", "zstd", [("Range", "bytes=0-3,8-11")])
        assert r.status == 206, r
        assert r.header("Content-Type").startswith("multipart/byteranges")
        assert r.header("Content-Encoding") == "zstd", r
        assert "bytes 0-3/%d" % len(sc) in r.body.decode("latin-1")
        assert "bytes 8-11/%d" % len(sc) in r.body.decode("latin-1")
        assert sc[0:4] in r.body and sc[8:12] in r.body

    def test_if_range_variant_tag_206(self, httpd):
        sc = sidecar("gzip", CSS)
        r = get(httpd, "/p/style.css", "gzip",
                [("Range", "bytes=5-14"),
                 ("If-Range", with_suffix(T, "gzip"))])
        assert r.status == 206, r
        assert r.header("Content-Encoding") == "gzip", r
        assert r.body == sc[5:15]

    @pytest.mark.parametrize("stale", ['"stale-gzip"', T])
    def test_if_range_stale_tag_200(self, httpd, stale):
        r = get(httpd, "/p/style.css", "gzip",
                [("Range", "bytes=0-9"), ("If-Range", stale)])
        assert_variant(r, "gzip", CSS, T, sidecar("gzip", CSS))

    @pytest.mark.parametrize("coding", CODINGS)
    def test_head_same_headers_as_get(self, httpd, coding):
        g = get(httpd, "/p/style.css", coding)
        h = get(httpd, "/p/style.css", coding, method="HEAD")
        assert h.status == 200 and h.body == b""
        for name in ("Content-Encoding", "Content-Type", "Content-Length",
                     "ETag", "Last-Modified", "Vary"):
            assert h.header_all(name) == g.header_all(name), (name, h, g)
        assert int(h.header("Content-Length")) == len(sidecar(coding, CSS))

    # -- integrity ----------------------------------------------------------
    @pytest.mark.parametrize("coding", CODINGS)
    def test_integrity_unencoded_digest(self, httpd, coding):
        r = get(httpd, "/p/integrity/style.css", coding)
        assert_variant(r, coding, CSS, T, sidecar(coding, CSS))
        assert r.header("Unencoded-Digest") == \
            integrity_member("sha-256", CSS), r
        assert r.header("Repr-Digest") is None, r

    # -- counters -----------------------------------------------------------
    def test_counters_served_checked_hit(self, httpd):
        data = OTHER + b"/* count */\n"
        sc = sidecar("zstd", data)
        before = counters(httpd)
        r = get(httpd, "/p/count.css", "zstd")
        assert_variant(r, "zstd", data, sha1_tag(data), sc)
        d1 = delta(before, counters(httpd))
        assert d1 == {"VariantsServed": 1, "VariantsChecked": 1,
                      "VariantsRejected": 0, "BytesDecoded": len(sc)}, d1
        # a hit: the pair is remembered, nothing is decoded
        mid = counters(httpd)
        r = get(httpd, "/p/count.css", "zstd")
        assert_variant(r, "zstd", data, sha1_tag(data), sc)
        r = get(httpd, "/p/count.css", "zstd",
                [("If-None-Match", with_suffix(sha1_tag(data), "zstd"))])
        assert r.status == 304
        r = get(httpd, "/p/count.css", "zstd", [("If-Match", '"x"')])
        assert r.status == 412
        d2 = delta(mid, counters(httpd))
        assert d2 == {"VariantsServed": 3, "VariantsChecked": 0,
                      "VariantsRejected": 0, "BytesDecoded": 0}, d2
        # identity responses are no variants
        mid = counters(httpd)
        get(httpd, "/p/count.css")
        assert delta(mid, counters(httpd))["VariantsServed"] == 0

    def test_fresh_sidecar_decoded_each_time_until_settled(self, httpd):
        data = b"fresh file %f\n" % time.time() * 200
        httpd.write("p/fresh.css", data, mtime=OLD)
        sc = sidecar("br", data)
        path = httpd.write("p/fresh.css.br", sc, mtime=OLD)
        tag = sha1_tag(data)
        before = counters(httpd)
        for _ in range(2):
            r = get(httpd, "/p/fresh.css", "br")
            assert_variant(r, "br", data, tag, sc)
        d = delta(before, counters(httpd))
        assert d["VariantsChecked"] == 2, d
        assert d["BytesDecoded"] == 2 * len(sc), d
        # settled: decided once more, then remembered
        left = os.stat(path).st_ctime + 1.3 - time.time()
        if left > 0:
            time.sleep(left)
        get(httpd, "/p/fresh.css", "br")
        mid = counters(httpd)
        for _ in range(2):
            r = get(httpd, "/p/fresh.css", "br")
            assert_variant(r, "br", data, tag, sc)
        d = delta(mid, counters(httpd))
        assert d["VariantsChecked"] == 0 and d["BytesDecoded"] == 0, d
        assert d["VariantsServed"] == 2, d


# --------------------------------------------------------------------------

BAD_KINDS = ("stale", "truncated", "garbage", "foreign", "empty", "bomb")


def bad_sidecar(kind, coding, data):
    if kind == "stale":
        return sidecar(coding, data[:-40] + b"/* an older version */\n")
    if kind == "truncated":
        sc = sidecar(coding, data)
        return sc[:len(sc) // 2]
    if kind == "garbage":
        return os.urandom(700)
    if kind == "foreign":
        return sidecar(coding, OTHER)
    if kind == "empty":
        return b""
    if kind == "bomb":
        return _bomb(coding)
    raise ValueError(kind)


_BOMBS = {}


def _bomb(coding):
    """100 MiB of zeros, compressed (about 100 KiB as gzip)."""
    if coding not in _BOMBS:
        _BOMBS[coding] = compress(coding, bytes(100 << 20), fast=True)
    return _BOMBS[coding]


class TestVerification:
    """Sidecars that are not their original are never sent: F is, with one
    warning per sidecar version, and the decision is remembered."""

    @classmethod
    def populate(cls, srv):
        for kind in BAD_KINDS:
            for coding in CODINGS:
                rel = "v/%s-%s.css" % (kind, coding)
                srv.write(rel, CSS, mtime=OLD)
                srv.write(rel + EXT[coding], bad_sidecar(kind, coding, CSS),
                          mtime=OLD)
        # a bad best sidecar, a good next one
        srv.write("v/mixed.css", CSS, mtime=OLD)
        srv.write("v/mixed.css.br", os.urandom(500), mtime=OLD)
        srv.write("v/mixed.css.gz", sidecar("gzip", CSS), mtime=OLD)
        # not regular files
        srv.write("v/fifo.css", CSS, mtime=OLD)
        os.mkfifo(srv.path("v/fifo.css.br"), 0o644)
        srv.write("v/fifo.css.gz", sidecar("gzip", CSS), mtime=OLD)
        srv.write("v/dir.css", CSS, mtime=OLD)
        srv.mkdir("v/dir.css.gz")
        srv.write("v/dir.css.gz/x", b"x", mtime=OLD)
        srv.write("v/link.css", CSS, mtime=OLD)
        os.symlink("nowhere.css.zst", srv.path("v/link.css.zst"))
        srv.write("v/later.css", CSS, mtime=OLD)
        # a sidecar the server's user may not read (when run as root)
        srv.write("v/secret.css", CSS, mtime=OLD)
        srv.write("v/secret.css.br", sidecar("br", CSS), mtime=OLD,
                  mode=0o600)
        srv.write("v/secret.css.gz", sidecar("gzip", CSS), mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
<Directory {r}/v>
    CondCache On
    CondCachePrecompressed br gzip zstd
    Options FollowSymLinks
</Directory>
""".format(r=srv.docroot)

    @pytest.mark.expect_errors(WARN)
    @pytest.mark.parametrize("coding", CODINGS)
    @pytest.mark.parametrize("kind", BAD_KINDS)
    def test_bad_sidecar_never_sent(self, httpd, kind, coding):
        path = "/v/%s-%s.css" % (kind, coding)
        name = "%s-%s.css%s" % (kind, coding, EXT[coding])
        sc = bad_sidecar(kind, coding, CSS)
        off = httpd.error_log_size()
        before = counters(httpd)
        r = get(httpd, path, coding)
        assert_identity(r, CSS, T)
        w = warnings_since(httpd, off, name)
        assert len(w) == 1, w
        d = delta(before, counters(httpd))
        assert d["VariantsServed"] == 0, d
        assert d["VariantsChecked"] == 1, d
        assert d["VariantsRejected"] == 1, d
        assert 0 <= d["BytesDecoded"] <= len(sc), d
        # remembered: no new warning, nothing decoded
        off = httpd.error_log_size()
        mid = counters(httpd)
        r = get(httpd, path, coding)
        assert_identity(r, CSS, T)
        r = get(httpd, path, coding, [("If-None-Match", T)])
        assert r.status == 304 and r.header("ETag") == T, r
        assert warnings_since(httpd, off) == []
        assert delta(mid, counters(httpd)) == {
            "VariantsServed": 0, "VariantsChecked": 0,
            "VariantsRejected": 0, "BytesDecoded": 0}

    @pytest.mark.expect_errors(WARN)
    def test_bad_best_sidecar_next_one_sent(self, httpd):
        off = httpd.error_log_size()
        r = get(httpd, "/v/mixed.css", "br, gzip;q=0.5")
        assert_variant(r, "gzip", CSS, T, sidecar("gzip", CSS))
        assert len(warnings_since(httpd, off, "mixed.css.br")) == 1
        r = get(httpd, "/v/mixed.css", "br")
        assert_identity(r, CSS, T)

    @pytest.mark.parametrize("path,ae", [
        ("/v/fifo.css", "br"), ("/v/dir.css", "gzip"),
        ("/v/link.css", "zstd"), ("/v/dir.css", "gzip, br, zstd"),
    ])
    def test_not_regular_files_ignored(self, httpd, path, ae):
        t0 = time.time()
        r = get(httpd, path, ae)
        assert_identity(r, CSS, T)
        assert time.time() - t0 < 5, "the request hung on the sidecar"
        assert warnings_since(httpd, 0, os.path.basename(path)) == []

    def test_unreadable_sidecar_ignored(self, httpd, env):
        if not env.is_root:
            pytest.skip("the server runs as the test's user: it reads "
                        "a 0600 file")
        r = get(httpd, "/v/secret.css", "br")
        assert_identity(r, CSS, T)
        r = get(httpd, "/v/secret.css", "br, gzip;q=0.5")
        assert_variant(r, "gzip", CSS, T, sidecar("gzip", CSS))
        assert warnings_since(httpd, 0, "secret.css") == []

    def test_fifo_best_sidecar_skipped_for_next(self, httpd):
        r = get(httpd, "/v/fifo.css", "br, gzip;q=0.5")
        assert_variant(r, "gzip", CSS, T, sidecar("gzip", CSS))

    @pytest.mark.expect_errors(WARN)
    def test_new_sidecar_version_decided_again(self, httpd):
        """A bad sidecar replaced by a good one: the new version is
        checked and sent; a bad one again warns again (one per version)."""
        off = httpd.error_log_size()
        p = httpd.write("v/later.css.gz", b"\x1f\x8b garbage" * 30,
                        mtime=OLD)
        time.sleep(max(0, os.stat(p).st_ctime + 1.3 - time.time()))
        r = get(httpd, "/v/later.css", "gzip")
        assert_identity(r, CSS, T)
        get(httpd, "/v/later.css", "gzip")
        assert len(warnings_since(httpd, off, "later.css.gz")) == 1
        os.unlink(p)
        p = httpd.write("v/later.css.gz", sidecar("gzip", CSS), mtime=OLD)
        time.sleep(max(0, os.stat(p).st_ctime + 1.3 - time.time()))
        r = get(httpd, "/v/later.css", "gzip")
        assert_variant(r, "gzip", CSS, T, sidecar("gzip", CSS))
        os.unlink(p)
        off = httpd.error_log_size()
        p = httpd.write("v/later.css.gz", sidecar("gzip", OTHER), mtime=OLD)
        time.sleep(max(0, os.stat(p).st_ctime + 1.3 - time.time()))
        r = get(httpd, "/v/later.css", "gzip")
        assert_identity(r, CSS, T)
        get(httpd, "/v/later.css", "gzip")
        assert len(warnings_since(httpd, off, "later.css.gz")) == 1

    def _rewrite_original(self, httpd, name):
        """name.css with a verified name.css.br, then name.css rewritten:
        (the new content, the error_log offset before the rewrite)."""
        data = CSS + b"/* v1 of %s */\n" % name.encode()
        httpd.write("v/%s.css" % name, data, mtime=OLD)
        httpd.write("v/%s.css.br" % name, sidecar("br", data), mtime=OLD)
        httpd.settle()
        r = get(httpd, "/v/%s.css" % name, "br")
        assert_variant(r, "br", data, sha1_tag(data), sidecar("br", data))
        new = CSS + b"/* v2 of %s */\n" % name.encode()
        off = httpd.error_log_size()
        httpd.write("v/%s.css" % name, new, mtime=OLD + 60)
        httpd.settle()
        return new, off

    def test_original_changed_stale_sidecar_not_sent(self, httpd):
        """F rewritten after its sidecar was made (and verified): the
        sidecar is stale and never sent again."""
        new, off = self._rewrite_original(httpd, "moving")
        for _ in range(2):
            r = get(httpd, "/v/moving.css", "br")
            assert r.status == 200, r
            assert r.header("Content-Encoding") is None, r
            assert r.body == new and r.header("ETag") == sha1_tag(new), r
        r = get(httpd, "/v/moving.css", "br",
                [("If-None-Match", with_suffix(sha1_tag(new), "br"))])
        assert r.status == 200 and r.body == new, r

    @pytest.mark.expect_errors(WARN)
    def test_original_changed_stale_sidecar_warned(self, httpd):
        before = counters(httpd)
        new, off = self._rewrite_original(httpd, "moving2")
        mid = counters(httpd)
        r = get(httpd, "/v/moving2.css", "br")
        assert r.header("Content-Encoding") is None and r.body == new, r
        d = delta(mid, counters(httpd))
        w = warnings_since(httpd, off, "moving2.css.br")
        assert (len(w), d["VariantsRejected"]) == (1, 1), (w, d, before)


# --------------------------------------------------------------------------

class TestNoDoubleCompression:
    """mod_deflate and mod_brotli in the scope: a variant is the sidecar's
    bytes, coded once; without a usable sidecar the filters compress F."""
    modules = ["deflate", "brotli"]

    @classmethod
    def populate(cls, srv):
        for d in ("both", "setf"):
            write_with_sidecars(srv, "%s/style.css" % d, CSS)
            srv.write("%s/bad.css" % d, CSS, mtime=OLD)
            srv.write("%s/bad.css.gz" % d, os.urandom(400), mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
<Directory {r}/both>
    CondCache On
    CondCachePrecompressed br gzip zstd
    AddOutputFilterByType BROTLI_COMPRESS;DEFLATE text/css
</Directory>
<Directory {r}/setf>
    CondCache On
    CondCachePrecompressed br gzip zstd
    SetOutputFilter DEFLATE
</Directory>
""".format(r=srv.docroot)

    @pytest.mark.parametrize("d", ["both", "setf"])
    @pytest.mark.parametrize("coding", CODINGS)
    def test_variant_sent_as_is(self, httpd, d, coding):
        r = get(httpd, "/%s/style.css" % d, coding)
        assert_variant(r, coding, CSS, T, sidecar(coding, CSS))

    @pytest.mark.parametrize("d", ["both", "setf"])
    @pytest.mark.parametrize("coding", ["br", "gzip"])
    def test_variant_304(self, httpd, d, coding):
        tag = with_suffix(T, coding)
        r = get(httpd, "/%s/style.css" % d, coding, [("If-None-Match", tag)])
        assert r.status == 304, r
        assert r.header("ETag") == tag, r
        assert r.header("Content-Encoding") is None, r
        assert has_vary_ae(r), r

    @pytest.mark.parametrize("d", ["both", "setf"])
    def test_variant_range(self, httpd, d):
        sc = sidecar("gzip", CSS)
        r = get(httpd, "/%s/style.css" % d, "gzip", [("Range", "bytes=0-9")])
        assert r.status == 206, r
        assert r.header_all("Content-Encoding") == ["gzip"], r
        assert r.body == sc[:10]

    @pytest.mark.expect_errors(WARN)
    @pytest.mark.parametrize("d", ["both", "setf"])
    def test_bad_sidecar_compressed_on_the_fly(self, httpd, d):
        r = get(httpd, "/%s/bad.css" % d, "gzip")
        assert r.status == 200, r
        assert r.header("Content-Encoding") == "gzip", r
        assert gzip.decompress(r.body) == CSS
        assert r.body != bad_sidecar("garbage", "gzip", CSS)
        # mod_deflate's own variant, tagged by mod_deflate's suffix
        assert r.header("ETag") == with_suffix(T, "gzip"), r


# --------------------------------------------------------------------------

RANDOM = os.urandom(4096)      # compresses to more than 4096 bytes


class TestLimits:
    """CondCacheInlineHashMax: a sidecar bigger than it is not decoded in a
    request; CondCacheMaxFileSize: a sidecar bigger than it is not used."""

    @classmethod
    def populate(cls, srv):
        for d in ("inline", "maxsize"):
            for c in CODINGS:
                srv.write("%s/r-%s.bin" % (d, c), RANDOM, mtime=OLD)
                srv.write("%s/r-%s.bin%s" % (d, c, EXT[c]),
                          sidecar(c, RANDOM), mtime=OLD)
            write_with_sidecars(srv, "%s/small.css" % d, CSS[:3000])

    @classmethod
    def conf(cls, srv):
        return """
<Directory {r}>
    CondCache On
    CondCachePrecompressed br gzip zstd
</Directory>
<Directory {r}/inline>
    CondCacheInlineHashMax 4096
</Directory>
<Directory {r}/maxsize>
    CondCacheMaxFileSize 4096
</Directory>
""".format(r=srv.docroot)

    @pytest.mark.parametrize("d", ["inline", "maxsize"])
    @pytest.mark.parametrize("coding", CODINGS)
    def test_big_sidecar_not_used(self, httpd, d, coding):
        sc = sidecar(coding, RANDOM)
        assert len(sc) > 4096
        off = httpd.error_log_size()
        before = counters(httpd)
        for _ in range(2):
            r = get(httpd, "/%s/r-%s.bin" % (d, coding), coding)
            assert_identity(r, RANDOM, sha1_tag(RANDOM))
        d_ = delta(before, counters(httpd))
        assert d_ == {"VariantsServed": 0, "VariantsChecked": 0,
                      "VariantsRejected": 0, "BytesDecoded": 0}, d_
        assert warnings_since(httpd, off) == []

    @pytest.mark.parametrize("d", ["inline", "maxsize"])
    def test_small_sidecar_used(self, httpd, d):
        data = CSS[:3000]
        r = get(httpd, "/%s/small.css" % d, "br")
        assert_variant(r, "br", data, sha1_tag(data), sidecar("br", data))


# --------------------------------------------------------------------------

class TestScopes:
    """.htaccess turns it on (AllowOverride FileInfo) and off in a
    subdirectory; a server-level setting is inherited; a scope without it
    sends F and no Vary."""

    @classmethod
    def populate(cls, srv):
        for d in ("h", "h/sub", "h/sub/deeper", "plain", "srv"):
            write_with_sidecars(srv, "%s/style.css" % d, CSS)
        srv.write("h/.htaccess", b"CondCachePrecompressed br\n", mtime=OLD)
        srv.write("h/sub/.htaccess", b"CondCachePrecompressed Off\n",
                  mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
<Directory {r}/h>
    CondCache On
    AllowOverride FileInfo
</Directory>
<Directory {r}/plain>
    CondCache On
</Directory>
<VirtualHost 127.0.0.1:{port}>
    ServerName 127.0.0.1
    DocumentRoot {r}
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
    ServerName vh.test
    DocumentRoot {r}
    CondCachePrecompressed gzip
</VirtualHost>
<Directory {r}/srv>
    CondCache On
</Directory>
""".format(r=srv.docroot, port=srv.port)

    def test_htaccess_on(self, httpd):
        r = get(httpd, "/h/style.css", "br, gzip")
        assert_variant(r, "br", CSS, T, sidecar("br", CSS))
        # only br is named there
        r = get(httpd, "/h/style.css", "gzip, zstd")
        assert_identity(r, CSS, T)

    @pytest.mark.parametrize("path", ["/h/sub/style.css",
                                      "/h/sub/deeper/style.css"])
    def test_htaccess_off_in_subdirectory(self, httpd, path):
        r = get(httpd, path, "br")
        assert_identity(r, CSS, T, vary=False)

    def test_without_directive_file_sent(self, httpd):
        for ae in ("br", "gzip", "zstd", "*"):
            r = get(httpd, "/plain/style.css", ae)
            assert_identity(r, CSS, T, vary=False)

    def test_vhost_level_inherited(self, httpd):
        h = [("Accept-Encoding", "br, gzip;q=0.5")]
        r = httpd.raw("GET", "/srv/style.css", h, host="vh.test")
        assert_variant(r, "gzip", CSS, T, sidecar("gzip", CSS))
        # the same directory in the other virtual host: not on there
        r = httpd.raw("GET", "/srv/style.css", h)
        assert_identity(r, CSS, T, vary=False)


# --------------------------------------------------------------------------

def _dir_conf(srv, *lines):
    return "<Directory %s>\n  CondCache On\n  %s\n</Directory>\n" % (
        srv.docroot, "\n  ".join(lines))


@pytest.mark.parametrize("line,want", [
    ("CondCachePrecompressed xz",
     r"CondCachePrecompressed: unknown coding 'xz'"),
    ("CondCachePrecompressed br gzip deflate",
     r"CondCachePrecompressed: unknown coding 'deflate'"),
    ("CondCachePrecompressed br br", r"'br' is named twice"),
    ("CondCachePrecompressed gzip zstd GZIP", r"named twice"),
    ("CondCachePrecompressed", r"CondCachePrecompressed"),
    ("CondCachePrecompressed Off br", r"CondCachePrecompressed"),
    ("CondCachePrecompressed br Off", r"CondCachePrecompressed"),
], ids=["xz", "deflate", "twice", "twice-case", "none", "off-first",
        "off-last"])
def test_bad_arguments_fail_config_test(new_server, line, want):
    srv = new_server("precomp-cfg", lambda s: _dir_conf(s, line),
                     start=False)
    rc, out = srv.config_test()
    assert rc != 0, out
    assert "Syntax OK" not in out
    msg = out.replace(srv.conf_path, "<conf>")
    assert re.search(want, msg), out


@pytest.mark.parametrize("line", [
    "CondCachePrecompressed br", "CondCachePrecompressed zstd gzip br",
    "CondCachePrecompressed Off", "CondCachePrecompressed off",
])
def test_good_arguments_pass_config_test(new_server, line):
    def conf(s):
        return "%s\n<VirtualHost 127.0.0.1:%d>\n  %s\n</VirtualHost>\n%s" % (
            line, s.port, line, _dir_conf(s, line))
    srv = new_server("precomp-cfg-ok", conf, start=False)
    rc, out = srv.config_test()
    assert rc == 0 and "Syntax OK" in out, out


# --------------------------------------------------------------------------

class TestOffByDefaultTwin:
    """A scope with CondCache On but no CondCachePrecompressed, sidecars
    present: the module's responses differ from httpd's own only in the
    ETag (the content tag); no sidecar is ever sent."""

    @pytest.fixture(scope="class")
    def twin(self, env):
        env.require_module()

        def populate(srv):
            write_with_sidecars(srv, "t/style.css", CSS)
            write_with_sidecars(srv, "t/page.html", HTML)

        def conf(srv, on):
            return ("<Directory %s/t>\n  <IfModule mod_condcache.c>\n"
                    "    CondCache On\n  </IfModule>\n</Directory>\n"
                    % srv.docroot)
        t = Twin(env, "precomp-off", conf, populate=populate)
        t.start()
        yield t
        t.stop()

    @pytest.mark.parametrize("path,data", [("/t/style.css", CSS),
                                           ("/t/page.html", HTML)])
    @pytest.mark.parametrize("method,headers", [
        ("GET", []),
        ("GET", [("Accept-Encoding", "br")]),
        ("GET", [("Accept-Encoding", "gzip")]),
        ("GET", [("Accept-Encoding", "gzip, deflate, br, zstd")]),
        ("HEAD", [("Accept-Encoding", "br, gzip")]),
        ("GET", [("Accept-Encoding", "gzip"), ("Range", "bytes=0-9")]),
    ], ids=["none", "br", "gzip", "all", "head", "range"])
    def test_twin_sends_file(self, twin, path, data, method, headers):
        on, off = twin.check(method, path, headers, expect="ours",
                             data=data)
        assert on.header("Content-Encoding") is None, on
        if method == "GET" and on.status == 200:
            assert on.body == data
