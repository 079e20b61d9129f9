"""Several servers with separate copies of the same files; tags stay true to
the bytes served while files are replaced under load."""
import os
import threading
import time

import pytest

from condcache_env import deploy_versions
from tags import core_meta_tag, md5_tag, sha1_tag

FILES = {
    "app.js": b"console.log('farm');\n" * 300,
    "img/logo.bin": bytes(range(256)) * 1000,
    "index.html": b"<h1>farm</h1>\n",
}


def farm_conf(digest):
    def conf(s):
        return ("<Directory %s>\n  CondCache On\n  CondCacheDigest %s\n"
                "  DirectoryIndex index.html\n</Directory>"
                % (s.docroot, digest))
    return conf


def populate_with(mtime):
    def populate(s):
        for rel, data in FILES.items():
            s.write(rel, data, mtime=mtime)
    return populate


@pytest.mark.parametrize("digest,tagf", [("sha1", sha1_tag), ("md5", md5_tag)])
def test_two_servers_same_tags(new_server, digest, tagf):
    a = new_server("farmA", farm_conf(digest), populate=populate_with(1600000000))
    b = new_server("farmB", farm_conf(digest), populate=populate_with(1650000000),
                   settle=True)
    for rel, data in FILES.items():
        # different inodes and mtimes: core's tags would differ
        assert os.stat(a.path(rel)).st_ino != os.stat(b.path(rel)).st_ino
        assert core_meta_tag(a.path(rel)) != core_meta_tag(b.path(rel))
        ra, rb = a.get("/" + rel), b.get("/" + rel)
        assert ra.status_code == rb.status_code == 200
        assert ra.headers["ETag"] == rb.headers["ETag"] == tagf(data)
        assert ra.headers["Last-Modified"] != rb.headers["Last-Modified"]
        # each answers 304 to the other's tag ...
        assert b.get("/" + rel, {"If-None-Match": ra.headers["ETag"]}) \
            .status_code == 304
        assert a.get("/" + rel, {"If-None-Match": rb.headers["ETag"]}) \
            .status_code == 304
        # ... even with the other's (older) Last-Modified as IMS, which
        # alone would give 200 on b
        hdrs = {"If-None-Match": ra.headers["ETag"],
                "If-Modified-Since": ra.headers["Last-Modified"]}
        assert b.get("/" + rel, hdrs).status_code == 304
        assert b.get("/" + rel, {"If-Modified-Since":
                                 ra.headers["Last-Modified"]}).status_code == 200
    r = b.get("/", {"If-None-Match": tagf(FILES["index.html"])})
    assert r.status_code == 304


def test_tags_match_bodies_during_atomic_deploys(new_server):
    """A writer renames new versions into place while readers fetch: every
    200 must carry the tag and length of the bytes it delivered."""
    versions = [b"version %d\n" % i * (500 + 700 * i) for i in range(4)]
    tags = {sha1_tag(v) for v in versions}

    def populate(s):
        s.write("d/file.txt", versions[0])

    srv = new_server("deploy", lambda s: "<Directory %s/d>\n  CondCache On\n"
                     "</Directory>" % s.docroot, populate=populate)
    path = srv.path("d/file.txt")
    stop = threading.Event()
    errors = []
    counts = {"ok": 0, "304": 0, "tagged": 0}
    lock = threading.Lock()

    def reader():
        last = None
        while not stop.is_set():
            hdrs = [("If-None-Match", last)] if last else []
            r = srv.raw("GET", "/d/file.txt", hdrs)
            with lock:
                if r.status == 304:
                    counts["304"] += 1
                    if r.header("ETag") != last:
                        errors.append(("304 tag", last, r.header("ETag")))
                    continue
                counts["ok"] += 1
                tag = r.header("ETag")
                if tag is not None:
                    counts["tagged"] += 1
                if r.status != 200:
                    errors.append(("status", r.status))
                elif tag is not None and tag != sha1_tag(r.body):
                    errors.append(("tag/body", tag, len(r.body)))
                elif int(r.header("Content-Length")) != len(r.body):
                    errors.append(("length", r.header("Content-Length"),
                                   len(r.body)))
                elif r.body not in versions:
                    errors.append(("torn body", len(r.body)))
                elif tag is not None and tag not in tags:
                    errors.append(("unknown tag", tag))
            last = tag

    threads = [threading.Thread(
        target=deploy_versions, args=(path, versions, stop))] + \
        [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(2.5)
    stop.set()
    for t in threads:
        t.join(30)
    print("deploy counts", counts)
    assert counts["ok"] > 50, counts
    assert counts["tagged"] > counts["ok"] // 2, counts
    assert not errors, (errors[:10], counts)
