"""CondCacheTableFile: the table of digests in a file mapped shared, so that
it outlives a full stop, a SIGKILLed parent and a reboot.

  - a full stop and start, or the parent and its children SIGKILLed, then a
    start: the table is reattached (status TableState "reattached", a
    notice with the digests kept) and every file seen before revalidates
    from it (hits, nothing hashed);
  - a file rewritten while the server was down gets its new tag;
  - truncated, zero-filled, random, resized, foreign (another entry count,
    version or digest set) and damaged files at the path: the server
    starts with a new table (or reattaches and drops the damaged slot),
    says so in a notice, and every tag it sends is the oracle's;
  - unsafe paths (a symlink, mode 0644, another owner, two links, a
    directory others can write or that another user owns, a file another
    running server holds) stop httpd at start with an emerg line naming
    the path and the reason, and the file is left as it was;
  - unusable paths (a read-only filesystem, a full one) cost only the
    persistence: a warning and the table in memory (TableState "memory");
  - a graceful restart keeps the table ("kept"); one with another
    CondCacheEntries makes a new file (renamed into place) while the old
    children finish their requests, and no request fails.

The tests run as root (the server's User is www-data); the table file lives
under the server's own directory, in a 0700 subdirectory made here.
"""
import hashlib
import os
import random
import re
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

import procs
from clients import KeepAlive, RequestFailed, build_request
from tags import sha1_tag, zeros_tag

OLD = 1600000000
MIB = 1 << 20

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="table file ownership and mount "
                                       "tests need root")


# --------------------------------------------------------------------------
# Helpers

def table_dir(srv, name="tf", mode=0o700):
    """A directory for the table file under the server's own directory."""
    d = os.path.join(srv.dir, name)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, mode)
    return d


def table_path(srv, name="tf"):
    return os.path.join(srv.dir, name, "table")


def write_files(srv, n, prefix="d", seed=1, max_size=200000):
    """n files of assorted sizes (inline-hashed), old mtimes; {rel: data}."""
    rng = random.Random(seed)
    files = {}
    for i in range(n):
        size = rng.choice((1, 17, 512, 4096, 65536, max_size)) \
            if i < 6 else rng.randint(1, max_size)
        data = (b"%s file %d\n" % (prefix.encode(), i)) + rng.randbytes(size)
        rel = "%s/f%03d.bin" % (prefix, i)
        srv.write(rel, data, mtime=OLD)
        files[rel] = data
    return files


def table_conf(srv, path, entries=None, extra="", dirs=("d",)):
    lines = ["CondCacheTableFile %s" % path]
    if entries:
        lines.append("CondCacheEntries %d" % entries)
    for d in dirs:
        lines += ["<Directory %s/%s>" % (srv.docroot, d), "  CondCache On",
                  "</Directory>"]
    return "\n".join(lines) + "\n" + extra


def fetch_all(srv, files):
    """GETs every file: 200, its body, the oracle's tag; the notes."""
    resps = []
    for rel, data in files.items():
        r = srv.get("/" + rel)
        assert r.status_code == 200, (rel, r.status_code)
        assert r.content == data, rel
        assert r.headers.get("ETag") == sha1_tag(data), \
            (rel, r.headers.get("ETag"))
        resps.append(r)
    return srv.notes(resps)


def revalidate_all(srv, files):
    """If-None-Match with the oracle's tag: 304 with that tag, and a wrong
    tag is never a 304.  The notes of the revalidations."""
    resps = []
    for rel, data in files.items():
        tag = sha1_tag(data)
        r = srv.raw("GET", "/" + rel, [("If-None-Match", tag)])
        assert r.status == 304, (rel, r.status)
        assert r.header("ETag") == tag, (rel, r.header("ETag"))
        resps.append(r)
        wrong = srv.raw("GET", "/" + rel,
                        [("If-None-Match", sha1_tag(data + b"x"))])
        assert wrong.status == 200 and wrong.body == data, (rel, wrong.status)
        assert wrong.header("ETag") == tag, (rel, wrong.header("ETag"))
    return srv.notes(resps)


def log_since(srv, offset):
    lines, _ = srv.error_log_lines_since(offset)
    return "\n".join(lines)


