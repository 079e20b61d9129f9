"""Single flight: a burst of 32 concurrent
first requests for the same uncached 256 MiB file, from different child
processes, hashes it once.

The 32 connections are opened first (prefork: 34 idle children; worker and
event: 4 children of 8 threads), then the 32 requests are released at once
by a barrier.  Each asks for one byte (Range: bytes=0-0) so that 32 x 256
MiB of body do not have to cross the loopback; the tag is computed all the
same.  Required:
  - FilesHashed +1 and BytesHashed +256 MiB exactly;
  - exactly one request hashed (note "miss"); the others waited for it
    (note "shared") or came after it (note "hit"), or, if the wait was too
    long, were answered without a tag (note "busy") -- never a wrong tag;
  - Waits grew by exactly the number of requests that waited;
  - the requests were served by at least two processes (access_log %P).
A second burst then finds the digest in the table: 32 hits, nothing hashed.
"""
import threading

from clients import build_request, next_req_id
from reliability_util import report, wait_ctime_older_than
from tags import file_tag

SIZE = 256 << 20
N = 32


def burst(httpd, path, n):
    conns = [httpd.connect() for _ in range(n)]
    ids = [next_req_id() for _ in range(n)]
    barrier = threading.Barrier(n)
    results = [None] * n

    def go(i):
        try:
            data = build_request("GET", path, [("Range", "bytes=0-0")],
                                 host="%s:%d" % (httpd.host, httpd.port),
                                 req_id=ids[i])
            barrier.wait(timeout=30)
            conns[i].send(data)
            results[i] = conns[i].read_response("GET")
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = e
        finally:
            conns[i].close()

    ts = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=120)
    return ids, results


def by_id(httpd, ids, timeout=5):
    import time
    deadline = time.time() + timeout
    while True:
        got = {e["req_id"]: e for e in httpd.access_entries()
               if e["req_id"] in ids}
        if len(got) == len(ids) or time.time() > deadline:
            return got
        time.sleep(0.05)


class TestSingleFlight:

    @classmethod
    def populate(cls, srv):
        srv.big("sf/big.bin", SIZE)

    @classmethod
    def conf(cls, srv):
        if srv.env.mpm == "prefork":
            mpm = ("StartServers 34\nMinSpareServers 34\n"
                   "MaxSpareServers 40\n")
        else:
            mpm = ("StartServers 4\nThreadsPerChild 8\nMinSpareThreads 32\n"
                   "MaxSpareThreads 64\n")
        # requests hash, not the background worker: inline up to 1 GiB
        return mpm + ("CondCacheInlineHashMax 1073741824\n"
                      "<Directory %s/sf>\n  CondCache On\n</Directory>"
                      % srv.docroot)

    def test_burst_of_first_requests_hashes_once(self, httpd, request):
        wait_ctime_older_than(httpd.path("sf/big.bin"))
        tag = file_tag("sha1", httpd.path("sf/big.bin"))
        before = httpd.status()
        ids, results = burst(httpd, "/sf/big.bin", N)
        after = httpd.status()
        entries = by_id(httpd, ids)
        notes = {}
        pids = set()
        problems = []
        for i, r in zip(ids, results):
            if isinstance(r, Exception) or r is None:
                problems.append("%s: %r" % (i, r))
                continue
            e = entries.get(i)
            note = e["note"] if e else None
            notes[note] = notes.get(note, 0) + 1
            if e:
                pids.add(e["pid"])
            if r.status != 206:
                problems.append("%s: status %d" % (i, r.status))
            etag = r.header("ETag")
            if note == "busy":
                if etag is not None:
                    problems.append("%s: busy but ETag %s" % (i, etag))
            elif etag != tag:
                problems.append("%s: note %s, ETag %s, file %s"
                                % (i, note, etag, tag))
        waits = after["Waits"] - before["Waits"]
        report(request.config,
               "single flight [%s]: %d concurrent first requests from %d "
               "processes: notes %s; FilesHashed %+d, BytesHashed %+d, "
               "Waits %+d"
               % (httpd.env.mpm, N, len(pids), notes,
                  after["FilesHashed"] - before["FilesHashed"],
                  after["BytesHashed"] - before["BytesHashed"], waits))
        assert not problems, problems
        assert len(entries) == N
        assert after["FilesHashed"] - before["FilesHashed"] == 1, \
            (before, after, notes)
        assert after["BytesHashed"] - before["BytesHashed"] == SIZE
        assert notes.get("miss") == 1, notes
        assert set(notes) <= {"miss", "shared", "hit", "busy"}, notes
        assert waits == notes.get("shared", 0) + notes.get("busy", 0), \
            (waits, notes)
        assert len(pids) >= 2, pids

        # the digest is stored: a second burst is all hits
        ids, results = burst(httpd, "/sf/big.bin", N)
        again = httpd.status()
        entries = by_id(httpd, ids)
        assert all(not isinstance(r, Exception) and r.status == 206
                   and r.header("ETag") == tag for r in results), results
        assert {e["note"] for e in entries.values()} == {"hit"}
        assert again["FilesHashed"] == after["FilesHashed"]
