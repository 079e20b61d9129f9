"""Do no harm: the module's handler runs after every other handler, never
sends a tag for bytes it did not send, checks preconditions where it sends
no tag, answers 412 as core does, honours FileETag None, accepts a coding
suffix only where that coding can be applied, leaves ContentDigest scopes
to core, keeps tenants' .htaccess files from its status page and from
raising its limits, abandons hashes nobody waits for, and does not trust a
whole-second ctime before it is three seconds old."""
import os
import re
import shutil
import socket
import subprocess
import time

import pytest
import requests

from clients import build_request, next_req_id
from headers import http_date
from tags import core_meta_tag, sha1_tag, with_suffix
from twin import own_validators, Twin

OLD = 1600000000
DATA = b"do no harm\n" * 50
T = sha1_tag(DATA)

# Every module of Debian's apache2 that loads without configuration of its
# own, so that the handler order is checked against all of their handlers.
MANY_MODULES = [
    "actions", "asis", "autoindex", "brotli", "cache", "cache_disk", "cgi",
    "dav", "dav_fs", "deflate", "dialup", "expires", "ext_filter", "filter",
    "headers", "imagemap", "include", "info", "lua", "negotiation", "proxy",
    "proxy_fcgi", "proxy_http", "proxy_balancer", "slotmem_shm",
    "lbmethod_byrequests", "rewrite", "setenvif", "status", "substitute",
    "sed", "http2", "ssl", "socache_shmcb", "userdir", "speling",
    "reflector", "charset_lite", "md", "xml2enc", "proxy_html", "data",
    "ratelimit", "buffer", "request", "session", "session_cookie",
    "usertrack", "unique_id", "env", "mime_magic", "file_cache",
    "cern_meta", "vhost_alias", "remoteip", "allowmethods", "log_debug",
    "macro", "case_filter", "auth_basic", "authn_core", "authn_file",
    "authz_user", "authz_host",
]

_HOOK_RE = re.compile(r"&nbsp;\s*(-?\d+)\s*<a href=\"\?([^\"]+)\">")


def content_handlers(srv):
    r = requests.get(srv.url("/server-info?hooks"), timeout=15)
    assert r.status_code == 200, r.text[:300]
    text = r.text
    i = text.index("Content Handlers:")
    j = text.index("</tt>", i)
    return [(int(o), m) for o, m in _HOOK_RE.findall(text[i:j])]


@pytest.mark.parametrize("load", ["last", "first"])
def test_handler_runs_after_every_other_handler(env, new_server, load):
    """/server-info?hooks: mod_condcache's file handler comes after every
    handler of every loadable Debian module, just before core's default
    handler, whatever the order the modules are loaded in."""
    srv = new_server("hooks-" + load, start=False, modules=MANY_MODULES,
                     conf="<Location /server-info>\n SetHandler server-info"
                          "\n</Location>\n")
    if load == "first":
        with open(srv.conf_path) as f:
            text = f.read()
        line = "LoadModule condcache_module %s\n" % env.module_path
        text = text.replace(line, "")
        text = text.replace("LoadModule mpm_", line + "LoadModule mpm_", 1)
        with open(srv.conf_path, "w") as f:
            f.write(text)
    srv.start()
    hooks = content_handlers(srv)
    names = [m for _, m in hooks]
    assert hooks[-1] == (30, "core.c"), hooks          # default_handler
    assert hooks[-2][1] == "mod_condcache.c", hooks    # ours, just before
    # and only the status page's handler of ours is earlier
    assert names.count("mod_condcache.c") == 2
    assert len(hooks) > 20, hooks


