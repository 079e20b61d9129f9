"""CondCacheIntegrity: RFC 9530's Repr-Digest and Unencoded-Digest from the
remembered digests.

Every field is parsed by an RFC 9651 Structured Fields parser nobody here
wrote (the npm package structured-headers, pytest/js, through
eco_util.sf_parse) and its byte sequences compared with hashlib's digests
of the file (and once with sha256sum / sha512sum); the exact text is also
compared with tags.integrity_field.

  - identity, gzip (mod_deflate) and br (mod_brotli): Unencoded-Digest is
    always the whole file's, Repr-Digest only without Content-Encoding;
    ranges (206, multipart), HEAD; none on 304 and 412;
  - Want-Repr-Digest / Want-Unencoded-Digest: order, 0 left out, unrated
    left out when another is rated; garbage, malformed, uppercase keys,
    trailing commas, unknown algorithms: all configured, never an error
    (what the client asked for is read by the npm parser, not by us);
  - .htaccess turns it on and Off; bad arguments fail `apache2 -t`
    naming the directive;
  - one read: the ETag's digest and the integrity digests of a new file
    cost BytesHashed its size once; a scope that needs digests missing
    for a tagged file reads it once more;
  - during atomic deploys under load, the fields of every 200 are the
    digests of the bytes in its body;
  - a file above CondCacheInlineHashMax: no fields while pending, the
    right ones once the worker has hashed it; the warm-up stores them too;
  - condcache-etag --integrity prints the server's members and the
    Subresource Integrity values;
  - headless Chromium runs scripts (identity and gzip) and styles served
    with Unencoded-Digest, and (the control, on a server without the
    module) blocks a script whose Unencoded-Digest is wrong, when this
    Chromium enforces the field (if it does not, only the control skips).

Found by this suite and fixed: Want- fields with RFC 9651 Dates or
Display Strings were read as malformed; a file stored content-coded
(mod_mime AddEncoding) was sent with the digest of its coded bytes as
Unencoded-Digest (Chromium then blocked the script); integrity digests
missing for a tagged file were hashed by every concurrent request, and in
the request even above CondCacheInlineHashMax.
"""
import base64
import gzip
import hashlib
import os
import random
import re
import socket
import threading
import time

import pytest

from condcache_env import REPO_DIR, deploy_versions
from eco_util import Chromium, need_program, require_program, run, sf_parse
from headers import http_date
from tags import (INTEGRITY_HASHES, b64, integrity_digest, integrity_field,
                  integrity_member, sha1_tag, sha256_tag, sri_value,
                  with_suffix)

OLD = 1600000000
MIB = 1 << 20
ALGOS = ("sha-256", "sha-512")
FIELDS = ("Repr-Digest", "Unencoded-Digest")
WANT = {"Repr-Digest": "Want-Repr-Digest",
        "Unencoded-Digest": "Want-Unencoded-Digest"}
TOOL = os.environ.get("CONDCACHE_ETAG",
                      os.path.join(REPO_DIR, "build", "condcache-etag"))
# the nice-19 worker gets what the CPUs have left: a generous deadline
QUEUE_TIMEOUT = 120

TEXT = b"".join(b"line %d: the bytes a client checks against the field\n" % i
                for i in range(400))
PRE_JS = b"window.preRan = (window.preRan || 0) + 1;\n" + \
    b"// a precompressed script\n" * 80
PRE_GZ = gzip.compress(PRE_JS, mtime=0)


# --------------------------------------------------------------------------
# Reading the fields

_parsed = {}


def parse_dicts(values):
    """npm structured-headers' reading of each value as a dictionary
    (None: not one), cached, one node process per batch of new values."""
    new = [v for v in dict.fromkeys(values) if v not in _parsed]
    if new:
        for v, p in zip(new, sf_parse(new)):
            _parsed[v] = p
    return [_parsed[v] for v in values]


def parsed_digests(value):
    """[(algorithm, digest bytes)] of an integrity field, as the npm parser
    reads it; fails unless every member is a byte sequence without
    parameters."""
    members = parse_dicts([value])[0]
    assert members is not None, "not an RFC 9651 dictionary: %r" % value
    out = []
    for key, m in members:
        assert m["type"] == "binary" and m["params"] == [], (value, key, m)
        out.append((key, base64.b64decode(m["value"])))
    return out


def one(resp, name):
    """The value of a field that must appear at most once (None)."""
    vals = resp.header_all(name)
    assert len(vals) <= 1, "%s sent %d times: %r" % (name, len(vals), resp)
    return vals[0] if vals else None


def assert_no_fields(resp):
    for name in FIELDS:
        assert one(resp, name) is None, (name, resp)


def assert_field(resp, name, data, algos):
    """`name` describes `data` with exactly `algos`, in that order."""
    value = one(resp, name)
    assert value is not None, "no %s: %r" % (name, resp)
    assert parsed_digests(value) == \
        [(a, integrity_digest(a, data)) for a in algos], (name, value)
    # and in the module's exact form
    assert value == integrity_field(data, algos), (name, value)


def assert_fields(resp, data, algos=ALGOS, want=None):
    """The fields of a 200/206/HEAD for the whole file `data`: both
    without a content coding, Unencoded-Digest alone with one.  `want`:
    the algorithms per field when not `algos` (None: that field absent)."""
    want = want or {}
    coded = one(resp, "Content-Encoding") is not None
    for name in FIELDS:
        a = want.get(name, algos)
        if a is None or (coded and name == "Repr-Digest"):
            assert one(resp, name) is None, (name, resp)
        else:
            assert_field(resp, name, data, a)


