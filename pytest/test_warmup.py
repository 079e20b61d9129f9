"""CondCacheWarmUp: after each start the background worker (one process,
a child of httpd's parent, running as the server's User at nice 19) walks
the configured trees without following symbolic links and hashes every
regular file whose digest is not in the table yet, with every digest
CondCacheDigest names in the server configuration, in one read.

  - a tree of a few hundred files: without a single request the warm-up
    gets done, and every file's first request is a hit with the right tag
    (sha1 and md5: one read, WarmUpBytes is the tree's size once); the
    worker is www-data at nice 19; symlinks out of the tree are not
    followed;
  - with a table file, a full restart warms only what changed;
  - a tree larger than the table stops when the table is as full as the
    notice says (at most 90%; table-full), and requests stay right;
  - a graceful restart mid-way neither loses nor repeats work;
  - requests never wait for the warm-up;
  - a root that is a symbolic link is walked, 64 directories down at
    most, past FIFOs and sockets.
"""
import os
import pwd
import random
import re
import stat
import threading
import time

import procs
from tags import md5_tag, sha1_tag, zeros_tag

OLD = 1600000000
MIB = 1 << 20
KIB = 1 << 10

# generous deadlines for what the nice-19 worker does while the other
# pytest worker keeps the CPUs busy; a healthy run takes seconds
WARM_TIMEOUT = 150


def write_tree(srv, prefix, n, seed, min_size=KIB, max_size=MIB, subdirs=6):
    """n files, log-uniform sizes in [min_size, max_size], in subdirs;
    {rel: data}."""
    rng = random.Random(seed)
    files = {}
    for i in range(n):
        size = int(min_size * (max_size / min_size) ** rng.random())
        if i == 0:
            size = min_size
        elif i == 1:
            size = max_size
        rel = "%s/s%d/f%04d.bin" % (prefix, i % subdirs, i)
        data = rng.randbytes(size)
        srv.write(rel, data, mtime=OLD)
        files[rel] = data
    return files


def warm_done(st):
    return st["WarmUpState"] in ("done", "table-full")


def warm_conf(warm, on, first=lambda s: ""):
    """A server configuration (a function of the server): first(s), then
    CondCacheWarmUp of the docroot's `warm` and CondCache On in each of
    the docroot's directories `on`."""
    return lambda s: first(s) + "CondCacheWarmUp %s/%s\n" % (
        s.docroot, warm) + "".join(
            "<Directory %s/%s>\n  CondCache On\n</Directory>\n"
            % (s.docroot, d) for d in on)


def settled_server(new_server, name, conf, populate):
    """A server of one test, started once its files may be kept (a file
    changed in the last seconds waits for the warm-up's next pass)."""
    srv = new_server(name, conf, populate=populate, start=False)
    srv.settle()
    srv.start()
    return srv


def head_all(srv, paths):
    """HEADs every path; the responses."""
    return [srv.head(p) for p in paths]


def wait_ctime_settled(paths, seconds=1.3):
    newest = max(os.stat(p).st_ctime for p in paths)
    left = newest + seconds - time.time()
    if left > 0:
        time.sleep(left)


# --------------------------------------------------------------------------

