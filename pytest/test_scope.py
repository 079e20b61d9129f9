"""What the module serves and what it leaves alone; inheritance of settings
through <Directory>, <VirtualHost> and .htaccess; CondCacheMaxFileSize."""
import hashlib
import os
import time

import pytest

from clients import build_request
from headers import cache_control_dict, http_date
from tags import (core_meta_tag, md5_tag, sha1_tag, sha256_tag,
                  tag_from_digest)

OLD = 1600000000
DATA = b"scope test file\n" * 10
T = sha1_tag(DATA)

CGI = b"""#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'hello from cgi\\n'
"""
SHTML = b"""<p>before</p>
<!--#include virtual="inc.txt" -->
<p>after</p>
"""
ASIS = b"""Status: 200 OK
Content-Type: text/plain

as-is body
"""


class TestLeftAlone:
    """Each case is requested in on/ (CondCache On) and in off/ (the same
    files, CondCache Off): the module must answer as core does."""

    modules = ["autoindex", "cgi", "include", "status", "asis"]

    @classmethod
    def populate(cls, srv):
        for d in ("on", "off"):
            srv.write("%s/a.txt" % d, DATA, mtime=OLD)
            srv.write("%s/inc.txt" % d, b"included text\n", mtime=OLD)
            srv.write("%s/x.cgi" % d, CGI, mode=0o755, mtime=OLD)
            srv.write("%s/page.shtml" % d, SHTML, mtime=OLD)
            srv.write("%s/raw.asis" % d, ASIS, mtime=OLD)
            srv.write("%s/secret.txt" % d, DATA, mode=0o000, mtime=OLD)
            srv.write("%s/list/one.txt" % d, b"one\n", mtime=OLD)
            srv.write("%s/idx/index.html" % d, b"<p>idx</p>\n", mtime=OLD)

    @classmethod
    def conf(cls, srv):
        out = []
        for d, onoff in (("on", "On"), ("off", "Off")):
            out.append("""
<Directory {root}/{d}>
    CondCache {onoff}
    Options +ExecCGI +Includes +Indexes
    AddHandler cgi-script .cgi
    AddHandler server-parsed .shtml
    AddType text/html .shtml
    AddHandler send-as-is .asis
    DirectoryIndex index.html
</Directory>
<Location /{d}/server-status>
    SetHandler server-status
</Location>
""".format(root=srv.docroot, d=d, onoff=onoff))
        return "\n".join(out)

    def both(self, httpd, method, rel, headers=None, body=b""):
        on = httpd.raw(method, "/on/" + rel, headers, body=body)
        off = httpd.raw(method, "/off/" + rel, headers, body=body)
        return on, off

    def assert_alone(self, httpd, on, off):
        """Same status and ETag as core gives in off/."""
        assert on.status == off.status, (on, off)
        assert on.header("ETag") == off.header("ETag")

    @pytest.mark.parametrize("method,rel", [
        ("GET", "x.cgi"), ("GET", "page.shtml"), ("GET", "raw.asis"),
        ("GET", "server-status?auto"), ("GET", "list/"), ("GET", "list"),
        ("GET", "nope.txt"), ("POST", "a.txt"), ("PUT", "a.txt"),
        ("OPTIONS", "a.txt"), ("DELETE", "a.txt"),
    ])
    def test_note_when_left_alone(self, httpd, method, rel):
        """In scope but not the module's: "bypass" (or "-" when httpd
        answered before the module's fixup ran), never a table outcome."""
        r = httpd.raw(method, "/on/" + rel, body=b"x" if method in (
            "POST", "PUT") else b"")
        assert httpd.note(r) in ("bypass", "-"), (method, rel)

    def test_static_file_is_ours(self, httpd):
        on, off = self.both(httpd, "GET", "a.txt")
        assert on.header("ETag") == T
        assert off.header("ETag") == core_meta_tag(httpd.path("off/a.txt"))

    @pytest.mark.parametrize("hdrs", [[], [("If-None-Match", "*")],
                                      [("If-Match", '"nope"')]])
    def test_cgi(self, httpd, hdrs):
        on, off = self.both(httpd, "GET", "x.cgi", hdrs)
        self.assert_alone(httpd, on, off)
        if not hdrs:
            assert on.status == 200
            assert on.body == b"hello from cgi\n"
        assert on.header("ETag") is None

    def test_ssi_and_subrequest(self, httpd):
        on, off = self.both(httpd, "GET", "page.shtml")
        self.assert_alone(httpd, on, off)
        assert on.status == 200
        assert b"included text" in on.body and b"<p>after</p>" in on.body
        assert on.body == off.body
        assert on.header("ETag") is None

    def test_ssi_page_and_subrequest_not_hashed(self, httpd):
        """Neither the SSI page (its handler is mod_include's) nor the file
        it includes (a subrequest, left to core) is hashed."""
        a = httpd.status()
        on = httpd.raw("GET", "/on/page.shtml")
        assert on.status == 200 and b"included text" in on.body
        b = httpd.status()
        assert b["FilesHashed"] == a["FilesHashed"]
        assert b["Misses"] == a["Misses"] and b["Hits"] == a["Hits"]

    def test_ssi_with_validators(self, httpd):
        on, off = self.both(httpd, "GET", "page.shtml",
                            [("If-None-Match", "*"),
                             ("If-Modified-Since", http_date())])
        self.assert_alone(httpd, on, off)

    def test_set_handler_asis(self, httpd):
        on, off = self.both(httpd, "GET", "raw.asis")
        self.assert_alone(httpd, on, off)
        assert on.status == 200 and on.body == b"as-is body\n"
        assert on.header("ETag") is None

    def test_server_status(self, httpd):
        on, off = self.both(httpd, "GET", "server-status?auto")
        self.assert_alone(httpd, on, off)
        assert on.status == 200
        assert b"Total Accesses" in on.body or b"ServerVersion" in on.body
        assert on.header("ETag") is None

    @pytest.mark.parametrize("hdrs", [[], [("If-None-Match", "*")]])
    def test_directory_listing(self, httpd, hdrs):
        on, off = self.both(httpd, "GET", "list/", hdrs)
        self.assert_alone(httpd, on, off)
        if not hdrs:
            assert on.status == 200 and b"one.txt" in on.body
        assert on.header("ETag") is None

    def test_directory_without_slash_redirect(self, httpd):
        on, off = self.both(httpd, "GET", "list")
        self.assert_alone(httpd, on, off)
        assert on.status == 301

    def test_directory_index_is_ours(self, httpd):
        on, off = self.both(httpd, "GET", "idx/")
        assert on.status == off.status == 200
        assert on.header("ETag") == sha1_tag(b"<p>idx</p>\n")
        assert httpd.note(on) in ("miss", "hit")

    @pytest.mark.parametrize("hdrs", [[], [("If-None-Match", "*")],
                                      [("If-Match", "*")],
                                      [("If-Modified-Since", http_date())]])
    def test_missing_file(self, httpd, hdrs):
        on, off = self.both(httpd, "GET", "nope.txt", hdrs)
        self.assert_alone(httpd, on, off)
        assert on.status == 404
        assert on.header("ETag") is None

    @pytest.mark.expect_errors(r"AH00132|AH00035|[Pp]ermission denied|secret\.txt")
    @pytest.mark.parametrize("hdrs", [[], [("If-None-Match", "*")]])
    def test_unreadable_file_403(self, httpd, hdrs):
        if os.geteuid() != 0 and os.access(httpd.path("on/secret.txt"),
                                           os.R_OK):
            pytest.skip("cannot make an unreadable file here")
        on, off = self.both(httpd, "GET", "secret.txt", hdrs)
        assert on.status == off.status == 403
        assert on.header("ETag") is None

    @pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS",
                                        "PATCH", "PROPFIND", "BREW"])
    @pytest.mark.parametrize("hdrs", [[], [("If-Match", '"nope"')],
                                      [("If-None-Match", T)],
                                      [("If-None-Match", "*")]])
    def test_other_methods(self, httpd, method, hdrs, expect_errors):
        if method == "BREW":
            expect_errors.append(r"AH00135: Invalid method in request BREW")
        on, off = self.both(httpd, method, "a.txt", hdrs, body=b"x=1")
        assert on.status == off.status, (method, hdrs, on, off)
        assert on.header("ETag") != T
        assert on.header("Allow") == off.header("Allow")
        if on.status == 200:
            assert on.body == off.body

    def test_http10_request(self, httpd):
        r = httpd.raw("GET", "/on/a.txt", [("If-None-Match", T)],
                      version="HTTP/1.0")
        assert r.status == 304
        r = httpd.raw("GET", "/on/a.txt", version="HTTP/1.0")
        assert r.status == 200 and r.body == DATA and r.header("ETag") == T