class TestBytesNotSent:
    """A tag describes the bytes the response sends: exactly st_size of
    them (point: a /proc file says size 0 and holds more), and never more
    than CondCacheMaxFileSize is read."""

    @classmethod
    def populate(cls, srv):
        srv.write("d/a.txt", DATA, mtime=OLD)
        srv.write("d/big.bin", b"x" * 5000, mtime=OLD)
        os.symlink("/proc/self/status", srv.path("d/status"))

    @classmethod
    def conf(cls, srv):
        return """
<Directory {root}/d>
    Options +FollowSymLinks
    CondCache On
    CondCacheMaxFileSize 4096
    AddType text/plain .bin
    ForceType text/plain
</Directory>
""".format(root=srv.docroot)

    def test_proc_file(self, httpd):
        before = httpd.status()
        r = httpd.raw("GET", "/d/status")
        assert r.status == 200
        assert int(r.header("Content-Length")) == len(r.body) == 0
        # no tag of bytes that were not sent; "changed": its length is not
        # its size
        assert r.header("ETag") is None, r
        assert httpd.note(r) == "changed"
        after = httpd.status()
        assert after["Inserts"] == before["Inserts"]

    def test_max_file_size_bounds_reading(self, httpd):
        before = httpd.status()
        r = httpd.raw("GET", "/d/big.bin")
        assert r.status == 200 and r.body == b"x" * 5000
        assert httpd.note(r) == "too-large"
        assert r.header("ETag") == core_meta_tag(httpd.path("d/big.bin"))
        after = httpd.status()
        assert after["BytesHashed"] == before["BytesHashed"]