class TestWarmUpTree:
    N = 300

    @classmethod
    def populate(cls, srv):
        cls.files = write_tree(srv, "w", cls.N, seed=1)
        cls.total = sum(len(d) for d in cls.files.values())
        cls.outside = {"outside/secret.bin": b"outside the tree\n" * 50,
                       "outside/sub/inner.bin": b"behind a directory link\n"}
        for rel, data in cls.outside.items():
            srv.write(rel, data, mtime=OLD)
        os.symlink(srv.path("outside/secret.bin"), srv.path("w/link-out.bin"))
        os.symlink(srv.path("outside/sub"), srv.path("w/s0/linkdir"))
        os.symlink("../../outside/secret.bin", srv.path("w/s1/rel-link.bin"))

    @classmethod
    def conf(cls, srv):
        # sha1 where the tree is served as /w/, md5 where it is /w5/: the
        # warm-up hashes both, in one read of each file
        return """
CondCacheWarmUp {r}/w
Alias /w5 {r}/w
<Directory {r}/w>
    CondCache On
    CondCacheDigest sha1
</Directory>
<Location /w5>
    CondCacheDigest md5
</Location>
<Directory {r}/outside>
    CondCache On
</Directory>
""".format(r=srv.docroot)

    def test_done_without_requests(self, httpd):
        st = httpd.wait_status(warm_done, "warm-up done", WARM_TIMEOUT)
        assert st["WarmUpState"] == "done", st
        assert st["WarmUpHashed"] == self.N, st
        # two digests, one read: the tree's bytes once
        assert st["WarmUpBytes"] == self.total, (st, self.total)
        assert st["WarmUpFiles"] >= self.N
        assert st["EntriesInUse"] == 2 * self.N, st
        # nobody asked for anything: no request hashed, looked up or missed
        assert st["Hits"] == st["Misses"] == 0, st
        assert st["FilesHashed"] == st["BytesHashed"] == 0, st
        assert st["QueueAdded"] == 0, st
        said = re.search(r"CondCacheWarmUp: \d+ files looked at, %d hashed "
                         r"\(%d bytes\) in (\d+) ms" % (self.N, self.total),
                         httpd.error_log_text())
        assert said
        # the time it took, by the worker's clock: the log's, to the ms
        assert st["WarmUpMilliseconds"] == int(said.group(1)), st

    def test_worker_process(self, httpd):
        st = httpd.status()
        pid = st["WorkerPid"]
        assert pid > 0 and procs.pid_alive(pid), st
        assert procs.proc_stat(pid)[1] == httpd.pid, \
            "the worker is not a child of httpd's parent"
        assert procs.nice(pid) == 19
        if httpd.env.is_root:
            uid = pwd.getpwnam(httpd.env.user).pw_uid
            assert procs.uids(pid) == (uid,) * 4, procs.uids(pid)
        # one worker: no other child of the parent runs as it
        assert [p for p in procs.children(httpd.pid)
                if procs.nice(p) == 19] == [pid]

    def test_first_requests_are_hits(self, httpd):
        httpd.wait_status(warm_done, "warm-up done", WARM_TIMEOUT)
        rels = sorted(self.files)
        r1 = head_all(httpd, ["/" + r for r in rels])
        r5 = head_all(httpd, ["/w5/" + r[2:] for r in rels])
        for rel, a, b in zip(rels, r1, r5):
            assert a.status_code == 200 and b.status_code == 200, rel
            assert a.headers.get("ETag") == sha1_tag(self.files[rel]), rel
            assert b.headers.get("ETag") == md5_tag(self.files[rel]), rel
        notes = httpd.notes(r1 + r5)
        assert notes == ["hit"] * len(notes), \
            [(n, r.url) for n, r in zip(notes, r1 + r5) if n != "hit"][:5]
        st = httpd.status()
        assert st["Misses"] == 0 and st["BytesHashed"] == 0, st

    def test_symlinks_not_followed(self, httpd):
        """The links in the tree lead to files the walk must not hash: they
        are misses when first requested where they really are."""
        httpd.wait_status(warm_done, "warm-up done", WARM_TIMEOUT)
        for rel, data in sorted(self.outside.items()):
            r = httpd.get("/" + rel)
            assert r.status_code == 200
            assert r.headers.get("ETag") == sha1_tag(data)
            assert httpd.note(r) == "miss", rel
        assert httpd.status()["WarmUpHashed"] == self.N


# --------------------------------------------------------------------------

WARM_MAX_DEPTH = 64     # condcache_worker.c


