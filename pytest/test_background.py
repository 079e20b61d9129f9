"""The background queue: a file bigger than CondCacheInlineHashMax whose
digest is missing is not hashed by the request that finds it.  The request
is served at once without an ETag (Last-Modified, Cache-Control and the
date preconditions as usual; note "pending"), the file goes to the queue,
the background worker hashes it, and later requests carry its content tag
(note "hit").

  - a 64 MiB file and a 2 GiB sparse one (CondCacheMaxFileSize has no
    default limit any more): pending at once with the right length and
    body, then hits with the oracle's tag; If-Modified-Since still gives a
    304 while pending, If-None-Match never does;
  - CondCacheInlineHashMax: at the limit hashed in the request, one byte
    over queued; a .htaccess may lower it, never raise it;
  - concurrent first requests for one big file: all answered at once, the
    file queued and hashed once;
  - a graceful restart in the middle of a multi-GiB background hash under
    load: no failed request, the next generation's worker finishes it;
  - the worker SIGKILLed mid-hash is started again and finishes the file;
  - the status page's queue counters, TableFile none, TableState memory.
"""
import os
import pwd
import random
import signal
import socket
import threading
import time

import pytest

import procs
from clients import KeepAlive, RequestFailed, build_request
from headers import http_date
from tags import file_tag, sha1_tag, zeros_tag

OLD = 1600000000
MIB = 1 << 20
GIB = 1 << 30

# the nice-19 worker gets what the CPUs have left: deadlines are generous
QUEUE_TIMEOUT = 180
# "at once": far below what hashing the file in the request would take
PROMPT = 5.0
# cc_queue.h: CC_QUEUE_SLOTS
QUEUE_SLOTS = 256
# files for the queue race: bursts enough to provoke it
RACE_FILES = 480


def wait_queue_idle(srv):
    return srv.wait_status(lambda s: s["QueueWaiting"] == 0, "queue idle",
                           QUEUE_TIMEOUT)


def wait_stored(srv, before, n=1):
    """Waits until n more items are done since status `before`; the
    status then."""
    return srv.wait_status(lambda s: s["QueueDone"] >= before["QueueDone"] + n,
                           "%d more queue items done" % n, QUEUE_TIMEOUT)


def wait_hashing(srv, worker, timeout=30):
    """Waits until the worker has spent CPU time on the item it took."""
    c0 = procs.cpu_seconds(worker)
    deadline = time.time() + timeout
    while time.time() < deadline:
        c = procs.cpu_seconds(worker)
        if c is not None and c0 is not None and c >= c0 + 0.3:
            return
        time.sleep(0.05)
    raise AssertionError("the worker %d is not hashing" % worker)


def burst(srv, path, n):
    """n HEAD requests for `path` sent at the same moment on connections
    opened beforehand; their status codes."""
    data = build_request("HEAD", path, host="%s:%d" % (srv.host, srv.port))
    socks = [socket.create_connection((srv.host, srv.port), timeout=15)
             for _ in range(n)]
    barrier = threading.Barrier(n)
    codes = [None] * n

    def send(i):
        try:
            barrier.wait()
            socks[i].sendall(data)
            head = socks[i].recv(65536)
            codes[i] = int(head.split(b" ", 2)[1])
        finally:
            socks[i].close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert codes == [200] * n, codes
    return codes


def delta(a, b, key):
    return b[key] - a[key]


def check_pending(srv, r, length):
    """A response served while its file waits for the worker."""
    assert r.status_code == 200, r.status_code
    assert "ETag" not in r.headers, r.headers
    assert r.headers["Content-Length"] == str(length)
    assert r.headers.get("Last-Modified") == http_date(OLD)
    assert r.elapsed.total_seconds() < PROMPT, r.elapsed
    assert srv.note(r) == "pending"