def sigkill_server(srv):
    """SIGKILLs the parent, checks the background worker dies with it
    (PR_SET_PDEATHSIG), then SIGKILLs the children left, by pid.  Returns
    the pids killed."""
    ppid = srv.pid
    worker = srv.status()["WorkerPid"]
    kids = procs.children(ppid)
    assert worker in kids, (worker, kids)
    procs.kill(ppid, signal.SIGKILL)
    assert procs.wait_gone(ppid, 10)
    assert procs.wait_gone(worker, 10), \
        "the background worker %d outlived its parent" % worker
    for k in kids:
        procs.kill(k, signal.SIGKILL)
    for k in kids:
        assert procs.wait_gone(k, 10), k
    # `apache2 -k start` takes a zombie for a running server: wait until
    # init has reaped the parent, or remove the stale pid file (as an
    # admin would)
    deadline = time.time() + 10
    while os.path.exists("/proc/%d" % ppid) and time.time() < deadline:
        time.sleep(0.05)
    if os.path.exists("/proc/%d" % ppid):
        os.unlink(srv.pid_file)
    srv.running = False
    srv.pid = None
    return [ppid] + kids


def start_refused(srv, expect_errors, reason_re, timeout=15):
    """Starts a server that must refuse to: `apache2 -k start` fails, or the
    detached parent logs the emerg line matching `reason_re` and exits.
    Declares the lines it expects; returns the error_log text it wrote."""
    expect_errors.append(reason_re)
    expect_errors.append(r"AH00020: Configuration Failed")
    srv.env.register(srv)           # its error_log is checked after the test
    offset = srv.error_log_size()
    p = srv.apachectl("-k", "start")
    deadline = time.time() + timeout
    text = ""
    while time.time() < deadline:
        text = log_since(srv, offset)
        if "AH00020" in text or "resuming normal operations" in text:
            break
        if p.returncode != 0 and re.search(reason_re, p.stderr):
            break
        time.sleep(0.05)
    time.sleep(0.2)
    pid = srv._read_pid()
    if pid and procs.pid_alive(pid):
        srv.running, srv.pid = True, pid    # stopped at the end of the test
    text = log_since(srv, offset) + "\n" + p.stderr
    assert not srv._port_answers(), \
        "the server started although it should not have:\n" + text
    assert re.search(reason_re, text), \
        "no line matching %r:\n%s" % (reason_re, text)
    return text


def emerg_re(path, why):
    return r"\[condcache:emerg\].*CondCacheTableFile %s: %s; refusing" % (
        re.escape(path), why)


# --------------------------------------------------------------------------
# Full restarts

def test_stop_start_reattaches(new_server):
    """Files seen before a full stop revalidate after the start from the
    reattached table: 100% hits, nothing hashed."""
    files = {}

    def populate(s):
        table_dir(s)
        files.update(write_files(s, 30))

    # a relative path is under ServerRoot (the server's directory)
    srv = new_server("stopstart", lambda s: table_conf(s, "tf/table"),
                     populate=populate, settle=True)
    path = table_path(srv)
    st = srv.status()
    assert st["TableFile"] == path and st["TableState"] == "new", st
    assert set(fetch_all(srv, files)) == {"miss"}
    assert srv.status()["EntriesInUse"] == len(files)
    assert os.stat(path).st_mode & 0o7777 == 0o600

    srv.stop()
    offset = srv.error_log_size()
    srv.start()
    st = srv.status()
    assert st["TableState"] == "reattached" and st["TableFile"] == path, st
    assert st["EntriesInUse"] == len(files), st
    assert re.search(r"\[condcache:notice\].*CondCacheTableFile %s: "
                     r"reattached "
                     r"the table of 65536 entries: %d digests kept, 0 "
                     % (re.escape(path), len(files)), log_since(srv, offset))
    assert set(revalidate_all(srv, files)) == {"hit"}
    assert set(fetch_all(srv, files)) == {"hit"}
    st = srv.status()
    assert st["Hits"] == 3 * len(files), st
    assert st["Misses"] == 0 and st["BytesHashed"] == 0, st
    assert st["FilesHashed"] == 0, st


