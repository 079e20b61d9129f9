"""Load scenarios of the reliability tests, shared by the tests
(which run them through scripts/soak-* in a short, bounded form) and by the
scripts run by hand for longer.

Every scenario returns a summary dict: counts of what happened and a list
"violations" of correctness failures (each a short string with the
evidence).  Timings are reported, never judged here.
"""
import os
import random
import re
import signal
import subprocess
import threading
import time

from clients import KeepAlive, RequestFailed
from logs import access_entries, count_resumes, fetch_status, note_of
from procs import busy_children, children, kill, pid_alive, smaps_rollup
from tags import content_tag, file_tag, sha1_tag

MONO = time.monotonic
MAX_VIOLATIONS_KEPT = 30


class Violations:
    def __init__(self):
        self.lock = threading.Lock()
        self.count = {}
        self.samples = []

    def add(self, kind, detail):
        with self.lock:
            self.count[kind] = self.count.get(kind, 0) + 1
            if len(self.samples) < MAX_VIOLATIONS_KEPT:
                self.samples.append("%s: %s" % (kind, detail))

    def total(self):
        return sum(self.count.values())

    def as_dict(self):
        return {"violations": self.total(), "violation_kinds": self.count,
                "violation_samples": self.samples}


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}

    def inc(self, key, n=1):
        with self.lock:
            self.c[key] = self.c.get(key, 0) + n

    def get(self, key):
        return self.c.get(key, 0)


def stop_threads(threads, timeout=60):
    """Tells the scenario's threads to stop (their stop_evt), all at once,
    then waits for each."""
    for t in threads:
        t.stop_evt.set()
    for t in threads:
        t.join(timeout=timeout)


def _hostport(url):
    m = re.match(r"^http://([^/:]+):(\d+)/?$", url)
    if not m:
        raise ValueError("URL must be http://HOST:PORT, not %r" % url)
    return m.group(1), int(m.group(2))


# ==========================================================================
# 1. Racing deploys

class VersionLog:
    """Every version written to each file, with the monotonic times just
    before and just after it was put in place."""

    def __init__(self):
        self.lock = threading.Lock()
        self.versions = {}          # name -> [(t_a, t_b, tag)]
        self.tags = {}              # name -> set of tags

    def add(self, name, t_a, t_b, tag):
        with self.lock:
            self.versions.setdefault(name, []).append((t_a, t_b, tag))
            self.tags.setdefault(name, set()).add(tag)

    def random_tag(self, name, rng):
        with self.lock:
            v = self.versions[name]
            return v[rng.randrange(len(v))][2]

    def current(self, name):
        with self.lock:
            return self.versions[name][-1][2]

    def current_at_some_point(self, name, tag, t0, t1):
        """Was a version with this tag the file's content (conservatively:
        from just before it was written until just after it was replaced)
        at some moment of [t0, t1]?"""
        v = self.versions[name]
        for i, (t_a, _t_b, tg) in enumerate(v):
            if tg != tag:
                continue
            end = v[i + 1][1] if i + 1 < len(v) else float("inf")
            if t_a <= t1 and end >= t0:
                return True
        return False


def _new_content(rng, name, n, size=None):
    if size is None:
        size = rng.choice((rng.randint(16, 512), rng.randint(512, 16384),
                           rng.randint(16384, 96 * 1024)))
    head = b"%s version %07d\n" % (name.encode(), n)
    if size <= len(head):
        return head[:size] if size else b""
    return head + os.urandom(size - len(head))


def _write_chunks(fd, data, chunk=4096):
    off = 0
    while off < len(data):
        off += os.write(fd, data[off:off + chunk])


