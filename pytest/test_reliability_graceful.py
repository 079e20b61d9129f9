"""Reliability 2: graceful restarts under load.

Clients revalidate 60 files continuously (half over keep-alive, half with a
new connection per request, plus a plain GET every tenth request) while
httpd is restarted gracefully four times (scripts/soak-restarts, pattern
revalidate).  Required:
  - no request fails: a new-connection request never fails; a request on a
    kept-alive connection may only find it closed before the server read
    it (graceful closes idle connections; every client retries those,
    RFC 9112 9.3.1) -- and the access_log proves the server had not
    received the retried request (its id is logged once);
  - every answer is the expected 304 (or 200 with a body that hashes to
    the tag) and carries the tag of before the restarts;
  - the table survives: nothing is hashed again (FilesHashed unchanged),
    every revalidation of the run is a table hit, and each restart logs
    that it kept the table;
  - no crash line in the error_log (the harness checks after the test).
"""
from clients import KeepAlive
from logs import count_resumes
from reliability_load import expected_tags
from reliability_util import report, run_script

RESTARTS = 4
FILES = 60


class TestGracefulUnderLoad:

    @classmethod
    def populate(cls, srv):
        import random
        rng = random.Random(11)
        for i in range(FILES):
            srv.write("load/f%03d.txt" % i,
                      bytes(rng.getrandbits(8) for _ in range(
                          rng.randint(1, 3000))) * rng.randint(1, 8))

    @classmethod
    def conf(cls, srv):
        return ("CondCacheEntries 1024\n"
                "<Directory %s/load>\n  CondCache On\n</Directory>"
                % srv.docroot)

    def test_graceful_restarts_under_revalidation(self, httpd, request):
        tags = expected_tags(httpd.path("load"), "/load/")
        assert len(tags) == FILES
        # prime: every file hashed and stored (they are settled)
        c = KeepAlive(httpd.host, httpd.port)
        for path, tag in sorted(tags.items()):
            r = c.get(path)
            assert r.status == 200 and r.header("etag") == tag
        c.close()
        before = httpd.status()
        assert before["FilesHashed"] >= FILES
        n_log = len(httpd.access_entries())
        kept_before = httpd.error_log_text().count("keeping the table")

        s, _ = run_script("soak-restarts", [
            "--pattern", "revalidate", "--url",
            "http://%s:%d" % (httpd.host, httpd.port),
            "--dir", httpd.path("load"), "--prefix", "/load/",
            "--clients", 8, "--graceful", RESTARTS,
            "--graceful-interval", 1.0, "--conf", httpd.conf_path,
            "--error-log", httpd.error_log, "--access-log",
            httpd.access_log], timeout=180)
        report(request.config,
               "graceful [%s]: %d restarts (%s s each) under %d responses "
               "(%d x 304, %d x 200); keep-alive connections found closed "
               "and retried: %d, of which aborted by the server: %s"
               % (httpd.env.mpm, s.get("graceful_done", 0),
                  s.get("graceful_seconds"), s.get("responses", 0),
                  s.get("status_304", 0), s.get("status_200", 0),
                  s["stale_keepalive_retries"], s.get("aborted_responses")))
        assert s.get("graceful_done") == RESTARTS, s
        assert s["violations"] == 0, s["violation_samples"]
        assert s["aborted_responses"] == 0, s
        assert s["responses"] > 200, s

        after = httpd.status()
        # the table was kept: nothing hashed again, the answers were hits
        assert after["FilesHashed"] == before["FilesHashed"], (before, after)
        assert after["BytesHashed"] == before["BytesHashed"], (before, after)
        assert after["Hits"] - before["Hits"] >= s["responses"], \
            (before, after, s["responses"])
        kept = httpd.error_log_text().count("keeping the table")
        assert kept - kept_before == RESTARTS
        entries = [e for e in httpd.access_entries()[n_log:]
                   if e["uri"].startswith("/load/")]
        assert len(entries) >= s["responses"]
        notes = {}
        for e in entries:
            notes[e["note"]] = notes.get(e["note"], 0) + 1
        assert set(notes) == {"hit"}, notes
        # tags unchanged
        assert {e["etag"] for e in entries} <= set(tags.values())
        assert count_resumes(httpd.error_log) >= RESTARTS + 1
