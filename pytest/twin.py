"""Twin servers: the same docroot, the same configuration, the same requests,
with mod_condcache ("on": loaded, CondCache On where the test says) and
without it ("off": not loaded at all, which is what httpd sends without the
module).  The module's promise is checked on every pair of responses:

  - A response the module does not produce ("alone") is byte for byte the
    twin's: status line, every header (but Date, and port numbers and
    multipart boundaries that differ between any two servers) and body.
  - A response it produces ("ours") differs only in ETag (the content tag
    of the file, with the coding suffix or variant-list part the twin's
    tag has), Cache-Control and Expires where the test configured the
    module's cache directives, and the module's note.  A 304 where a
    compression filter runs has what RFC 9110 15.4.5 asks and core's 304
    lacks: the 200's "Vary: Accept-Encoding" and ETag coding suffix, and no
    Content-Encoding (which mod_brotli leaves on core's 304).

Module directives in a configuration or a .htaccess are written inside
<IfModule mod_condcache.c>, as a tenant would, so one docroot serves both.
"""
import re

from clients import RawConnection, next_req_id
from logs import LEFT_NOTES, PRODUCED_NOTES
from tags import sha1_tag, split_tag

# Headers that differ between any two servers and say nothing of the module.
VOLATILE = {"date"}
CACHE_HEADERS = {"cache-control", "expires"}

_BOUNDARY_RE = re.compile(rb"boundary=([0-9A-Za-z'()+_,./:=?-]+)")


def _normalise(resp, port):
    """(version, status, [(name-lower, value)], body) with what differs
    between any two servers replaced: Date dropped, the server's port and
    multipart boundaries by placeholders."""
    body = resp.body
    m = _BOUNDARY_RE.search((resp.header("Content-Type") or "").encode())
    if m:
        body = body.replace(m.group(1), b"BOUNDARY")
    body = body.replace(b":%d" % port, b":PORT").replace(
        b"Port %d" % port, b"Port PORT")
    headers = []
    for k, v in resp.headers:
        lk = k.lower()
        if lk in VOLATILE:
            continue
        if m:
            v = v.replace(m.group(1).decode(), "BOUNDARY")
            if lk == "content-length":
                # the boundary's length varies; the length must still fit
                assert int(v) == len(resp.body), (v, len(resp.body))
                v = "LENGTH"
        v = v.replace(":%d" % port, ":PORT")
        headers.append((lk, v))
    return resp.version, resp.status, headers, body


