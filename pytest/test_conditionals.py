"""Conditional requests per RFC 9110 13.2.2 (not core's ap_meets_conditions),
and byte ranges."""
import re
import time

import pytest

from clients import build_request
from headers import asctime_date, http_date, rfc850_date
from tags import sha1_tag

OLD = 1600000000
DATA = b"".join(b"line %04d of the conditional test file\n" % i
                for i in range(200))
T = sha1_tag(DATA)
OPAQUE = T[1:-1]        # the tag without its quotes
LM = http_date(OLD)


class TestConditionals:

    @classmethod
    def populate(cls, srv):
        srv.write("c/a.txt", DATA, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return "<Directory %s/c>\n  CondCache On\n</Directory>" % srv.docroot

    def req(self, httpd, headers, method="GET", path="/c/a.txt"):
        return httpd.raw(method, path, headers)

    def test_baseline(self, httpd):
        r = self.req(httpd, [])
        assert r.status == 200 and r.body == DATA
        assert r.header("ETag") == T
        assert r.header("Last-Modified") == LM

    # ---- If-None-Match (weak comparison) ------------------------------
    @pytest.mark.parametrize("inm", [
        T,
        "W/" + T,
        '"x", ' + T,
        T + ', "y"',
        '"1234",, ,,  ,  ' + T,
        '"1234", ' + T + ', "brokentrailing',
        '"a",' + T + ',"b"',
        '"a"\t,\t' + T,
        "*",
        '"x", W/' + T,
        '"spaced etag", ' + T,
        'unquoted, ' + T,
        '"\xff\x80", ' + T,
        '"x", *, ' + T,
    ])
    def test_inm_match_304(self, httpd, inm):
        r = self.req(httpd, [("If-None-Match", inm)])
        assert r.status == 304, inm
        assert r.body == b""
        assert r.header("ETag") == T
        assert httpd.note(r) == "hit"

    @pytest.mark.parametrize("inm", [
        '"x"',
        '"*"',
        "w/" + T,
        OPAQUE,
        '"' + OPAQUE,
        OPAQUE + '"',
        "W/",
        'W/"truc',
        '""',
        "",
        ",,,",
        '"x", *',            # a * inside a list is not the * form
        T[:-2] + '"',        # a prefix of the tag
        T[:-1] + 'X"',
        T.lower() if T.lower() != T else T.upper(),
    ])
    def test_inm_no_match_200(self, httpd, inm):
        r = self.req(httpd, [("If-None-Match", inm)])
        assert r.status == 200, inm
        assert r.body == DATA
        assert r.header("ETag") == T

    def test_inm_two_header_lines(self, httpd):
        r = self.req(httpd, [("If-None-Match", '"x"'), ("If-None-Match", T)])
        assert r.status == 304

    def test_inm_long_list(self, httpd):
        junk = ", ".join('"junk-%04d"' % i for i in range(400))
        assert len(junk) > 5000
        r = self.req(httpd, [("If-None-Match", junk + ", " + T)])
        assert r.status == 304
        r = self.req(httpd, [("If-None-Match", junk)])
        assert r.status == 200

    def test_inm_head_304(self, httpd):
        r = self.req(httpd, [("If-None-Match", T)], method="HEAD")
        assert r.status == 304
        assert r.header("ETag") == T

    # ---- If-None-Match vs If-Modified-Since ----------------------------
    def test_inm_match_with_old_ims_is_304(self, httpd):
        # core's ap_meets_conditions ANDs them and would answer 200
        r = self.req(httpd, [("If-None-Match", T),
                             ("If-Modified-Since", http_date(OLD - 86400))])
        assert r.status == 304

    def test_inm_nomatch_with_satisfied_ims_is_200(self, httpd):
        # IMS alone would give 304; with If-None-Match present it is ignored
        for ims in (LM, http_date(time.time() - 5)):
            r = self.req(httpd, [("If-None-Match", '"other"'),
                                 ("If-Modified-Since", ims)])
            assert r.status == 200, ims
            assert r.body == DATA

    # ---- If-Modified-Since alone ----------------------------------------
    @pytest.mark.parametrize("ims,status", [
        (LM, 304),
        (http_date(OLD + 1), 304),
        (http_date(OLD + 86400), 304),
        (rfc850_date(OLD), 304),
        (asctime_date(OLD), 304),
        (http_date(OLD - 1), 200),
        (http_date(OLD - 86400 * 365), 200),
        ("garbage", 200),
        ("", 200),
    ])
    def test_ims(self, httpd, ims, status):
        r = self.req(httpd, [("If-Modified-Since", ims)])
        assert r.status == status, ims
        if status == 304:
            assert r.header("ETag") == T and r.body == b""
        else:
            assert r.body == DATA

    def test_ims_in_the_future_is_ignored(self, httpd):
        r = self.req(httpd, [("If-Modified-Since",
                              http_date(time.time() + 86400 * 30))])
        assert r.status == 200
        assert r.body == DATA

    def test_ims_head(self, httpd):
        r = self.req(httpd, [("If-Modified-Since", LM)], method="HEAD")
        assert r.status == 304

    # ---- If-Match (strong comparison) -----------------------------------
    @pytest.mark.parametrize("im,status", [
        (T, 200),
        ("*", 200),
        ('"x", ' + T, 200),
        ('"1234",, ,  ' + T + ' , "z"', 200),
        ("W/" + T, 412),
        ('"x"', 412),
        ('"*"', 412),
        ("w/" + T, 412),
        (OPAQUE, 412),
        ('"x", W/' + T, 412),
    ])
    def test_if_match(self, httpd, im, status):
        r = self.req(httpd, [("If-Match", im)])
        assert r.status == status, im
        if status == 200:
            assert r.body == DATA and r.header("ETag") == T

    def test_if_match_head_412(self, httpd):
        r = self.req(httpd, [("If-Match", '"nope"')], method="HEAD")
        assert r.status == 412

    def test_if_match_ignores_ius(self, httpd):
        r = self.req(httpd, [("If-Match", T),
                             ("If-Unmodified-Since", http_date(OLD - 86400))])
        assert r.status == 200
        assert r.body == DATA

    def test_if_match_mismatch_with_satisfied_ius_412(self, httpd):
        r = self.req(httpd, [("If-Match", '"nope"'),
                             ("If-Unmodified-Since", http_date(OLD + 86400))])
        assert r.status == 412

    @pytest.mark.parametrize("ius,status", [
        (http_date(OLD - 1), 412),
        (http_date(OLD - 86400), 412),
        (LM, 200),
        (http_date(OLD + 86400), 200),
        ("garbage", 200),
    ])
    def test_if_unmodified_since(self, httpd, ius, status):
        r = self.req(httpd, [("If-Unmodified-Since", ius)])
        assert r.status == status, ius

    def test_if_match_before_if_none_match(self, httpd):
        r = self.req(httpd, [("If-Match", '"nope"'), ("If-None-Match", T)])
        assert r.status == 412
        r = self.req(httpd, [("If-Match", T), ("If-None-Match", T)])
        assert r.status == 304
        r = self.req(httpd, [("If-Match", T), ("If-None-Match", '"x"')])
        assert r.status == 200

    def test_ius_412_before_inm(self, httpd):
        r = self.req(httpd, [("If-Unmodified-Since", http_date(OLD - 10)),
                             ("If-None-Match", T)])
        assert r.status == 412

    def test_304_carries_validators_not_body(self, httpd):
        r = self.req(httpd, [("If-None-Match", T)])
        assert r.status == 304
        assert r.body == b""
        assert r.header("ETag") == T
        assert r.header("Date") is not None
        assert r.header("Content-Encoding") is None

    def test_keepalive_sequence(self, httpd):
        """304 and 200 answers on one connection stay framed correctly."""
        with httpd.connect() as c:
            for hdrs, st in ([("If-None-Match", T)], 304), ([], 200), \
                    ([("If-Match", '"x"')], 412), ([("If-None-Match", T)], 304), \
                    ([], 200):
                c.send(build_request("GET", "/c/a.txt", hdrs, close=False))
                r = c.read_response()
                assert r.status == st
                if st == 200:
                    assert r.body == DATA

    # ---- missing resources: preconditions do not apply -----------------
    @pytest.mark.parametrize("hdr", [
        ("If-None-Match", "*"), ("If-Match", "*"), ("If-Match", '"x"'),
        ("If-Modified-Since", LM), ("If-Unmodified-Since", http_date(1000)),
    ])
    def test_missing_file_404(self, httpd, hdr):
        r = self.req(httpd, [hdr], path="/c/missing.txt")
        assert r.status == 404
        assert r.header("ETag") is None


def parse_multipart(ctype, body):
    m = re.search(r"boundary=\"?([^\";]+)\"?", ctype)
    assert m, ctype
    boundary = b"--" + m.group(1).encode()
    parts = []
    for chunk in body.split(boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.partition(b"\r\n\r\n")
        assert data.endswith(b"\r\n")
        parts.append((head.decode("latin-1"), data[:-2]))
    return parts


class TestRanges:
    @classmethod
    def populate(cls, srv):
        srv.write("r/a.txt", DATA, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return "<Directory %s/r>\n  CondCache On\n</Directory>" % srv.docroot

    def rng(self, httpd, headers):
        return httpd.raw("GET", "/r/a.txt", headers)

    @pytest.mark.parametrize("spec,lo,hi", [
        ("bytes=0-9", 0, 9),
        ("bytes=100-199", 100, 199),
        ("bytes=-10", len(DATA) - 10, len(DATA) - 1),
        ("bytes=%d-" % (len(DATA) - 5), len(DATA) - 5, len(DATA) - 1),
    ])
    def test_single_range(self, httpd, spec, lo, hi):
        r = self.rng(httpd, [("Range", spec)])
        assert r.status == 206
        assert r.body == DATA[lo:hi + 1]
        assert r.header("Content-Range") == "bytes %d-%d/%d" % (
            lo, hi, len(DATA))
        assert r.header("ETag") == T

    def test_multipart(self, httpd):
        r = self.rng(httpd, [("Range", "bytes=0-1,50-59,-3")])
        assert r.status == 206
        ctype = r.header("Content-Type")
        assert ctype.startswith("multipart/byteranges")
        parts = parse_multipart(ctype, r.body)
        assert [p[1] for p in parts] == [DATA[0:2], DATA[50:60], DATA[-3:]]
        assert "bytes 50-59/%d" % len(DATA) in parts[1][0]
        assert r.header("ETag") == T

    def test_unsatisfiable_416(self, httpd):
        r = self.rng(httpd, [("Range", "bytes=%d-" % (len(DATA) + 10))])
        assert r.status == 416     # (httpd's 416 has no Content-Range)
        assert r.body != DATA

    def test_if_range_current_tag_206(self, httpd):
        r = self.rng(httpd, [("Range", "bytes=0-9"), ("If-Range", T)])
        assert r.status == 206
        assert r.body == DATA[:10]

    @pytest.mark.parametrize("ir", ['"old-tag"', "W/" + T])
    def test_if_range_old_or_weak_tag_full_200(self, httpd, ir):
        r = self.rng(httpd, [("Range", "bytes=0-9"), ("If-Range", ir)])
        assert r.status == 200
        assert r.body == DATA
        assert r.header("Content-Range") is None

    def test_if_range_date(self, httpd):
        r = self.rng(httpd, [("Range", "bytes=0-9"), ("If-Range", LM)])
        assert r.status == 206
        r = self.rng(httpd, [("Range", "bytes=0-9"),
                             ("If-Range", http_date(OLD - 100))])
        assert r.status == 200 and r.body == DATA

    @pytest.mark.parametrize("inm", [T, "W/" + T, "*"])
    def test_inm_match_with_range_is_304(self, httpd, inm):
        # weak comparison even with Range (core compares strongly here)
        r = self.rng(httpd, [("Range", "bytes=0-9"), ("If-None-Match", inm)])
        assert r.status == 304
        assert r.header("Content-Range") is None
        assert r.body == b""

    def test_inm_nomatch_with_range_206(self, httpd):
        r = self.rng(httpd, [("Range", "bytes=0-9"), ("If-None-Match", '"x"')])
        assert r.status == 206 and r.body == DATA[:10]

    def test_if_match_with_range(self, httpd):
        r = self.rng(httpd, [("Range", "bytes=0-9"), ("If-Match", T)])
        assert r.status == 206 and r.body == DATA[:10]
        r = self.rng(httpd, [("Range", "bytes=0-9"), ("If-Match", '"x"')])
        assert r.status == 412

    def test_head_range(self, httpd):
        r = httpd.raw("HEAD", "/r/a.txt", [("Range", "bytes=0-9")])
        assert r.status in (200, 206)   # httpd answers HEAD ranges as it likes
        assert r.body == b""
        assert r.header("ETag") == T


class TestHostile:
    """Exact bytes on the wire: pipelining, odd but legal requests."""

    @classmethod
    def populate(cls, srv):
        srv.write("h/a.txt", DATA, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return "<Directory %s/h>\n  CondCache On\n</Directory>" % srv.docroot

    def test_pipelined_requests(self, httpd):
        reqs = [
            ("GET", [("If-None-Match", T)], 304),
            ("GET", [], 200),
            ("HEAD", [("If-None-Match", '"x"')], 200),
            ("GET", [("If-Match", '"x"')], 412),
            ("GET", [("Range", "bytes=0-4"), ("If-Range", T)], 206),
            ("GET", [("If-Modified-Since", LM)], 304),
        ]
        data = b"".join(build_request(m, "/h/a.txt", h, close=False)
                        for m, h, _ in reqs)
        data += build_request("GET", "/h/a.txt", [("If-None-Match", "*")])
        with httpd.connect() as c:
            c.send(data)
            for m, h, st in reqs:
                r = c.read_response(m)
                assert r.status == st, (m, h)
                if st == 200 and m == "GET":
                    assert r.body == DATA
                if st == 206:
                    assert r.body == DATA[:5]
            assert c.read_response().status == 304

    def test_many_if_none_match_lines(self, httpd):
        hdrs = [("If-None-Match", '"junk%d"' % i) for i in range(60)]
        r = httpd.raw("GET", "/h/a.txt", hdrs)
        assert r.status == 200
        r = httpd.raw("GET", "/h/a.txt", hdrs + [("If-None-Match", T)])
        assert r.status == 304

    @pytest.mark.parametrize("path", ["/h/a.txt?x=1", "/h/a%2etxt",
                                      "/h/./a.txt", "//h/a.txt"])
    def test_odd_paths_same_tag(self, httpd, path):
        r = httpd.raw("GET", path)
        assert r.status == 200 and r.body == DATA
        assert r.header("ETag") == T
        r = httpd.raw("GET", path, [("If-None-Match", T)])
        assert r.status == 304

    def test_huge_if_none_match_near_limit(self, httpd):
        junk = ",".join('"%s"' % ("j" * 60) for _ in range(120))
        assert 7000 < len(junk) + len(T) < 8000
        r = httpd.raw("GET", "/h/a.txt", [("If-None-Match", junk + "," + T)])
        assert r.status == 304