class TestPreconditionsWithoutTags:
    """CondCacheNoStore sends no tag but still evaluates preconditions, as
    RFC 9110 13.2.1 requires (core does too)."""

    @classmethod
    def populate(cls, srv):
        srv.write("ns/a.txt", DATA, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
<Directory {root}/ns>
    CondCache On
    CondCacheNoStore On
</Directory>
""".format(root=srv.docroot)

    @pytest.mark.parametrize("hdrs,status", [
        ([("If-Match", '"bogus"')], 412),
        ([("If-Match", "*")], 200),
        ([("If-Unmodified-Since", "Sun, 06 Nov 1994 08:49:37 GMT")], 412),
        ([("If-Unmodified-Since", http_date())], 200),
        ([("If-None-Match", "*")], 304),
        ([("If-None-Match", '"x"')], 200),
        ([("If-Modified-Since", http_date())], 304),
        ([], 200),
    ])
    def test_no_store(self, httpd, hdrs, status):
        r = httpd.raw("GET", "/ns/a.txt", hdrs)
        assert r.status == status, r
        assert r.header("ETag") is None
        assert r.header("Cache-Control") == "no-store"
        assert httpd.note(r) == "no-store"
        if status == 412:
            assert r.body == b""


ERR_PAGE = b"<p>custom error page</p>\n"


def errors_populate(srv):
    srv.write("e/a.txt", DATA, mtime=OLD)
    srv.write("e/secret.txt", DATA, mtime=OLD, mode=0o000)
    srv.write("err/412.html", ERR_PAGE, mtime=OLD + 5)
    srv.write("err/404.html", ERR_PAGE, mtime=OLD + 5)
    srv.write("err/403.html", ERR_PAGE, mtime=OLD + 5)
    srv.write("e/denied/x.txt", DATA, mtime=OLD)


def errors_conf(srv, on):
    return """
ErrorDocument 412 /err/412.html
ErrorDocument 404 /err/404.html
ErrorDocument 403 /err/403.html
<Directory {root}>
    {cc}
</Directory>
<Directory {root}/e/denied>
    Require all denied
</Directory>
""".format(root=srv.docroot, cc="CondCache On" if on else "")


@pytest.fixture(scope="module")
def errors_twin(env):
    t = Twin(env, "errors", errors_conf, populate=errors_populate)
    t.start()
    yield t
    t.stop()


def test_412_is_not_an_error_document(errors_twin):
    """A 412 is answered as core answers it: the resource's own validators,
    no ErrorDocument body, and no error page's ETag or Last-Modified."""
    for hdrs in ([("If-Match", '"bogus"')],
                 [("If-Unmodified-Since", "Sun, 06 Nov 1994 08:49:37 GMT")]):
        on, off = errors_twin.check("GET", "/e/a.txt", hdrs, expect="ours",
                                    data=DATA)
        assert on.status == 412 and on.body == b""
        assert on.header("ETag") == T
        assert on.header("Last-Modified") == off.header("Last-Modified")


@pytest.mark.parametrize("path", ["/e/nope.txt", "/e/denied/x.txt",
                                  "/e/secret.txt"])
@pytest.mark.parametrize("hdrs", [[], [("If-None-Match", "*")],
                                  [("If-Match", '"bogus"')]])
@pytest.mark.expect_errors(r"AH00132: file permissions deny server access",
                           r"AH01630: client denied by server configuration")
def test_error_documents_left_alone(errors_twin, path, hdrs):
    errors_twin.check("GET", path, hdrs, expect="alone")


class TestCodingSuffix:
    """A coding suffix matches only where that coding can be applied to the
    response: no compression filter in scope, no suffix."""

    modules = ["deflate", "brotli", "filter", "env"]

    @classmethod
    def populate(cls, srv):
        srv.write("plain/a.txt", DATA, mtime=OLD)
        srv.write("gz/a.txt", DATA, mtime=OLD)
        srv.write("nogz/a.txt", DATA, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
<Directory {root}>
    CondCache On
</Directory>
<Directory {root}/gz>
    SetOutputFilter DEFLATE
</Directory>
<Directory {root}/nogz>
    SetOutputFilter DEFLATE
    SetEnv no-gzip 1
</Directory>
""".format(root=srv.docroot)

    @pytest.mark.parametrize("d,matches", [("plain", False), ("gz", True),
                                           ("nogz", False)])
    @pytest.mark.parametrize("suffix", ["gzip", "br"])
    def test_suffix(self, httpd, d, matches, suffix):
        matches = matches and suffix == "gzip"
        tag = with_suffix(T, suffix)
        ae = [("Accept-Encoding", "gzip, br")]
        r = httpd.raw("GET", "/%s/a.txt" % d, ae + [("If-Match", tag)])
        assert r.status == (200 if matches else 412), r
        r = httpd.raw("GET", "/%s/a.txt" % d, ae + [("If-None-Match", tag)])
        assert r.status == (304 if matches else 200), r
        # the bare tag always matches
        r = httpd.raw("GET", "/%s/a.txt" % d, ae + [("If-None-Match", T)])
        assert r.status == 304, r


class TestFileETagNone:
    """FileETag None (h5bp-style configurations drop ETags with it) is
    honoured: no ETag, nothing hashed, from httpd.conf or .htaccess; the
    rest (Last-Modified conditionals, Cache-Control) still applies."""

    @classmethod
    def populate(cls, srv):
        srv.write("conf/a.txt", DATA, mtime=OLD)
        srv.write("ht/a.txt", DATA, mtime=OLD)
        srv.write("ht/.htaccess", b"FileETag None\n", mtime=OLD)
        srv.write("minus/a.txt", DATA, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
<Directory {root}>
    CondCache On
    CondCacheMaxAge 60
    AllowOverride FileInfo
</Directory>
<Directory {root}/conf>
    FileETag None
</Directory>
<Directory {root}/minus>
    FileETag -MTime -Size
</Directory>
""".format(root=srv.docroot)

    @pytest.mark.parametrize("d", ["conf", "ht"])
    def test_no_etag(self, httpd, d):
        before = httpd.status()
        r = httpd.raw("GET", "/%s/a.txt" % d)
        assert r.status == 200 and r.body == DATA
        assert r.header("ETag") is None
        assert r.header("Cache-Control") == "max-age=60"
        assert httpd.note(r) == "no-etag"
        lm = r.header("Last-Modified")
        r = httpd.raw("GET", "/%s/a.txt" % d, [("If-Modified-Since", lm)])
        assert r.status == 304 and r.header("ETag") is None
        r = httpd.raw("GET", "/%s/a.txt" % d, [("If-None-Match", T)])
        assert r.status == 200
        assert httpd.status()["FilesHashed"] == before["FilesHashed"]

    def test_other_fileetag_settings_are_replaced(self, httpd):
        """Any FileETag but None is replaced by the content tag."""
        r = httpd.raw("GET", "/minus/a.txt")
        assert r.header("ETag") == T


def digest_populate(srv):
    srv.write("md/a.txt", DATA, mtime=OLD)


def digest_conf(srv, on):
    return """
<Directory {root}/md>
    ContentDigest On
    {cc}
</Directory>
""".format(root=srv.docroot, cc="CondCache On" if on else "")


def test_content_digest_left_to_core(env):
    """ContentDigest On: core's Content-MD5 header, so core's response."""
    t = Twin(env, "contentmd5", digest_conf, populate=digest_populate)
    t.start()
    try:
        on, off = t.check("GET", "/md/a.txt", expect="alone")
        assert on.header("Content-MD5")
        t.check("GET", "/md/a.txt", own_validators(
            t, "/md/a.txt", lambda tag, lm: [("If-None-Match", tag)]),
            expect="alone")
    finally:
        t.stop()


class TestTenants:
    """A .htaccess can neither publish the server-wide counters nor raise
    CondCacheMaxFileSize above what the server configuration allows."""

    modules = ["rewrite", "headers"]

    @classmethod
    def populate(cls, srv):
        srv.write("t/sethandler/.htaccess",
                  b"SetHandler condcache-status\n", mtime=OLD)
        srv.write("t/sethandler/x.txt", DATA, mtime=OLD)
        srv.write("t/addhandler/.htaccess",
                  b"AddHandler condcache-status .txt\n", mtime=OLD)
        srv.write("t/addhandler/x.txt", DATA, mtime=OLD)
        srv.write("t/rewrite/.htaccess",
                  b"RewriteEngine On\nRewriteRule ^x\\.txt$ - "
                  b"[H=condcache-status]\n", mtime=OLD)
        srv.write("t/rewrite/x.txt", DATA, mtime=OLD)
        srv.write("t/directive/.htaccess", b"CondCacheStatus On\n",
                  mtime=OLD)
        srv.write("t/directive/x.txt", DATA, mtime=OLD)
        srv.write("t/raise/.htaccess",
                  b"CondCacheMaxFileSize 4611686018427387904\n", mtime=OLD)
        srv.write("t/raise/x.bin", b"y" * 3000, mtime=OLD)
        srv.write("t/lower/.htaccess", b"CondCacheMaxFileSize 100\n",
                  mtime=OLD)
        srv.write("t/lower/x.bin", b"z" * 200, mtime=OLD)
        srv.write("t/lower/small.bin", b"z" * 50, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
<Directory {root}/t>
    AllowOverride All
    Options +FollowSymLinks
    CondCache On
    CondCacheMaxFileSize 2000
    AddType application/octet-stream .bin
</Directory>
""".format(root=srv.docroot)

    @pytest.mark.parametrize("d", ["sethandler", "addhandler", "rewrite"])
    def test_handler_name_is_not_enough(self, httpd, d):
        r = httpd.raw("GET", "/t/%s/x.txt?auto" % d)
        assert b"Capacity" not in r.body and b"Hits" not in r.body, r
        # the real page is still there where the server configuration put it
        assert "Capacity" in httpd.status()

    @pytest.mark.expect_errors(r"CondCacheStatus not allowed here")
    def test_directive_not_allowed_in_htaccess(self, httpd):
        r = httpd.raw("GET", "/t/directive/x.txt?auto")
        assert r.status == 500
        assert b"Capacity" not in r.body
        assert "CondCacheStatus not allowed here" in httpd.error_log_text()

    def test_htaccess_cannot_raise_max_file_size(self, httpd):
        before = httpd.status()
        r = httpd.raw("GET", "/t/raise/x.bin")
        assert r.status == 200 and httpd.note(r) == "too-large"
        assert httpd.status()["BytesHashed"] == before["BytesHashed"]

    def test_htaccess_can_lower_max_file_size(self, httpd):
        r = httpd.raw("GET", "/t/lower/x.bin")
        assert r.status == 200 and httpd.note(r) == "too-large"
        r = httpd.raw("GET", "/t/lower/small.bin")
        assert httpd.note(r) in ("miss", "hit")
        assert r.header("ETag") == sha1_tag(b"z" * 50)


class TestClientGone:
    """A hash whose client went away is abandoned (HEAD of a large file,
    then the connection closed), unless another request waits for it."""

    SIZE = 6 << 30          # sparse: no disk, but 6 GiB to read

    @classmethod
    def populate(cls, srv):
        srv.mkdir("big")
        for name in ("gone.bin", "waited.bin"):
            with open(srv.path("big/" + name), "wb") as f:
                f.truncate(cls.SIZE)
        srv.last_populated = time.time()

    @classmethod
    def conf(cls, srv):
        return """
CondCacheMaxFileSize 8589934592
CondCacheInlineHashMax 8589934592
<Directory {root}/big>
    CondCache On
    CondCacheDigest xxh128
    ForceType application/octet-stream
</Directory>
""".format(root=srv.docroot)

    def _head_and_leave(self, httpd, path):
        s = socket.create_connection((httpd.host, httpd.port))
        s.sendall(build_request("HEAD", path, host="127.0.0.1"))
        time.sleep(0.3)         # the child is hashing by now
        s.close()

    def test_abandoned_when_nobody_waits(self, httpd):
        before = httpd.status()
        self._head_and_leave(httpd, "/big/gone.bin")
        deadline = time.time() + 120
        while time.time() < deadline:
            st = httpd.status()
            if st["FilesHashed"] > before["FilesHashed"] \
                    and st["EntriesInUse"] == before["EntriesInUse"]:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the hash did not end: %r" % st)
        read = st["BytesHashed"] - before["BytesHashed"]
        assert read < self.SIZE // 2, "read %d of %d bytes" % (read, self.SIZE)
        assert st["Inserts"] == before["Inserts"]

    def test_finished_when_another_waits(self, httpd):
        before = httpd.status()
        first = socket.create_connection((httpd.host, httpd.port))
        first.sendall(build_request("HEAD", "/big/waited.bin",
                                    host="127.0.0.1"))
        time.sleep(0.3)
        # a second client asks for the same file and waits for the hash
        second = socket.create_connection((httpd.host, httpd.port),
                                          timeout=120)
        second_id = next_req_id()
        second.sendall(build_request("HEAD", "/big/waited.bin",
                                     host="127.0.0.1", req_id=second_id))
        deadline = time.time() + 30
        while httpd.status()["Waits"] == before["Waits"]:
            assert time.time() < deadline, "the second request never waited"
            time.sleep(0.02)
        first.close()
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = second.recv(4096)
            assert chunk, head
            head += chunk
        second.close()
        st = httpd.status()
        assert b" 200 " in head.split(b"\r\n")[0], head
        assert b"ETag:" in head, (head, httpd.note(second_id))
        assert st["BytesHashed"] - before["BytesHashed"] == self.SIZE
        assert st["Inserts"] == before["Inserts"] + 1


def _mount_coarse_fs(where):
    """An ext4 filesystem with 128-byte inodes (whole-second timestamps)
    on a loop device; None when this machine cannot mount one."""
    img = where + ".img"
    subprocess.run(["truncate", "-s", "16M", img], check=True)
    p = subprocess.run(["mkfs.ext4", "-q", "-F", "-I", "128", img],
                       capture_output=True)
    os.makedirs(where, exist_ok=True)
    if p.returncode != 0:
        return None
    p = subprocess.run(["mount", "-o", "loop", img, where],
                       capture_output=True)
    if p.returncode != 0:
        return None
    os.chmod(where, 0o755)
    return img


class TestCoarseTimestamps:
    """On a filesystem that keeps whole seconds, a digest is not stored
    until the file's ctime is 3 s old (a same-size rewrite within one tick
    would keep the key); on others 1 s is enough."""

    settle = False

    @classmethod
    def populate(cls, srv):
        cls.mnt = srv.path("coarse")
        cls.img = _mount_coarse_fs(cls.mnt)
        srv.write("fine/a.txt", DATA)

    @classmethod
    def conf(cls, srv):
        return """
<Directory {root}>
    CondCache On
</Directory>
""".format(root=srv.docroot)

    @classmethod
    def teardown_class(cls):
        if cls.img:
            subprocess.run(["umount", cls.mnt])
            os.unlink(cls.img)

    def test_whole_second_ctime_waits_three_seconds(self, httpd):
        if not self.img:
            pytest.skip("cannot mount a loop filesystem on this machine")
        path = os.path.join(self.mnt, "a.txt")
        with open(path, "wb") as f:
            f.write(DATA)
        os.chmod(path, 0o644)
        assert os.stat(path).st_ctime_ns % 1_000_000_000 == 0
        ctime = os.stat(path).st_ctime
        fine_ctime = os.stat(httpd.path("fine/a.txt")).st_ctime
        # between 1.5 and 2.5 s after the change
        time.sleep(max(0, ctime + 1.6 - time.time()))
        r = httpd.raw("GET", "/coarse/a.txt")
        assert r.header("ETag") == T
        if time.time() - ctime < 2.9:
            assert httpd.note(r) == "uncached", httpd.note(r)
        time.sleep(max(0, fine_ctime + 1.2 - time.time()))
        r = httpd.raw("GET", "/fine/a.txt")
        assert httpd.note(r) in ("miss", "hit")
        time.sleep(max(0, ctime + 3.2 - time.time()))
        r = httpd.raw("GET", "/coarse/a.txt")
        assert httpd.note(r) == "miss"
        r = httpd.raw("GET", "/coarse/a.txt", [("If-None-Match", T)])
        assert r.status == 304 and httpd.note(r) == "hit"