def test_walk_through_root_link_not_below_depth_or_special(new_server):
    """The named directory may be a symbolic link (the directive accepts
    one); the walk goes 64 directories down and no further, with a warning
    once; FIFOs and sockets in the tree are passed by, never opened (a FIFO
    would block an open without a writer)."""
    deep = "/".join(["d"] * (WARM_MAX_DEPTH + 1))
    files = {
        "real/top.bin": b"top of the tree\n" * 30,
        "real/%s/at-limit.bin" % "/".join(["d"] * WARM_MAX_DEPTH):
            b"64 directories down\n" * 20,
        "real/%s/too-deep.bin" % deep: b"65 directories down\n" * 20,
    }

    def populate(s):
        for rel, data in files.items():
            s.write(rel, data, mtime=OLD)
        os.symlink(s.path("real"), s.path("linkroot"))
        os.mkfifo(s.path("real/d/pipe.bin"))
        # a socket node (bind() would limit the path to 108 bytes)
        os.mknod(s.path("real/d/sock.bin"), stat.S_IFSOCK | 0o644)

    srv = settled_server(new_server, "warm_walk",
                         warm_conf("linkroot", ["real"]), populate)
    st = srv.wait_status(warm_done, "warm-up done", WARM_TIMEOUT)
    assert st["WarmUpState"] == "done", st
    assert st["WarmUpHashed"] == 2 and st["WarmUpFiles"] == 2, st
    log = srv.error_log_text()
    warned = re.findall(r"\[condcache:warn\].*CondCacheWarmUp: \S*linkroot "
                        r"has directories more than %d deep" % WARM_MAX_DEPTH,
                        log)
    assert len(warned) == 1, log[-3000:]
    notes = {}
    for rel, data in sorted(files.items()):
        r = srv.get("/" + rel)
        assert r.status_code == 200 and r.content == data, rel
        assert r.headers.get("ETag") == sha1_tag(data), rel
        notes[rel.rsplit("/", 1)[1]] = srv.note(r)
    assert notes == {"top.bin": "hit", "at-limit.bin": "hit",
                     "too-deep.bin": "miss"}, notes


# --------------------------------------------------------------------------

def test_restart_warms_only_what_changed(new_server):
    """With a table file, a full restart hashes only the files changed
    while the server was down."""
    files = {}

    def populate(s):
        d = os.path.join(s.dir, "tf")
        os.makedirs(d)
        os.chmod(d, 0o700)
        files.update(write_tree(s, "w", 40, seed=2, max_size=256 * KIB))

    srv = settled_server(new_server, "warm_restart", warm_conf(
        "w", ["w"], lambda s: "CondCacheTableFile %s/tf/table\n" % s.dir),
        populate)
    st = srv.wait_status(warm_done, "warm-up done", WARM_TIMEOUT)
    assert st["WarmUpState"] == "done" and st["WarmUpHashed"] == 40, st
    srv.stop()

    rels = sorted(files)
    changed = {}
    for rel in rels[5:8]:                   # rewritten in place
        data = bytes(b ^ 0x33 for b in files[rel])
        with open(srv.path(rel), "r+b") as f:
            f.write(data)
        changed[rel] = data
    rel = rels[10]                          # replaced by rename, resized
    data = files[rel] + b"longer now"
    srv.write(rel + ".tmp", data, mtime=OLD)
    os.rename(srv.path(rel + ".tmp"), srv.path(rel))
    changed[rel] = data
    rel = "w/s0/added.bin"                  # new
    changed[rel] = b"a file added while the server was down\n" * 99
    srv.write(rel, changed[rel], mtime=OLD)
    os.unlink(srv.path(rels[20]))           # removed
    del files[rels[20]]
    files.update(changed)
    wait_ctime_settled([srv.path(r) for r in changed])

    srv.start()
    st = srv.wait_status(warm_done, "warm-up done", WARM_TIMEOUT)
    assert st["TableState"] == "reattached", st
    assert st["WarmUpState"] == "done", st
    assert st["WarmUpHashed"] == len(changed), (st, sorted(changed))
    assert st["WarmUpBytes"] == sum(len(d) for d in changed.values()), st
    resps = [srv.get("/" + rel) for rel in sorted(files)]
    for rel, r in zip(sorted(files), resps):
        assert r.headers.get("ETag") == sha1_tag(files[rel]), rel
    assert srv.notes(resps) == ["hit"] * len(resps)
    assert srv.status()["BytesHashed"] == 0


