"""Entity-tag forms and how tags follow file content."""
import os
import time

import pytest

from condcache_env import write_file
from headers import parse_http_date
from tags import (content_tag, core_meta_tag, have_xxh128, sha1_tag, TAG_RES,
                  xxh128_tag)

OLD = 1600000000          # 2020-09-13, a fixed old mtime
SMALL = b"condcache says hello\n"
BIN = bytes(range(256)) * 397 + b"tail"


class TestTagForms:
    algos = ("sha1", "md5", "sha256", "xxh128")

    @classmethod
    def populate(cls, srv):
        for a in cls.algos + ("default", "core", "off"):
            srv.write("%s/small.txt" % a, SMALL, mtime=OLD)
            srv.write("%s/empty.txt" % a, b"", mtime=OLD)
            srv.write("%s/bin.bin" % a, BIN, mtime=OLD)
        srv.write("default/idx/index.html", b"<p>index</p>\n", mtime=OLD)
        srv.write("default/copy1/small.txt", SMALL, mtime=OLD + 5)
        srv.write("default/copy2/small.txt", SMALL, mtime=OLD + 77)
        srv.write("default/notes/a.txt", b"note me\n", mtime=OLD)
        # files whose names give no content type (MIME type unknown)
        srv.write("default/untyped/LICENSE", SMALL, mtime=OLD)
        srv.write("default/untyped/data.dat", BIN, mtime=OLD)
        srv.write("default/untyped/x.unknownext", SMALL, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        d = srv.docroot
        out = []
        for a in cls.algos:
            out.append("<Directory %s/%s>\n  CondCache On\n"
                       "  CondCacheDigest %s\n</Directory>" % (d, a, a))
        out.append("<Directory %s/default>\n  CondCache On\n"
                   "  DirectoryIndex index.html\n</Directory>" % d)
        out.append("<Directory %s/core>\n  FileETag Digest\n</Directory>" % d)
        out.append("<Directory %s/off>\n  CondCache Off\n</Directory>" % d)
        return "\n".join(out)

    def test_default_is_sha1(self, httpd):
        r = httpd.get("/default/small.txt")
        assert r.status_code == 200
        assert r.headers["ETag"] == sha1_tag(SMALL)

    @pytest.mark.parametrize("name", ["small.txt", "empty.txt", "bin.bin"])
    def test_sha1_byte_identical_to_core_filetag_digest(self, httpd, name):
        ours = httpd.get("/sha1/" + name)
        core = httpd.get("/core/" + name)
        assert ours.status_code == core.status_code == 200
        assert core.headers["ETag"] == sha1_tag(ours.content)   # sanity
        assert ours.headers["ETag"] == core.headers["ETag"]

    @pytest.mark.parametrize("algo", ["sha1", "md5", "sha256"])
    @pytest.mark.parametrize("name", ["small.txt", "empty.txt", "bin.bin"])
    def test_tag_equals_independent_hash(self, httpd, algo, name):
        data = httpd.read("%s/%s" % (algo, name))
        r = httpd.get("/%s/%s" % (algo, name))
        assert r.status_code == 200
        assert r.content == data
        assert r.headers["ETag"] == content_tag(algo, data)
        assert TAG_RES[algo].match(r.headers["ETag"])

    def test_tag_forms_literal(self, httpd):
        # spelled out once, not through the helpers
        assert httpd.get("/md5/empty.txt").headers["ETag"] == \
            '"d41d8cd98f00b204e9800998ecf8427e"'
        assert httpd.get("/sha1/empty.txt").headers["ETag"] == \
            '"2jmj7l5rSw0yVb/vlWAYkK/YBwk="'
        assert httpd.get("/sha256/empty.txt").headers["ETag"] == \
            '"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="'
        assert httpd.get("/xxh128/empty.txt").headers["ETag"] == \
            '"99aa06d3014798d86001c324468d497f"'

    @pytest.mark.parametrize("name", ["small.txt", "empty.txt", "bin.bin"])
    def test_xxh128_form(self, httpd, name):
        r1 = httpd.get("/xxh128/" + name)
        r2 = httpd.get("/xxh128/" + name)
        tag = r1.headers["ETag"]
        assert TAG_RES["xxh128"].match(tag), tag
        assert r2.headers["ETag"] == tag
        if have_xxh128():
            assert tag == xxh128_tag(httpd.read("xxh128/" + name))

    def test_algorithms_give_different_tags(self, httpd):
        tags = {a: httpd.get("/%s/bin.bin" % a).headers["ETag"]
                for a in self.algos}
        assert len(set(tags.values())) == len(self.algos), tags

    def test_headers_on_200(self, httpd):
        r = httpd.get("/default/bin.bin")
        assert r.status_code == 200
        assert r.content == BIN
        assert r.headers["Content-Length"] == str(len(BIN))
        assert r.headers["Accept-Ranges"] == "bytes"
        assert parse_http_date(r.headers["Last-Modified"]) == OLD
        assert r.headers["ETag"] == sha1_tag(BIN)
        assert "Date" in r.headers

    def test_head_has_same_headers_no_body(self, httpd):
        g = httpd.raw("GET", "/default/bin.bin")
        h = httpd.raw("HEAD", "/default/bin.bin")
        assert h.status == 200
        assert h.body == b""
        for name in ("ETag", "Content-Length", "Last-Modified",
                     "Accept-Ranges", "Content-Type"):
            assert h.header(name) == g.header(name), name
        assert g.body == BIN

    def test_same_content_two_places_same_tag(self, httpd):
        t0 = httpd.get("/default/small.txt").headers["ETag"]
        t1 = httpd.get("/default/copy1/small.txt").headers["ETag"]
        t2 = httpd.get("/default/copy2/small.txt").headers["ETag"]
        assert t0 == t1 == t2 == sha1_tag(SMALL)
        # and each place revalidates with the other's tag
        r = httpd.get("/default/copy2/small.txt", {"If-None-Match": t1})
        assert r.status_code == 304

    def test_off_scope_keeps_core_tag(self, httpd):
        r = httpd.get("/off/small.txt")
        assert r.status_code == 200
        assert r.headers["ETag"] == core_meta_tag(httpd.path("off/small.txt"))
        assert httpd.note(r) == "-"

    def test_directory_index_gets_content_tag(self, httpd):
        body = b"<p>index</p>\n"
        r = httpd.get("/default/idx/")
        assert r.status_code == 200
        assert r.content == body
        assert r.headers["ETag"] == sha1_tag(body)
        r2 = httpd.get("/default/idx/", {"If-None-Match": sha1_tag(body)})
        assert r2.status_code == 304
        assert httpd.get("/default/idx/index.html").headers["ETag"] == \
            sha1_tag(body)

    @pytest.mark.parametrize("name", ["LICENSE", "data.dat", "x.unknownext"])
    def test_file_without_content_type(self, httpd, name):
        data = BIN if name == "data.dat" else SMALL
        r = httpd.raw("GET", "/default/untyped/" + name)
        assert r.status == 200
        assert r.body == data
        assert r.header("ETag") == sha1_tag(data)
        r = httpd.raw("GET", "/default/untyped/" + name,
                      [("If-None-Match", sha1_tag(data))])
        assert r.status == 304

    def test_note_miss_then_hit(self, httpd):
        r1 = httpd.get("/default/notes/a.txt")
        r2 = httpd.get("/default/notes/a.txt")
        r3 = httpd.get("/default/notes/a.txt",
                       {"If-None-Match": sha1_tag(b"note me\n")})
        assert r1.status_code == r2.status_code == 200
        assert r3.status_code == 304
        assert httpd.note(r1) == "miss"
        assert httpd.note(r2) == "hit"
        assert httpd.note(r3) == "hit"


class TestTagChanges:
    """Files change on disk between requests; each test has its own file."""

    @classmethod
    def populate(cls, srv):
        for n in ("touch", "rename", "change", "inplace", "inplace2"):
            srv.write("t/%s.txt" % n, b"version one of %s\n" % n.encode(),
                      mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return "<Directory %s/t>\n  CondCache On\n</Directory>" % srv.docroot

    def _prime(self, httpd, rel):
        """First request: hashed and stored (the file is settled)."""
        r = httpd.get("/" + rel)
        assert r.status_code == 200
        assert httpd.note(r) == "miss"
        assert httpd.note(httpd.get("/" + rel)) == "hit"
        return r.headers["ETag"]

    def test_touch_keeps_tag(self, httpd):
        rel = "t/touch.txt"
        tag = self._prime(httpd, rel)
        os.utime(httpd.path(rel), None)            # now
        r = httpd.get("/" + rel)
        assert r.headers["ETag"] == tag
        assert parse_http_date(r.headers["Last-Modified"]) > OLD
        os.utime(httpd.path(rel), (OLD + 1000, OLD + 1000))
        r = httpd.get("/" + rel, {"If-None-Match": tag})
        assert r.status_code == 304
        assert r.headers["ETag"] == tag

    def test_atomic_rename_identical_content_keeps_tag(self, httpd):
        rel = "t/rename.txt"
        tag = self._prime(httpd, rel)
        p = httpd.path(rel)
        ino = os.stat(p).st_ino
        tmp = p + ".tmp"
        write_file(tmp, httpd.read(rel))
        os.replace(tmp, p)
        assert os.stat(p).st_ino != ino
        r = httpd.get("/" + rel)
        assert r.status_code == 200
        assert r.headers["ETag"] == tag
        r = httpd.get("/" + rel, {"If-None-Match": tag})
        assert r.status_code == 304

    def test_content_change_new_tag(self, httpd):
        rel = "t/change.txt"
        old_tag = self._prime(httpd, rel)
        new = b"version two, longer than the first one\n"
        p = httpd.path(rel)
        tmp = p + ".tmp"
        write_file(tmp, new)
        os.replace(tmp, p)
        r = httpd.get("/" + rel)
        assert r.status_code == 200
        assert r.content == new
        assert r.headers["ETag"] == sha1_tag(new) != old_tag
        r = httpd.get("/" + rel, {"If-None-Match": old_tag})
        assert r.status_code == 200
        assert r.content == new
        assert r.headers["ETag"] == sha1_tag(new)

    @pytest.mark.parametrize("rel", ["t/inplace.txt", "t/inplace2.txt"])
    def test_inplace_same_size_restored_mtime_new_tag(self, httpd, rel):
        old_tag = self._prime(httpd, rel)
        p = httpd.path(rel)
        st = os.stat(p)
        old = httpd.read(rel)
        new = old.upper()
        assert len(new) == len(old) and new != old
        with open(p, "r+b") as f:           # same inode, same size
            f.write(new)
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
        st2 = os.stat(p)
        assert (st2.st_ino, st2.st_size, st2.st_mtime_ns) == \
            (st.st_ino, st.st_size, st.st_mtime_ns)
        if rel.endswith("2.txt"):
            time.sleep(1.2)   # also once the change is old enough to cache
        r = httpd.get("/" + rel)
        assert r.content == new
        assert r.headers["ETag"] == sha1_tag(new) != old_tag
        r = httpd.get("/" + rel, {"If-None-Match": old_tag})
        assert r.status_code == 200
        r = httpd.get("/" + rel, {"If-None-Match": sha1_tag(new)})
        assert r.status_code == 304
