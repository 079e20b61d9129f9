"""Self-tests of the harness, against httpd core only (no mod_condcache):
they check the independent helpers against what core itself does, so a
failure elsewhere points at the module, not at the harness."""
import os

import pytest

from clients import build_request
from headers import (asctime_date, cache_control_dict, http_date,
                     parse_cache_control, parse_http_date, rfc850_date)
from logs import check_error_lines
from tags import core_meta_tag, have_xxh128, sha1_tag, xxh128_tag

pytestmark = pytest.mark.core_only


class TestCoreBaseline:
    with_module = False
    modules = ["headers"]

    @classmethod
    def populate(cls, srv):
        srv.write("digest/a.txt", b"hello digest\n")
        srv.write("meta/a.txt", b"hello meta\n")
        srv.write("meta/secret.txt", b"secret\n", mode=0o000)
        srv.big("digest/big.bin", 3 * 1024 * 1024 + 17)

    @classmethod
    def conf(cls, srv):
        return """
<Directory {d}/digest>
    FileETag Digest
</Directory>
<Directory {d}/meta>
    FileETag MTime Size
</Directory>
""".format(d=srv.docroot)

    def test_core_digest_equals_sha1_helper(self, httpd):
        r = httpd.get("/digest/a.txt")
        assert r.status_code == 200
        assert r.headers["ETag"] == sha1_tag(b"hello digest\n")

    def test_core_digest_big_file(self, httpd):
        r = httpd.raw("GET", "/digest/big.bin")
        assert r.status == 200
        assert len(r.body) == 3 * 1024 * 1024 + 17
        assert r.header("ETag") == sha1_tag(httpd.read("digest/big.bin"))

    def test_core_meta_tag_helper(self, httpd):
        r = httpd.get("/meta/a.txt")
        assert r.headers["ETag"] == core_meta_tag(httpd.path("meta/a.txt"))

    def test_raw_client_304_and_head(self, httpd):
        tag = sha1_tag(b"hello digest\n")
        r = httpd.raw("GET", "/digest/a.txt", [("If-None-Match", tag)])
        assert r.status == 304 and r.body == b""
        r = httpd.raw("HEAD", "/digest/a.txt")
        assert r.status == 200 and r.body == b""
        assert r.header("content-length") == str(len(b"hello digest\n"))

    def test_raw_keepalive_two_requests(self, httpd):
        with httpd.connect() as c:
            for _ in range(2):
                c.send(build_request("GET", "/digest/a.txt", close=False))
                r = c.read_response()
                assert r.status == 200 and r.body == b"hello digest\n"

    def test_access_log_note_is_dash_without_module(self, httpd):
        r = httpd.get("/digest/a.txt")
        assert httpd.note(r) == "-"

    @pytest.mark.expect_errors(r"AH00132")
    def test_unreadable_403_expected_error(self, httpd):
        r = httpd.get("/meta/secret.txt")
        assert r.status_code == 403
        assert "ETag" not in r.headers

    def test_graceful(self, httpd):
        pid = httpd.pid
        httpd.graceful()
        assert httpd.pid == pid
        assert httpd.get("/digest/a.txt").status_code == 200


def test_check_error_lines():
    lines = [
        "[Mon Nov 24 21:00:00.000000 2026] [mpm_event:notice] [pid 1] AH00489: resuming",
        "[Mon Nov 24 21:00:00.000000 2026] [core:error] [pid 2] AH00132: file permissions deny",
        "[Mon Nov 24 21:00:00.000000 2026] [core:notice] [pid 1] AH00052: child pid 3 exit signal Segmentation fault (11)",
        "[Mon Nov 24 21:00:00.000000 2026] [condcache:debug] [pid 2] fine",
        "[Mon Nov 24 21:00:00.000000 2026] [ssl:emerg] [pid 2] boom",
    ]
    bad = check_error_lines(lines)
    assert bad == [lines[1], lines[2], lines[4]]
    bad = check_error_lines(lines, [r"AH00132", r"AH00052", r"boom"])
    assert bad == [lines[2]]    # a crash is never allowed


def test_cache_control_parser():
    assert parse_cache_control('max-age=60, no-cache') == [
        ("max-age", "60"), ("no-cache", None)]
    assert cache_control_dict('No-Cache ,MAX-AGE="60"') == {
        "no-cache": None, "max-age": "60"}
    with pytest.raises(AssertionError):
        cache_control_dict("max-age=1, max-age=2")


def test_dates_roundtrip():
    t = 1700000000
    for s in (http_date(t), rfc850_date(t), asctime_date(t)):
        assert parse_http_date(s) == t, s


@pytest.mark.skipif(not have_xxh128(), reason="libxxhash not available")
def test_xxh128_known_answer():
    # xxh128sum of the bytes "abc"
    assert xxh128_tag(b"abc") == '"06b05ab6733a618578af5f94892f3950"'


def test_generated_dirs_world_readable(env):
    mode = os.stat(env.base_dir).st_mode & 0o777
    assert mode == 0o755
