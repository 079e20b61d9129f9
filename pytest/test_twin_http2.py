"""Twin servers (module on vs not loaded) behind mod_http2, driven by curl:

  - h2c: `Protocols h2c http/1.1` on a cleartext listener.  `curl --http2`
    sends an HTTP/1.1 request with `Upgrade: h2c`; httpd answers
    `101 Switching Protocols` and then the response on HTTP/2 stream 1.
    mod_http2 makes that switch from core's upgrade handler, so a module
    whose handler ran before every other (the old mod_condcache) answered
    files in its scope on HTTP/1.1 and never upgraded.  Also
    `--http2-prior-knowledge` (the connection preface, no upgrade).
  - h2 over TLS: mod_ssl with a self-signed certificate made for the test,
    `Protocols h2 http/1.1`, h2 chosen by ALPN (`curl --http2 -k`), and
    plain HTTP/1.1 over the same TLS listener (`--http1.1`).

On HTTP/1.1 over TLS, httpd advertises h2 on its responses (`Upgrade:
h2`, `Connection: Upgrade`, added by core's upgrade handler): the old
module's responses lacked it.

For each, a GET, a HEAD, an If-None-Match with the server's own tag (304),
a single and a multipart Range (206) of a file in a `CondCache On` scope,
and a 404 and a file outside the scope.  Both twins must speak the same
protocol the same way (the same interim 101 block, the same status lines);
the module's responses differ from core's only in the ETag (the file's
content tag), the others are byte for byte core's (Date dropped, multipart
boundaries and the port replaced by twin.py's normalisation).

mod_http2 under prefork: it logs AH10034 ("the HTTP/2 protocol will be
inactive") and then neither upgrades h2c nor offers h2 by ALPN, so those
two setups are skipped under prefork; prior knowledge and HTTP/1.1 over
TLS still work there and are tested.

Requests go through clients.curl_exchange (the final response and the
interim ones, parsed from curl's `-D -`), notes through logs.py, which
takes the note of a request's final response (an h2c upgrade logs the 101
under the same request id first)."""
import os
import subprocess

import pytest

from clients import curl_exchange, next_req_id
from eco_util import require_program
from logs import LEFT_NOTES, PRODUCED_NOTES, final_entries
from twin import Twin

OLD = 1600000000
# 100 KiB: more than mod_http2's first DATA frames and the initial 64 KiB
# flow-control window, so the body crosses several frames and a window update
BLOB = bytes((i * 131 + (i >> 8) + (i >> 16)) & 0xFF
             for i in range(100 * 1024))
# curl 7.88 (bookworm) fails an h2c upgrade when more than its 32 KiB
# connection buffer arrives with the 101 ("connection buffer size is too
# small to store data following HTTP Upgrade response header"), as the
# first 64 KiB window of a big body does: the upgrade uses a 16 KiB file
SMALL = BLOB[-16 * 1024:]
OUTSIDE = b"a file outside the CondCache scope\n" * 8

IN_SCOPE = "/s/page.bin"
SMALL_IN_SCOPE = "/s/small.bin"
MISSING = "/s/missing.bin"
OUT_OF_SCOPE = "/plain/page.txt"

UPGRADE_101 = ("HTTP/1.1 101 Switching Protocols",
               [("Upgrade", "h2c"), ("Connection", "Upgrade")])


def populate(srv):
    srv.write(IN_SCOPE, BLOB, mtime=OLD)
    srv.write(SMALL_IN_SCOPE, SMALL, mtime=OLD)
    srv.write(OUT_OF_SCOPE, OUTSIDE, mtime=OLD)


def conf(srv, on):
    return """
<Directory {root}/s>
    <IfModule mod_condcache.c>
        CondCache On
    </IfModule>
</Directory>
""".format(root=srv.docroot)


# --------------------------------------------------------------------------
# the setups

class Mode:
    def __init__(self, name, scheme, args, version, interim,
                 prefork_skip=None, path=IN_SCOPE, data=BLOB):
        self.name = name
        self.path = path                # the file in the module's scope
        self.data = data
        self.scheme = scheme
        self.args = args
        self.version = version          # the final response's protocol
        self.interim = interim          # the interim responses expected
        self.prefork_skip = prefork_skip


NO_H2_UNDER_PREFORK = (
    "mod_http2 refuses prefork (AH10034: the HTTP/2 protocol will be "
    "inactive): it neither upgrades h2c nor offers h2 by ALPN, on either twin")

MODES = {
    "h2c-upgrade": Mode("h2c-upgrade", "http", ["--http2"], "HTTP/2",
                        [UPGRADE_101], NO_H2_UNDER_PREFORK,
                        path=SMALL_IN_SCOPE, data=SMALL),
    "h2c-prior-knowledge": Mode("h2c-prior-knowledge", "http",
                                ["--http2-prior-knowledge"], "HTTP/2", []),
    "h2-tls-alpn": Mode("h2-tls-alpn", "https", ["--http2", "-k"], "HTTP/2",
                        [], NO_H2_UNDER_PREFORK),
    "http1.1-tls": Mode("http1.1-tls", "https", ["--http1.1", "-k"],
                        "HTTP/1.1", []),
}


def h2c_global(srv, on):
    return "Protocols h2c http/1.1\n"