class TestInheritance:
    @classmethod
    def populate(cls, srv):
        for d in ("inh", "inh/sub", "inh/sub2", "inh/sub3", "inh/off",
                  "inh/off/on", "inh/ns", "inh/ns/back", "inh/sub/deeper"):
            srv.write("%s/a.txt" % d, DATA, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        r = srv.docroot
        return """
<Directory {r}/inh>
    CondCache On
    CondCacheDigest md5
    CondCacheMaxAge 300
    CondCacheNoCache On
</Directory>
<Directory {r}/inh/sub2>
    CondCacheNoCache Off
</Directory>
<Directory {r}/inh/sub3>
    CondCacheDigest sha256
</Directory>
<Directory {r}/inh/off>
    CondCache Off
</Directory>
<Directory {r}/inh/off/on>
    CondCache On
</Directory>
<Directory {r}/inh/ns>
    CondCacheNoStore On
</Directory>
<Directory {r}/inh/ns/back>
    CondCacheNoStore Off
</Directory>
""".format(r=r)

    def check(self, httpd, d, tag, cc):
        r = httpd.get("/%s/a.txt" % d)
        assert r.status_code == 200
        assert r.headers.get("ETag") == tag, d
        assert cache_control_dict(r.headers.get("Cache-Control")) == cc, d
        if tag:
            r2 = httpd.get("/%s/a.txt" % d, {"If-None-Match": tag})
            assert r2.status_code == 304

    def test_parent(self, httpd):
        self.check(httpd, "inh", md5_tag(DATA),
                   {"max-age": "300", "no-cache": None})

    @pytest.mark.parametrize("d", ["inh/sub", "inh/sub/deeper"])
    def test_subdir_inherits_everything(self, httpd, d):
        self.check(httpd, d, md5_tag(DATA),
                   {"max-age": "300", "no-cache": None})

    def test_subdir_overrides_one(self, httpd):
        self.check(httpd, "inh/sub2", md5_tag(DATA), {"max-age": "300"})

    def test_subdir_other_digest(self, httpd):
        self.check(httpd, "inh/sub3", sha256_tag(DATA),
                   {"max-age": "300", "no-cache": None})

    def test_subdir_off(self, httpd):
        r = httpd.get("/inh/off/a.txt")
        assert r.headers["ETag"] == core_meta_tag(httpd.path("inh/off/a.txt"))
        assert httpd.note(r) == "-"

    def test_on_again_below_off_inherits_rest(self, httpd):
        self.check(httpd, "inh/off/on", md5_tag(DATA),
                   {"max-age": "300", "no-cache": None})

    def test_no_store_below(self, httpd):
        r = httpd.get("/inh/ns/a.txt", {"If-None-Match": md5_tag(DATA)})
        assert r.status_code == 200
        assert "ETag" not in r.headers
        assert cache_control_dict(r.headers["Cache-Control"]) == \
            {"no-store": None}

    def test_no_store_off_again(self, httpd):
        self.check(httpd, "inh/ns/back", md5_tag(DATA),
                   {"max-age": "300", "no-cache": None})


class TestVirtualHosts:
    @classmethod
    def populate(cls, srv):
        srv.write("a/f.txt", DATA, mtime=OLD)
        srv.write("b/f.txt", DATA, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
<VirtualHost 127.0.0.1:{port}>
    ServerName a.test
    DocumentRoot {r}/a
    CondCache On
    CondCacheDigest md5
    CondCacheMaxAge 90
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
    ServerName b.test
    DocumentRoot {r}/b
</VirtualHost>
""".format(port=srv.port, r=srv.docroot)

    def test_vhost_on(self, httpd):
        r = httpd.raw("GET", "/f.txt", host="a.test")
        assert r.status == 200
        assert r.header("ETag") == md5_tag(DATA)
        assert cache_control_dict(r.header("Cache-Control")) == \
            {"max-age": "90"}
        r = httpd.raw("GET", "/f.txt", [("If-None-Match", md5_tag(DATA))],
                      host="a.test")
        assert r.status == 304

    def test_other_vhost_off(self, httpd):
        r = httpd.raw("GET", "/f.txt", host="b.test")
        assert r.status == 200
        assert r.header("ETag") == core_meta_tag(httpd.path("b/f.txt"))
        assert r.header("Cache-Control") is None
        assert httpd.note(r) == "-"


class TestHtaccess:
    @classmethod
    def populate(cls, srv):
        files = {
            "ht/plain": None,
            "ht/on": "CondCache On",
            "ht/md5": "CondCache On\nCondCacheDigest md5",
            "ht/cc": "CondCache On\nCondCacheNoCache On\nCondCacheMaxAge 120",
            "ht/ns": "CondCache On\nCondCacheNoStore On",
            "ht/entries": "CondCache On\nCondCacheEntries 100",
            "ht2/off": "CondCache Off",
            "ht2/inherit": None,
            "ht3/on": "CondCache On",
        }
        for d, ht in files.items():
            srv.write("%s/a.txt" % d, DATA, mtime=OLD)
            if ht is not None:
                srv.write("%s/.htaccess" % d, ht + "\n", mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
<Directory {r}/ht>
    AllowOverride FileInfo
</Directory>
<Directory {r}/ht2>
    AllowOverride FileInfo
    CondCache On
    CondCacheMaxAge 30
</Directory>
<Directory {r}/ht3>
    AllowOverride AuthConfig Indexes Limit Options=Indexes
</Directory>
""".format(r=srv.docroot)

    def test_no_htaccess_off(self, httpd):
        r = httpd.get("/ht/plain/a.txt")
        assert r.headers["ETag"] == core_meta_tag(httpd.path("ht/plain/a.txt"))

    def test_htaccess_on(self, httpd):
        r = httpd.get("/ht/on/a.txt")
        assert r.status_code == 200
        assert r.headers["ETag"] == T
        r = httpd.get("/ht/on/a.txt", {"If-None-Match": T,
                                       "If-Modified-Since": http_date(1)})
        assert r.status_code == 304

    def test_htaccess_digest(self, httpd):
        assert httpd.get("/ht/md5/a.txt").headers["ETag"] == md5_tag(DATA)

    def test_htaccess_cache_control(self, httpd):
        r = httpd.get("/ht/cc/a.txt")
        assert cache_control_dict(r.headers["Cache-Control"]) == \
            {"max-age": "120", "no-cache": None}
        assert "Expires" in r.headers

    def test_htaccess_no_store(self, httpd):
        r = httpd.get("/ht/ns/a.txt", {"If-None-Match": '"x"'})
        assert r.status_code == 200
        assert "ETag" not in r.headers
        # preconditions are still evaluated (on Last-Modified and "*")
        assert httpd.get("/ht/ns/a.txt",
                         {"If-None-Match": "*"}).status_code == 304
        assert cache_control_dict(r.headers["Cache-Control"]) == \
            {"no-store": None}

    def test_htaccess_off_below_server_on(self, httpd):
        r = httpd.get("/ht2/off/a.txt")
        assert r.headers["ETag"] == core_meta_tag(httpd.path("ht2/off/a.txt"))
        assert httpd.get("/ht2/inherit/a.txt").headers["ETag"] == T

    @pytest.mark.expect_errors(r"CondCacheEntries")
    def test_server_only_directive_in_htaccess_500(self, httpd):
        off = httpd.error_log_size()
        r = httpd.get("/ht/entries/a.txt")
        assert r.status_code == 500
        lines, _ = httpd.error_log_lines_since(off)
        assert any("CondCacheEntries" in ln and ".htaccess" in ln
                   for ln in lines), lines

    @pytest.mark.expect_errors(r"CondCache")
    def test_needs_fileinfo_override(self, httpd):
        off = httpd.error_log_size()
        r = httpd.get("/ht3/on/a.txt")
        assert r.status_code == 500
        lines, _ = httpd.error_log_lines_since(off)
        assert any("CondCache" in ln for ln in lines), lines


class TestMaxFileSize:
    @classmethod
    def populate(cls, srv):
        for d in ("big", "big/none", "big/inode", "dflt"):
            srv.write("%s/at.txt" % d, b"a" * 1000, mtime=OLD)
            srv.write("%s/over.txt" % d, b"b" * 1001, mtime=OLD)
        srv.big("dflt/huge.bin", (1 << 30) + 1, random_bytes=False, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
<Directory {r}/big>
    CondCache On
    CondCacheMaxFileSize 1000
    CondCacheMaxAge 60
</Directory>
<Directory {r}/big/none>
    FileETag None
</Directory>
<Directory {r}/big/inode>
    FileETag INode MTime Size
</Directory>
<Directory {r}/dflt>
    CondCache On
</Directory>
""".format(r=srv.docroot)

    def test_at_limit_hashed(self, httpd):
        r = httpd.get("/big/at.txt")
        assert r.headers["ETag"] == sha1_tag(b"a" * 1000)
        assert httpd.note(r) in ("miss", "hit")

    def test_over_limit_metadata_tag(self, httpd):
        meta = core_meta_tag(httpd.path("big/over.txt"))
        r = httpd.get("/big/over.txt")
        assert r.status_code == 200
        assert r.content == b"b" * 1001
        assert r.headers["ETag"] == meta
        assert cache_control_dict(r.headers["Cache-Control"]) == \
            {"max-age": "60"}
        assert httpd.note(r) == "too-large"

    def test_over_limit_conditionals(self, httpd):
        meta = core_meta_tag(httpd.path("big/over.txt"))
        r = httpd.get("/big/over.txt", {"If-None-Match": meta,
                                        "If-Modified-Since": http_date(1)})
        assert r.status_code == 304
        assert r.headers["ETag"] == meta
        assert cache_control_dict(r.headers["Cache-Control"]) == \
            {"max-age": "60"}
        r = httpd.get("/big/over.txt", {"If-Modified-Since": http_date(OLD)})
        assert r.status_code == 304
        r = httpd.get("/big/over.txt", {"If-Match": '"nope"'})
        assert r.status_code == 412
        r = httpd.get("/big/over.txt", {"If-None-Match": sha1_tag(b"b" * 1001)})
        assert r.status_code == 200

    def test_over_limit_file_etag_none(self, httpd):
        r = httpd.get("/big/none/over.txt")
        assert r.status_code == 200
        assert "ETag" not in r.headers
        r = httpd.get("/big/none/over.txt",
                      {"If-Modified-Since": http_date(OLD)})
        assert r.status_code == 304
        assert cache_control_dict(r.headers["Cache-Control"]) == \
            {"max-age": "60"}
        # FileETag None is honoured below the limit too: no tag at all
        r = httpd.get("/big/none/at.txt")
        assert "ETag" not in r.headers
        assert httpd.note(r) == "no-etag"

    def test_over_limit_file_etag_inode(self, httpd):
        r = httpd.get("/big/inode/over.txt")
        assert r.headers["ETag"] == core_meta_tag(
            httpd.path("big/inode/over.txt"), inode=True)

    def test_no_default_limit(self, httpd):
        """No CondCacheMaxFileSize: no limit.  A 1 GiB + 1 byte file is too
        big to hash in the request (CondCacheInlineHashMax): served at once
        without a tag, hashed in the background, tagged from then on."""
        before = httpd.status()
        r = httpd.raw("HEAD", "/dflt/huge.bin")
        assert r.status == 200
        assert r.header("Content-Length") == str((1 << 30) + 1)
        assert r.header("ETag") is None
        assert httpd.note(r) == "pending"
        deadline = time.time() + 60
        while httpd.status()["QueueStored"] == before["QueueStored"]:
            assert time.time() < deadline, "the worker never stored it"
            time.sleep(0.1)
        zeros = hashlib.sha1()
        chunk = b"\0" * (1 << 20)
        for _ in range(1024):
            zeros.update(chunk)
        zeros.update(b"\0")
        r = httpd.raw("HEAD", "/dflt/huge.bin")
        assert r.header("ETag") == tag_from_digest("sha1", zeros.digest())
        assert httpd.note(r) == "hit"
        # and a small file is hashed in the request, as ever
        assert httpd.get("/dflt/over.txt").headers["ETag"] == \
            sha1_tag(b"b" * 1001)

    def test_default_limit_range_on_huge(self, httpd):
        with httpd.connect() as c:
            c.send(build_request("GET", "/dflt/huge.bin",
                                 [("Range", "bytes=0-15")]))
            r = c.read_response()
        assert r.status == 206 and r.body == b"\0" * 16
