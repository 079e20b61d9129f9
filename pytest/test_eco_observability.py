"""What an operator sees: the module's status handler (HTML and ?auto), its
section in mod_status's server-status, the `condcache` request note in the
access log (%{condcache}n) for every outcome, and one debug line per
decision with `LogLevel condcache:debug`."""
import os
import platform
import re
import threading
import time

import pytest

from condcache_env import SETTLE_SECONDS
from eco_util import need_program, SyscallDelay
from logs import (eco_log_conf, EcoLog, lines_since, status_items,
                  STATUS_COUNTERS, STATUS_KEYS)
from procs import children, holder_of, threads
from tags import sha1_tag


OLD = 1600000000
DATA = b"observability\n" * 40

STATUS_LABELS = {
    "Capacity": "Capacity (entries)",
    "EntriesInUse": "Entries in use",
    "Hits": "Hits",
    "Misses": "Misses",
    "Inserts": "Inserts",
    "Evictions": "Evictions",
    "FilesHashed": "Files hashed",
    "BytesHashed": "Bytes hashed",
    "Waits": "Waits",
    "Uncached": "Not stored",
    "LockRecoveries": "Write locks recovered",
    "VariantsServed": "Precompressed variants sent",
    "VariantsChecked": "Precompressed sidecars decoded",
    "VariantsRejected": "Precompressed sidecars rejected",
    "BytesDecoded": "Sidecar bytes decoded",
    "SharedMemoryBytes": "Shared memory",
    "BytesPerEntry": "Bytes per entry",
    "QueueWaiting": "Background queue: files waiting",
    "QueueAdded": "Background queue: files added",
    "QueueDone": "Background queue: files done",
    "QueueStored": "Background queue: digests stored",
    "QueueBytes": "Background queue: bytes hashed",
    "QueueFull": "Background queue: files refused",
    "WarmUpFiles": "Warm-up: files looked at",
    "WarmUpHashed": "Warm-up: files hashed",
    "WarmUpBytes": "Warm-up: bytes hashed",
    "WarmUpMilliseconds": "Warm-up: time taken",
    "WorkerPid": "Background worker",
    "TableFile": "Table file",
    "TableState": "Table (",
    "WarmUpState": "Warm-up",
}

ROW_RE = re.compile(r"<tr><th[^>]*>([^<]*)</th><td[^>]*>([^<]*)</td></tr>")


def html_rows(text):
    return [(label, int(v) if v.isdigit() else v)
            for label, v in ROW_RE.findall(text)]


def debug_lines(srv, since, path):
    """condcache debug lines written after error_log offset `since` that
    mention `path`."""
    lines, _ = lines_since(srv.error_log, since)
    return [ln for ln in lines if "[condcache:debug]" in ln and path in ln]


def outcome_mentioned(line, path, outcome):
    """The line names the file and the outcome as its own word (not as
    part of the path)."""
    rest = line.replace(path, " ")
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(outcome), rest)


# ---------------------------------------------------------------------------