class DeployWriter(threading.Thread):
    """Replaces files continuously.  mode "rename": write a temporary file
    in the same directory, rename it over the old one (a new inode each
    time).  mode "inplace": rewrite the same inode, in 4 KiB writes, in
    turn (a) same size, (b) truncated to a new size, (c) same size with the
    old mtime restored afterwards (as rsync -t --inplace or cp -p do).

    Files 0 and 1 are rewritten back to back; the others every
    `slow_period` * (i - 1) seconds, so that they settle (ctime older than
    a second) and are stored in the table before they are replaced."""

    def __init__(self, directory, names, mode, log, rng, slow_period=1.3,
                 pause=0.002):
        super().__init__(daemon=True)
        self.dir, self.names, self.mode = directory, names, mode
        self.log, self.rng = log, rng
        self.slow_period, self.pause = slow_period, pause
        self.stop_evt = threading.Event()
        self.writes = 0
        self.error = None
        self.n = 0

    def path(self, name):
        return os.path.join(self.dir, name)

    def initial(self):
        for name in self.names:
            data = _new_content(self.rng, name, self.n)
            self.n += 1
            with open(self.path(name), "wb") as f:
                f.write(data)
            os.chmod(self.path(name), 0o644)
            self.log.add(name, float("-inf"), MONO(), sha1_tag(data))

    def write_one(self, name):
        p = self.path(name)
        self.n += 1
        if self.mode == "rename":
            data = _new_content(self.rng, name, self.n)
            tmp = os.path.join(self.dir, ".tmp-%s-%d" % (name, self.n))
            with open(tmp, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            t_a = MONO()
            os.replace(tmp, p)
            t_b = MONO()
        else:
            variant = self.n % 3
            st = os.stat(p)
            size = st.st_size if variant in (0, 2) else None
            data = _new_content(self.rng, name, self.n, size)
            t_a = MONO()
            flags = os.O_WRONLY | (os.O_TRUNC if variant == 1 else 0)
            fd = os.open(p, flags)
            try:
                _write_chunks(fd, data)
            finally:
                os.close(fd)
            if variant == 2:
                os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
            t_b = MONO()
        self.log.add(name, t_a, t_b, sha1_tag(data))
        self.writes += 1

    def run(self):
        try:
            next_slow = {n: MONO() + self.slow_period * (i - 1)
                         for i, n in enumerate(self.names) if i >= 2}
            while not self.stop_evt.is_set():
                for i, name in enumerate(self.names):
                    if i < 2:
                        self.write_one(name)
                    elif MONO() >= next_slow[name]:
                        self.write_one(name)
                        next_slow[name] = MONO() + self.slow_period * (i - 1)
                if self.pause:
                    time.sleep(self.rng.uniform(0, self.pause))
        except Exception as e:  # noqa: BLE001 - reported in the summary
            self.error = repr(e)


class DeployReader(threading.Thread):
    """Fetches the files over keep-alive: plain GETs, revalidations with
    the tag of the bytes it holds, with an old version's tag, with a tag no
    version ever had, and If-Match with the tag it holds."""

    def __init__(self, host, port, prefix, names, log, rng, records):
        super().__init__(daemon=True)
        self.client = KeepAlive(host, port, req_ids=True)
        self.prefix, self.names, self.log = prefix, names, log
        self.rng, self.records = rng, records
        self.stop_evt = threading.Event()
        self.have = {}      # name -> tag of bytes we received and verified
        self.failures = []

    def run(self):
        rng = self.rng
        while not self.stop_evt.is_set():
            name = rng.choice(self.names)
            kind = rng.choices(("plain", "own", "old", "bogus", "ifmatch"),
                               (30, 40, 15, 10, 5))[0]
            sent = None
            hdrs = []
            if kind in ("own", "ifmatch"):
                sent = self.have.get(name)
                if sent is None:
                    kind = "plain"
            elif kind == "old":
                sent = self.log.random_tag(name, rng)
            elif kind == "bogus":
                sent = sha1_tag(os.urandom(16))
            if sent is not None:
                hdrs.append(("If-Match" if kind == "ifmatch"
                             else "If-None-Match", sent))
            try:
                r = self.client.get(self.prefix + name, hdrs)
            except RequestFailed as e:
                self.failures.append(str(e))
                self.records.append((name, kind, sent, "error", None, None,
                                     0.0, 0.0,
                                     "incomplete" if "IncompleteRead"
                                     in str(e) else "failed"))
                continue
            body_tag = sha1_tag(r.body) if r.status == 200 else None
            etag = r.header("etag")
            if r.status == 200 and etag is not None and etag == body_tag:
                self.have[name] = etag
            self.records.append((name, kind, sent, r.status, etag, body_tag,
                                 r.t_send, r.t_recv, None))
        self.client.close()


def analyse_deploys(mode, records, log):
    """Judges the records of a deploy race.

    A 304 (or a 200 to If-Match) for tag T is right only if the file's
    content hashed to T at some moment of the request:
      - T is the tag of a version the writer wrote, and that version was in
        place (conservatively: from just before it was written until just
        after the next one was) at some moment of [sent, received];
      - in-place mode only: T is the tag of an intermediate state (a
        truncated file, a half-written one) that some reader received as a
        200 whose body hashes to its tag: the file did have those bytes.
    Anything else (a tag no state of the file ever had, an old version's
    tag long after it was replaced) is a false 304."""
    v = Violations()
    stats = Counter()
    observed = {}
    for (name, _k, _s, status, etag, body_tag, _t0, _t1, err) in records:
        if not err and status == 200 and etag is not None and \
                etag == body_tag:
            observed.setdefault(name, set()).add(etag)

    def valid(name, tag, t0, t1):
        if tag in log.tags[name]:
            if log.current_at_some_point(name, tag, t0, t1):
                return "version"
            return None
        if mode == "inplace" and tag in observed.get(name, ()):
            return "intermediate"
        return None

    for (name, kind, sent, status, etag, body_tag, t0, t1, err) in records:
        stats.inc("responses")
        stats.inc("status_%s" % status)
        if err:
            stats.inc(err)
            if mode == "rename":
                v.add("request_failed" if err == "failed" else
                      "incomplete_body", "%s %s" % (name, kind))
            continue
        if status == 200:
            if etag is None:
                stats.inc("untagged_200")
                if mode == "rename":
                    v.add("untagged_200", name)
            elif etag != body_tag:
                stats.inc("tag_body_mismatch")
                if mode == "rename":
                    v.add("tag_body_mismatch", "%s: ETag %s, body hashes to "
                          "%s" % (name, etag, body_tag))
            if mode == "rename" and body_tag not in log.tags[name]:
                v.add("unknown_body", "%s: body %s is no version written"
                      % (name, body_tag))
            if kind == "ifmatch":
                why = valid(name, sent, t0, t1)
                if why is None:
                    v.add("false_if_match_200", "%s: If-Match %s passed but "
                          "the file had no such content during the request"
                          % (name, sent))
        elif status == 304:
            stats.inc("304_" + kind)
            why = valid(name, sent, t0, t1)
            if why == "intermediate":
                stats.inc("304_intermediate_state")
            if why is None:
                if sent in log.tags[name] or sent in observed.get(name, ()):
                    v.add("false_304", "%s: If-None-Match %s (%s) answered "
                          "304, but no version with that tag was in place "
                          "from %.4f to %.4f" % (name, sent, kind, t0, t1))
                else:
                    v.add("304_for_tag_the_file_never_had",
                          "%s: If-None-Match %s (%s)" % (name, sent, kind))
            if etag is not None and etag != sent and not (
                    etag.startswith("W/") and etag[2:] == sent):
                v.add("304_tag_differs", "%s: sent %s, 304 carries %s"
                      % (name, sent, etag))
        elif status == 412:
            if kind != "ifmatch":
                v.add("unexpected_412", "%s %s" % (name, kind))
        else:
            v.add("unexpected_status", "%s %s: %s" % (name, kind, status))
    return stats.c, v


def check_settled(host, port, prefix, names, log, timeout):
    """After the writer stopped: polls until every file is served with the
    tag of its final content, the final tag revalidates (304) and the
    previous version's tag does not (200).  Returns (seconds, problems)."""
    t_start = MONO()
    client = KeepAlive(host, port)
    problems = []
    try:
        while True:
            problems = []
            for name in names:
                final = log.versions[name][-1][2]
                prev = [t for _, _, t in log.versions[name] if t != final]
                try:
                    r = client.get(prefix + name)
                    if r.status != 200 or r.header("etag") != final or \
                            sha1_tag(r.body) != final:
                        problems.append("%s: %s ETag %s, final %s" % (
                            name, r.status, r.header("etag"), final))
                        continue
                    r = client.get(prefix + name, [("If-None-Match", final)])
                    if r.status != 304:
                        problems.append("%s: final tag gave %d"
                                        % (name, r.status))
                    for old in prev[-3:]:
                        r = client.get(prefix + name,
                                       [("If-None-Match", old)])
                        if r.status != 200:
                            problems.append("%s: old tag %s gave %d"
                                            % (name, old, r.status))
                except RequestFailed as e:
                    problems.append(str(e))
            if not problems or MONO() - t_start > timeout:
                return MONO() - t_start, problems
            time.sleep(0.05)
    finally:
        client.close()


def aborted_retries(access_log, retried_ids):
    """Of the requests a client retried after a keep-alive connection was
    closed without a response, those the server had in fact received and
    logged (so it aborted the response rather than closed an idle
    connection): their id appears twice in the access_log."""
    if not access_log or not retried_ids:
        return []
    seen = {}
    for e in access_entries(access_log):
        seen[e["req_id"]] = seen.get(e["req_id"], 0) + 1
    return [i for i in retried_ids if seen.get(i, 0) >= 2]


def run_deploys(url, directory, prefix, mode, seconds, readers=6, files=4,
                seed=None, settle_timeout=5.0, access_log=None):
    """The racing-deploys scenario against files in `directory`, served at
    URL path `prefix`.  Creates the files itself.  With the server's
    access_log (the harness's format), keep-alive retries are told apart:
    a request the server logged and answered with nothing is an aborted
    response, not a closed idle connection."""
    host, port = _hostport(url)
    seed = seed if seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    os.makedirs(directory, exist_ok=True)
    names = ["f%d.txt" % i for i in range(files)]
    log = VersionLog()
    writer = DeployWriter(directory, names, mode, log, rng)
    writer.initial()
    records = []
    rs = [DeployReader(host, port, prefix, names, log,
                       random.Random(seed + i + 1), records)
          for i in range(readers)]
    t0 = MONO()
    writer.start()
    for r in rs:
        r.start()
    time.sleep(seconds)
    stop_threads([writer])
    stop_threads(rs)
    elapsed = MONO() - t0
    stats, v = analyse_deploys(mode, records, log)
    if writer.error:
        v.add("writer_error", writer.error)
    settle_s, problems = check_settled(host, port, prefix, names, log,
                                       settle_timeout)
    for p in problems:
        v.add("not_current_after_writer_stopped", p)
    # and once the files are old enough to be stored: twice each, still
    # the final tags (the stored digest and the hit)
    time.sleep(1.2)
    settle2_s, problems = check_settled(host, port, prefix, names, log, 0)
    for p in problems:
        v.add("not_current_once_settled", p)
    time.sleep(0.2)     # the access_log lines of the last requests
    aborted = aborted_retries(access_log, [i for r in rs
                                           for i in r.client.retried_ids])
    if aborted and mode == "rename":
        v.add("aborted_responses", "%d requests received by the server were "
              "answered with nothing (ids %s)" % (len(aborted), aborted[:5]))
    out = {"scenario": "deploys", "mode": mode, "seed": seed,
           "seconds": round(elapsed, 2), "writes": writer.writes,
           "readers": readers, "files": files,
           "stale_keepalive_retries": sum(r.client.stale_retries for r in rs),
           "aborted_responses": len(aborted) if access_log else None,
           "settle_seconds": round(settle_s, 3),
           "reader_failures": sum(len(r.failures) for r in rs),
           "reader_failure_samples": [f for r in rs for f in r.failures][:5]}
    out.update(stats)
    out.update(v.as_dict())
    return out


# ==========================================================================
# 2 and 3. Revalidation and distinct-file load, with graceful restarts or
# SIGKILLed children

def expected_tags(directory, prefix, algo="sha1", skip_hidden=True):
    """{url path: tag} of every regular file under `directory`."""
    out = {}
    for root, dirs, files in os.walk(directory):
        for fn in files:
            if skip_hidden and fn.startswith("."):
                continue
            p = os.path.join(root, fn)
            rel = os.path.relpath(p, directory).replace(os.sep, "/")
            out[prefix + rel] = file_tag(algo, p)
    return out


class Graceful(threading.Thread):
    """`count` graceful restarts, `interval` seconds apart, each waited for
    (a new "resuming normal operations" line and an answer on the port)."""

    def __init__(self, apache_bin, conf, error_log, count, interval,
                 host, port):
        super().__init__(daemon=True)
        self.apache_bin, self.conf, self.error_log = apache_bin, conf, \
            error_log
        self.count, self.interval = count, interval
        self.host, self.port = host, port
        self.done = 0
        self.durations = []
        self.error = None

    def run(self):
        try:
            for _ in range(self.count):
                time.sleep(self.interval)
                before = count_resumes(self.error_log)
                t0 = MONO()
                p = subprocess.run([self.apache_bin, "-f", self.conf, "-k",
                                    "graceful"], capture_output=True,
                                   text=True, timeout=30)
                if p.returncode != 0:
                    raise RuntimeError("graceful: %s %s" % (p.stdout,
                                                            p.stderr))
                deadline = MONO() + 30
                while count_resumes(self.error_log) <= before:
                    if MONO() > deadline:
                        raise RuntimeError("graceful restart not completed")
                    time.sleep(0.02)
                self.durations.append(round(MONO() - t0, 3))
                self.done += 1
            time.sleep(self.interval)
        except Exception as e:  # noqa: BLE001
            self.error = repr(e)


class Killer(threading.Thread):
    """SIGKILLs a child of `ppid` every `interval` seconds (preferring one
    that is running: likely hashing), never the parent."""

    def __init__(self, ppid, interval, rng, max_kills=None, spare=()):
        super().__init__(daemon=True)
        self.ppid, self.interval, self.rng = ppid, interval, rng
        # children that serve no request (the module's background worker)
        self.spare = set(spare)
        self.max_kills = max_kills
        self.stop_evt = threading.Event()
        self.killed = []
        self.error = None

    def run(self):
        try:
            while not self.stop_evt.wait(self.interval * self.rng.uniform(
                    0.5, 1.5)):
                if self.max_kills is not None and \
                        len(self.killed) >= self.max_kills:
                    break
                cands = [p for p in busy_children(self.ppid)
                         or children(self.ppid) if p not in self.spare]
                if not cands:
                    continue
                pid = self.rng.choice(cands)
                if pid == self.ppid or not pid_alive(pid):
                    continue
                # it must still be a child of the parent (not a reused pid)
                if pid in children(self.ppid) and kill(pid, signal.SIGKILL):
                    self.killed.append(pid)
        except Exception as e:  # noqa: BLE001
            self.error = repr(e)


class RevalidateClient(threading.Thread):
    """Revalidates known files with their tags (expects 304 and the same
    tag), with a plain GET every `get_every` requests (expects 200, the same
    tag, and a body that hashes to it)."""

    def __init__(self, host, port, tags, rng, v, stats, get_every=10,
                 keepalive=True):
        super().__init__(daemon=True)
        self.client = KeepAlive(host, port, req_ids=True)
        self.paths = sorted(tags)
        self.tags, self.rng, self.v, self.stats = tags, rng, v, stats
        self.get_every, self.keepalive = get_every, keepalive
        self.stop_evt = threading.Event()

    def run(self):
        n = 0
        while not self.stop_evt.is_set():
            n += 1
            path = self.rng.choice(self.paths)
            tag = self.tags[path]
            plain = n % self.get_every == 0
            hdrs = [] if plain else [("If-None-Match", tag)]
            if not self.keepalive:
                hdrs.append(("Connection", "close"))
            try:
                r = self.client.get(path, hdrs)
            except RequestFailed as e:
                self.v.add("request_failed", str(e))
                continue
            self.stats.inc("responses")
            self.stats.inc("status_%d" % r.status)
            if r.status != (200 if plain else 304):
                self.v.add("unexpected_status", "%s: %d" % (path, r.status))
            if r.header("etag") != tag:
                self.v.add("tag_changed", "%s: %s, expected %s"
                           % (path, r.header("etag"), tag))
            if plain and r.status == 200 and sha1_tag(r.body) != tag:
                self.v.add("body_mismatch", path)
        self.client.close()


class DistinctClient(threading.Thread):
    """Requests files from a shared queue (each once, then once more with
    its tag), then random files while time is left.  Every tag must be the
    hash of that file.  Connections lost to a killed child are retried (up
    to `retries` times) and counted, not failed."""

    def __init__(self, host, port, tags, queue, qlock, rng, v, stats,
                 retries=5):
        super().__init__(daemon=True)
        self.client = KeepAlive(host, port)
        self.tags, self.queue, self.qlock = tags, queue, qlock
        self.paths = sorted(tags)
        self.rng, self.v, self.stats, self.retries = rng, v, stats, retries
        self.stop_evt = threading.Event()

    def one(self, path, hdrs):
        for attempt in range(self.retries + 1):
            try:
                return self.client.get(path, hdrs)
            except RequestFailed as e:
                self.stats.inc("lost_to_kills")
                last = e
                time.sleep(0.02 * (attempt + 1))
        self.v.add("request_failed", "%s after %d attempts: %s"
                   % (path, self.retries + 1, last))
        return None

    def check(self, path, r, revalidation):
        tag = self.tags[path]
        self.stats.inc("responses")
        self.stats.inc("status_%d" % r.status)
        etag = r.header("etag")
        if r.status == 200:
            if etag is None:
                self.stats.inc("untagged")      # busy/changed: allowed
            elif etag != tag:
                self.v.add("wrong_tag", "%s: %s, file hashes to %s"
                           % (path, etag, tag))
            if sha1_tag(r.body) != tag:
                self.v.add("wrong_body", path)
        elif r.status == 304:
            if not revalidation:
                self.v.add("unconditional_304", path)
            if etag is not None and etag != tag:
                self.v.add("wrong_tag_304", "%s: %s" % (path, etag))
        else:
            self.v.add("unexpected_status", "%s: %d" % (path, r.status))

    def run(self):
        while not self.stop_evt.is_set():
            with self.qlock:
                path = self.queue.pop() if self.queue else None
            if path is None:
                path = self.rng.choice(self.paths)
            r = self.one(path, [])
            if r is None:
                continue
            self.check(path, r, False)
            if self.stop_evt.is_set():
                break
            r = self.one(path, [("If-None-Match", self.tags[path])])
            if r is not None:
                self.check(path, r, True)
        self.client.close()


def check_not_wedged(host, port, tags, access_log, timeout):
    """Each path of `tags` (never requested before) must be answered 200
    with its tag (never a wrong one); and, polling up to `timeout` seconds
    per file, its digest must get stored: a revalidation must be answered
    304 from the table (note "hit").  Returns (worst seconds for one file,
    problems, total seconds)."""
    t0 = MONO()
    client = KeepAlive(host, port, req_ids=True)
    problems = []
    worst = 0.0
    try:
        for path, tag in sorted(tags.items()):
            t_path = MONO()
            ok = False
            last = None
            while MONO() - t_path <= timeout:
                try:
                    r = client.get(path)
                    if r.status != 200 or sha1_tag(r.body) != tag:
                        problems.append("%s: %d, body does not hash to %s"
                                        % (path, r.status, tag))
                        break
                    if r.header("etag") not in (None, tag):
                        problems.append("%s: wrong tag %s (file: %s)"
                                        % (path, r.header("etag"), tag))
                        break
                    if r.header("etag") is None:
                        last = "served without a tag"
                        time.sleep(0.05)
                        continue
                    r2 = client.get(path, [("If-None-Match", tag)])
                except RequestFailed as e:
                    last = str(e)
                    time.sleep(0.05)
                    continue
                if r2.status != 304 or r2.header("etag") != tag:
                    problems.append("%s: revalidation with its tag gave %d "
                                    "%s" % (path, r2.status,
                                            r2.header("etag")))
                    break
                note = note_of(access_log, r2.req_id, timeout=2.0) \
                    if access_log else "hit"
                if note == "hit":
                    ok = True
                    break
                last = "revalidation not from the table (note %s)" % note
                time.sleep(0.05)
            if not ok and not problems:
                problems.append("%s: not stored with its tag within %.1f s "
                                "(%s)" % (path, timeout, last))
            worst = max(worst, MONO() - t_path)
    finally:
        client.close()
    return worst, problems, MONO() - t0


def run_restarts(url, directory, prefix, seconds, pattern="revalidate",
                 clients=8, graceful=0, graceful_interval=1.0, conf=None,
                 error_log=None, apache_bin="/usr/sbin/apache2",
                 kill_interval=0.0, ppid=None, reserve=0, access_log=None,
                 settle_timeout=5.0, seed=None, keepalive_share=0.5):
    """Load with disruptions.

    pattern "revalidate": every file of `directory` is revalidated with its
    tag (a test primes them first); `graceful` restarts are made meanwhile.
    pattern "distinct": files are fetched one after the other (many
    distinct files: hashing and inserts); with kill_interval, children of
    `ppid` are SIGKILLed meanwhile.  `reserve` files (the last ones, by
    name) are not requested under load: afterwards they must be served
    with their tags and stored (the table is not wedged)."""
    host, port = _hostport(url)
    seed = seed if seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    tags = expected_tags(directory, prefix)
    reserved = {}
    if reserve:
        for p in sorted(tags)[-reserve:]:
            reserved[p] = tags.pop(p)
    v = Violations()
    stats = Counter()
    threads = []
    if pattern == "revalidate":
        n_ka = max(1, int(round(clients * keepalive_share)))
        for i in range(clients):
            threads.append(RevalidateClient(host, port, tags,
                                            random.Random(seed + i), v, stats,
                                            keepalive=i < n_ka))
    else:
        queue = sorted(tags)
        rng.shuffle(queue)
        qlock = threading.Lock()
        for i in range(clients):
            threads.append(DistinctClient(host, port, tags, queue, qlock,
                                          random.Random(seed + i), v, stats))
    disrupt = []
    if graceful:
        disrupt.append(Graceful(apache_bin, conf, error_log, graceful,
                                graceful_interval, host, port))
    killer = None
    if kill_interval:
        # the background worker serves no request: not one to kill here
        worker = fetch_status(host, port).get("WorkerPid")
        killer = Killer(ppid, kill_interval, random.Random(seed - 1),
                        spare=[worker] if worker else ())
        disrupt.append(killer)
    t0 = MONO()
    for t in threads + disrupt:
        t.start()
    if graceful:
        disrupt[0].join(timeout=seconds + 120)
        time.sleep(0)
    else:
        time.sleep(seconds)
    if killer:
        stop_threads([killer])
    stop_threads(threads)
    elapsed = MONO() - t0
    for d in disrupt:
        if d.error:
            v.add("disruptor_error", d.error)
    out = {"scenario": "restarts", "pattern": pattern, "seed": seed,
           "seconds": round(elapsed, 2), "clients": clients,
           "files": len(tags),
           "stale_keepalive_retries": sum(t.client.stale_retries
                                          for t in threads)}
    if graceful:
        out["graceful_done"] = disrupt[0].done
        out["graceful_seconds"] = disrupt[0].durations
    if killer:
        out["killed"] = killer.killed
        # wait until the parent has reaped them (and so logged them)
        deadline = MONO() + 10
        while MONO() < deadline and any(pid_alive(p) for p in killer.killed):
            time.sleep(0.05)
        out["kill_to_reaped_seconds"] = round(MONO() - t0 - elapsed, 2)
    if reserved:
        worst, problems, total = check_not_wedged(host, port, reserved,
                                                  access_log, settle_timeout)
        for p in problems:
            v.add("wedged_or_wrong_after_load", p)
        out["reserve"] = len(reserved)
        out["reserve_worst_seconds"] = round(worst, 3)
        out["reserve_total_seconds"] = round(total, 3)
    if pattern == "revalidate" and access_log:
        time.sleep(0.2)
        retried = [i for t in threads for i in t.client.retried_ids]
        aborted = aborted_retries(access_log, retried)
        out["aborted_responses"] = len(aborted)
        if aborted:
            v.add("aborted_responses", "%d requests received by the server "
                  "were answered with nothing (ids %s)"
                  % (len(aborted), aborted[:5]))
    out.update(stats.c)
    out.update(v.as_dict())
    return out


# ==========================================================================
# 4. Churn

def run_churn(url, directory, prefix, requests_total, clients=16, seed=None,
              revalidate_share=0.3):
    """Random requests for the files of `directory` (the tag algorithm of a
    file is the name of its top-level subdirectory when that is sha1, md5
    or sha256, else sha1), some of them revalidations with the right tag
    or a wrong one; every tag must be right."""
    host, port = _hostport(url)
    seed = seed if seed is not None else random.randrange(1 << 30)
    tags = {}
    algos = {}
    for sub in sorted(os.listdir(directory)):
        algo = sub if sub in ("sha1", "md5", "sha256") else "sha1"
        full = os.path.join(directory, sub)
        if os.path.isdir(full):
            t = expected_tags(full, prefix + sub + "/", algo)
        elif not sub.startswith("."):
            t = {prefix + sub: file_tag("sha1", full)}
        else:
            continue
        tags.update(t)
        algos.update((p, algo) for p in t)
    paths = sorted(tags)
    v = Violations()
    stats = Counter()
    left = [requests_total]
    lock = threading.Lock()

    def worker(i):
        rng = random.Random(seed + i)
        client = KeepAlive(host, port)
        wrong = sha1_tag(b"wrong %d" % i)
        try:
            while True:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                path = rng.choice(paths)
                tag = tags[path]
                x = rng.random()
                if x < revalidate_share:
                    hdrs, want = [("If-None-Match", tag)], 304
                elif x < revalidate_share + 0.1:
                    hdrs, want = [("If-None-Match", wrong)], 200
                else:
                    hdrs, want = [], 200
                try:
                    r = client.get(path, hdrs)
                except RequestFailed as e:
                    v.add("request_failed", str(e))
                    continue
                stats.inc("responses")
                stats.inc("status_%d" % r.status)
                if r.status != want:
                    v.add("unexpected_status", "%s %r: %d (wanted %d)"
                          % (path, hdrs, r.status, want))
                if r.header("etag") != tag:
                    v.add("wrong_tag", "%s: %s, file hashes to %s"
                          % (path, r.header("etag"), tag))
                if r.status == 200 and \
                        content_tag(algos[path], r.body) != tag:
                    v.add("wrong_body", path)
        finally:
            stats.inc("stale_keepalive_retries", client.stale_retries)
            client.close()

    t0 = MONO()
    ts = [threading.Thread(target=worker, args=(i,), daemon=True)
          for i in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out = {"scenario": "churn", "seed": seed, "files": len(paths),
           "clients": clients, "seconds": round(MONO() - t0, 2)}
    out.update(stats.c)
    out.update(v.as_dict())
    return out


# ==========================================================================
# 7. Memory

def write_wrk_list(directory, prefix, out_path, revalidate_share=0.5,
                   hot=8, hot_weight=100, seed=1):
    """The list for bench/random-paths.lua: "path<TAB>If-None-Match value"
    lines (an empty value: a plain GET), a plain and (for a share of the
    files) a revalidating one per file; the first `hot` files (by name)
    `hot_weight` times each, so that the mix has hits as well as misses."""
    tags = expected_tags(directory, prefix)
    rng = random.Random(seed)
    paths = sorted(tags)
    with open(out_path, "w") as f:
        for i, path in enumerate(paths):
            weight = hot_weight if i < hot else 1
            for _ in range(weight):
                f.write("%s\t\n" % path)
                if rng.random() < revalidate_share:
                    f.write("%s\t%s\n" % (path, tags[path]))
    return len(tags)


WRK_JSON_RE = re.compile(r"^WRKJSON (\{.*\})$", re.M)


def run_wrk(url, lua, list_path, seconds, connections, threads=2, seed=1):
    import json
    cmd = ["wrk", "-t%d" % threads, "-c%d" % connections,
           "-d%ds" % max(1, int(round(seconds))), "--timeout", "10s",
           "-s", lua, url, "--", list_path, str(seed)]
    p = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=seconds + 60)
    m = WRK_JSON_RE.search(p.stdout)
    if p.returncode != 0 or not m:
        raise RuntimeError("wrk failed (rc %d): %s %s" % (
            p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
    return json.loads(m.group(1))


MEM_KEYS = ("Rss", "Private_Dirty", "Anonymous")


def children_memory(ppid):
    out = {}
    for pid in children(ppid):
        m = smaps_rollup(pid)
        if m:
            out[pid] = {k: m.get(k, 0) for k in MEM_KEYS}
    return out


def memory_growth(before, after):
    """Summed growth (kB) over the children present at both points."""
    common = sorted(set(before) & set(after))
    g = {k: sum(after[p][k] - before[p][k] for p in common) for k in MEM_KEYS}
    per_child_max = {k: max([after[p][k] - before[p][k] for p in common]
                            or [0]) for k in MEM_KEYS}
    return common, g, per_child_max


def run_memory(url, ppid, directory, prefix, lua, warmup, windows, seconds,
               connections=16, wrk_threads=2, seed=1, workdir="/tmp"):
    """wrk load (plain GETs and revalidations of random files) in a warm-up
    and then `windows` measured windows; the children's memory
    (smaps_rollup) is read between windows.  Returns per-window growth."""
    list_path = os.path.join(workdir, "soak-memory-%d.list" % os.getpid())
    nfiles = write_wrk_list(directory, prefix, list_path, seed=seed)
    out = {"scenario": "memory", "files": nfiles, "connections": connections,
           "windows": []}
    v = Violations()
    try:
        w = run_wrk(url, lua, list_path, warmup, connections, wrk_threads,
                    seed)
        out["warmup"] = w
        before = children_memory(ppid)
        first = before
        total_requests = 0
        for i in range(windows):
            w = run_wrk(url, lua, list_path, seconds, connections,
                        wrk_threads, seed + i + 1)
            after = children_memory(ppid)
            common, g, pcm = memory_growth(before, after)
            reqs = w["requests"]
            total_requests += reqs
            errs = {k: w[k] for k in ("connect", "read", "write", "status",
                                      "timeout")}
            if errs["status"]:
                v.add("wrk_status_errors", "window %d: %r" % (i, errs))
            out["windows"].append({
                "requests": reqs, "children": len(common),
                "growth_kB": g, "max_child_growth_kB": pcm,
                "bytes_per_request": {k: round(g[k] * 1024.0 / max(reqs, 1),
                                               2) for k in MEM_KEYS},
                "errors": errs, "lat_p99_us": w.get("lat_p99_us")})
            before = after
        common, g, pcm = memory_growth(first, before)
        out["total"] = {"requests": total_requests, "children": len(common),
                        "growth_kB": g, "max_child_growth_kB": pcm,
                        "bytes_per_request": {
                            k: round(g[k] * 1024.0 / max(total_requests, 1), 2)
                            for k in MEM_KEYS}}
        out["children_kB"] = {str(p): before[p] for p in sorted(before)}
    finally:
        try:
            os.unlink(list_path)
        except OSError:
            pass
    out.update(v.as_dict())
    return out