def test_tree_larger_than_table(new_server):
    """200 files, a table of 64 entries: the warm-up stops when the table
    is as full as its notice says (90% at most), and requests are all
    answered right."""
    files = {}

    def populate(s):
        files.update(write_tree(s, "w", 200, seed=3, max_size=4 * KIB))

    srv = settled_server(new_server, "warm_full", warm_conf(
        "w", ["w"], lambda s: "CondCacheEntries 64\n"), populate)
    st = srv.wait_status(warm_done, "warm-up stopped", WARM_TIMEOUT)
    assert st["WarmUpState"] == "table-full", st
    m = re.search(r"\[condcache:notice\].*CondCacheWarmUp stopped after "
                  r"\d+ files: the table is (\d+)% full",
                  srv.error_log_text())
    assert m, "no notice of the stop"
    percent = int(m.group(1))
    assert 0 < percent <= 90, percent
    # it stops when the table is that full: one digest per file here
    assert st["EntriesInUse"] == 64 * percent // 100, (
        percent, sorted(st.items()), srv.error_log_text()[-3000:])
    # a store into a full window of slots replaces an entry (maybe one the
    # warm-up just made): more files may be stored than entries kept, but
    # the walk stopped well before the end of the tree
    assert st["WarmUpHashed"] == st["Inserts"], sorted(st.items())
    assert st["Inserts"] - st["Evictions"] == st["EntriesInUse"], st
    assert st["WarmUpFiles"] < 200 and st["WarmUpHashed"] < 200, st
    resps = []
    for rel in sorted(files):
        r = srv.get("/" + rel)
        assert r.status_code == 200 and r.content == files[rel]
        assert r.headers.get("ETag") == sha1_tag(files[rel]), rel
        resps.append(r)
    notes = srv.notes(resps)
    assert set(notes) <= {"hit", "miss"}, set(notes)
    assert notes.count("hit") >= 1
    st = srv.status()
    assert st["EntriesInUse"] <= st["Capacity"], st


BIG = 384 * MIB


def test_graceful_restart_during_warm_up(new_server):
    """A graceful restart while the worker warms a tree of large (sparse)
    files: the next generation's worker goes on, nothing is hashed twice
    (the file being hashed at the restart was never stored), and every
    file ends up in the table."""
    small = {}

    def populate(s):
        for i in range(10):
            s.big("w/big%02d.bin" % i, BIG, random_bytes=False, mtime=OLD)
        small.update(write_tree(s, "w", 30, seed=4, max_size=64 * KIB,
                                subdirs=3))

    srv = settled_server(new_server, "warm_graceful", warm_conf("w", ["w"]),
                         populate)
    n = 10 + len(small)
    st = srv.wait_status(lambda s: s["WarmUpBytes"] >= BIG or warm_done(s),
                         "one large file warmed", WARM_TIMEOUT, interval=0.05)
    assert st["WarmUpState"] == "running", \
        "the warm-up was done before the restart: %r" % st
    h1, old_worker = st["WarmUpHashed"], st["WorkerPid"]
    srv.graceful()
    st = srv.wait_status(lambda s: s["WorkerPid"] != old_worker
                         and warm_done(s), "warm-up done after the restart",
                         WARM_TIMEOUT)
    h2 = st["WarmUpHashed"]
    assert st["WarmUpState"] == "done", st
    assert not procs.pid_alive(old_worker)
    assert h2 >= 1, "the new generation had nothing left to do: %r" % st
    # h1 was read before the restart: the old worker may have stored one
    # more file after it, never fewer
    assert h1 + h2 <= n, (h1, h2, n)
    paths = ["/w/big%02d.bin" % i for i in range(10)] + \
        ["/" + r for r in sorted(small)]
    resps = head_all(srv, paths)
    for p, r in zip(paths, resps):
        want = zeros_tag("sha1", BIG) if "/big" in p else \
            sha1_tag(small[p[1:]])
        assert r.headers.get("ETag") == want, p
    assert srv.notes(resps) == ["hit"] * len(resps)
    st = srv.status()
    assert st["EntriesInUse"] == n, st
    assert st["BytesHashed"] == 0 and st["Misses"] == 0, st