class TestBackgroundQueue:
    @classmethod
    def populate(cls, srv):
        cls.big64 = os.urandom(4 * MIB) * 16        # 64 MiB
        srv.write("b/big64.bin", cls.big64, mtime=OLD)
        srv.big("b/sparse2g.bin", 2 * GIB, random_bytes=False, mtime=OLD)
        srv.big("b/ims.bin", 256 * MIB, random_bytes=False, mtime=OLD)
        srv.big("c/concurrent.bin", 1 * GIB, random_bytes=False, mtime=OLD)
        srv.big("g/multi.bin", 3 * GIB, random_bytes=False, mtime=OLD)
        srv.big("k/killed.bin", 2 * GIB, random_bytes=False, mtime=OLD)
        srv.big("k/after.bin", 64 * MIB, random_bytes=False, mtime=OLD)
        srv.big("q/blocker.bin", 2 * GIB, random_bytes=False, mtime=OLD)
        srv.big("q/replaced.bin", 32 * MIB, random_bytes=False, mtime=OLD)
        srv.big("q/removed.bin", 32 * MIB, random_bytes=False, mtime=OLD)
        for i in range(QUEUE_SLOTS + 40):
            srv.big("q/many/%03d.bin" % i, 2 * MIB, random_bytes=False,
                    mtime=OLD)
        for i in range(RACE_FILES):
            srv.write("race/f%03d.bin" % i, b"r" * 4096, mtime=OLD)
        cls.small = {}
        for i in range(20):
            rel = "g/s%02d.txt" % i
            cls.small[rel] = b"small file %d\n" % i * (i + 3)
            srv.write(rel, cls.small[rel], mtime=OLD)
        rng = random.Random(1)
        cls.sized = {}
        for rel, size in (("lim/at.bin", 100000), ("lim/over.bin", 100001),
                          ("ht/low/f1000.bin", 1000),
                          ("ht/low/f2000.bin", 2000),
                          ("ht/high/f50k.bin", 50000),
                          ("ht/high/f200k.bin", 200000)):
            cls.sized[rel] = rng.randbytes(size)
            srv.write(rel, cls.sized[rel], mtime=OLD)
        srv.write("ht/low/.htaccess", "CondCacheInlineHashMax 1000\n")
        srv.write("ht/high/.htaccess", "CondCacheInlineHashMax 10000000\n")

    @classmethod
    def conf(cls, srv):
        return """
<Directory {r}/b>
    CondCache On
    CondCacheMaxAge 60
</Directory>
<Directory {r}/c>
    CondCache On
</Directory>
<Directory {r}/g>
    CondCache On
</Directory>
<Directory {r}/k>
    CondCache On
</Directory>
<Directory {r}/q>
    CondCache On
</Directory>
<Directory {r}/race>
    CondCache On
    CondCacheInlineHashMax 1024
</Directory>
<Directory {r}/lim>
    CondCache On
    CondCacheInlineHashMax 100000
</Directory>
<Directory {r}/ht>
    CondCache On
    CondCacheInlineHashMax 100000
    AllowOverride FileInfo
</Directory>
""".format(r=srv.docroot)

    # -- status --------------------------------------------------------------
    def test_status_page(self, httpd):
        st = httpd.status()
        assert st["TableFile"] == "none" and st["TableState"] == "memory", st
        assert st["WarmUpState"] == "none", st
        for k in ("QueueWaiting", "QueueAdded", "QueueDone", "QueueStored",
                  "QueueBytes", "QueueFull", "WarmUpFiles", "WarmUpHashed",
                  "WarmUpBytes", "WarmUpMilliseconds", "WorkerPid"):
            assert isinstance(st[k], int), (k, st[k])
        assert st["QueueFull"] == 0
        pid = st["WorkerPid"]
        assert procs.pid_alive(pid) and procs.proc_stat(pid)[1] == httpd.pid
        assert procs.nice(pid) == 19
        if httpd.env.is_root:
            uid = pwd.getpwnam(httpd.env.user).pw_uid
            assert procs.uids(pid) == (uid,) * 4
        # the HTML page shows them too
        r = httpd.get("/condcache-status")
        assert "Background queue: files waiting" in r.text
        assert "Table file" in r.text and "Warm-up" in r.text

    # -- pending, then the tag --------------------------------------------
    def test_64mib_pending_then_hit(self, httpd):
        wait_queue_idle(httpd)
        before = httpd.status()
        r = httpd.get("/b/big64.bin")
        check_pending(httpd, r, len(self.big64))
        assert r.content == self.big64
        assert r.headers.get("Cache-Control") == "max-age=60"
        mid = httpd.status()
        assert delta(before, mid, "QueueAdded") == 1
        after = wait_stored(httpd, before)
        assert delta(before, after, "QueueStored") == 1
        assert delta(before, after, "QueueBytes") == len(self.big64)
        tag = sha1_tag(self.big64)
        r = httpd.get("/b/big64.bin")
        assert r.status_code == 200 and r.content == self.big64
        assert r.headers.get("ETag") == tag
        assert r.headers.get("Cache-Control") == "max-age=60"
        assert httpd.note(r) == "hit"
        r = httpd.raw("GET", "/b/big64.bin", [("If-None-Match", tag)])
        assert r.status == 304 and r.header("ETag") == tag
        assert httpd.note(r) == "hit"

    def test_2gib_sparse_pending_then_hit(self, httpd):
        """2 GiB: above the old 1 GiB default of CondCacheMaxFileSize, now
        unlimited: hashed in the background, not left without a tag."""
        wait_queue_idle(httpd)
        before = httpd.status()
        r = httpd.head("/b/sparse2g.bin")
        check_pending(httpd, r, 2 * GIB)
        rr = httpd.raw("GET", "/b/sparse2g.bin",
                       [("Range", "bytes=1000-1099")])
        assert rr.status == 206 and rr.body == bytes(100)
        assert rr.header("ETag") is None
        tag = zeros_tag("sha1", 2 * GIB)
        after = wait_stored(httpd, before)
        assert delta(before, after, "QueueAdded") == 1
        assert delta(before, after, "QueueStored") == 1
        assert delta(before, after, "QueueBytes") == 2 * GIB
        r = httpd.head("/b/sparse2g.bin")
        assert r.headers.get("ETag") == tag
        assert httpd.note(r) == "hit"
        r = httpd.raw("GET", "/b/sparse2g.bin", [("If-None-Match", tag)])
        assert r.status == 304 and httpd.note(r) == "hit"

    def test_date_preconditions_while_pending(self, httpd):
        """The first request for a queued file is a conditional one:
        If-Modified-Since answers 304 from Last-Modified; If-None-Match
        (which takes precedence) cannot match a response without a tag."""
        wait_queue_idle(httpd)
        before = httpd.status()
        r = httpd.raw("GET", "/b/ims.bin",
                      [("If-Modified-Since", http_date(OLD))])
        assert r.status == 304, r
        assert r.header("ETag") is None
        assert httpd.note(r) == "pending"
        tag = zeros_tag("sha1", 256 * MIB)
        r = httpd.raw("HEAD", "/b/ims.bin",
                      [("If-None-Match", tag),
                       ("If-Modified-Since", http_date(OLD))])
        # (unless the worker was quicker than this second request)
        if httpd.note(r) == "pending":
            assert r.status == 200 and r.header("ETag") is None, r
        else:
            assert httpd.note(r) == "hit"
            assert r.status == 304 and r.header("ETag") == tag, r
        r = httpd.raw("HEAD", "/b/ims.bin",
                      [("If-Unmodified-Since", http_date(OLD - 3600))])
        assert r.status == 412, r
        after = wait_stored(httpd, before)
        assert delta(before, after, "QueueAdded") == 1
        r = httpd.raw("HEAD", "/b/ims.bin", [("If-None-Match", tag)])
        assert r.status == 304 and httpd.note(r) == "hit"

    # -- CondCacheInlineHashMax ----------------------------------------------
    @pytest.mark.parametrize("rel,outcome", [
        ("lim/at.bin", "miss"), ("lim/over.bin", "pending"),
        ("ht/low/f1000.bin", "miss"), ("ht/low/f2000.bin", "pending"),
        ("ht/high/f50k.bin", "miss"), ("ht/high/f200k.bin", "pending"),
    ])
    def test_inline_hash_max(self, httpd, rel, outcome):
        """100000 in the server configuration: a file of exactly that size
        is hashed in the request, one byte more is queued; a .htaccess
        lowers it to 1000, but its 10000000 does not raise it."""
        wait_queue_idle(httpd)
        before = httpd.status()
        data = self.sized[rel]
        r = httpd.get("/" + rel)
        assert r.status_code == 200 and r.content == data
        assert httpd.note(r) == outcome, rel
        if outcome == "miss":
            assert r.headers.get("ETag") == sha1_tag(data)
            return
        assert "ETag" not in r.headers
        after = wait_stored(httpd, before)
        assert delta(before, after, "QueueBytes") == len(data)
        r = httpd.get("/" + rel)
        assert r.headers.get("ETag") == sha1_tag(data)
        assert httpd.note(r) == "hit"

    # -- concurrency --------------------------------------------------------
    def test_concurrent_first_requests(self, httpd):
        """16 first requests at once for one 1 GiB file: all answered at
        once, the file queued once and hashed once."""
        wait_queue_idle(httpd)
        before = httpd.status()
        n = 16
        barrier = threading.Barrier(n)
        results = [None] * n

        def fetch(i):
            barrier.wait()
            try:
                results[i] = httpd.head("/c/concurrent.bin")
            except Exception as e:  # noqa: BLE001 - asserted below
                results[i] = e

        threads = [threading.Thread(target=fetch, args=(i,))
                   for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert all(not isinstance(r, Exception) for r in results), results
        notes = httpd.notes(results)
        tag = zeros_tag("sha1", GIB)
        for r, note in zip(results, notes):
            assert r.status_code == 200
            assert r.elapsed.total_seconds() < PROMPT, r.elapsed
            assert note in ("pending", "hit"), note
            assert r.headers.get("ETag") == (tag if note == "hit" else None)
        assert "pending" in notes
        wait_stored(httpd, before)
        after = wait_queue_idle(httpd)
        # queued once, hashed once
        assert delta(before, after, "QueueBytes") == GIB, after
        assert delta(before, after, "QueueStored") == 1, after
        assert delta(before, after, "QueueAdded") == 1, after
        r = httpd.head("/c/concurrent.bin")
        assert r.headers.get("ETag") == tag and httpd.note(r) == "hit"
        assert httpd.status()["QueueAdded"] == after["QueueAdded"]

    def test_one_item_per_file_under_races(self, httpd):
        """Bursts of 16 simultaneous first requests, each burst for a file
        of its own, while the worker is stopped (SIGSTOP: it takes nothing,
        so nothing is done and added again): every file is queued exactly
        once.  Stops at the first file queued twice."""
        wait_queue_idle(httpd)
        worker = httpd.status()["WorkerPid"]
        conc, per_round = 16, QUEUE_SLOTS - 16
        names = ["/race/f%03d.bin" % i for i in range(RACE_FILES)]
        try:
            for start in range(0, len(names), per_round):
                os.kill(worker, signal.SIGSTOP)
                try:
                    for path in names[start:start + per_round]:
                        before = httpd.status()["QueueAdded"]
                        burst(httpd, path, conc)
                        added = httpd.status()["QueueAdded"] - before
                        assert added == 1, \
                            "%s queued %d times by one burst" % (path, added)
                finally:
                    os.kill(worker, signal.SIGCONT)
                wait_queue_idle(httpd)
        finally:
            os.kill(worker, signal.SIGCONT)
            wait_queue_idle(httpd)

    # -- restarts and kills -------------------------------------------------
    def test_graceful_restart_mid_hash(self, httpd):
        """A 3 GiB file is being hashed by the worker when the server
        restarts gracefully under load: no request fails, and the next
        generation's worker takes the file up and stores its tag."""
        wait_queue_idle(httpd)
        size = 3 * GIB
        before = httpd.status()
        old_worker = before["WorkerPid"]
        r = httpd.head("/g/multi.bin")
        check_pending(httpd, r, size)
        wait_hashing(httpd, old_worker)
        # held mid-hash until the restart: on a loaded machine the status
        # reads below could otherwise outlast the rest of the hash
        os.kill(old_worker, signal.SIGSTOP)

        stop = threading.Event()
        failures, wrong, counts = [], [], [0, 0]
        tags = {rel: sha1_tag(d) for rel, d in self.small.items()}
        big_tag = zeros_tag("sha1", size)

        def client(seed):
            rng = random.Random(seed)
            ka = KeepAlive(httpd.host, httpd.port)
            rels = sorted(self.small)
            while not stop.is_set():
                if rng.random() < 0.2:
                    try:
                        r = ka.request("HEAD", "/g/multi.bin")
                    except RequestFailed as e:
                        failures.append(str(e))
                        continue
                    counts[1] += 1
                    if r.status != 200 or \
                            r.header("ETag") not in (None, big_tag):
                        wrong.append(("multi", r.status, r.header("ETag")))
                    continue
                rel = rng.choice(rels)
                hdrs = [("If-None-Match", tags[rel])] \
                    if rng.random() < 0.5 else []
                try:
                    r = ka.get("/" + rel, hdrs)
                except RequestFailed as e:
                    failures.append(str(e))
                    continue
                counts[0] += 1
                if r.status not in (200, 304) or \
                        r.header("ETag") != tags[rel] or \
                        (r.status == 200 and r.body != self.small[rel]):
                    wrong.append((rel, r.status, r.header("ETag")))
            ka.close()

        threads = [threading.Thread(target=client, args=(i,))
                   for i in range(4)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.3)
            mid = httpd.status()
            assert delta(before, mid, "QueueDone") == 0, \
                "the hash ended before the restart: %r" % mid
            httpd.graceful()
        finally:
            # let it go on to receive what the restart sends it (unless the
            # restart has ended it already)
            try:
                os.kill(old_worker, signal.SIGCONT)
            except ProcessLookupError:
                pass
        try:
            time.sleep(1.0)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        assert not failures, failures[:5]
        assert not wrong, wrong[:5]
        assert counts[0] > 20 and counts[1] > 0, counts
        st = httpd.status()
        assert st["WorkerPid"] != old_worker and procs.pid_alive(
            st["WorkerPid"]), st
        assert not procs.pid_alive(old_worker)
        wait_stored(httpd, before)
        after = wait_queue_idle(httpd)
        # (a request racing another may have queued it twice: see
        # test_one_item_per_file_under_races; the second finds it stored)
        assert delta(before, after, "QueueAdded") >= 1, after
        assert delta(before, after, "QueueStored") == 1, after
        r = httpd.head("/g/multi.bin")
        assert r.headers.get("ETag") == big_tag
        assert httpd.note(r) == "hit"

    @pytest.mark.expect_errors(
        r"\[condcache:error\].*the background worker died; starting another")
    def test_worker_killed(self, httpd):
        """The worker SIGKILLed while it hashes a 2 GiB file: the parent
        starts another, which takes the file up again; the queue works."""
        wait_queue_idle(httpd)
        before = httpd.status()
        old_worker = before["WorkerPid"]
        offset = httpd.error_log_size()
        r = httpd.head("/k/killed.bin")
        check_pending(httpd, r, 2 * GIB)
        wait_hashing(httpd, old_worker)
        procs.kill(old_worker)
        assert procs.wait_gone(old_worker, 10)
        st = httpd.wait_status(lambda s: s["WorkerPid"] not in (0, old_worker),
                               "a new worker", 30)
        new_worker = st["WorkerPid"]
        assert procs.pid_alive(new_worker)
        assert procs.proc_stat(new_worker)[1] == httpd.pid
        after = wait_stored(httpd, before)
        assert delta(before, after, "QueueStored") == 1, after
        r = httpd.head("/k/killed.bin")
        assert r.headers.get("ETag") == zeros_tag("sha1", 2 * GIB)
        assert httpd.note(r) == "hit"
        # and the queue goes on with the new worker
        r = httpd.head("/k/after.bin")
        check_pending(httpd, r, 64 * MIB)
        wait_stored(httpd, after)
        r = httpd.head("/k/after.bin")
        assert r.headers.get("ETag") == file_tag("sha1",
                                                 httpd.path("k/after.bin"))
        assert httpd.note(r) == "hit"
        lines, _ = httpd.error_log_lines_since(offset)
        assert sum("the background worker died; starting another" in ln
                   for ln in lines) == 1, lines
        assert httpd.status()["WorkerPid"] == new_worker

    def test_queue_full_and_files_that_change(self, httpd):
        """While the worker hashes a 2 GiB file, a file replaced and one
        removed after they were queued, and more big files than the queue
        holds: the replaced file gets the tag of its new bytes, the removed
        one is dropped, the files the full queue refused are served without
        a tag (note "deferred", QueueFull) and queued when asked again."""
        wait_queue_idle(httpd)
        before = httpd.status()
        r = httpd.head("/q/blocker.bin")
        check_pending(httpd, r, 2 * GIB)
        worker = before["WorkerPid"]
        wait_hashing(httpd, worker)
        # held mid-hash while the queue fills: on a loaded machine the
        # requests below could otherwise outlast the rest of the hash
        os.kill(worker, signal.SIGSTOP)
        try:
            for rel in ("q/replaced.bin", "q/removed.bin"):
                r = httpd.head("/" + rel)
                check_pending(httpd, r, 32 * MIB)
            new = os.urandom(3 * MIB)
            httpd.write("q/replaced.tmp", new, mtime=OLD)
            os.rename(httpd.path("q/replaced.tmp"),
                      httpd.path("q/replaced.bin"))
            os.unlink(httpd.path("q/removed.bin"))
            many = ["/q/many/%03d.bin" % i for i in range(QUEUE_SLOTS + 40)]
            resps = [httpd.head(p) for p in many]
            notes = httpd.notes(resps)
            mid = httpd.status()
        finally:
            os.kill(worker, signal.SIGCONT)
        assert delta(before, mid, "QueueDone") == 0, \
            "the worker finished the 2 GiB file too soon: %r" % mid
        assert set(notes) == {"pending", "deferred"}, set(notes)
        refused = [p for p, n in zip(many, notes) if n == "deferred"]
        assert delta(before, mid, "QueueFull") == len(refused), mid
        # 3 queued first, the blocker taken: the rest of the slots
        assert len(refused) >= 40 - 3, (len(refused), mid)
        assert mid["QueueWaiting"] <= QUEUE_SLOTS, mid
        for r in resps:
            assert r.status_code == 200 and "ETag" not in r.headers
        added = delta(before, mid, "QueueAdded")
        assert added == 3 + len(many) - len(refused), mid
        after = httpd.wait_status(
            lambda s: s["QueueDone"] >= before["QueueDone"] + added,
            "the queue worked through", QUEUE_TIMEOUT)
        # all stored but the removed file
        assert delta(before, after, "QueueStored") == added - 1, after
        r = httpd.get("/q/replaced.bin")
        assert r.content == new
        assert r.headers.get("ETag") == sha1_tag(new)
        assert httpd.note(r) == "hit"
        # the refused ones are queued now
        before = after
        resps = [httpd.head(p) for p in refused]
        assert set(httpd.notes(resps)) == {"pending"}
        wait_stored(httpd, before, len(refused))
        tag = zeros_tag("sha1", 2 * MIB)
        resps = [httpd.head(p) for p in many]
        assert set(httpd.notes(resps)) == {"hit"}
        assert all(r.headers.get("ETag") == tag for r in resps)