class Twin:
    """Two servers over one docroot.  `conf(srv, on)` returns the
    configuration text for the server (on: the module is loaded)."""

    def __init__(self, env, name, conf, modules=(), populate=None,
                 global_conf=None):
        self.env = env
        self.on = env.new_server(name + "-on")
        self.off = env.new_server(name + "-off")
        self.off.docroot = self.on.docroot      # one docroot for both
        if populate:
            populate(self.on)
        for srv, on in ((self.on, True), (self.off, False)):
            g = global_conf(srv, on) if callable(global_conf) else \
                (global_conf or "")
            srv.install(conf(srv, on), modules=modules, with_module=on,
                        global_conf=g)

    def start(self):
        self.on.start()
        self.off.start()
        self.on.settle()

    def stop(self):
        self.on.stop()
        self.off.stop()

    # -- requests ----------------------------------------------------------
    def _send(self, srv, method, path, headers, body):
        with RawConnection(srv.host, srv.port, timeout=30) as c:
            return c.request(method, path, headers, body=body, close=True,
                             req_id=next_req_id())

    def pair(self, method, path, headers=None, body=b""):
        """The same request to both; headers may be a callable taking the
        server's previous response for this path (for its own validators)."""
        out = []
        for srv in (self.on, self.off):
            h = headers(srv) if callable(headers) else headers
            out.append(self._send(srv, method, path, h or [], body))
        return out

    def note(self, resp):
        return self.on.note(resp.req_id)

    # -- checks ------------------------------------------------------------
    @staticmethod
    def _framing(a, b):
        """How httpd frames a streamed response (a script's output) is a
        race inside any one server: Content-Length when the whole body
        happened to arrive before the headers were sent, else chunked (or,
        on HEAD, neither).  Where the twins framed a response differently,
        compare it without the framing headers; the body is compared
        whole, and so is everything the module itself sends."""
        framing = ("content-length", "transfer-encoding")
        kinds = lambda x: {k for k, _ in x[2] if k in framing}  # noqa
        if kinds(a) == kinds(b):
            return a, b
        drop = lambda x: (x[0], x[1], [(k, v) for k, v in x[2]  # noqa
                                       if k not in framing], x[3])
        return drop(a), drop(b)

    def assert_same(self, on, off, what=""):
        a, b = self._framing(_normalise(on, self.on.port),
                             _normalise(off, self.off.port))
        if a != b:
            raise AssertionError("%s: the module changed a response it did "
                                 "not produce\n--- on:\n%r\n--- off:\n%r"
                                 % (what, on, off))

    def assert_ours(self, on, off, data=None, cache_headers=False, what=""):
        """The module produced `on`: only ETag (and, when the test set the
        module's cache directives, Cache-Control/Expires) may differ."""
        a = _normalise(on, self.on.port)
        b = _normalise(off, self.off.port)
        skip = {"etag"} | (CACHE_HEADERS if cache_headers else set())
        strip = lambda hs: [(k, v) for k, v in hs if k not in skip]  # noqa
        if on.status == 304:
            # RFC 9110 15.4.5: a 304 repeats the Vary its 200 has and no
            # other representation metadata.  Where a compression filter
            # runs, the module's 304 goes through it and gets its Vary (and
            # ETag suffix), which core's lacks; and never carries the
            # Content-Encoding mod_brotli leaves on core's.
            if off.header("Vary") is None and "accept-encoding" in (
                    on.header("Vary") or "").lower():
                a = (a[0], a[1], [(k, v) for k, v in a[2] if k != "vary"],
                     a[3])
            if on.header("Content-Encoding") is None:
                b = (b[0], b[1], [(k, v) for k, v in b[2]
                                  if k != "content-encoding"], b[3])
        assert (a[0], a[1], strip(a[2]), a[3]) == (b[0], b[1], strip(b[2]),
                                                   b[3]), \
            "%s: differs beyond ETag\n--- on:\n%r\n--- off:\n%r" % (
                what, on, off)
        on_tag, off_tag = on.header("ETag"), off.header("ETag")
        if off_tag is None:
            assert on_tag is None, "%s: ETag where core sends none" % what
            return
        assert on_tag is not None, "%s: no ETag where core sends one" % what
        base, suffix = split_tag(on_tag)
        _, off_suffix = split_tag(off_tag)
        if on.status != 304:        # core's 304 lacks the coding suffix
            assert suffix == off_suffix, (what, on_tag, off_tag)
        assert on_tag.startswith("W/") == off_tag.startswith("W/"), \
            (what, on_tag, off_tag)
        if data is not None:
            want = sha1_tag(data)[1:-1]
            assert base == want, "%s: tag %s is not the content tag %s" % (
                what, on_tag, want)

    def check(self, method, path, headers=None, expect="alone", data=None,
              body=b"", cache_headers=False):
        """Sends one request to both and checks the promise.  expect:
        "alone" (the module must leave it to httpd) or "ours" (the module
        produces it; `data` is the file's bytes, for its content tag)."""
        on, off = self.pair(method, path, headers, body)
        what = "%s %s %r" % (method, path, headers if not callable(headers)
                             else "(own validators)")
        note = self.note(on)
        if expect == "alone":
            assert note in LEFT_NOTES, "%s: note %r, want the module to " \
                "leave it alone" % (what, note)
            self.assert_same(on, off, what)
        elif expect == "ours":
            assert note in PRODUCED_NOTES, "%s: note %r, want the module " \
                "to produce it" % (what, note)
            self.assert_ours(on, off, data=data, cache_headers=cache_headers,
                             what=what)
        else:
            raise ValueError(expect)
        return on, off


def own_validators(twin, path, make):
    """headers(srv) for Twin.pair: `make(etag, last_modified)` applied to
    what a plain GET of `path` from that server says."""
    seen = {}
    for srv in (twin.on, twin.off):
        r = twin._send(srv, "GET", path, [], b"")
        seen[srv.port] = (r.header("ETag"), r.header("Last-Modified"))

    def headers(srv):
        etag, lm = seen[srv.port]
        # a validator the server did not send is not sent back
        return [(k, v) for k, v in make(etag, lm) if v is not None]
    return headers


# The conditional requests every static file is put through, each with the
# server's own validators: (name, method, make(etag, lm) -> headers).
CONDITIONALS = [
    ("plain", "GET", lambda t, lm: []),
    ("head", "HEAD", lambda t, lm: []),
    ("inm-own", "GET", lambda t, lm: [("If-None-Match", t)]),
    ("inm-own-head", "HEAD", lambda t, lm: [("If-None-Match", t)]),
    ("inm-star", "GET", lambda t, lm: [("If-None-Match", "*")]),
    ("inm-other", "GET", lambda t, lm: [("If-None-Match", '"other"')]),
    ("ims-lm", "GET", lambda t, lm: [("If-Modified-Since", lm)]),
    ("im-own", "GET", lambda t, lm: [("If-Match", t)]),
    ("im-bogus", "GET", lambda t, lm: [("If-Match", '"bogus"')]),
    ("ius-old", "GET", lambda t, lm: [("If-Unmodified-Since",
                                       "Sun, 06 Nov 1994 08:49:37 GMT")]),
    ("range", "GET", lambda t, lm: [("Range", "bytes=0-3")]),
    ("range-multi", "GET", lambda t, lm: [("Range", "bytes=0-1,4-5")]),
    ("if-range-own", "GET", lambda t, lm: [("Range", "bytes=1-2"),
                                           ("If-Range", t)]),
    ("if-range-lm", "GET", lambda t, lm: [("Range", "bytes=1-2"),
                                          ("If-Range", lm)]),
    ("range-416", "GET", lambda t, lm: [("Range", "bytes=999999-")]),
]