def test_requests_not_blocked_by_warm_up(new_server):
    """While the worker warms a large tree, revalidations and first
    requests of other files keep answering (each well under 5 s)."""
    others = {}
    fresh = {}

    def populate(s):
        for i in range(8):
            s.big("w/big%d.bin" % i, 512 * MIB, random_bytes=False,
                  mtime=OLD)
        for i in range(20):
            others["o/f%02d.txt" % i] = b"other file %d\n" % i * (i + 1)
            fresh["o/new%02d.txt" % i] = b"first asked late %d\n" % i * 50
        for rel, data in list(others.items()) + list(fresh.items()):
            s.write(rel, data, mtime=OLD)

    srv = settled_server(new_server, "warm_busy", warm_conf("w", ["w", "o"]),
                         populate)
    for rel, data in others.items():
        assert srv.get("/" + rel).headers.get("ETag") == sha1_tag(data)
    latencies, during = [], 0
    pending_fresh = sorted(fresh)
    deadline = time.time() + WARM_TIMEOUT
    while time.time() < deadline:
        st = srv.status()
        if warm_done(st):
            break
        for rel, data in others.items():
            t0 = time.monotonic()
            r = srv.raw("GET", "/" + rel, [("If-None-Match",
                                            sha1_tag(data))])
            latencies.append(time.monotonic() - t0)
            assert r.status == 304, (rel, r.status)
        if pending_fresh:
            rel = pending_fresh.pop()
            t0 = time.monotonic()
            r = srv.get("/" + rel)
            latencies.append(time.monotonic() - t0)
            assert r.headers.get("ETag") == sha1_tag(fresh[rel])
        during += 1
    st = srv.status()
    assert warm_done(st), st
    assert during >= 2, "the warm-up ended before the requests began"
    assert max(latencies) < 5, max(latencies)
    assert st["WarmUpHashed"] == 8, st


def test_fresh_files_second_pass(new_server):
    """Files changed in the last second are not stored by the first walk;
    the walk after it (a few seconds later) picks them up."""
    files = {}

    def populate(s):
        files.update(write_tree(s, "w", 10, seed=5, max_size=8 * KIB,
                                subdirs=2))

    srv = new_server("warm_fresh", warm_conf("w", ["w"]), populate=populate,
                     start=False)
    # keep the files changing for 1.5 s after the start: the first walk
    # (right after the start) finds every one of them too fresh to keep
    stop = threading.Event()

    def toucher():
        end = time.time() + 1.5
        while time.time() < end and not stop.is_set():
            for rel in files:
                os.utime(srv.path(rel), (OLD, OLD))    # a new ctime
            time.sleep(0.05)

    t = threading.Thread(target=toucher)
    t.start()
    try:
        srv.start()
    finally:
        t.join()
    st = srv.wait_status(warm_done, "warm-up done", WARM_TIMEOUT)
    assert st["WarmUpState"] == "done", st
    assert st["WarmUpHashed"] == len(files), st
    assert st["WarmUpFiles"] >= 2 * len(files), st     # walked twice
    resps = [srv.head("/" + rel) for rel in sorted(files)]
    for rel, r in zip(sorted(files), resps):
        assert r.headers.get("ETag") == sha1_tag(files[rel])
    assert srv.notes(resps) == ["hit"] * len(files)


def test_warm_up_directive_checks(new_server):
    """CondCacheWarmUp: main server configuration only, and directories
    only."""
    srv = new_server("warm_conf", lambda s: (
        "<VirtualHost 127.0.0.1:%d>\n  CondCacheWarmUp %s\n</VirtualHost>\n"
        % (s.port, s.docroot)), start=False)
    rc, out = srv.config_test()
    assert rc != 0 and "CondCacheWarmUp" in out, out
    srv.write("plain.txt", b"not a directory\n")
    srv.install("CondCacheWarmUp %s\n" % srv.path("plain.txt"))
    rc, out = srv.config_test()
    assert rc != 0 and "is not a directory" in out, out
    srv.install("CondCacheWarmUp %s/missing\n" % srv.docroot)
    rc, out = srv.config_test()
    assert rc != 0 and "CondCacheWarmUp" in out, out