def test_sigkill_parent_reattaches(new_server):
    """The parent SIGKILLed while its background worker hashes a queued
    2 GiB file (the worker dies with the parent; the children are killed
    by pid): the next start reattaches the table, keeps every digest and
    drops the worker's unfinished entry; the big file is queued again and
    gets its tag."""
    files = {}

    def populate(s):
        table_dir(s)
        files.update(write_files(s, 30, seed=2))
        s.big("big/sparse.bin", 2 << 30, random_bytes=False, mtime=OLD)

    srv = new_server("sigkill", lambda s: table_conf(
        s, table_path(s), dirs=("d", "big")), populate=populate, settle=True)
    path = table_path(srv)
    assert set(fetch_all(srv, files)) == {"miss"}
    r = srv.head("/big/sparse.bin")
    assert srv.note(r) == "pending" and "ETag" not in r.headers
    # the worker has taken the file and is hashing it (its pending entry
    # is in the table)
    worker = srv.status()["WorkerPid"]
    c0 = procs.cpu_seconds(worker)
    deadline = time.time() + 60
    while procs.cpu_seconds(worker) < c0 + 0.3:
        assert time.time() < deadline, "the worker is not hashing"
        time.sleep(0.05)
    assert srv.status()["QueueDone"] == 0, "the hash ended before the kill"
    sigkill_server(srv)
    offset = srv.error_log_size()
    srv.start()
    st = srv.status()
    assert st["TableState"] == "reattached", st
    assert st["EntriesInUse"] == len(files), st
    assert re.search(r"\[condcache:notice\].*CondCacheTableFile %s: "
                     r"reattached "
                     r"the table of 65536 entries: %d digests kept, 1 "
                     r"unfinished or damaged entries dropped"
                     % (re.escape(path), len(files)), log_since(srv, offset))
    assert set(revalidate_all(srv, files)) == {"hit"}
    st = srv.status()
    # each file: a revalidation and a request with a wrong tag
    assert st["Hits"] == 2 * len(files) and st["BytesHashed"] == 0, st
    r = srv.head("/big/sparse.bin")
    assert srv.note(r) == "pending" and "ETag" not in r.headers
    srv.wait_status(lambda s: s["QueueStored"] == 1, "the big file hashed",
                    180)
    r = srv.head("/big/sparse.bin")
    assert r.headers.get("ETag") == zeros_tag("sha1", 2 << 30)
    assert srv.note(r) == "hit"


def test_changed_while_down(new_server):
    """A file rewritten in place while the server was down (same size, same
    mtime) gets its new tag; the old one is never a 304."""
    files = {}

    def populate(s):
        table_dir(s)
        files.update(write_files(s, 6, seed=3))

    srv = new_server("changed", lambda s: table_conf(s, table_path(s)),
                     populate=populate, settle=True)
    fetch_all(srv, files)
    srv.stop()
    rel = sorted(files)[3]
    old = files[rel]
    new = bytes(b ^ 0x5a for b in old)
    with open(srv.path(rel), "r+b") as f:       # same inode, same size
        f.write(new)
    os.utime(srv.path(rel), (OLD, OLD))         # and the same mtime
    srv.last_populated = time.time()
    srv.settle()
    srv.start()
    assert srv.status()["TableState"] == "reattached"
    r = srv.raw("GET", "/" + rel, [("If-None-Match", sha1_tag(old))])
    assert r.status == 200 and r.body == new
    assert r.header("ETag") == sha1_tag(new)
    assert srv.note(r) == "miss"
    files[rel] = new
    notes = revalidate_all(srv, files)
    assert notes == ["hit"] * len(files), notes


# --------------------------------------------------------------------------
# Damaged and foreign files at the path

ENTRIES = 256
SLOT = 128              # bytes per slot (status BytesPerEntry)
# where a slot's fields are (cc_table.c, cc_slot_t)
SLOT_SEQ, SLOT_DEV, SLOT_INO, SLOT_SIZE, SLOT_META, SLOT_WORD = \
    0, 8, 16, 24, 48, 64
# header fields (cc_table.c, struct cc_table_t)
HDR_VERSION, HDR_DIGEST_SET = 8, 32


