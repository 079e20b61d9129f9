"""Cache-Control and Expires from CondCacheNoCache / NoStore / MaxAge."""
import time

import pytest

from headers import cache_control_dict, http_date, parse_http_date
from tags import sha1_tag

OLD = 1600000000
DATA = b"cache control test body\n" * 40
T = sha1_tag(DATA)

DIRS = {
    "plain": "",
    "nocache": "CondCacheNoCache On",
    "maxage": "CondCacheMaxAge 600",
    "both": "CondCacheNoCache On\n  CondCacheMaxAge 600",
    "nostore": "CondCacheNoStore On",
    "nostore_all": "CondCacheNoStore On\n  CondCacheNoCache On\n"
                   "  CondCacheMaxAge 600",
    "expires": "CondCacheMaxAge 60\n  ExpiresActive On\n"
               "  ExpiresDefault \"access plus 1 day\"",
}


def expires_delta(r):
    return parse_http_date(r.headers["Expires"]) - \
        parse_http_date(r.headers["Date"])


class TestCacheControl:
    modules = ["expires"]

    @classmethod
    def populate(cls, srv):
        for d in DIRS:
            srv.write("%s/a.txt" % d, DATA, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return "\n".join("<Directory %s/%s>\n  CondCache On\n  %s\n</Directory>"
                         % (srv.docroot, d, extra) for d, extra in DIRS.items())

    def cc(self, r):
        return cache_control_dict(r.headers.get("Cache-Control"))

    def test_none_by_default(self, httpd):
        r = httpd.get("/plain/a.txt")
        assert r.status_code == 200
        assert r.headers["ETag"] == T
        assert "Cache-Control" not in r.headers
        assert "Expires" not in r.headers

    def test_no_cache(self, httpd):
        r = httpd.get("/nocache/a.txt")
        assert r.status_code == 200
        assert self.cc(r) == {"no-cache": None}
        assert r.headers["ETag"] == T
        r = httpd.get("/nocache/a.txt", {"If-None-Match": T})
        assert r.status_code == 304
        assert self.cc(r) == {"no-cache": None}
        assert r.headers["ETag"] == T

    def test_max_age_and_expires(self, httpd):
        r = httpd.get("/maxage/a.txt")
        assert r.status_code == 200
        assert self.cc(r) == {"max-age": "600"}
        assert abs(expires_delta(r) - 600) <= 1
        assert r.headers["ETag"] == T

    def test_both(self, httpd):
        r = httpd.get("/both/a.txt")
        assert self.cc(r) == {"max-age": "600", "no-cache": None}
        assert abs(expires_delta(r) - 600) <= 1

    @pytest.mark.parametrize("d", ["nocache", "maxage", "both"])
    def test_304_repeats_200_headers(self, httpd, d):
        ok = httpd.raw("GET", "/%s/a.txt" % d)
        nm = httpd.raw("GET", "/%s/a.txt" % d, [("If-None-Match", T)])
        assert ok.status == 200 and nm.status == 304
        assert cache_control_dict(nm.header("Cache-Control")) == \
            cache_control_dict(ok.header("Cache-Control"))
        assert nm.header("ETag") == ok.header("ETag") == T
        assert (nm.header("Expires") is None) == (ok.header("Expires") is None)
        if ok.header("Expires"):
            for r in (ok, nm):
                delta = parse_http_date(r.header("Expires")) - \
                    parse_http_date(r.header("Date"))
                assert abs(delta - 600) <= 1

    def test_304_by_date_carries_cache_control(self, httpd):
        r = httpd.get("/both/a.txt", {"If-Modified-Since": http_date(OLD)})
        assert r.status_code == 304
        assert self.cc(r) == {"max-age": "600", "no-cache": None}
        assert r.headers["ETag"] == T

    @pytest.mark.parametrize("d", ["nocache", "maxage", "both"])
    def test_206_carries_cache_control(self, httpd, d):
        ok = httpd.get("/%s/a.txt" % d)
        r = httpd.get("/%s/a.txt" % d, {"Range": "bytes=0-9"})
        assert r.status_code == 206
        assert r.content == DATA[:10]
        assert self.cc(r) == self.cc(ok) != {}

    def test_head_carries_cache_control(self, httpd):
        r = httpd.head("/both/a.txt")
        assert r.status_code == 200
        assert self.cc(r) == {"max-age": "600", "no-cache": None}

    def test_mod_expires_leaves_our_response_alone(self, httpd):
        r = httpd.get("/expires/a.txt")
        assert r.status_code == 200
        assert self.cc(r) == {"max-age": "60"}
        assert abs(expires_delta(r) - 60) <= 1
        r = httpd.get("/expires/a.txt", {"If-None-Match": T})
        assert r.status_code == 304
        assert self.cc(r) == {"max-age": "60"}
        assert abs(expires_delta(r) - 60) <= 1

    # ---- no-store ---------------------------------------------------------
    @pytest.mark.parametrize("d", ["nostore", "nostore_all"])
    def test_no_store_header(self, httpd, d):
        r = httpd.get("/%s/a.txt" % d)
        assert r.status_code == 200
        assert r.content == DATA
        assert self.cc(r) == {"no-store": None}
        assert "ETag" not in r.headers
        assert httpd.note(r) == "no-store"

    def test_no_store_wins_no_expires(self, httpd):
        r = httpd.get("/nostore_all/a.txt")
        assert self.cc(r) == {"no-store": None}
        assert "Expires" not in r.headers

    @pytest.mark.parametrize("hdrs,status", [
        ({}, 200),
        ({"If-None-Match": "*"}, 304),
        ({"If-None-Match": T}, 200),          # no tag: nothing matches it
        ({"If-None-Match": "W/" + T}, 200),
        ({"If-Modified-Since": http_date(OLD)}, 304),
        ({"If-Modified-Since": http_date(time.time() - 2)}, 304),
        ({"If-None-Match": T, "If-Modified-Since": http_date(OLD)}, 200),
    ])
    @pytest.mark.parametrize("d", ["nostore", "nostore_all"])
    def test_no_store_no_tag(self, httpd, d, hdrs, status):
        """No ETag, Cache-Control: no-store; the preconditions are still
        evaluated, on Last-Modified (not storing is not not checking)."""
        r = httpd.get("/%s/a.txt" % d, hdrs)
        assert r.status_code == status
        assert r.content == (DATA if status == 200 else b"")
        assert "ETag" not in r.headers
        assert self.cc(r) == {"no-store": None}

    @pytest.mark.parametrize("hdrs", [
        {"If-Match": '"nope"'},
        {"If-Unmodified-Since": http_date(OLD - 86400)},
    ])
    def test_no_store_failing_preconditions(self, httpd, hdrs):
        """RFC 9110 13.2.1: a failing precondition is a 412, with no-store
        as without."""
        r = httpd.get("/nostore/a.txt", hdrs)
        assert r.status_code == 412
        assert r.content == b""

    def test_no_store_head(self, httpd):
        r = httpd.raw("HEAD", "/nostore/a.txt", [("If-None-Match", '"x"')])
        assert r.status == 200
        assert r.header("ETag") is None
        assert cache_control_dict(r.header("Cache-Control")) == \
            {"no-store": None}


class TestWithModHeaders:
    """mod_headers runs after the handler: what the README says it does to
    the module's headers, on the 200 and on the 304."""
    modules = ["headers"]

    @classmethod
    def populate(cls, srv):
        for d in ("set", "merge", "unset"):
            srv.write("%s/a.txt" % d, DATA, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
<Directory {r}>
    CondCache On
    CondCacheMaxAge 60
</Directory>
<Directory {r}/set>
    Header set Cache-Control "public, max-age=5"
</Directory>
<Directory {r}/merge>
    Header merge Cache-Control "public"
</Directory>
<Directory {r}/unset>
    Header unset ETag
</Directory>
""".format(r=srv.docroot)

    @pytest.mark.parametrize("inm", [None, T])
    def test_header_set_replaces(self, httpd, inm):
        r = httpd.get("/set/a.txt", {"If-None-Match": inm} if inm else None)
        assert r.status_code == (304 if inm else 200)
        assert cache_control_dict(r.headers["Cache-Control"]) == \
            {"public": None, "max-age": "5"}

    @pytest.mark.parametrize("inm", [None, T])
    def test_header_merge_adds(self, httpd, inm):
        r = httpd.get("/merge/a.txt", {"If-None-Match": inm} if inm else None)
        assert r.status_code == (304 if inm else 200)
        assert cache_control_dict(r.headers["Cache-Control"]) == \
            {"public": None, "max-age": "60"}

    def test_header_unset_etag(self, httpd):
        r = httpd.get("/unset/a.txt")
        assert r.status_code == 200
        assert "ETag" not in r.headers
        assert "Last-Modified" in r.headers
        # Last-Modified still revalidates
        r = httpd.get("/unset/a.txt",
                      {"If-Modified-Since": r.headers["Last-Modified"]})
        assert r.status_code == 304