class TestStatusPages:
    modules = ["status"]

    @classmethod
    def populate(cls, srv):
        for i in range(4):
            srv.write("d/f%d.txt" % i, DATA + b"%d\n" % i, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
<Location /server-status>
    SetHandler server-status
</Location>
<Directory {r}/d>
    CondCache On
</Directory>
""".format(r=srv.docroot)

    def own_auto(self, httpd):
        r = httpd.get("/condcache-status?auto")
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        return r

    def test_own_auto_lists_every_counter(self, httpd):
        r = self.own_auto(httpd)
        lines = status_items(r.text)
        assert [k for k, _ in lines] == list(STATUS_KEYS), r.text
        # nothing else on the page
        assert len(r.text.strip().splitlines()) == len(STATUS_KEYS)
        v = dict(lines)
        assert v["Capacity"] == 65536
        assert v["BytesPerEntry"] > 0
        assert v["SharedMemoryBytes"] >= v["Capacity"] * v["BytesPerEntry"]
        assert v["EntriesInUse"] <= v["Capacity"]
        assert "no-store" in r.headers.get("Cache-Control", "")

    def test_own_html_same_numbers(self, httpd):
        auto = dict(status_items(self.own_auto(httpd).text))
        r = httpd.get("/condcache-status")
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/html")
        assert "mod_condcache" in r.text
        rows = html_rows(r.text)
        assert len(rows) == len(STATUS_KEYS), r.text
        for (label, value), key in zip(rows, STATUS_KEYS):
            assert label.startswith(STATUS_LABELS[key]), (label, key)
            assert value == auto[key], (key, value, auto[key])
        assert 'href="?auto"' in r.text

    def test_counters_follow_requests(self, httpd):
        before = httpd.status()
        rel = "/d/f1.txt"
        body = httpd.read(rel)
        r1 = httpd.get(rel)
        r2 = httpd.get(rel)
        r3 = httpd.get(rel, {"If-None-Match": sha1_tag(body)})
        assert (r1.status_code, r2.status_code, r3.status_code) == \
            (200, 200, 304)
        assert [httpd.note(r) for r in (r1, r2, r3)] == ["miss", "hit", "hit"]
        after = httpd.status()
        d = {k: after[k] - before[k] for k in STATUS_COUNTERS}
        assert d["Misses"] == 1
        assert d["Hits"] == 2
        assert d["Inserts"] == 1
        assert d["FilesHashed"] == 1
        assert d["BytesHashed"] == len(body)
        assert d["EntriesInUse"] == 1
        assert d["Evictions"] == d["Waits"] == d["Uncached"] == 0
        assert d["Capacity"] == d["SharedMemoryBytes"] == 0

    def test_mod_status_auto_has_condcache_lines(self, httpd):
        httpd.get("/d/f2.txt")
        own = status_items(self.own_auto(httpd).text)
        r = httpd.get("/server-status?auto")
        assert r.status_code == 200
        lines = status_items(r.text, prefix="CondCache")
        assert [k for k, _ in lines] == list(STATUS_KEYS), r.text
        assert lines == own
        assert dict(lines)["Misses"] >= 1
        # mod_status's own lines are still there
        assert "ServerUptimeSeconds:" in r.text or "Total Accesses" in r.text \
            or "BusyWorkers:" in r.text

    def test_mod_status_html_has_section(self, httpd):
        own = dict(status_items(self.own_auto(httpd).text))
        r = httpd.get("/server-status")
        assert r.status_code == 200
        assert "Apache Server Status" in r.text
        m = re.search(r"<h2>mod_condcache</h2>(.*?)</table>", r.text, re.S)
        assert m, r.text[-2000:]
        rows = html_rows(m.group(1))
        assert [v for _, v in rows] == [own[k] for k in STATUS_KEYS]
        for (label, _), key in zip(rows, STATUS_KEYS):
            assert label.startswith(STATUS_LABELS[key])

    def test_status_page_is_not_a_file(self, httpd):
        r = httpd.get("/condcache-status?auto")
        assert "ETag" not in r.headers
        assert httpd.note(r) == "-"

    def test_status_post_not_allowed(self, httpd):
        r = httpd.get("/condcache-status", method="POST", data=b"x")
        assert r.status_code == 405
        assert "GET" in r.headers.get("Allow", "")


# ---------------------------------------------------------------------------


class TestNotesAndDebugLines:
    """Each outcome once: the note in the access log, and a debug line that
    names the file and the outcome."""

    log_level = "info condcache:debug"

    @classmethod
    def populate(cls, srv):
        for name in ("miss", "hit", "notmod"):
            srv.write("d/%s.txt" % name, DATA + name.encode(), mtime=OLD)
        srv.write("d/post.txt", DATA, mtime=OLD)
        srv.write("d/secret.txt", DATA, mode=0o000, mtime=OLD)
        srv.write("ns/nostore.txt", DATA, mtime=OLD)
        srv.write("tl/large.txt", DATA, mtime=OLD)
        # reading /proc/self/mem from offset 0 fails with EIO: the server's
        # own read error, without breaking any disk
        os.symlink("/proc/self/mem", srv.path("d/mem.txt"))

    @classmethod
    def conf(cls, srv):
        return """
# the children must stay dumpable to open /proc/self/mem after setuid
CoreDumpDirectory {run}
{eco}
<Directory {r}/d>
    CondCache On
    Options FollowSymLinks
</Directory>
<Directory {r}/ns>
    CondCache On
    CondCacheNoStore On
</Directory>
<Directory {r}/tl>
    CondCache On
    CondCacheMaxFileSize 100
</Directory>
""".format(r=srv.docroot, run=srv.run_dir, eco=eco_log_conf(srv))

    def check(self, httpd, rel, outcome, since, resp, debug=True):
        assert httpd.note(resp) == outcome
        if not debug:
            return
        path = httpd.path(rel)
        lines = debug_lines(httpd, since, path)
        assert lines, "no condcache debug line names %s" % path
        assert any(outcome_mentioned(ln, path, outcome) for ln in lines), \
            "no debug line names %s and %r:\n%s" % (path, outcome,
                                                     "\n".join(lines))

    def test_miss(self, httpd):
        since = httpd.error_log_size()
        r = httpd.get("/d/miss.txt")
        assert r.status_code == 200
        assert r.headers["ETag"] == sha1_tag(DATA + b"miss")
        self.check(httpd, "d/miss.txt", "miss", since, r)

    def test_hit(self, httpd):
        httpd.get("/d/hit.txt")
        since = httpd.error_log_size()
        r = httpd.get("/d/hit.txt")
        assert r.status_code == 200
        self.check(httpd, "d/hit.txt", "hit", since, r)

    def test_hit_on_304(self, httpd):
        tag = sha1_tag(DATA + b"notmod")
        httpd.get("/d/notmod.txt")
        since = httpd.error_log_size()
        r = httpd.get("/d/notmod.txt", {"If-None-Match": tag})
        assert r.status_code == 304
        self.check(httpd, "d/notmod.txt", "hit", since, r)
        # the extra access log shows the validator that made the 304
        e = EcoLog(httpd).wait(lambda e: e["req_id"] == r.req_id)
        assert e and e[0]["status"] == 304 and e[0]["inm"] == tag

    def test_uncached(self, httpd):
        # a file changed less than a second ago is hashed but not stored
        for attempt in range(3):
            rel = "d/fresh%d.txt" % attempt
            since = httpd.error_log_size()
            t0 = time.time()
            httpd.write(rel, b"just written %d\n" % attempt)
            r = httpd.get("/" + rel)
            if time.time() - t0 < 0.8:
                break
        else:
            pytest.skip("could not request a file within 0.8 s of writing it")
        assert r.status_code == 200
        assert r.headers["ETag"] == sha1_tag(b"just written %d\n" % attempt)
        self.check(httpd, rel, "uncached", since, r)

    def test_too_large(self, httpd):
        since = httpd.error_log_size()
        r = httpd.get("/tl/large.txt")
        assert r.status_code == 200
        assert r.headers["ETag"] != sha1_tag(DATA)
        self.check(httpd, "tl/large.txt", "too-large", since, r)

    def test_no_store(self, httpd):
        since = httpd.error_log_size()
        r = httpd.get("/ns/nostore.txt")
        assert r.status_code == 200
        assert "ETag" not in r.headers
        self.check(httpd, "ns/nostore.txt", "no-store", since, r)

    @pytest.mark.expect_errors(r"to hash it failed", r"mem\.txt")
    def test_error(self, httpd):
        since = httpd.error_log_size()
        r = httpd.get("/d/mem.txt")
        note = httpd.note(r)
        if note == "bypass":
            pytest.skip("the server's children cannot open /proc/self/mem "
                        "here; no way to make a read fail")
        assert r.status_code == 200
        assert "ETag" not in r.headers
        self.check(httpd, "d/mem.txt", "error", since, r)

    def test_bypass_other_method(self, httpd):
        since = httpd.error_log_size()
        r = httpd.get("/d/post.txt", method="POST", data=b"x=1")
        assert "ETag" not in r.headers or \
            r.headers["ETag"] != sha1_tag(DATA)
        self.check(httpd, "d/post.txt", "bypass", since, r)

    @pytest.mark.expect_errors(r"AH00132|AH00035|[Pp]ermission denied|"
                               r"secret\.txt")
    def test_bypass_unreadable(self, httpd):
        if os.geteuid() != 0 and os.access(httpd.path("d/secret.txt"), os.R_OK):
            pytest.skip("the file is readable by the server here")
        since = httpd.error_log_size()
        r = httpd.get("/d/secret.txt")
        assert r.status_code == 403
        self.check(httpd, "d/secret.txt", "bypass", since, r)

    def test_not_ours_no_note(self, httpd):
        r = httpd.get("/d/")
        assert httpd.note(r) in ("-", "bypass")


# ---------------------------------------------------------------------------
# shared, busy, changed: a second process or the file itself must act while
# one process hashes.  strace slows the hasher's pread() down, so that the
# window is seconds wide and nothing depends on how fast the machine is.

PREAD_NR = {"x86_64": 17, "aarch64": 67}.get(platform.machine())
SLOW = bytes(range(256)) * 1200          # 300 KiB: three reads of the hasher


def in_pread(pid):
    """Some thread of `pid` sits in pread64 (where strace holds it)."""
    if PREAD_NR is None:
        return None
    for tid in threads(pid):
        try:
            with open("/proc/%d/task/%d/syscall" % (pid, tid)) as f:
                if f.read().split(" ", 1)[0] == str(PREAD_NR):
                    return True
        except OSError:
            continue
    return False


class Background:
    def __init__(self, fn):
        self.result = None
        self.error = None

        def run():
            try:
                self.result = fn()
            except Exception as e:  # noqa: BLE001 - reported by join()
                self.error = e
        self.t = threading.Thread(target=run, daemon=True)
        self.t.start()

    def join(self, timeout=60):
        self.t.join(timeout)
        assert not self.t.is_alive(), "request did not finish"
        if self.error:
            raise self.error
        return self.result

    def done(self):
        return not self.t.is_alive()


class TestConcurrentOutcomes:
    log_level = "info condcache:debug"

    @classmethod
    def populate(cls, srv):
        for name in ("shared", "busy", "changed"):
            for i in range(4):
                srv.write("slow/%s%d.bin" % (name, i), SLOW + name.encode(),
                          mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
<Directory {r}/slow>
    CondCache On
</Directory>
""".format(r=srv.docroot)

    def hashing(self, httpd, name, delay_us, tmp_path, then):
        """Starts a GET of slow/<name><i>.bin while strace slows pread()
        of every child down; once a traced child is inside the hash, calls
        then(path, owner) -> result.  Retries with the next file when the
        request lands in a child that started after strace attached."""
        strace = need_program("strace", "strace")
        for i in range(4):
            rel = "slow/%s%d.bin" % (name, i)
            path = httpd.path(rel)
            pids = children(httpd.pid)
            delay = SyscallDelay(strace, pids, "pread64", delay_us,
                                 str(tmp_path / ("strace-%s%d" % (name, i))))
            delay.start(pids)
            try:
                since = httpd.error_log_size()
                owner = Background(lambda: httpd.get("/" + rel, timeout=60))
                holder = None
                deadline = time.time() + 10
                while time.time() < deadline and not owner.done():
                    holder = holder_of(children(httpd.pid), path)
                    if holder and holder in pids:
                        if in_pread(holder) is not False:
                            break
                    time.sleep(0.005)
                else:
                    holder = None
                if holder is None or holder not in pids or owner.done():
                    # served by an untraced child: hashed at full speed
                    owner.join()
                    continue
                if in_pread(holder) is None:
                    time.sleep(0.3)    # no /proc syscall: give it time to start
                result = then(rel, owner, delay)
                return rel, since, result
            finally:
                delay.stop()
        pytest.skip("every attempt was served by a child strace had not "
                    "attached to")

    def test_shared(self, httpd, tmp_path):
        def then(rel, owner, delay):
            # the owner counts its hash when it is done, after this
            before = httpd.status()
            second = httpd.get("/" + rel, timeout=60)
            return owner.join(), second, before

        rel, since, (first, second, before) = self.hashing(
            httpd, "shared", 300000, tmp_path, then)
        notes = sorted([httpd.note(first), httpd.note(second)])
        assert notes == ["miss", "shared"]
        body = httpd.read(rel)
        for r in (first, second):
            assert r.status_code == 200
            assert r.content == body
            assert r.headers["ETag"] == sha1_tag(body)
        after = httpd.status()
        assert after["Waits"] - before["Waits"] >= 1
        assert after["FilesHashed"] - before["FilesHashed"] == 1
        path = httpd.path(rel)
        lines = debug_lines(httpd, since, path)
        assert any(outcome_mentioned(ln, path, "shared") for ln in lines), lines

    def test_busy(self, httpd, tmp_path):
        # the waiter gives up after about 2 s; the hasher needs 3 x 5 s
        def then(rel, owner, delay):
            second = httpd.get("/" + rel, timeout=60)
            delay.stop()           # let the hasher finish at full speed
            return owner.join(), second

        rel, since, (first, second) = self.hashing(
            httpd, "busy", 5000000, tmp_path, then)
        body = httpd.read(rel)
        by_note = {httpd.note(first): first, httpd.note(second): second}
        assert sorted(by_note) == ["busy", "miss"]
        busy, miss = by_note["busy"], by_note["miss"]
        assert busy.status_code == miss.status_code == 200
        assert busy.content == miss.content == body
        assert "ETag" not in busy.headers
        assert miss.headers["ETag"] == sha1_tag(body)
        path = httpd.path(rel)
        lines = debug_lines(httpd, since, path)
        assert any(outcome_mentioned(ln, path, "busy") for ln in lines), lines

    def test_changed(self, httpd, tmp_path):
        stop = threading.Event()

        def then(rel, owner, delay):
            path = httpd.path(rel)
            n = 0

            def touch():
                nonlocal n
                while not stop.is_set():
                    n += 1
                    os.utime(path, (OLD + n, OLD + n))
                    time.sleep(0.02)
            toucher = threading.Thread(target=touch, daemon=True)
            toucher.start()
            try:
                return owner.join()
            finally:
                stop.set()
                toucher.join()

        rel, since, r = self.hashing(httpd, "changed", 200000, tmp_path, then)
        assert httpd.note(r) == "changed"
        assert r.status_code == 200
        assert r.content == httpd.read(rel)
        assert "ETag" not in r.headers
        path = httpd.path(rel)
        lines = debug_lines(httpd, since, path)
        assert any(outcome_mentioned(ln, path, "changed") for ln in lines), \
            lines
        # settled again, the file gets its tag
        time.sleep(SETTLE_SECONDS)
        r = httpd.get("/" + rel)
        assert r.headers["ETag"] == sha1_tag(httpd.read(rel))

