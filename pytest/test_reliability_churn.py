"""Reliability 4: churn.

Ten times more distinct files than the table has entries
(CondCacheEntries 256, 2560 files, half of them under CondCacheDigest md5
so that both algorithms compete for the same slots), requested at random
from 16 keep-alive connections by scripts/soak-churn: plain GETs,
revalidations with the right tag (304) and with a wrong one (200).
Required: every tag right, every status as expected, no failed request, no
error_log line; the counters show evictions and never more entries in use
than the table has.
"""
import random

from reliability_util import report, run_script

ENTRIES = 256
FILES = 2560
REQUESTS = 30000


class TestChurn:

    @classmethod
    def populate(cls, srv):
        rng = random.Random(5)
        for i in range(FILES):
            algo = "sha1" if i % 2 == 0 else "md5"
            srv.write("churn/%s/f%05d.txt" % (algo, i),
                      b"churn %d\n" % i + rng.randbytes(rng.randint(0, 3000)))

    @classmethod
    def conf(cls, srv):
        return ("CondCacheEntries %d\n"
                "<Directory %s/churn>\n  CondCache On\n</Directory>\n"
                "<Directory %s/churn/md5>\n  CondCacheDigest md5\n"
                "</Directory>" % (ENTRIES, srv.docroot, srv.docroot))

    def test_ten_times_more_files_than_entries(self, httpd, request):
        before = httpd.status()
        assert before["Capacity"] == ENTRIES
        s, _ = run_script("soak-churn", [
            "--url", "http://%s:%d" % (httpd.host, httpd.port),
            "--dir", httpd.path("churn"), "--prefix", "/churn/",
            "--requests", REQUESTS, "--clients", 16], timeout=300)
        after = httpd.status()
        d = {k: after[k] - before[k] for k in
             ("Hits", "Misses", "Inserts", "Evictions", "FilesHashed")}
        report(request.config,
               "churn [%s]: %d requests for %d files over %d entries in "
               "%.1f s; %s; in use %d/%d"
               % (httpd.env.mpm, s.get("responses", 0), s["files"], ENTRIES,
                  s["seconds"], d, after["EntriesInUse"], after["Capacity"]))
        assert s["files"] == FILES
        assert s["violations"] == 0, s["violation_samples"]
        assert s.get("responses") == REQUESTS, s
        assert d["Evictions"] > 0, d
        assert d["Inserts"] > ENTRIES, d
        assert 0 < after["EntriesInUse"] <= after["Capacity"], after
        assert d["Hits"] + d["Misses"] >= REQUESTS, d