def flip(data, offset, n):
    b = bytearray(data)
    for i in range(offset, offset + n):
        b[i] ^= 0xff
    return bytes(b)


def _new(pr):
    return "new", r"CondCacheTableFile %s: a new table of %d entries" % (
        re.escape(pr["path"]), ENTRIES)


def _unusable(pr):
    return "new", r"CondCacheTableFile %s: not a table this server can use" \
        % re.escape(pr["path"])


def _dropped_one(pr):
    return "reattached", (
        r"CondCacheTableFile %s: reattached the table of %d entries: %d "
        r"digests kept, 1 unfinished or damaged entries dropped"
        % (re.escape(pr["path"]), ENTRIES, len(pr["files"]) - 1))


def _damaged_slot(pr):
    """The digest of the stored slot nearest the middle of the file, bytes
    flipped: the slot's check word no longer matches."""
    d = pr["data"]
    off = pr["middle_slot_offset"]
    return flip(d, off + SLOT_WORD, 8), _dropped_one(pr)


def _odd_seq(pr):
    """The same slot as a writer killed inside it leaves it (odd seq)."""
    d = bytearray(pr["data"])
    off = pr["middle_slot_offset"]
    seq = struct.unpack_from("<Q", d, off + SLOT_SEQ)[0]
    struct.pack_into("<Q", d, off + SLOT_SEQ, seq | 1)
    return bytes(d), _dropped_one(pr)