def make_cert(env):
    d = os.path.join(env.base_dir, "h2-tls")
    os.makedirs(d, exist_ok=True)
    key, crt = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
    if not os.path.exists(crt):
        p = subprocess.run(
            [require_program("openssl", "openssl"), "req", "-x509",
             "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", crt],
            capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr.decode(errors="replace")
    return crt, key


@pytest.fixture(scope="module")
def h2c_twin(env):
    require_program("curl", "curl")
    t = Twin(env, "h2c", conf, modules=["http2"], populate=populate,
             global_conf=h2c_global)
    t.start()
    yield t
    t.stop()


@pytest.fixture(scope="module")
def tls_twin(env):
    require_program("curl", "curl")
    crt, key = make_cert(env)

    def tls_global(srv, on):
        # the whole server (its one Listen) speaks TLS
        return """
SSLEngine on
SSLCertificateFile {crt}
SSLCertificateKeyFile {key}
SSLSessionCache shmcb:{run}/ssl_scache(512000)
Protocols h2 http/1.1
""".format(crt=crt, key=key, run=srv.run_dir)

    t = Twin(env, "h2tls", conf, modules=["socache_shmcb", "ssl", "http2"],
             populate=populate, global_conf=tls_global)
    t.start()
    yield t
    t.stop()


@pytest.fixture(params=list(MODES))
def proto(request, env):
    mode = MODES[request.param]
    twin = request.getfixturevalue(
        "h2c_twin" if mode.scheme == "http" else "tls_twin")
    if mode.prefork_skip and env.mpm == "prefork" and \
            "AH10034" in twin.off.error_log_text():
        pytest.skip(mode.prefork_skip)
    return twin, mode


def url(srv, mode, path):
    return "%s://127.0.0.1:%d%s" % (mode.scheme, srv.port, path)


def exchange_pair(twin, mode, path, headers=lambda srv: [], head=False):
    out = []
    for srv in (twin.on, twin.off):
        out.append(curl_exchange(url(srv, mode, path), mode.args,
                                 headers(srv), head=head,
                                 req_id=next_req_id()))
    return out


def compare(twin, mode, path, headers=lambda srv: [], head=False,
            expect="ours", data=None, status=200, what=""):
    """Sends one request to both twins in `mode` and checks the protocol
    (identical and as expected on both) and the module's promise."""
    on, off = exchange_pair(twin, mode, path, headers, head)
    what = "%s %s %s %s" % (mode.name, "HEAD" if head else "GET", path, what)
    # the same protocol, spoken the same way
    assert on.interim == off.interim, \
        "%s: interim responses differ\n--- on:\n%r\n--- off:\n%r" % (
            what, on, off)
    assert on.interim == mode.interim, \
        "%s: want interim %r\n--- on:\n%r\n--- off:\n%r" % (
            what, mode.interim, on, off)
    assert on.status_line == off.status_line, (what, on, off)
    assert on.response.version == off.response.version == mode.version, \
        "%s: want %s on both\n--- on:\n%r\n--- off:\n%r" % (
            what, mode.version, on, off)
    assert on.response.status == status, (what, on)
    note = twin.note(on.response)
    # one final response logged (an h2c upgrade logs its 101 too)
    assert len(final_entries(twin.on.access_log, on.response.req_id)) == 1
    if expect == "ours":
        assert note in PRODUCED_NOTES, "%s: note %r, want the module to " \
            "produce it" % (what, note)
        twin.assert_ours(on.response, off.response, data=data, what=what)
    else:
        assert note in LEFT_NOTES, "%s: note %r, want the module to leave " \
            "it alone" % (what, note)
        twin.assert_same(on.response, off.response, what=what)
    return on.response, off.response


def own_tags(twin, mode, path):
    """Each server's ETag for `path`, as a plain GET in `mode` gets it."""
    tags = {}
    for srv, x in zip((twin.on, twin.off), exchange_pair(twin, mode, path)):
        tags[srv.port] = x.response.header("ETag")
        assert tags[srv.port], x
    return tags


# --------------------------------------------------------------------------
# the tests

def test_get(proto):
    twin, mode = proto
    on, off = compare(twin, mode, mode.path, data=mode.data)
    assert on.body == off.body == mode.data


def test_head(proto):
    twin, mode = proto
    on, _ = compare(twin, mode, mode.path, head=True, data=mode.data)
    assert on.header("Content-Length") == str(len(mode.data))


def test_if_none_match_own_tag(proto):
    twin, mode = proto
    tags = own_tags(twin, mode, mode.path)
    on, off = compare(twin, mode, mode.path,
                      lambda srv: [("If-None-Match", tags[srv.port])],
                      data=mode.data, status=304, what="If-None-Match own")
    assert on.body == off.body == b""
    assert on.header("ETag") == tags[twin.on.port]


def test_range(proto):
    twin, mode = proto
    on, off = compare(twin, mode, mode.path,
                      lambda srv: [("Range", "bytes=10000-10099")],
                      data=mode.data, status=206, what="Range")
    assert on.body == off.body == mode.data[10000:10100]
    assert on.header("Content-Range") == \
        "bytes 10000-10099/%d" % len(mode.data)


def test_multipart_range(proto):
    twin, mode = proto
    on, _ = compare(twin, mode, mode.path,
                    lambda srv: [("Range", "bytes=0-9,12000-12009")],
                    data=mode.data, status=206, what="multipart Range")
    assert (on.header("Content-Type") or "").startswith(
        "multipart/byteranges")
    assert mode.data[0:10] in on.body and mode.data[12000:12010] in on.body


def test_not_found(proto):
    twin, mode = proto
    compare(twin, mode, MISSING, expect="alone", status=404)


def test_outside_scope(proto):
    twin, mode = proto
    on, _ = compare(twin, mode, OUT_OF_SCOPE, expect="alone")
    assert on.body == OUTSIDE