def decode(coding, body):
    if coding is None:
        return body
    if coding == "gzip":
        return gzip.decompress(body)
    assert coding == "br", coding
    brotli = require_program("brotli", "brotli")
    p = run([brotli, "-d", "-c"], input=body, text=False, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


# --------------------------------------------------------------------------
# What a Want- field asks for, read by the npm parser (RFC 9530 section 4,
# and the README's rules for what it leaves open)

def wanted(want_value, configured=ALGOS):
    """The algorithms, in order, a response should carry for a Want- field
    value (None: no such field).  Not a valid dictionary, or rating none of
    the configured algorithms (an integer 0 to 10): all configured.  Else
    those rated above 0, most preferred first, ties in configured order;
    unrated ones are left out."""
    if want_value is None:
        return list(configured)
    members = parse_dicts([want_value])[0]
    if members is None:
        return list(configured)
    prefs = {}
    for key, m in members:      # the parser keeps a key's last value
        if key in configured and m["type"] == "integer" \
                and 0 <= m["value"] <= 10:
            prefs[key] = m["value"]
    if not prefs:
        return list(configured)
    chosen = [a for a in configured if prefs.get(a, 0) > 0]
    return sorted(chosen, key=lambda a: -prefs[a])


# Want- values that are not valid RFC 9651 dictionaries (checked with the
# npm parser in test_malformed_want_corpus_is_malformed): all configured
MALFORMED_WANT = [
    "garbage!!", "sha-512=10,", "sha-512=10, ", "sha-512=10,,sha-256=1",
    ",sha-512=10", "SHA-512=10, SHA-256=1", "Sha-512=10", "sha-512=10;",
    "sha-512=10;;x", "sha-512=", "sha-512==10", "sha-512=10 sha-256=1",
    "sha-512=(10", "sha-512=\"10", "sha-512=:AAA", "sha-512=1e3",
    "sha-512=10000000000000000", "sha-512=1.2345", "-sha-512=1",
    "sha-512=10, 0=1", "sha-512=@", "sha-512=10, \xe9=1", "\xff\xfe",
    "sha-512=10;SHA=1", "sha-512=?2",
]
# valid dictionaries that rate none of the configured algorithms (an
# integer 0-10): all configured
NO_PREFERENCE = [
    "", "md5=10", "md5=10, unixsum=3, id-sha-256=9, sha=1",
    "sha-256, sha-512", "sha-256=?1, sha-512=?0", "sha-256=11, sha-512=-1",
    "sha-256=\"10\", sha-512=tok", "sha-256=(1 2), sha-512=:AAAA:",
    "sha-256=1.5, sha-512=0.5", "sha-512=100",
]
# valid ones that choose: (value, the algorithms expected, spelled out
# to check the oracle too)
CHOOSING = [
    ("sha-512=10, sha-256=1", ["sha-512", "sha-256"]),
    ("sha-256=1, sha-512=10", ["sha-512", "sha-256"]),
    ("sha-256=3, sha-512=3", ["sha-256", "sha-512"]),
    ("sha-512=1", ["sha-512"]),
    ("sha-256=10", ["sha-256"]),
    ("sha-256=0, sha-512=1", ["sha-512"]),
    ("sha-256=0", []),
    ("sha-256=0, sha-512=0", []),
    ("sha-512=3, sha-256", ["sha-512"]),
    ("sha-512=5;q=1, sha-256=7;x=?0", ["sha-256", "sha-512"]),
    ("md5=10, sha-512=2, unixsum=9", ["sha-512"]),
    ("sha-256=10, sha-256=0, sha-512=1", ["sha-512"]),
    (" sha-512=9 ,\tsha-256=8 ", ["sha-512", "sha-256"]),
    ("a=1, " * 1500 + "sha-512=2", ["sha-512"]),
]
# valid RFC 9651 dictionaries with a Date (@...) or a Display String
# (%"...") somewhere: they still choose (the module reads them as
# malformed: see test_want_with_rfc9651_date_or_display_string)
RFC9651_NEW_TYPES = [
    ("sha-256=5, d=@1659578233", ["sha-256"]),
    ("sha-512=5;q=%\"caf%c3%a9\"", ["sha-512"]),
    ("sha-512=3, sha-256=@1", ["sha-512"]),
]


def want_fuzz_values(n, seed=9530):
    """Dictionaries and near-dictionaries built from the pieces RFC 9651
    and RFC 9530 use, with a fixed seed.  No Date or Display String (see
    RFC9651_NEW_TYPES) and no decimal with a zero fraction (the npm package
    reads 1.0 as the number 1, so the oracle could not tell it from the
    integer)."""
    rnd = random.Random(seed)
    keys = ["sha-256", "sha-512", "sha-256", "sha-512", "md5", "a", "*x",
            "SHA-256", "0a", "-k", "sha_256"]
    items = ["0", "1", "5", "10", "11", "-1", "007", "1.5", "0.25", "-3.5",
             "?1", "?0", "?2", '"str"', '"a\\"b"', '"bad\\x"', ":AAAA:",
             ":@@:", "tok", "*tok", "t:/x", "(1 2)", "()", '(1 "x");p=1',
             "1e3", "", "1.", ".5", "1234567890123456", "123456789012345"]
    params = ["", "", "", ";q", ";q=1", ";Q=1", "; q=2", ";q=(1)", ";",
              ";*a=?0"]
    seps = [", ", ", ", ", ", ",", " , ", ",\t", ",,", " ", ", , "]
    out = []
    for _ in range(n):
        members = []
        for _ in range(rnd.randint(1, 3)):
            k, it = rnd.choice(keys), rnd.choice(items)
            members.append((k if not it else k + "=" + it)
                           + rnd.choice(params))
        v = members[0]
        for m in members[1:]:
            v += rnd.choice(seps) + m
        out.append(v)
    return out


# --------------------------------------------------------------------------


class TestFields:
    modules = ["deflate", "brotli"]

    @classmethod
    def populate(cls, srv):
        for d in ("i", "gz", "br", "one", "plain", "rev"):
            srv.write("%s/file.txt" % d, TEXT, mtime=OLD)
        srv.write("i/empty.txt", b"", mtime=OLD)
        # a precompressed asset: stored gzip-coded, sent as it is with
        # Content-Encoding: gzip by mod_mime (AddEncoding)
        srv.write("pre/app.js.gz", PRE_GZ, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
<Directory {r}/i>
    CondCache On
    CondCacheIntegrity sha-256 sha-512
</Directory>
<Directory {r}/gz>
    CondCache On
    CondCacheIntegrity sha-256 sha-512
    SetOutputFilter DEFLATE
</Directory>
<Directory {r}/br>
    CondCache On
    CondCacheIntegrity sha-256 sha-512
    SetOutputFilter BROTLI_COMPRESS
</Directory>
<Directory {r}/one>
    CondCache On
    CondCacheIntegrity sha-512
</Directory>
<Directory {r}/rev>
    CondCache On
    CondCacheIntegrity sha-512 sha-256
</Directory>
<Directory {r}/plain>
    CondCache On
</Directory>
<Directory {r}/pre>
    CondCache On
    CondCacheIntegrity sha-256 sha-512
    AddEncoding gzip .gz
    <FilesMatch "\\.js\\.gz$">
        ForceType text/javascript
    </FilesMatch>
</Directory>
""".format(r=srv.docroot)

    def test_identity_200(self, httpd):
        r = httpd.raw("GET", "/i/file.txt")
        assert r.status == 200 and r.body == TEXT
        assert one(r, "Content-Encoding") is None
        assert_fields(r, TEXT)
        assert r.header("Repr-Digest") == r.header("Unencoded-Digest")
        assert r.header("ETag") == sha1_tag(TEXT)
        assert httpd.note(r) in ("hit", "miss")

    def test_agrees_with_sha256sum_and_sha512sum(self, httpd):
        # the coreutils programs, once, over the file the server read
        r = httpd.raw("GET", "/i/file.txt")
        got = dict(parsed_digests(r.header("Repr-Digest")))
        for algo, prog in (("sha-256", "sha256sum"), ("sha-512", "sha512sum")):
            p = run([require_program(prog, "coreutils"),
                     httpd.path("i/file.txt")])
            assert p.returncode == 0, p.stderr
            assert got[algo] == bytes.fromhex(p.stdout.split()[0]), prog

    def test_empty_file(self, httpd):
        r = httpd.raw("GET", "/i/empty.txt")
        assert r.status == 200 and r.body == b""
        assert_fields(r, b"")

    def test_configured_order_and_single_algorithm(self, httpd):
        assert_fields(httpd.raw("GET", "/rev/file.txt"), TEXT,
                      ("sha-512", "sha-256"))
        assert_fields(httpd.raw("GET", "/one/file.txt"), TEXT, ("sha-512",))

    def test_off_by_default(self, httpd):
        r = httpd.raw("GET", "/plain/file.txt")
        assert r.status == 200 and r.header("ETag") == sha1_tag(TEXT)
        assert_no_fields(r)

    @pytest.mark.parametrize("coding", ["gzip", "br"])
    def test_coded_200_has_unencoded_digest_only(self, httpd, coding):
        d = "gz" if coding == "gzip" else "br"
        r = httpd.raw("GET", "/%s/file.txt" % d,
                      [("Accept-Encoding", coding)])
        assert r.status == 200
        assert r.header("Content-Encoding") == coding, r
        assert len(r.body) < len(TEXT)
        assert decode(coding, r.body) == TEXT
        assert one(r, "Repr-Digest") is None, r
        assert_field(r, "Unencoded-Digest", TEXT, ALGOS)
        assert r.header("ETag") == with_suffix(sha1_tag(TEXT), coding)

    @pytest.mark.parametrize("coding", ["gzip", "br"])
    def test_coding_scope_uncoded_response_has_both(self, httpd, coding):
        # the compressor is in the chain but the client takes identity
        d = "gz" if coding == "gzip" else "br"
        r = httpd.raw("GET", "/%s/file.txt" % d,
                      [("Accept-Encoding", "identity")])
        assert r.status == 200 and r.body == TEXT
        assert one(r, "Content-Encoding") is None
        assert_fields(r, TEXT)

    @pytest.mark.parametrize("d,ae", [("i", None), ("gz", "gzip"),
                                      ("br", "br"), ("gz", "identity")])
    def test_head_same_fields_as_get(self, httpd, d, ae):
        h = [("Accept-Encoding", ae)] if ae else []
        g = httpd.raw("GET", "/%s/file.txt" % d, h)
        r = httpd.raw("HEAD", "/%s/file.txt" % d, h)
        assert r.status == 200 and r.body == b""
        assert_fields(r, TEXT)
        assert_field(r, "Unencoded-Digest", TEXT, ALGOS)
        for name in FIELDS:
            if one(g, "Content-Encoding") == one(r, "Content-Encoding"):
                assert one(r, name) == one(g, name), name

    def test_range_206_whole_file_digests(self, httpd):
        r = httpd.raw("GET", "/i/file.txt", [("Range", "bytes=10-99")])
        assert r.status == 206, r
        assert r.body == TEXT[10:100]
        assert r.header("Content-Range") == "bytes 10-99/%d" % len(TEXT)
        assert_fields(r, TEXT)
        # a suffix range, and one through If-Range with the current tag
        r = httpd.raw("GET", "/i/file.txt", [("Range", "bytes=-7"),
                                             ("If-Range", sha1_tag(TEXT))])
        assert r.status == 206 and r.body == TEXT[-7:]
        assert_fields(r, TEXT)
        # not satisfiable: a 416 is no representation of the file
        r = httpd.raw("GET", "/i/file.txt", [("Range", "bytes=999999-")])
        assert r.status == 416, r
        assert_no_fields(r)

    def test_multipart_ranges_206_whole_file_digests(self, httpd):
        r = httpd.raw("GET", "/i/file.txt",
                      [("Range", "bytes=0-9,100-199,-5")])
        assert r.status == 206, r
        assert r.header("Content-Type").startswith("multipart/byteranges")
        for part in (TEXT[0:10], TEXT[100:200], TEXT[-5:]):
            assert part in r.body
        assert_fields(r, TEXT)

    @pytest.mark.parametrize("coding", ["gzip", "br"])
    def test_range_in_coding_scope(self, httpd, coding):
        # whatever the compressor does with a range, the fields stay true:
        # Unencoded-Digest the whole file's, Repr-Digest only uncoded
        d = "gz" if coding == "gzip" else "br"
        r = httpd.raw("GET", "/%s/file.txt" % d,
                      [("Range", "bytes=10-99"), ("Accept-Encoding", coding)])
        assert r.status in (200, 206), r
        assert_fields(r, TEXT)

    @pytest.mark.parametrize("d,ae", [("i", None), ("gz", "gzip"),
                                      ("br", "br")])
    def test_304_has_none(self, httpd, d, ae):
        h = [("Accept-Encoding", ae)] if ae else []
        tag = httpd.raw("GET", "/%s/file.txt" % d, h).header("ETag")
        for method in ("GET", "HEAD"):
            r = httpd.raw(method, "/%s/file.txt" % d,
                          h + [("If-None-Match", tag)])
            assert r.status == 304, r
            assert_no_fields(r)
            r = httpd.raw(method, "/%s/file.txt" % d,
                          h + [("If-Modified-Since", http_date(OLD + 10))])
            assert r.status == 304, r
            assert_no_fields(r)

    @pytest.mark.parametrize("d,ae", [("i", None), ("gz", "gzip")])
    def test_412_has_none(self, httpd, d, ae):
        h = [("Accept-Encoding", ae)] if ae else []
        for cond in [("If-Match", '"nope"'),
                     ("If-Unmodified-Since", http_date(OLD - 10))]:
            for method in ("GET", "HEAD"):
                r = httpd.raw(method, "/%s/file.txt" % d, h + [cond])
                assert r.status == 412, r
                assert_no_fields(r)

    def test_malformed_want_corpus_is_malformed(self):
        """The corpus is what it says, by the npm parser's reading."""
        got = parse_dicts(MALFORMED_WANT + NO_PREFERENCE
                          + [v for v, _ in CHOOSING])
        n = len(MALFORMED_WANT)
        assert [v for v, p in zip(MALFORMED_WANT, got[:n])
                if p is not None] == []
        assert [v for v, p in zip(NO_PREFERENCE, got[n:n + len(NO_PREFERENCE)])
                if p is None] == []
        assert [v for v, p in zip(CHOOSING, got[n + len(NO_PREFERENCE):])
                if p is None] == []
        # and the oracle agrees with what CHOOSING spells out
        assert [wanted(v) for v, _ in CHOOSING] == [a for _, a in CHOOSING]
        assert all(wanted(v) == list(ALGOS)
                   for v in MALFORMED_WANT + NO_PREFERENCE)

    @pytest.mark.parametrize("field", FIELDS)
    @pytest.mark.parametrize("value,expect", CHOOSING,
                             ids=["c%d" % i for i in range(len(CHOOSING))])
    def test_want_chooses(self, httpd, field, value, expect):
        r = httpd.raw("GET", "/i/file.txt", [(WANT[field], value)])
        assert r.status == 200 and r.body == TEXT
        other = FIELDS[1 - FIELDS.index(field)]
        assert_fields(r, TEXT, want={field: expect or None,
                                     other: list(ALGOS)})

    @pytest.mark.parametrize("value", MALFORMED_WANT + NO_PREFERENCE,
                             ids=["m%d" % i for i in range(
                                 len(MALFORMED_WANT + NO_PREFERENCE))])
    def test_want_malformed_or_unknown_all_configured(self, httpd, value):
        h = [("Want-Repr-Digest", value), ("Want-Unencoded-Digest", value)]
        for method in ("GET", "HEAD"):
            r = httpd.raw(method, "/i/file.txt", h)
            assert r.status == 200, (value, r)
            assert_fields(r, TEXT)
        r = httpd.raw("GET", "/rev/file.txt", h)
        assert r.status == 200
        assert_fields(r, TEXT, ("sha-512", "sha-256"))

    def test_want_in_coding_scope(self, httpd):
        r = httpd.raw("GET", "/gz/file.txt",
                      [("Accept-Encoding", "gzip"),
                       ("Want-Unencoded-Digest", "sha-512=10, sha-256=1"),
                       ("Want-Repr-Digest", "sha-256=5")])
        assert r.header("Content-Encoding") == "gzip"
        assert_fields(r, TEXT, want={"Unencoded-Digest": ["sha-512",
                                                          "sha-256"]})

    def test_want_fields_repeated_lines(self, httpd):
        # two lines of one field are one list (RFC 9110 5.3): httpd joins
        # them with ", "
        r = httpd.raw("GET", "/i/file.txt",
                      [("Want-Repr-Digest", "sha-512=10"),
                       ("Want-Repr-Digest", "sha-256=1")])
        assert_fields(r, TEXT, want={"Repr-Digest": ["sha-512", "sha-256"]})

    def test_want_single_configured_algorithm(self, httpd):
        # the only configured one, unrated while another is: left out;
        # rated 0: left out; naming only others: all configured (it)
        for value, expect in [("sha-256=10", ["sha-512"]),
                              ("sha-256=10, sha-512=0", None),
                              ("sha-256=10, sha-512=1", ["sha-512"]),
                              ("nonsense,", ["sha-512"])]:
            r = httpd.raw("GET", "/one/file.txt",
                          [("Want-Repr-Digest", value)])
            assert r.status == 200
            assert_fields(r, TEXT, ("sha-512",),
                          want={"Repr-Digest": expect})

    def test_want_fuzz_agrees_with_npm_parser(self, httpd):
        """Seeded near-dictionaries: what the module sends is what the
        npm parser's reading of the field asks for, and never an error."""
        values = want_fuzz_values(240)
        parse_dicts(values)
        bad = []
        for i in range(0, len(values), 2):
            ru, rr = values[i], values[i + 1]
            r = httpd.raw("HEAD", "/i/file.txt",
                          [("Want-Unencoded-Digest", ru),
                           ("Want-Repr-Digest", rr)])
            got = {}
            for name in FIELDS:
                v = one(r, name)
                got[name] = [k for k, _ in parsed_digests(v)] if v else []
            if r.status != 200 or got != {"Unencoded-Digest": wanted(ru),
                                          "Repr-Digest": wanted(rr)}:
                bad.append((ru, rr, r.status, got))
        assert not bad, bad[:10]

    @pytest.mark.parametrize("value,expect", RFC9651_NEW_TYPES,
                             ids=["n%d" % i for i in
                                  range(len(RFC9651_NEW_TYPES))])
    def test_want_with_rfc9651_date_or_display_string(self, httpd, value,
                                                      expect):
        assert parse_dicts([value])[0] is not None, value
        assert wanted(value) == expect
        r = httpd.raw("GET", "/i/file.txt", [("Want-Repr-Digest", value)])
        assert r.status == 200
        assert_fields(r, TEXT, want={"Repr-Digest": expect})

    def test_precompressed_file_unencoded_digest(self, httpd):
        r = httpd.raw("GET", "/pre/app.js.gz", [("Accept-Encoding", "gzip")])
        assert r.status == 200 and r.body == PRE_GZ
        assert r.header("Content-Encoding") == "gzip"
        assert r.header("Content-Type") == "text/javascript"
        # Repr-Digest: the coded representation, the bytes as stored
        if one(r, "Repr-Digest") is not None:
            assert_field(r, "Repr-Digest", PRE_GZ, ALGOS)
        # Unencoded-Digest: the content before its coding, or none
        if one(r, "Unencoded-Digest") is not None:
            assert_field(r, "Unencoded-Digest", gzip.decompress(r.body),
                         ALGOS)

    def test_condcache_etag_integrity_matches_server(self, httpd):
        if not os.access(TOOL, os.X_OK):
            pytest.fail("%s is not built (make -f Makefile.apxs)" % TOOL,
                        pytrace=False)
        path = httpd.path("i/file.txt")
        served = httpd.raw("GET", "/i/file.txt").header("Unencoded-Digest")
        for arg, algos in [("--integrity=sha-256,sha-512", ALGOS),
                           ("--integrity=sha-512", ("sha-512",)),
                           ("--integrity", ("sha-256",))]:
            p = run([TOOL, arg, path])
            assert p.returncode == 0, p.stderr
            lines = p.stdout.splitlines()
            assert len(lines) == len(algos), p.stdout
            members = []
            for line, algo in zip(lines, algos):
                member, sri, name = line.split("  ")
                assert name == path
                members.append(member)
                assert sri == INTEGRITY_HASHES[algo] + "-" + b64(
                    getattr(hashlib, INTEGRITY_HASHES[algo])(TEXT).digest())
                assert sri == sri_value(algo, TEXT)
            if algos == ALGOS:
                # exactly the server's field, member by member
                assert ", ".join(members) == served
            assert parsed_digests(", ".join(members)) == \
                [(a, integrity_digest(a, TEXT)) for a in algos]


# --------------------------------------------------------------------------
# .htaccess, and bad arguments


class TestHtaccess:
    @classmethod
    def populate(cls, srv):
        for d in ("h/on", "h/on/off", "h/none", "h/flip", "h/bad",
                  "s", "s/off", "s/other"):
            srv.write("%s/file.txt" % d, TEXT, mtime=OLD)
        srv.write("h/on/.htaccess", "CondCacheIntegrity sha-512 sha-256\n")
        srv.write("h/on/off/.htaccess", "CondCacheIntegrity Off\n")
        srv.write("h/flip/.htaccess", "CondCacheIntegrity sha-256\n")
        srv.write("h/bad/.htaccess", "CondCacheIntegrity md5\n")
        srv.write("s/off/.htaccess", "CondCacheIntegrity off\n")
        srv.write("s/other/.htaccess", "CondCacheIntegrity sha-512\n")

    @classmethod
    def conf(cls, srv):
        return """
<Directory {r}/h>
    AllowOverride FileInfo
    CondCache On
</Directory>
<Directory {r}/s>
    AllowOverride FileInfo
    CondCache On
    CondCacheIntegrity sha-256
</Directory>
""".format(r=srv.docroot)

    def test_htaccess_turns_on(self, httpd):
        r = httpd.raw("GET", "/h/on/file.txt")
        assert r.status == 200
        assert_fields(r, TEXT, ("sha-512", "sha-256"))
        assert_no_fields(httpd.raw("GET", "/h/none/file.txt"))

    def test_htaccess_off_below_htaccess_on(self, httpd):
        r = httpd.raw("GET", "/h/on/off/file.txt")
        assert r.status == 200 and r.header("ETag") == sha1_tag(TEXT)
        assert_no_fields(r)

    def test_htaccess_off_and_other_below_server_config(self, httpd):
        assert_fields(httpd.raw("GET", "/s/file.txt"), TEXT, ("sha-256",))
        assert_no_fields(httpd.raw("GET", "/s/off/file.txt"))
        assert_fields(httpd.raw("GET", "/s/other/file.txt"), TEXT,
                      ("sha-512",))

    def test_htaccess_changed_takes_effect(self, httpd):
        path = "/h/flip/file.txt"
        assert_fields(httpd.raw("GET", path), TEXT, ("sha-256",))
        httpd.write("h/flip/.htaccess", "CondCacheIntegrity Off\n")
        assert_no_fields(httpd.raw("GET", path))
        httpd.write("h/flip/.htaccess", "CondCacheIntegrity sha-256 sha-512\n")
        r = httpd.raw("GET", path)
        assert_fields(r, TEXT, ALGOS)
        # the digest missing for the tagged file was added to the table
        before = httpd.status()["BytesHashed"]
        r = httpd.raw("GET", path)
        assert_fields(r, TEXT, ALGOS)
        assert httpd.note(r) == "hit"
        assert httpd.status()["BytesHashed"] == before

    @pytest.mark.expect_errors(r"CondCacheIntegrity")
    def test_htaccess_bad_argument_is_500_naming_it(self, httpd):
        off = httpd.error_log_size()
        r = httpd.raw("GET", "/h/bad/file.txt")
        assert r.status == 500
        assert_no_fields(r)
        lines, _ = httpd.error_log_lines_since(off)
        assert any("CondCacheIntegrity" in ln and "md5" in ln
                   for ln in lines), lines


def directory(srv, *lines):
    return "<Directory %s>\n  CondCache On\n  %s\n</Directory>" % (
        srv.docroot, "\n  ".join(lines))


BAD_ARGS = [
    "Off sha-256", "sha-256 Off", "off off", "md5", "sha-1", "sha256",
    "sha-384", "crc32c", "sha-256 sha-256", "sha-512 SHA-512",
    "sha-256 sha-512 sha-256", "sha-256 sha-512 sha-384", "", "On",
    "sha-256,sha-512", "\"\"",
]


@pytest.mark.parametrize("args", BAD_ARGS,
                         ids=["b%d" % i for i in range(len(BAD_ARGS))])
@pytest.mark.parametrize("where", ["directory", "server"])
def test_bad_arguments_fail_config_test(new_server, args, where):
    line = ("CondCacheIntegrity " + args).strip()
    conf = (lambda s: directory(s, line)) if where == "directory" \
        else (lambda s: line + "\n" + directory(s))
    srv = new_server("integrity-bad", conf, start=False)
    rc, out = srv.config_test()
    assert rc != 0, (line, out)
    msg = out.replace(srv.conf_path, "<conf>")
    assert re.search(r"\bCondCacheIntegrity\b", msg), (line, out)
    assert "Syntax OK" not in out


GOOD_ARGS = ["Off", "off", "sha-256", "sha-512", "sha-256 sha-512",
             "sha-512 sha-256"]


def test_good_arguments_pass_config_test(new_server):
    for args in GOOD_ARGS:
        srv = new_server("integrity-good",
                         lambda s: "CondCacheIntegrity %s\n%s" % (
                             args, directory(s, "CondCacheIntegrity " + args)),
                         start=False)
        rc, out = srv.config_test()
        assert rc == 0 and "Syntax OK" in out, (args, out)


# --------------------------------------------------------------------------
# One read for every digest


class TestOneRead:
    @classmethod
    def populate(cls, srv):
        # new files of 4 MiB, hashed in the request (inline max raised)
        cls.data = {}
        for name in ("f1", "f2", "f3"):
            cls.data[name] = os.urandom(MIB) * 4
            srv.write("o/%s.bin" % name, cls.data[name], mtime=OLD)
        # for concurrent requests: long enough to hash that they overlap
        cls.data["f4"] = os.urandom(MIB) * 12
        srv.write("o/f4.bin", cls.data["f4"], mtime=OLD)
        # above the default CondCacheInlineHashMax (1 MiB)
        cls.data["big"] = os.urandom(MIB) * 4
        srv.write("q/big.bin", cls.data["big"], mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
Alias /t/ {r}/o/
Alias /s/ {r}/o/
<Directory {r}/o>
    CondCache On
    CondCacheDigest sha1
    CondCacheIntegrity sha-256 sha-512
    CondCacheInlineHashMax 16777216
</Directory>
<Location /t/>
    CondCacheIntegrity Off
</Location>
<Location /s/>
    CondCacheDigest sha256
    CondCacheIntegrity sha-256
</Location>
Alias /qt/ {r}/q/
<Directory {r}/q>
    CondCache On
    CondCacheIntegrity sha-256 sha-512
</Directory>
<Location /qt/>
    CondCacheIntegrity Off
</Location>
""".format(r=srv.docroot)

    def get(self, httpd, path, headers=()):
        before = httpd.status()
        r = httpd.raw("GET", path, list(headers))
        after = httpd.status()
        return r, {k: after[k] - before[k]
                   for k in ("BytesHashed", "FilesHashed", "Inserts",
                             "QueueBytes")}

    def test_new_file_all_digests_one_read(self, httpd):
        data = self.data["f1"]
        r, d = self.get(httpd, "/o/f1.bin")
        assert r.status == 200 and r.body == data
        assert httpd.note(r) == "miss"
        assert d["BytesHashed"] == len(data), d
        assert d["FilesHashed"] == 1, d
        # three digests, each an entry of its own
        assert d["Inserts"] == 3, d
        assert r.header("ETag") == sha1_tag(data)
        assert_fields(r, data)
        # again: nothing hashed, same fields
        r, d = self.get(httpd, "/o/f1.bin")
        assert httpd.note(r) == "hit"
        assert d["BytesHashed"] == 0 and d["FilesHashed"] == 0, d
        assert_fields(r, data)
        r, d = self.get(httpd, "/o/f1.bin",
                        [("If-None-Match", sha1_tag(data))])
        assert r.status == 304 and d["BytesHashed"] == 0, (r, d)
        assert_no_fields(r)

    def test_integrity_added_for_tagged_file_reads_once_more(self, httpd):
        data = self.data["f2"]
        # tagged in a scope without integrity (the same file via /t/)
        r, d = self.get(httpd, "/t/f2.bin")
        assert r.status == 200 and r.body == data
        assert r.header("ETag") == sha1_tag(data)
        assert_no_fields(r)
        assert d["BytesHashed"] == len(data) and d["FilesHashed"] == 1, d
        # now a scope that also wants sha-256 and sha-512: one more read
        r, d = self.get(httpd, "/o/f2.bin")
        assert r.status == 200 and r.body == data
        assert r.header("ETag") == sha1_tag(data)
        assert_fields(r, data)
        assert d["BytesHashed"] == len(data) and d["FilesHashed"] == 1, d
        assert d["Inserts"] == 2, d     # the missing digests only
        # and then none, in either scope
        for path in ("/o/f2.bin", "/t/f2.bin", "/o/f2.bin"):
            r, d = self.get(httpd, path)
            assert r.status == 200 and httpd.note(r) == "hit", path
            assert d["BytesHashed"] == 0, (path, d)

    def test_sha256_tag_and_sha256_field_share_one_digest(self, httpd):
        data = self.data["f3"]
        r, d = self.get(httpd, "/s/f3.bin")
        assert r.status == 200 and r.body == data
        assert r.header("ETag") == sha256_tag(data)
        assert_fields(r, data, ("sha-256",))
        assert d["BytesHashed"] == len(data) and d["Inserts"] == 1, d
        # the tag and the field name the same digest
        assert r.header("ETag") == '"%s"' % sri_value("sha-256", data)
        # the other scope adds sha1 and sha-512 (not sha-256 again)
        r, d = self.get(httpd, "/o/f3.bin")
        assert_fields(r, data)
        assert d["BytesHashed"] == len(data) and d["Inserts"] == 2, d
        r, d = self.get(httpd, "/s/f3.bin")
        assert httpd.note(r) == "hit" and d["BytesHashed"] == 0, d


    def test_missing_digests_hashed_once_for_concurrent_requests(self,
                                                                 httpd):
        data, n = self.data["f4"], 6
        r = httpd.raw("HEAD", "/t/f4.bin")
        assert r.status == 200 and r.header("ETag") == sha1_tag(data)
        # n HEADs at the same moment on connections opened beforehand
        req = b"HEAD /o/f4.bin HTTP/1.1\r\nHost: x\r\n" \
              b"Connection: close\r\n\r\n"
        socks = [socket.create_connection((httpd.host, httpd.port),
                                          timeout=30) for _ in range(n)]
        barrier = threading.Barrier(n)
        heads = [b""] * n

        def send(i):
            try:
                barrier.wait()
                socks[i].sendall(req)
                while b"\r\n\r\n" not in heads[i]:
                    chunk = socks[i].recv(65536)
                    if not chunk:
                        break
                    heads[i] += chunk
            finally:
                socks[i].close()

        before = httpd.status()
        threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        after = httpd.status()
        want = "Unencoded-Digest: " + integrity_field(data, ALGOS)
        assert all(h.startswith(b"HTTP/1.1 200") and want.encode() in h
                   for h in heads), heads
        d = {k: after[k] - before[k] for k in ("FilesHashed", "BytesHashed",
                                               "Waits")}
        assert d["FilesHashed"] == 1 and d["BytesHashed"] == len(data), d

    def test_missing_digests_of_big_file_left_to_worker(self, httpd):
        data = self.data["big"]
        before = httpd.status()
        r = httpd.raw("GET", "/qt/big.bin")
        assert r.status == 200 and httpd.note(r) == "pending"
        httpd.wait_status(
            lambda s: s["QueueDone"] >= before["QueueDone"] + 1
            and s["QueueWaiting"] == 0, "the big file hashed", QUEUE_TIMEOUT)
        r = httpd.raw("GET", "/qt/big.bin")
        assert httpd.note(r) == "hit" and r.header("ETag") == sha1_tag(data)
        # the scope with integrity: its digests are missing, and the file
        # is above the inline limit: served at once without them, queued
        r, d = self.get(httpd, "/q/big.bin")
        assert r.status == 200 and r.body == data
        # the worker may have hashed it already by the second status read:
        # its bytes count in BytesHashed too, and in QueueBytes
        assert d["BytesHashed"] - d["QueueBytes"] == 0, (
            "hashed in the request", d, httpd.note(r))
        assert_no_fields(r)
        st = httpd.wait_status(
            lambda s: s["QueueDone"] >= before["QueueDone"] + 2
            and s["QueueWaiting"] == 0, "the digests added", QUEUE_TIMEOUT)
        r = httpd.raw("GET", "/q/big.bin")
        assert_fields(r, data)
        assert httpd.status()["BytesHashed"] == st["BytesHashed"]


# --------------------------------------------------------------------------
# The fields describe the bytes sent, during deploys


def test_fields_match_bodies_during_atomic_deploys(new_server):
    """A writer renames new versions into place while readers fetch: the
    Unencoded-Digest and Repr-Digest of every 200 are the digests of the
    body it carried, never another version's."""
    versions = [b"version %d\n" % i * (300 + 900 * i) for i in range(5)]
    by_sha256 = {integrity_digest("sha-256", v): v for v in versions}

    def populate(s):
        s.write("d/file.txt", versions[0])

    srv = new_server("integrity-deploy",
                     lambda s: "<Directory %s/d>\n  CondCache On\n"
                               "  CondCacheIntegrity sha-256 sha-512\n"
                               "</Directory>" % s.docroot,
                     populate=populate)
    path = srv.path("d/file.txt")
    stop = threading.Event()
    errors, values = [], set()
    counts = {"ok": 0, "fields": 0, "304": 0}
    lock = threading.Lock()

    member_re = re.compile(r"^sha-256=:([A-Za-z0-9+/=]+):, "
                           r"sha-512=:([A-Za-z0-9+/=]+):$")

    def reader(k):
        last = None
        while not stop.is_set():
            hdrs = [("If-None-Match", last)] if last and k == 0 else []
            try:
                r = srv.raw("GET", "/d/file.txt", hdrs)
            except (OSError, ConnectionError) as e:
                errors.append(("request", repr(e)))
                return
            with lock:
                if r.status == 304:
                    counts["304"] += 1
                    if r.header("Unencoded-Digest") or \
                            r.header("Repr-Digest"):
                        errors.append(("304 with fields", r.headers))
                    continue
                if r.status != 200:
                    errors.append(("status", r.status))
                    continue
                counts["ok"] += 1
                if r.body not in versions:
                    errors.append(("torn body", len(r.body)))
                    continue
                tag = r.header("ETag")
                if tag is not None and tag != sha1_tag(r.body):
                    errors.append(("tag/body", tag, len(r.body)))
                ud, rd = r.header_all("Unencoded-Digest"), \
                    r.header_all("Repr-Digest")
                if not ud and not rd:
                    continue        # sent without digests ("changed")
                counts["fields"] += 1
                if len(ud) != 1 or ud != rd:
                    errors.append(("fields", ud, rd))
                    continue
                values.add(ud[0])
                m = member_re.match(ud[0])
                if not m:
                    errors.append(("form", ud[0]))
                    continue
                s256 = base64.b64decode(m.group(1))
                if s256 != integrity_digest("sha-256", r.body):
                    other = by_sha256.get(s256)
                    errors.append(("digest of another body", len(r.body),
                                   len(other) if other else None))
                elif base64.b64decode(m.group(2)) != \
                        integrity_digest("sha-512", r.body):
                    errors.append(("sha-512 wrong", len(r.body)))
            last = tag

    threads = [threading.Thread(
        target=deploy_versions, args=(path, versions, stop))] + \
        [threading.Thread(target=reader, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join(30)
    print("deploy counts", counts)
    assert not errors, (errors[:10], counts)
    assert counts["ok"] > 50, counts
    assert counts["fields"] > counts["ok"] // 2, counts
    # every value seen, read by the npm parser too, is a version's digests
    for v in values:
        digests = dict(parsed_digests(v))
        body = by_sha256[digests["sha-256"]]
        assert digests["sha-512"] == integrity_digest("sha-512", body)


# --------------------------------------------------------------------------
# The background worker and the warm-up


class TestBackground:
    @classmethod
    def populate(cls, srv):
        cls.big = os.urandom(MIB) * 2           # above the 1 MiB default
        srv.write("bg/big.bin", cls.big, mtime=OLD)
        srv.write("w/warm.txt", TEXT, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
CondCacheWarmUp {r}/w
<Directory {r}/bg>
    CondCache On
    CondCacheIntegrity sha-256 sha-512
</Directory>
<Directory {r}/w>
    CondCache On
    CondCacheIntegrity sha-512
</Directory>
""".format(r=srv.docroot)

    def test_pending_has_no_fields_then_hashed_has_them(self, httpd):
        before = httpd.status()
        r = httpd.raw("GET", "/bg/big.bin")
        assert r.status == 200 and r.body == self.big
        assert httpd.note(r) == "pending"
        assert r.header("ETag") is None
        assert_no_fields(r)
        st = httpd.wait_status(
            lambda s: s["QueueDone"] >= before["QueueDone"] + 1
            and s["QueueWaiting"] == 0, "the big file hashed", QUEUE_TIMEOUT)
        # every digest in the worker's one read
        assert st["QueueBytes"] - before["QueueBytes"] == len(self.big), st
        assert st["QueueStored"] - before["QueueStored"] == 1, st
        for method in ("GET", "HEAD"):
            r = httpd.raw(method, "/bg/big.bin")
            assert r.status == 200
            assert httpd.note(r) == "hit"
            assert r.header("ETag") == sha1_tag(self.big)
            assert_fields(r, self.big)
        r = httpd.raw("GET", "/bg/big.bin", [("Range", "bytes=5-9")])
        assert r.status == 206 and r.body == self.big[5:10]
        assert_fields(r, self.big)
        assert httpd.status()["BytesHashed"] == st["BytesHashed"]

    def test_warm_up_stores_integrity_digests(self, httpd):
        st = httpd.wait_status(lambda s: s["WarmUpState"] == "done",
                               "warm-up done", QUEUE_TIMEOUT)
        assert st["WarmUpHashed"] >= 1, st
        r = httpd.raw("GET", "/w/warm.txt")
        assert r.status == 200 and httpd.note(r) == "hit"
        assert r.header("ETag") == sha1_tag(TEXT)
        assert_fields(r, TEXT, ("sha-512",))
        assert httpd.status()["BytesHashed"] == st["BytesHashed"]


# --------------------------------------------------------------------------
# A real browser

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>integrity</title>
<link rel="stylesheet" href="style.css">
<script src="a.js"></script>
<script src="gz/b.js"></script>
<script src="c.js" integrity="%s"></script>
<script src="both/d.js"></script>
</head><body><p id="p">styled</p>
<script>window.pageDone = 1;</script></body></html>
"""
CSS = b"#p { color: rgb(4, 5, 6); }\n" + b"/* padding to compress */\n" * 80
PAD = b"// padding so that there is something to compress\n" * 80
SCRIPTS = {
    "a.js": b"window.ranA = (window.ranA || 0) + 1;\n" + PAD,
    "gz/b.js": b"document.documentElement.dataset.ranB = 'yes';\n" + PAD,
    "c.js": b"window.ranC = (window.ranC || 0) + 1;\n" + PAD,
    "both/d.js": b"window.ranD = (window.ranD || 0) + 1;\n" + PAD,
}
MARKERS = {"a.js": ("window.ranA", 1),
           "gz/b.js": ("document.documentElement.dataset.ranB", "yes"),
           "c.js": ("window.ranC", 1),
           "both/d.js": ("window.ranD", 1)}


def browser(tmp_path, name):
    b = Chromium(need_program("chromium", "chromium", "chromium-browser",
                              "google-chrome"),
                 str(tmp_path / ("profile-" + name)),
                 str(tmp_path / "chromium.log"))
    try:
        b.start()
        b.call("Log.enable", session=True)
    except Exception as e:  # noqa: BLE001 - no usable browser here
        b.close()
        pytest.skip("chromium does not start headless here: %s" % e)
    return b


def security_messages(b):
    return [m["params"]["entry"]["text"] for m in b.events
            if m.get("method") == "Log.entryAdded"
            and m["params"]["entry"].get("source") == "security"]


def response_headers(responses, suffix):
    got = [r for r in responses if r["url"].endswith(suffix)]
    assert got, "no response for %s" % suffix
    return {k.lower(): v for k, v in got[-1]["headers"].items()}


class TestChromium:
    modules = ["deflate"]

    @classmethod
    def populate(cls, srv):
        srv.write("p/page.html", PAGE % sri_value("sha-256",
                                                  SCRIPTS["c.js"]).encode(),
                  mtime=OLD)
        srv.write("p/style.css", CSS, mtime=OLD)
        for name, data in SCRIPTS.items():
            srv.write("p/" + name, data, mtime=OLD)
        srv.write("p/pre/page.html", b'<!doctype html><html><head>'
                  b'<script src="app.js.gz"></script></head><body>'
                  b'<script>window.pageDone = 1;</script></body></html>',
                  mtime=OLD)
        srv.write("p/pre/app.js.gz", PRE_GZ, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
AddType text/javascript .js
<Directory {r}/p>
    CondCache On
    CondCacheNoCache On
    CondCacheIntegrity sha-256
</Directory>
<Directory {r}/p/gz>
    SetOutputFilter DEFLATE
</Directory>
<Directory {r}/p/both>
    CondCacheIntegrity sha-256 sha-512
</Directory>
<Directory {r}/p/pre>
    AddEncoding gzip .gz
    <FilesMatch "\\.js\\.gz$">
        ForceType text/javascript
    </FilesMatch>
</Directory>
""".format(r=srv.docroot)

    def check_page(self, b):
        for name, (expr, value) in MARKERS.items():
            assert b.evaluate(expr) == value, name
        assert b.evaluate("window.pageDone") == 1
        assert b.evaluate("getComputedStyle(document.getElementById('p'))"
                          ".color") == "rgb(4, 5, 6)"
        assert security_messages(b) == []

    def test_scripts_and_style_with_fields_run(self, httpd, tmp_path):
        b = browser(tmp_path, "run")
        try:
            responses = b.load(httpd.url("/p/page.html"))
            self.check_page(b)
            # what the browser was sent: the fields (gzip: Unencoded only)
            for name, data in list(SCRIPTS.items()) + [("style.css", CSS)]:
                h = response_headers(responses, "/p/" + name)
                algos = ALGOS if name.startswith("both/") else ("sha-256",)
                assert h.get("unencoded-digest") == \
                    integrity_field(data, algos), (name, h)
                if name.startswith("gz/"):
                    assert h.get("content-encoding") == "gzip", h
                    assert "repr-digest" not in h, h
                else:
                    assert "content-encoding" not in h, h
                    assert h.get("repr-digest") == \
                        integrity_field(data, algos), (name, h)
            # a new navigation revalidates (no-cache): 304s carry no
            # fields, and the scripts from the cache still run
            responses = b.load(httpd.url("/p/page.html?again"))
            self.check_page(b)
        finally:
            b.close()

    def test_precompressed_script_runs(self, httpd, tmp_path):
        b = browser(tmp_path, "pre")
        try:
            responses = b.load(httpd.url("/p/pre/page.html"))
            assert b.evaluate("window.pageDone") == 1
            ran = b.evaluate("window.preRan")
            h = response_headers(responses, "/p/pre/app.js.gz")
            messages = security_messages(b)
        finally:
            b.close()
        assert h.get("content-encoding") == "gzip", h
        if ran == 1 and h.get("unencoded-digest") not in (
                None, integrity_field(PRE_JS, ("sha-256",))):
            pytest.skip("this Chromium does not enforce Unencoded-Digest")
        assert ran == 1, (h, messages)

    def test_control_wrong_unencoded_digest_is_blocked(self, new_server,
                                                       tmp_path):
        """Without the module: mod_headers sets a wrong Unencoded-Digest on
        one script and the right one on another."""
        good = b"window.goodRan = 1;\n" + PAD
        bad = b"window.badRan = 1;\n" + PAD
        wrong = b64(hashlib.sha256(b"not the script").digest())
        assert len(base64.b64decode(wrong)) == 32

        def populate(s):
            s.write("c/page.html", b'<!doctype html><html><head>'
                    b'<script src="good.js"></script>'
                    b'<script src="bad.js"></script>'
                    b'<script src="plain.js"></script></head>'
                    b'<body><script>window.pageDone = 1;</script>'
                    b'</body></html>')
            s.write("c/good.js", good)
            s.write("c/bad.js", bad)
            s.write("c/plain.js", b"window.plainRan = 1;\n")

        conf = """
AddType text/javascript .js
<Files good.js>
    Header set Unencoded-Digest "%s"
</Files>
<Files bad.js>
    Header set Unencoded-Digest "sha-256=:%s:"
</Files>
""" % (integrity_member("sha-256", good), wrong)
        srv = new_server("integrity-control", conf, modules=["headers"],
                         with_module=False, populate=populate)
        b = browser(tmp_path, "control")
        try:
            responses = b.load(srv.url("/c/page.html"))
            assert b.evaluate("window.pageDone") == 1
            assert b.evaluate("window.plainRan") == 1
            assert b.evaluate("window.goodRan") == 1
            h = response_headers(responses, "/c/bad.js")
            assert h.get("unencoded-digest") == "sha-256=:%s:" % wrong
            ran = b.evaluate("window.badRan")
            version = b.call("Browser.getVersion").get("product")
            messages = security_messages(b)
        finally:
            b.close()
        if ran == 1:
            pytest.skip("%s does not enforce Unencoded-Digest: the script "
                        "with a wrong one ran (only this control is "
                        "skipped)" % version)
        assert ran is None
        assert any("unencoded-digest" in m.lower() and "bad.js" in m
                   for m in messages), messages
        print("%s enforces Unencoded-Digest: %s" % (version, messages))
