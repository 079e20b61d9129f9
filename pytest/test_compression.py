"""Compressed variants (mod_deflate `-gzip`, mod_brotli `-br`) revalidate."""
import gzip

import pytest

from headers import cache_control_dict, http_date
from tags import sha1_tag, with_suffix

OLD = 1600000000
CSS = b"".join(b".rule-%d { color: #%06x; margin: %dpx; }\n" % (i, i * 997, i)
               for i in range(300))
T = sha1_tag(CSS)

ENCODINGS = {"gzip": ("deflate", "gzip"), "br": ("brotli", "br")}


def vary_has_accept_encoding(r):
    vals = ",".join(r.header_all("Vary"))
    return "accept-encoding" in [v.strip().lower() for v in vals.split(",")]


class TestCompression:
    modules = ["deflate", "brotli", "filter"]

    @classmethod
    def populate(cls, srv):
        srv.write("gz/style.css", CSS, mtime=OLD)
        srv.write("br/style.css", CSS, mtime=OLD)
        srv.write("gz/plain.txt", CSS, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
<Directory {r}/gz>
    CondCache On
    CondCacheMaxAge 300
    AddOutputFilterByType DEFLATE text/css
</Directory>
<Directory {r}/br>
    CondCache On
    CondCacheMaxAge 300
    AddOutputFilterByType BROTLI_COMPRESS text/css
</Directory>
""".format(r=srv.docroot)

    def get(self, httpd, d, ae=None, inm=None, extra=()):
        h = []
        if ae:
            h.append(("Accept-Encoding", ae))
        if inm:
            h.append(("If-None-Match", inm))
        h.extend(extra)
        return httpd.raw("GET", "/%s/style.css" % d, h)

    @pytest.mark.parametrize("enc", ["gzip", "br"])
    def test_compressed_200_suffixed_tag(self, httpd, enc):
        d = "gz" if enc == "gzip" else "br"
        r = self.get(httpd, d, ae=enc)
        assert r.status == 200
        assert r.header("Content-Encoding") == enc
        assert r.header("ETag") == with_suffix(T, enc)
        assert vary_has_accept_encoding(r)
        assert len(r.body) < len(CSS)
        if enc == "gzip":
            assert gzip.decompress(r.body) == CSS

    @pytest.mark.parametrize("enc", ["gzip", "br"])
    def test_compressed_revalidates_304(self, httpd, enc):
        d = "gz" if enc == "gzip" else "br"
        tag = self.get(httpd, d, ae=enc).header("ETag")
        assert tag == with_suffix(T, enc)
        r = self.get(httpd, d, ae=enc, inm=tag)
        assert r.status == 304, r
        assert r.body == b""
        assert r.header("ETag") == tag
        assert vary_has_accept_encoding(r)
        assert cache_control_dict(r.header("Cache-Control")) == \
            {"max-age": "300"}

    @pytest.mark.parametrize("enc", ["gzip", "br"])
    def test_compressed_304_has_no_content_encoding(self, httpd, enc):
        # RFC 9110 15.4.5: a 304 SHOULD NOT carry representation metadata
        # beyond the listed fields (as core's own 304s here do not)
        d = "gz" if enc == "gzip" else "br"
        r = self.get(httpd, d, ae=enc, inm=with_suffix(T, enc))
        assert r.status == 304
        assert r.header("Content-Encoding") is None

    @pytest.mark.parametrize("enc", ["gzip", "br"])
    def test_compressed_revalidates_with_both_validators(self, httpd, enc):
        d = "gz" if enc == "gzip" else "br"
        r = self.get(httpd, d, ae=enc, inm=with_suffix(T, enc),
                     extra=[("If-Modified-Since", http_date(OLD - 3600))])
        assert r.status == 304
        assert r.header("ETag") == with_suffix(T, enc)

    @pytest.mark.parametrize("enc", ["gzip", "br"])
    def test_compressed_stale_tag_200(self, httpd, enc):
        d = "gz" if enc == "gzip" else "br"
        r = self.get(httpd, d, ae=enc, inm=with_suffix('"stale"', enc))
        assert r.status == 200
        assert r.header("Content-Encoding") == enc
        assert r.header("ETag") == with_suffix(T, enc)

    @pytest.mark.parametrize("d", ["gz", "br"])
    def test_identity_plain_tag(self, httpd, d):
        r = self.get(httpd, d)
        assert r.status == 200
        assert r.header("Content-Encoding") is None
        assert r.body == CSS
        assert r.header("ETag") == T
        r = self.get(httpd, d, inm=T)
        assert r.status == 304
        assert r.header("ETag") == T

    def test_identity_when_gzip_refused(self, httpd):
        r = self.get(httpd, "gz", ae="gzip;q=0, identity")
        assert r.status == 200
        assert r.header("Content-Encoding") is None
        assert r.header("ETag") == T

    def test_uncompressed_type_not_suffixed(self, httpd):
        r = httpd.raw("GET", "/gz/plain.txt", [("Accept-Encoding", "gzip")])
        assert r.status == 200
        assert r.header("Content-Encoding") is None
        assert r.header("ETag") == T
        r = httpd.raw("GET", "/gz/plain.txt", [("Accept-Encoding", "gzip"),
                                               ("If-None-Match", T)])
        assert r.status == 304

    def test_gzip_range_on_compressed(self, httpd):
        # If-Range with the compressed variant's tag: whatever httpd does,
        # the answer must be self-consistent (no plain tag on gzip bytes)
        r = self.get(httpd, "gz", ae="gzip",
                     extra=[("Range", "bytes=0-9"),
                            ("If-Range", with_suffix(T, "gzip"))])
        assert r.status in (200, 206)
        if r.header("Content-Encoding") == "gzip":
            assert r.header("ETag") == with_suffix(T, "gzip")


class TestCodingNotAcceptedNow:
    """A suffixed tag names a compressed variant.  When the request does
    not accept that coding, the client would now get another variant, so
    the tag does not match (RFC 9110 13.1.2): a 200 with the variant it
    would get, not a 304 that relabels its copy."""
    modules = ["deflate", "brotli", "filter"]

    @classmethod
    def populate(cls, srv):
        srv.write("both/style.css", CSS, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
<Directory {r}/both>
    CondCache On
    AddOutputFilterByType BROTLI_COMPRESS;DEFLATE text/css
</Directory>
""".format(r=srv.docroot)

    @pytest.mark.parametrize("held,ae,status", [
        ("gzip", "gzip", 304),
        ("gzip", "gzip, deflate", 304),
        ("gzip", "br", 200),
        ("gzip", None, 200),
        ("gzip", "gzip;q=0, br", 200),
        ("br", "br", 304),
        ("br", "gzip", 200),
        ("br", "*", 304),
    ])
    def test_suffix_needs_accepted_coding(self, httpd, held, ae, status):
        h = [("If-None-Match", with_suffix(T, held))]
        if ae:
            h.append(("Accept-Encoding", ae))
        r = httpd.raw("GET", "/both/style.css", h)
        assert r.status == status, r
        if status == 200:
            assert r.header("ETag") != with_suffix(T, held)


class TestCompressionFromHtaccess:
    """A site that only has .htaccess: the server compresses (and cannot be
    told DeflateAlterETag), the site turns the module on."""
    modules = ["deflate", "filter"]

    @classmethod
    def populate(cls, srv):
        srv.write("site/style.css", CSS, mtime=OLD)
        srv.write("site/.htaccess", b"CondCache On\nCondCacheNoCache On\n",
                  mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
AddOutputFilterByType DEFLATE text/css
<Directory {r}/site>
    AllowOverride FileInfo
</Directory>
""".format(r=srv.docroot)

    def test_gzip_variant_revalidates(self, httpd):
        h = [("Accept-Encoding", "gzip")]
        r = httpd.raw("GET", "/site/style.css", h)
        assert r.status == 200 and r.header("Content-Encoding") == "gzip"
        assert r.header("ETag") == with_suffix(T, "gzip")
        r = httpd.raw("GET", "/site/style.css",
                      h + [("If-None-Match", r.header("ETag"))])
        assert r.status == 304, r
        assert r.header("ETag") == with_suffix(T, "gzip")
        assert vary_has_accept_encoding(r)
        assert cache_control_dict(r.header("Cache-Control")) == \
            {"no-cache": None}
