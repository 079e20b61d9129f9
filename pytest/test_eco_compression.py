"""mod_deflate and mod_brotli both on, configured the three usual ways
(AddOutputFilterByType through mod_filter, SetOutputFilter, AddOutputFilter):
the br, gzip and identity variants each revalidate with a 304 that carries
the tag the 200 did ("<tag>-br", "<tag>-gzip", "<tag>") and
Vary: Accept-Encoding."""
import gzip
import os

import pytest

from eco_util import need_program, run
from logs import eco_log_conf, EcoLog
from tags import sha1_tag, with_suffix


OLD = 1600000000
CSS = b"".join(b".item-%d { color: #%06x; margin: %dpx %dpx; }\n"
               % (i, (i * 7919) & 0xFFFFFF, i % 17, i % 5) for i in range(400))
JS = b"".join(b"function f%d(a) { return a * %d + %d; }\n" % (i, i, i * 3)
              for i in range(400))
FILES = {"style.css": CSS, "app.js": JS}

CONFIGS = {
    "bytype": "AddOutputFilterByType BROTLI_COMPRESS;DEFLATE "
              "text/css text/javascript application/javascript",
    "set": "SetOutputFilter BROTLI_COMPRESS;DEFLATE",
    "add": "AddOutputFilter BROTLI_COMPRESS;DEFLATE css js",
}

# Accept-Encoding -> the coding the response must have (None: identity)
ACCEPT = [
    ("br", "br"),
    ("gzip", "gzip"),
    ("identity", None),
    ("gzip, deflate, br, zstd", "br"),     # what browsers send
    ("gzip;q=1.0, br;q=0", "gzip"),
    ("br;q=0, gzip;q=0", None),
]


def vary_tokens(r):
    return [v.strip().lower() for v in ",".join(r.header_all("Vary")).split(",")
            if v.strip()]


def decode(coding, data):
    if coding is None:
        return data
    if coding == "gzip":
        return gzip.decompress(data)
    brotli = need_program("brotli", "brotli")
    p = run([brotli, "-d", "-c"], input=data, text=False, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


class TestBothCompressors:
    modules = ["filter", "deflate", "brotli"]

    @classmethod
    def populate(cls, srv):
        for d in CONFIGS:
            for name, data in FILES.items():
                srv.write("%s/%s" % (d, name), data, mtime=OLD)
        srv.write("curl/style.css", CSS, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        out = [eco_log_conf(srv), "AddType text/javascript .js"]
        for d, directive in CONFIGS.items():
            out.append("<Directory %s/%s>\n    CondCache On\n"
                       "    CondCacheMaxAge 60\n    %s\n</Directory>"
                       % (srv.docroot, d, directive))
        out.append("<Directory %s/curl>\n    CondCache On\n    %s\n"
                   "</Directory>" % (srv.docroot, CONFIGS["bytype"]))
        return "\n".join(out)

    @pytest.mark.parametrize("ae,coding", ACCEPT, ids=[a for a, _ in ACCEPT])
    @pytest.mark.parametrize("name", sorted(FILES))
    @pytest.mark.parametrize("d", sorted(CONFIGS))
    def test_variant_200_then_304(self, httpd, d, name, ae, coding):
        path = "/%s/%s" % (d, name)
        plain = sha1_tag(FILES[name])
        want_tag = with_suffix(plain, coding) if coding else plain
        log = EcoLog(httpd)
        mark = log.mark()

        ok = httpd.raw("GET", path, [("Accept-Encoding", ae)])
        assert ok.status == 200
        assert ok.header("Content-Encoding") == coding, ok
        assert ok.header("ETag") == want_tag
        assert "accept-encoding" in vary_tokens(ok), ok
        assert decode(coding, ok.body) == FILES[name]

        nm = httpd.raw("GET", path, [("Accept-Encoding", ae),
                                     ("If-None-Match", ok.header("ETag"))])
        assert nm.status == 304, nm
        assert nm.body == b""
        assert nm.header("ETag") == want_tag
        assert "accept-encoding" in vary_tokens(nm), nm
        assert nm.header("Cache-Control") == ok.header("Cache-Control")

        got = log.for_path(path, since=mark, count=2)
        assert [(e["status"], e["inm"], e["etag"]) for e in got] == \
            [(200, None, want_tag), (304, want_tag, want_tag)]

    @pytest.mark.parametrize("ae,coding", ACCEPT[:3], ids=[a for a, _ in
                                                          ACCEPT[:3]])
    @pytest.mark.parametrize("d", sorted(CONFIGS))
    def test_browser_validators_304(self, httpd, d, ae, coding):
        # a browser sends both validators of its stored response
        path = "/%s/style.css" % d
        ok = httpd.raw("GET", path, [("Accept-Encoding", ae)])
        nm = httpd.raw("GET", path, [
            ("Accept-Encoding", ae), ("If-None-Match", ok.header("ETag")),
            ("If-Modified-Since", ok.header("Last-Modified"))])
        assert nm.status == 304
        assert nm.header("ETag") == ok.header("ETag")

    @pytest.mark.parametrize("d", sorted(CONFIGS))
    def test_head_matches_get(self, httpd, d):
        path = "/%s/app.js" % d
        for ae in ("br", "gzip", "identity"):
            g = httpd.raw("GET", path, [("Accept-Encoding", ae)])
            h = httpd.raw("HEAD", path, [("Accept-Encoding", ae)])
            assert h.status == 200
            assert h.header("ETag") == g.header("ETag")
            assert h.header("Content-Encoding") == g.header("Content-Encoding")

    def test_curl_compressed_etag_compare(self, httpd, tmp_path):
        curl = need_program("curl", "curl")
        url = httpd.url("/curl/style.css")
        etag_file = tmp_path / "etag"
        body = tmp_path / "body"
        codes = []
        for _ in range(2):
            p = run([curl, "-sS", "--compressed", "-o", str(body),
                     "-w", "%{http_code} %{content_type}",
                     "--etag-compare", str(etag_file),
                     "--etag-save", str(etag_file), url], timeout=30)
            assert p.returncode == 0, p.stderr
            codes.append(int(p.stdout.split()[0]))
            if codes[-1] == 200:
                assert body.read_bytes() == CSS      # curl decoded it
        assert codes == [200, 304]
        tag = etag_file.read_text().strip()
        assert tag in (with_suffix(sha1_tag(CSS), "br"),
                       with_suffix(sha1_tag(CSS), "gzip"))
        assert os.path.getsize(etag_file) > 0
