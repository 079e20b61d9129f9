"""The shared table, seen through the status handler and request notes."""
import hashlib
import os
import threading
import time

from condcache_env import SETTLE_SECONDS
from logs import STATUS_KEYS, STATUS_WORDS
from tags import sha1_tag, sha256_tag, tag_from_digest, TAG_RES

OLD = 1600000000
MIB = 1 << 20


def delta(before, after):
    return {k: after[k] - before[k] for k in STATUS_KEYS
            if isinstance(after.get(k), int) and isinstance(before.get(k), int)}


class TestStatus:
    @classmethod
    def populate(cls, srv):
        srv.write("s/small.txt", b"small status file\n", mtime=OLD)
        srv.write("s/counted.txt", b"counted file\n" * 100, mtime=OLD)
        srv.big("s/big8.bin", 8 * MIB, mtime=OLD)
        srv.big("s/flight.bin", 96 * MIB, random_bytes=False, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        # hashed in the request, which these counters are about
        return """
CondCacheInlineHashMax 1073741824
<Directory {r}/s>
    CondCache On
</Directory>
<Directory {r}/s256>
    CondCache On
    CondCacheDigest sha256
</Directory>
""".format(r=srv.docroot)

    def test_auto_keys_exactly(self, httpd):
        r = httpd.get("/condcache-status?auto")
        assert r.status_code == 200
        keys = []
        for line in r.text.splitlines():
            if not line.strip():
                continue
            k, sep, v = line.partition(": ")
            assert sep, line
            assert v.strip().isdigit() or k in STATUS_WORDS, line
            keys.append(k)
        assert sorted(keys) == sorted(STATUS_KEYS)
        assert len(keys) == len(set(keys))

    def test_default_capacity_and_sizes(self, httpd):
        st = httpd.status()
        assert st["Capacity"] == 65536
        assert st["BytesPerEntry"] > 0
        assert st["SharedMemoryBytes"] >= st["Capacity"] * st["BytesPerEntry"]
        assert 0 <= st["EntriesInUse"] <= st["Capacity"]

    def test_html_page(self, httpd):
        r = httpd.get("/condcache-status")
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/html")
        assert "<html" in r.text.lower()
        assert "ETag" not in r.headers

    def test_status_request_not_counted(self, httpd):
        a = httpd.status()
        b = httpd.status()
        d = delta(a, b)
        assert d["Hits"] == d["Misses"] == d["FilesHashed"] == 0
        r = httpd.get("/condcache-status?auto")
        assert httpd.note(r) == "-"

    def test_miss_then_hit_counters(self, httpd):
        body = b"counted file\n" * 100
        a = httpd.status()
        r = httpd.get("/s/counted.txt")
        assert r.headers["ETag"] == sha1_tag(body)
        assert httpd.note(r) == "miss"
        b = httpd.status()
        d = delta(a, b)
        assert d["Misses"] == 1
        assert d["FilesHashed"] == 1
        assert d["BytesHashed"] == len(body)
        assert d["Inserts"] == 1
        assert d["EntriesInUse"] == 1
        assert d["Hits"] == 0
        r = httpd.get("/s/counted.txt", {"If-None-Match": sha1_tag(body)})
        assert r.status_code == 304
        assert httpd.note(r) == "hit"
        d = delta(b, httpd.status())
        assert d["Hits"] == 1
        assert d["FilesHashed"] == d["BytesHashed"] == d["Misses"] == 0

    def test_large_revalidation_is_a_lookup(self, httpd):
        data = httpd.read("s/big8.bin")
        tag = sha1_tag(data)
        r = httpd.get("/s/big8.bin")
        assert r.status_code == 200 and r.headers["ETag"] == tag
        a = httpd.status()
        for _ in range(5):
            r = httpd.get("/s/big8.bin", {"If-None-Match": tag})
            assert r.status_code == 304
            assert httpd.note(r) == "hit"
        r = httpd.head("/s/big8.bin")
        assert r.headers["ETag"] == tag
        d = delta(a, httpd.status())
        assert d["BytesHashed"] == 0
        assert d["FilesHashed"] == 0
        assert d["Hits"] == 6

    def test_per_algorithm_entries(self, httpd):
        """The same file under two digests: two entries, each a hit after."""
        data = b"two digests\n"
        httpd.write("s/two.txt", data, mtime=OLD)
        httpd.write("s256/two.txt", data, mtime=OLD)
        httpd.settle()
        assert httpd.get("/s/two.txt").headers["ETag"] == sha1_tag(data)
        assert httpd.get("/s256/two.txt").headers["ETag"] == sha256_tag(data)
        r1 = httpd.get("/s/two.txt")
        r2 = httpd.get("/s256/two.txt")
        assert r1.headers["ETag"] == sha1_tag(data)
        assert r2.headers["ETag"] == sha256_tag(data)
        assert httpd.note(r1) == httpd.note(r2) == "hit"

    def test_uncached_recent_file(self, httpd):
        rel = "s/fresh-%d.txt" % time.time_ns()
        data = b"just written\n"
        httpd.write(rel, data)
        a = httpd.status()
        r1 = httpd.get("/" + rel)
        r2 = httpd.get("/" + rel)
        for r in (r1, r2):
            assert r.status_code == 200
            assert r.headers["ETag"] == sha1_tag(data)
            assert httpd.note(r) == "uncached"
        d = delta(a, httpd.status())
        assert d["Uncached"] == 2
        assert d["FilesHashed"] == 2
        assert d["Inserts"] == 0
        time.sleep(SETTLE_SECONDS)
        r = httpd.get("/" + rel)
        assert httpd.note(r) == "miss"
        r = httpd.get("/" + rel, {"If-None-Match": sha1_tag(data)})
        assert r.status_code == 304
        assert httpd.note(r) == "hit"

    def test_single_flight(self, httpd):
        """Many requests for one unhashed large file at once: it is hashed
        once; the others wait for that hash (or find it stored)."""
        n = 8
        size = 96 * MIB
        a = httpd.status()
        barrier = threading.Barrier(n)
        results = [None] * n

        def fetch(i):
            barrier.wait()
            results[i] = httpd.head("/s/flight.bin")

        threads = [threading.Thread(target=fetch, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        d = delta(a, httpd.status())
        h = hashlib.sha1()
        chunk = b"\0" * MIB
        for _ in range(size // MIB):
            h.update(chunk)
        expected = tag_from_digest("sha1", h.digest())
        notes = sorted(httpd.note(r) for r in results)
        for r in results:
            assert r.status_code == 200
            assert r.headers.get("ETag") == expected, notes
        assert notes.count("miss") == 1, notes
        assert set(notes) <= {"miss", "shared", "hit"}, notes
        assert d["FilesHashed"] == 1, (d, notes)
        assert d["BytesHashed"] == size
        assert d["Waits"] == notes.count("shared"), (d, notes)
        assert notes.count("shared") >= 1, notes


    def test_changed_while_hashing(self, httpd):
        """A file whose ctime keeps changing while it is hashed gets no
        stored digest (outcome `changed`), and no wrong tag."""
        rel = "s/changing.bin"
        httpd.big(rel, 96 * MIB, random_bytes=False, mtime=OLD)
        httpd.settle()
        path = httpd.path(rel)
        stop = threading.Event()

        def toucher():
            while not stop.is_set():
                os.utime(path, (OLD, OLD))    # same mtime, new ctime

        t = threading.Thread(target=toucher)
        a = httpd.status()
        t.start()
        try:
            r = httpd.head("/" + rel)
        finally:
            stop.set()
            t.join()
        assert r.status_code == 200
        assert httpd.note(r) == "changed"
        tag = r.headers.get("ETag")
        assert tag is None or tag.startswith("W/") or \
            not TAG_RES["sha1"].match(tag), tag
        d = delta(a, httpd.status())
        assert d["Inserts"] == 0


class TestStatusSmallTable:
    @classmethod
    def populate(cls, srv):
        for i in range(200):
            srv.write("e/f%03d.txt" % i, b"file number %d\n" % i, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
CondCacheEntries 64
<Directory {r}/e>
    CondCache On
</Directory>
""".format(r=srv.docroot)

    def test_capacity_configured(self, httpd):
        st = httpd.status()
        assert st["Capacity"] == 64
        assert st["SharedMemoryBytes"] >= 64 * st["BytesPerEntry"]

    def test_evictions(self, httpd):
        a = httpd.status()
        for i in range(200):
            r = httpd.get("/e/f%03d.txt" % i)
            assert r.headers["ETag"] == sha1_tag(b"file number %d\n" % i)
        b = httpd.status()
        d = delta(a, b)
        assert b["EntriesInUse"] <= b["Capacity"]
        assert d["FilesHashed"] == 200
        assert d["Evictions"] > 0
        assert d["Evictions"] >= d["Inserts"] - b["Capacity"]
        # a second pass still gives correct tags (hits or re-hashes)
        for i in range(0, 200, 7):
            r = httpd.get("/e/f%03d.txt" % i)
            assert r.headers["ETag"] == sha1_tag(b"file number %d\n" % i)
        assert httpd.status()["EntriesInUse"] <= b["Capacity"]


class TestGraceful:
    @classmethod
    def populate(cls, srv):
        srv.write("g/a.txt", b"graceful a\n", mtime=OLD)
        srv.write("g/b.txt", b"graceful b\n", mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return "<Directory %s/g>\n  CondCache On\n</Directory>" % srv.docroot

    def test_table_survives_graceful(self, httpd):
        tag = sha1_tag(b"graceful a\n")
        r = httpd.get("/g/a.txt")
        assert r.headers["ETag"] == tag
        assert httpd.note(httpd.get("/g/a.txt")) == "hit"
        a = httpd.status()
        httpd.graceful()
        r = httpd.get("/g/a.txt", {"If-None-Match": tag})
        assert r.status_code == 304
        assert httpd.note(r) == "hit"
        b = httpd.status()
        assert b["Hits"] >= a["Hits"] + 1
        assert b["FilesHashed"] == a["FilesHashed"]
        assert b["Capacity"] == a["Capacity"]

    def test_works_after_several_gracefuls(self, httpd):
        for _ in range(3):
            httpd.graceful()
        r = httpd.get("/g/b.txt")
        assert r.status_code == 200
        assert r.headers["ETag"] == sha1_tag(b"graceful b\n")
        r = httpd.get("/g/b.txt", {"If-None-Match": sha1_tag(b"graceful b\n")})
        assert r.status_code == 304


def test_graceful_picks_up_new_config(new_server):
    data = b"reconfigured\n"

    def populate(s):
        s.write("r/a.txt", data, mtime=OLD)

    conf1 = lambda s: "CondCacheEntries 1024\n<Directory %s/r>\n" \
                      "  CondCache On\n</Directory>" % s.docroot
    srv = new_server("regraceful", conf1, populate=populate, settle=True)
    assert srv.get("/r/a.txt").headers["ETag"] == sha1_tag(data)
    assert srv.status()["Capacity"] == 1024
    srv.install("CondCacheEntries 2048\n<Directory %s/r>\n  CondCache On\n"
                "  CondCacheDigest sha256\n  CondCacheMaxAge 42\n</Directory>"
                % srv.docroot)
    srv.graceful()
    r = srv.get("/r/a.txt")
    assert r.headers["ETag"] == sha256_tag(data)
    assert r.headers["Cache-Control"] == "max-age=42"
    assert srv.status()["Capacity"] == 2048
    r = srv.get("/r/a.txt", {"If-None-Match": sha256_tag(data)})
    assert r.status_code == 304