DAMAGE = {
    "truncated": lambda pr: (pr["data"][:len(pr["data"]) // 2], _new(pr)),
    "empty": lambda pr: (b"", _new(pr)),
    "zero_filled": lambda pr: (bytes(len(pr["data"])), _unusable(pr)),
    "random_bytes": lambda pr: (random.Random(5).randbytes(len(pr["data"])),
                                _unusable(pr)),
    "bigger": lambda pr: (pr["data"] + bytes(4096), _new(pr)),
    "other_entries": lambda pr: (pr["other"], _new(pr)),
    "other_version": lambda pr: (flip(pr["data"], HDR_VERSION, 1),
                                 _unusable(pr)),
    "other_digest_set": lambda pr: (flip(pr["data"], HDR_DIGEST_SET, 2),
                                    _unusable(pr)),
    "damaged_slot": _damaged_slot,
    "odd_seq": _odd_seq,
}


class TestDamagedTableFile:
    """One server; before each case, while it is stopped, the table file
    is overwritten (in place: same inode, mode 0600) with a damaged or
    foreign copy of a good table of its files' digests."""

    @classmethod
    def populate(cls, srv):
        table_dir(srv)
        cls.files = write_files(srv, 40, seed=4)

    @classmethod
    def conf(cls, srv):
        return table_conf(srv, table_path(srv), entries=ENTRIES)

    @pytest.fixture(scope="class")
    def pristine(self, httpd):
        """A good table of every file's digest (and one of another entry
        count), with the slot of the stored digest nearest the middle of
        the file."""
        srv, files = httpd, self.files
        path = table_path(srv)
        fetch_all(srv, files)
        assert srv.status()["EntriesInUse"] == len(files)
        srv.stop()
        with open(path, "rb") as f:
            data = f.read()
        # the slots are the last ENTRIES * SLOT bytes; find ours by key
        header = len(data) - ENTRIES * SLOT
        assert header > 0 and header % 64 == 0, (len(data), header)
        keys = {}
        for rel in files:
            s = os.stat(srv.path(rel))
            keys[(s.st_dev, s.st_ino, s.st_size)] = rel
        found = {}
        for i in range(ENTRIES):
            off = header + i * SLOT
            dev, ino, size = struct.unpack_from("<QQQ", data, off + SLOT_DEV)
            meta = struct.unpack_from("<Q", data, off + SLOT_META)[0]
            if (dev, ino, size) in keys and meta & 0xff == 1:
                found[keys[(dev, ino, size)]] = i
        assert len(found) == len(files), \
            "slot layout not as expected: %d of %d files found" % (
                len(found), len(files))
        middle_rel = min(found, key=lambda r: abs(found[r] - ENTRIES // 2))
        # a good table of another entry count, at the same path
        srv.install(self.conf(srv).replace(
            "CondCacheEntries %d" % ENTRIES,
            "CondCacheEntries %d" % (2 * ENTRIES)))
        srv.start()
        fetch_all(srv, files)
        srv.stop()
        with open(path, "rb") as f:
            other = f.read()
        assert len(other) != len(data)
        srv.install(self.conf(srv))
        return {"path": path, "data": data, "other": other, "files": files,
                "middle_rel": middle_rel,
                "middle_slot_offset": header + found[middle_rel] * SLOT}

    @pytest.mark.parametrize("case", sorted(DAMAGE))
    def test_damaged_or_foreign_file(self, httpd, pristine, case):
        srv, files, path = httpd, self.files, pristine["path"]
        srv.stop()
        data, (state, notice) = DAMAGE[case](pristine)
        assert os.stat(path).st_mode & 0o7777 == 0o600
        with open(path, "r+b") as f:        # in place: inode, mode, owner
            f.truncate(0)
            f.write(data)
        offset = srv.error_log_size()
        srv.start()
        try:
            st = srv.status()
            text = log_since(srv, offset)
            assert st["TableState"] == state, (case, st)
            assert st["TableFile"] == path
            assert re.search(r"\[condcache:notice\].*" + notice, text), \
                (case, text)
            assert os.path.getsize(path) == len(pristine["data"])
            # every tag the server sends is the oracle's, and a wrong tag
            # is never a 304
            notes = revalidate_all(srv, files)
            expected = {rel: "miss" for rel in files}
            if state == "reattached":
                expected = {rel: "hit" for rel in files}
                expected[pristine["middle_rel"]] = "miss"
            assert dict(zip(files, notes)) == expected, case
            assert set(fetch_all(srv, files)) == {"hit"}
        finally:
            srv.stop()


# --------------------------------------------------------------------------
# Unsafe paths: httpd refuses to start

def _junk_table(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, os.urandom(4096))
    os.close(fd)
    os.chmod(path, 0o600)


def _unsafe_symlink(srv, path):
    target = os.path.join(os.path.dirname(path), "real-table")
    _junk_table(target)
    os.symlink(target, path)
    return r"is a symbolic link", [target]


def _unsafe_mode(srv, path):
    _junk_table(path)
    os.chmod(path, 0o644)
    return r"does not have mode 0600", [path]


def _unsafe_owner(srv, path):
    _junk_table(path)
    os.chown(path, 65534, 65534)
    return r"belongs to another user", [path]


def _unsafe_hard_link(srv, path):
    _junk_table(path)
    os.link(path, path + ".other-name")
    return r"has more than one name \(hard links\)", [path]


def _unsafe_dir_writable(srv, path):
    _junk_table(path)
    os.chmod(os.path.dirname(path), 0o777)
    return (r"%s is not a directory only root can write"
            % re.escape(os.path.dirname(path))), [path]


def _unsafe_dir_owner(srv, path):
    _junk_table(path)
    os.chown(os.path.dirname(path), 65534, 65534)
    return (r"%s is not a directory only root can write"
            % re.escape(os.path.dirname(path))), [path]


UNSAFE = {
    "symlink": _unsafe_symlink,
    "mode_0644": _unsafe_mode,
    "owner_65534": _unsafe_owner,
    "hard_link": _unsafe_hard_link,
    "directory_0777": _unsafe_dir_writable,
    "directory_of_another_user": _unsafe_dir_owner,
}


def _snapshot(paths):
    out = {}
    for p in paths:
        st = os.lstat(p)
        with open(p, "rb") as f:
            out[p] = (st.st_ino, st.st_mode, st.st_uid, st.st_nlink,
                      f.read())
    return out


class TestUnsafe:
    @pytest.mark.parametrize("case", sorted(UNSAFE))
    def test_refuses_to_start(self, new_server, expect_errors, case):
        srv = new_server("unsafe_" + case, lambda s: table_conf(
            s, table_path(s)), start=False)
        path = table_path(srv)
        table_dir(srv)
        why, kept = UNSAFE[case](srv, path)
        before = _snapshot(kept)
        text = start_refused(srv, expect_errors, emerg_re(path, why))
        assert "AH00020: Configuration Failed" in text
        assert _snapshot(kept) == before, "the server changed the file"
        assert not [n for n in os.listdir(os.path.dirname(path))
                    if ".new." in n], "a half-made table was left behind"

    def test_second_server_same_file(self, new_server, expect_errors):
        """A second server configured with the table file of a running one
        refuses to start; the first keeps its file and its digests."""
        files = {}

        def populate(s):
            table_dir(s)
            files.update(write_files(s, 5, seed=6))

        first = new_server("first", lambda s: table_conf(s, table_path(s)),
                           populate=populate, settle=True)
        path = table_path(first)
        fetch_all(first, files)
        ino = os.stat(path).st_ino
        second = new_server("second", lambda s: table_conf(s, path),
                            start=False)
        start_refused(second, expect_errors, emerg_re(
            path, r"it is in use by another server \(or by processes of one "
            r"that was killed\)"))
        assert os.stat(path).st_ino == ino
        assert first.status()["TableState"] == "new"
        assert set(revalidate_all(first, files)) == {"hit"}

    def test_second_server_other_entries(self, new_server, expect_errors):
        """As above, with another CondCacheEntries in the second server: its
        table would be of another size, but the file is still in use."""
        files = {}

        def populate(s):
            table_dir(s)
            files.update(write_files(s, 5, seed=7))

        first = new_server("first", lambda s: table_conf(
            s, table_path(s), entries=1024), populate=populate, settle=True)
        path = table_path(first)
        fetch_all(first, files)
        ino = os.stat(path).st_ino
        second = new_server("second", lambda s: table_conf(
            s, path, entries=512), start=False)
        start_refused(second, expect_errors, emerg_re(
            path, r"it is in use by another server \(or by processes of one "
            r"that was killed\)"))
        assert os.stat(path).st_ino == ino
        first.stop()
        first.start()
        assert first.status()["TableState"] == "reattached"


# --------------------------------------------------------------------------
# Unusable paths: the table in memory, with a warning

@pytest.fixture
def mounts():
    """mount(path, size): a tmpfs (mode 0700) at path; unmounted at the end
    (request this fixture before new_server, so that the servers stop
    first).  Skips when mounting is impossible."""
    made = []

    def mount(path, size):
        os.makedirs(path, exist_ok=True)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o",
                            "size=%s,mode=0700" % size, "condcache-test",
                            path], capture_output=True, text=True)
        if p.returncode != 0:
            pytest.skip("cannot mount a tmpfs at %s: %s (needs root with "
                        "CAP_SYS_ADMIN)" % (path, p.stderr.strip()))
        made.append(path)
        return path

    yield mount
    for path in reversed(made):
        if subprocess.run(["umount", path]).returncode != 0:
            subprocess.run(["umount", "-l", path])


def _warning_re(path, why):
    return (r"\[condcache:warn\].*CondCacheTableFile %s: %s; the table is "
            r"kept in memory" % (re.escape(path), why))


class TestUnusable:
    def test_read_only_filesystem(self, mounts, new_server):
        files = {}
        srv = new_server("readonly", "", start=False,
                         populate=lambda s: files.update(
                             write_files(s, 8, seed=8)))
        d = mounts(os.path.join(srv.dir, "tf"), "1m")
        path = os.path.join(d, "table")
        srv.install(table_conf(srv, path, entries=1024))
        srv.settle()
        srv.start()
        assert srv.status()["TableState"] == "new"
        fetch_all(srv, files)
        srv.stop()
        p = subprocess.run(["mount", "-o", "remount,ro", d],
                           capture_output=True, text=True)
        if p.returncode != 0:
            pytest.skip("cannot remount %s read-only: %s" % (d, p.stderr))
        # the table file is there, on a read-only filesystem
        offset = srv.error_log_size()
        srv.start()
        st = srv.status()
        assert st["TableState"] == "memory" and st["TableFile"] == "none", st
        assert re.search(_warning_re(path, "cannot open it for writing"),
                         log_since(srv, offset)), log_since(srv, offset)
        assert set(fetch_all(srv, files)) == {"miss"}
        assert set(revalidate_all(srv, files)) == {"hit"}
        srv.stop()
        # no table file yet, on a read-only filesystem
        other = os.path.join(d, "other-table")
        srv.install(table_conf(srv, other, entries=1024))
        offset = srv.error_log_size()
        srv.start()
        st = srv.status()
        assert st["TableState"] == "memory", st
        assert re.search(_warning_re(other, r"cannot create \S+"),
                         log_since(srv, offset)), log_since(srv, offset)
        assert set(fetch_all(srv, files)) == {"miss"}
        assert set(revalidate_all(srv, files)) == {"hit"}

    def test_full_disk(self, mounts, new_server):
        """A tmpfs of 128 KiB cannot hold the table of 4096 entries: its
        blocks are allocated at start (never a SIGBUS later)."""
        files = {}
        srv = new_server("fulldisk", "", start=False,
                         populate=lambda s: files.update(
                             write_files(s, 8, seed=9)))
        d = mounts(os.path.join(srv.dir, "tf"), "128k")
        path = os.path.join(d, "table")
        srv.install(table_conf(srv, path, entries=4096))
        srv.settle()
        offset = srv.error_log_size()
        srv.start()
        st = srv.status()
        assert st["TableState"] == "memory" and st["Capacity"] == 4096, st
        assert st["SharedMemoryBytes"] > 128 * 1024
        assert re.search(_warning_re(path, "cannot allocate its disk space"),
                         log_since(srv, offset)), log_since(srv, offset)
        assert os.listdir(d) == [], "leftovers: %r" % os.listdir(d)
        assert set(fetch_all(srv, files)) == {"miss"}
        assert set(revalidate_all(srv, files)) == {"hit"}


# --------------------------------------------------------------------------
# Graceful restarts

class TestGracefulKeepsTable:
    @classmethod
    def populate(cls, srv):
        table_dir(srv)
        cls.files = write_files(srv, 10, seed=10)

    @classmethod
    def conf(cls, srv):
        return table_conf(srv, table_path(srv))

    def test_graceful_keeps_it(self, httpd):
        path = table_path(httpd)
        fetch_all(httpd, self.files)
        ino = os.stat(path).st_ino
        before = httpd.status()
        httpd.graceful()
        st = httpd.status()
        assert st["TableState"] == "kept" and st["TableFile"] == path, st
        assert os.stat(path).st_ino == ino
        assert set(revalidate_all(httpd, self.files)) == {"hit"}
        after = httpd.status()
        assert after["Hits"] >= before["Hits"] + len(self.files)
        assert after["BytesHashed"] == before["BytesHashed"]
        assert after["EntriesInUse"] == before["EntriesInUse"]


def _slow_download(srv, rel, out):
    """GETs a file reading 64 KiB every 10 ms through a small receive
    buffer, so that the child serving it is still writing when the server
    restarts; out gets (status, headers, sha1 of the body) or the error."""
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
        s.settimeout(30)
        s.connect((srv.host, srv.port))
        s.sendall(build_request("GET", "/" + rel,
                                host="%s:%d" % (srv.host, srv.port)))
        buf = bytearray()
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            time.sleep(0.01)
        s.close()
        head, _, body = bytes(buf).partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        hdrs = dict((k.strip().lower(), v.strip()) for k, _, v in
                    (ln.partition(":") for ln in lines[1:]))
        out.append((int(lines[0].split()[1]), hdrs,
                    hashlib.sha1(body).hexdigest(), len(body)))
    except Exception as e:  # noqa: BLE001 - reported by the test
        out.append(e)


def test_graceful_other_entries(new_server):
    """A graceful restart with another CondCacheEntries makes a new table
    file (renamed into place) while the old children finish their
    requests: no request fails, every tag is right, the new file is
    reattached at the next full start."""
    files = {}
    big = {}

    def populate(s):
        table_dir(s)
        files.update(write_files(s, 20, seed=11))
        big["data"] = os.urandom(8 * MIB)
        s.write("d/big.bin", big["data"], mtime=OLD)

    def conf(s, entries):
        return table_conf(s, table_path(s), entries=entries,
                          extra="CondCacheInlineHashMax 1073741824\n")

    srv = new_server("graceful_entries", lambda s: conf(s, 1024),
                     populate=populate, settle=True)
    path = table_path(srv)
    all_files = dict(files)
    all_files["d/big.bin"] = big["data"]
    fetch_all(srv, all_files)
    st0 = os.stat(path)
    tags = {rel: sha1_tag(d) for rel, d in all_files.items()}

    stop = threading.Event()
    failures, wrong, counts = [], [], [0]

    def client(seed):
        rng = random.Random(seed)
        ka = KeepAlive(srv.host, srv.port)
        rels = sorted(files)
        while not stop.is_set():
            rel = rng.choice(rels)
            hdrs = [("If-None-Match", tags[rel])] if rng.random() < 0.5 else []
            try:
                r = ka.get("/" + rel, hdrs)
            except RequestFailed as e:
                failures.append(str(e))
                continue
            counts[0] += 1
            if r.status not in (200, 304) or r.header("ETag") != tags[rel] \
                    or (r.status == 200 and r.body != files[rel]):
                wrong.append((rel, r.status, r.header("ETag")))
        ka.close()

    slow = []
    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    threads.append(threading.Thread(target=_slow_download,
                                    args=(srv, "d/big.bin", slow)))
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        offset = srv.error_log_size()
        srv.install(conf(srv, 2048))
        srv.graceful()
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not failures, failures[:5]
    assert not wrong, wrong[:5]
    assert counts[0] > 50
    assert len(slow) == 1 and not isinstance(slow[0], Exception), slow
    status, hdrs, digest, n = slow[0]
    assert status == 200 and n == len(big["data"])
    assert digest == hashlib.sha1(big["data"]).hexdigest()
    assert hdrs.get("etag") == tags["d/big.bin"]

    st = srv.status()
    assert st["Capacity"] == 2048 and st["TableState"] == "new", st
    assert st["TableFile"] == path
    st1 = os.stat(path)
    assert st1.st_ino != st0.st_ino and st1.st_size > st0.st_size
    assert st1.st_mode & 0o7777 == 0o600
    assert os.listdir(os.path.dirname(path)) == ["table"]
    assert re.search(r"CondCacheTableFile %s: a new table of 2048 entries"
                     % re.escape(path), log_since(srv, offset))
    fetch_all(srv, all_files)
    srv.stop()
    srv.start()
    st = srv.status()
    assert st["TableState"] == "reattached" and st["Capacity"] == 2048, st
    assert set(revalidate_all(srv, all_files)) == {"hit"}


def test_graceful_between_memory_and_file(new_server):
    """Graceful restarts that add CondCacheTableFile, keep it, and remove
    it: memory -> new -> kept -> memory, tags right all along."""
    files = {}

    def populate(s):
        table_dir(s)
        files.update(write_files(s, 5, seed=12))

    srv = new_server("graceful_modes", lambda s: table_conf(s, table_path(s))
                     .replace("CondCacheTableFile", "#"),
                     populate=populate, settle=True)
    path = table_path(srv)
    assert srv.status()["TableState"] == "memory"
    fetch_all(srv, files)
    for conf, state in ((table_conf(srv, path), "new"),
                        (table_conf(srv, path), "kept"),
                        (table_conf(srv, path).replace("CondCacheTableFile",
                                                       "#"), "memory")):
        srv.install(conf)
        srv.graceful()
        st = srv.status()
        assert st["TableState"] == state, (state, st)
        assert st["TableFile"] == (path if state != "memory" else "none")
        fetch_all(srv, files)
        assert set(revalidate_all(srv, files)) == {"hit"}
    assert os.listdir(os.path.dirname(path)) == ["table"]


def test_main_server_only(new_server):
    srv = new_server("vhost_table", lambda s: (
        "<VirtualHost 127.0.0.1:%d>\n  CondCacheTableFile %s\n"
        "</VirtualHost>\n" % (s.port, table_path(s))), start=False)
    rc, out = srv.config_test()
    assert rc != 0 and "CondCacheTableFile" in out, out
    srv.install("CondCacheTableFile %s/\n" % srv.dir)
    rc, out = srv.config_test()
    assert rc != 0 and "CondCacheTableFile" in out, out
