"""Reliability 5: hostile and malformed conditional headers.

The corpus is pytest/data/hostile_headers.txt (one case per line, with the
expected status; its header explains the format, the macros and the
decisions).  Each case is sent with the raw socket client, exactly as
written, on a new connection.  Every case must get its expected status, and
never a 5xx; a 200/206/304 carries the file's tag, a 200 the whole body, a
206 bytes 0-9.  No 304 or 206 is allowed where the case does not list it
(no false 304 / 206).  The harness checks the error_log after each case
(no crash line).
"""
import os
import re
import time

import pytest

from clients import build_request, next_req_id, RawConnection
from headers import asctime_date, http_date, rfc850_date
from tags import sha1_tag

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                      "hostile_headers.txt")
OLD = 1600000000
DATA = b"".join(b"hostile header test line %03d\n" % i for i in range(64))
TAG = sha1_tag(DATA)
RANGE = (0, 9)


def _swapcase_tag(tag):
    return tag[0] + tag[1:-1].swapcase() + tag[-1]


def macros():
    return {
        "EMPTY": b"",
        "TAG": TAG.encode(),
        "OPAQUE": TAG[1:-1].encode(),
        "TAGCUT": (TAG[:-2] + '"').encode(),
        "TAGCASE": _swapcase_tag(TAG).encode(),
        "LM": http_date(OLD).encode(),
        "LM850": rfc850_date(OLD).encode(),
        "LMASC": asctime_date(OLD).encode(),
        "LM-1": http_date(OLD - 1).encode(),
        "LM+1": http_date(OLD + 1).encode(),
        "PAST": http_date(OLD - 86400).encode(),
        "FUTURE": http_date(time.time() + 365 * 86400).encode(),
    }


_ESC = re.compile(rb"\\(x[0-9A-Fa-f]{2}|[trn\\])")


def unescape(b):
    def sub(m):
        e = m.group(1)
        if e.startswith(b"x"):
            return bytes([int(e[1:], 16)])
        return {b"t": b"\t", b"r": b"\r", b"n": b"\n", b"\\": b"\\"}[e]
    return _ESC.sub(sub, b)


def expand(name, value):
    """The bytes of a corpus value (see the corpus header)."""
    m = macros()
    parts = []          # bytes, or ("fill", total, text)
    raw = value.encode("latin-1")
    pos = 0
    for mo in re.finditer(rb"\{([^{}]*)\}", raw):
        parts.append(unescape(raw[pos:mo.start()]))
        inner = mo.group(1).decode("latin-1")
        words = inner.split(" ", 2)
        if words[0] == "rep":
            n, text = int(words[1]), words[2] if len(words) > 2 else ""
            parts.append(b"".join(unescape((text.replace("%d", str(i)))
                                           .encode("latin-1"))
                                  for i in range(n)))
        elif words[0] == "fill":
            parts.append(("fill", int(words[1]),
                          unescape(words[2].encode("latin-1"))))
        elif inner in m:
            parts.append(m[inner])
        else:
            raise ValueError("unknown macro {%s}" % inner)
        pos = mo.end()
    parts.append(unescape(raw[pos:]))
    fixed = sum(len(p) for p in parts if isinstance(p, bytes))
    out = b""
    for p in parts:
        if isinstance(p, bytes):
            out += p
        else:
            _, total, text = p
            n = total - len(name) - 2 - fixed
            assert n >= 0, "fill %d too small for %r" % (total, value)
            out += (text * (n // max(len(text), 1) + 1))[:n]
    return out


def load_corpus():
    cases = []
    with open(CORPUS, encoding="latin-1") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            assert len(cols) >= 3 and len(cols) % 2 == 1, \
                "%s:%d: bad columns" % (CORPUS, lineno)
            expect = {int(x) for x in cols[0].split("|")}
            headers = []
            for i in range(1, len(cols), 2):
                name, count = cols[i], 1
                m = re.match(r"^(.*)\*(\d+)$", name)
                if m:
                    name, count = m.group(1), int(m.group(2))
                headers += [(name, cols[i + 1])] * count
            cases.append((lineno, expect, headers, line))
    return cases


CASES = load_corpus()


def test_corpus_is_big_enough():
    assert len(CASES) >= 80, len(CASES)
    kinds = {h[0].strip().lower() for _, _, hs, _ in CASES for h in hs}
    assert {"if-none-match", "if-match", "if-range", "if-modified-since",
            "if-unmodified-since"} <= kinds


class TestHostileHeaders:

    @classmethod
    def populate(cls, srv):
        srv.write("h/a.txt", DATA, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return "<Directory %s/h>\n  CondCache On\n</Directory>" % srv.docroot

    def test_baseline(self, httpd):
        r = httpd.raw("GET", "/h/a.txt")
        assert r.status == 200 and r.body == DATA
        assert r.header("ETag") == TAG
        assert r.header("Last-Modified") == http_date(OLD)

    @pytest.mark.parametrize("lineno,expect,headers,line", CASES,
                             ids=["L%d" % c[0] for c in CASES])
    def test_case(self, httpd, lineno, expect, headers, line):
        hdrs = [(name, expand(name, value)) for name, value in headers]
        names = {n.strip().lower() for n, _ in hdrs}
        if "if-range" in names and "range" not in names:
            hdrs.append(("Range", b"bytes=%d-%d" % RANGE))
        data = build_request("GET", "/h/a.txt", hdrs,
                             host="%s:%d" % (httpd.host, httpd.port),
                             req_id=next_req_id())
        with RawConnection(httpd.host, httpd.port) as c:
            c.send(data)
            r = c.read_response("GET")
        where = "corpus line %d: %r -> %d" % (lineno, line[:200], r.status)
        assert r.status < 500, where
        assert r.status in expect, where
        if r.status in (200, 206, 304):
            assert r.header("ETag") == TAG, where
        if r.status == 200:
            assert r.body == DATA, where
        elif r.status == 206:
            assert r.body == DATA[RANGE[0]:RANGE[1] + 1], where
        elif r.status in (304, 412, 400):
            assert r.status != 304 or r.body == b"", where
