"""Reliability 8: configuration safety.

Out-of-range or malformed directive arguments, server-only directives in
the wrong place, a table too large for the machine and a failure to create
the shared memory all stop httpd at start with a clear message naming the
directive (in .htaccess: a 500 and a clear error_log line), never a crash
and never a silently wrong setting; good boundary values take effect.
"""
import os
import re
import subprocess
import time

import pytest

from condcache_env import APACHE_BIN
from reliability_util import report
from tags import core_meta_tag, md5_tag, sha1_tag

OLD = 1600000000
CRASH = re.compile(r"Segmentation fault|core dumped|exit signal|AH00052|"
                   r"Aborted|double free|stack smashing", re.I)


def directory(srv, *lines):
    return "<Directory %s>\n  CondCache On\n  %s\n</Directory>" % (
        srv.docroot, "\n  ".join(lines))


def server_level(*lines):
    return lambda srv: "\n".join(lines)


def in_dir(*lines):
    return lambda srv: directory(srv, *lines)


# (directive the message must name, text that must appear too or None,
#  where: "dir" (in a <Directory> with CondCache On) or "server", the line)
BAD_ARGS = [
    ("CondCacheMaxAge", "-5", "dir", "CondCacheMaxAge -5"),
    ("CondCacheMaxAge", "abc", "dir", "CondCacheMaxAge abc"),
    ("CondCacheMaxAge", "99999999999999", "dir",
     "CondCacheMaxAge 99999999999999"),
    ("CondCacheMaxAge", "2147483648", "dir", "CondCacheMaxAge 2147483648"),
    ("CondCacheMaxAge", None, "dir", 'CondCacheMaxAge ""'),
    ("CondCacheMaxAge", None, "dir", "CondCacheMaxAge 5 6"),
    ("CondCacheMaxAge", None, "dir", "CondCacheMaxAge"),
    ("CondCacheMaxAge", "+5", "dir", "CondCacheMaxAge +5"),
    ("CondCacheMaxAge", "5s", "dir", "CondCacheMaxAge 5s"),
    ("CondCacheMaxAge", "0x10", "server", "CondCacheMaxAge 0x10"),
    ("CondCacheEntries", "0", "server", "CondCacheEntries 0"),
    ("CondCacheEntries", "-1", "server", "CondCacheEntries -1"),
    ("CondCacheEntries", "4294967296", "server",
     "CondCacheEntries 4294967296"),
    ("CondCacheEntries", "268435457", "server", "CondCacheEntries 268435457"),
    ("CondCacheEntries", "18446744073709551617", "server",
     "CondCacheEntries 18446744073709551617"),
    ("CondCacheEntries", "lots", "server", "CondCacheEntries lots"),
    ("CondCacheEntries", "1x", "server", "CondCacheEntries 1x"),
    ("CondCacheEntries", None, "server", 'CondCacheEntries ""'),
    ("CondCacheEntries", None, "server", "CondCacheEntries 1024 2048"),
    ("CondCacheDigest", "foo", "dir", "CondCacheDigest foo"),
    ("CondCacheDigest", None, "dir", 'CondCacheDigest ""'),
    ("CondCacheDigest", "sha-1", "dir", "CondCacheDigest sha-1"),
    ("CondCacheDigest", None, "dir", "CondCacheDigest sha1 md5"),
    ("CondCacheDigest", "crc32", "server", "CondCacheDigest crc32"),
    ("CondCacheMaxFileSize", "0", "dir", "CondCacheMaxFileSize 0"),
    ("CondCacheMaxFileSize", "1x", "dir", "CondCacheMaxFileSize 1x"),
    ("CondCacheMaxFileSize", "-1", "dir", "CondCacheMaxFileSize -1"),
    ("CondCacheMaxFileSize", "1G", "dir", "CondCacheMaxFileSize 1G"),
    ("CondCacheMaxFileSize", "99999999999999999999", "dir",
     "CondCacheMaxFileSize 99999999999999999999"),
    ("CondCacheMaxFileSize", "4611686018427387905", "dir",
     "CondCacheMaxFileSize 4611686018427387905"),
    ("CondCacheMaxFileSize", None, "dir", 'CondCacheMaxFileSize ""'),
    ("CondCache", None, "dir", "CondCache maybe"),
    ("CondCache", None, "dir", 'CondCache ""'),
    ("CondCache", None, "server", "CondCache 1"),
    ("CondCacheNoCache", None, "dir", "CondCacheNoCache yes"),
    ("CondCacheNoStore", None, "dir", "CondCacheNoStore 2"),
    # extra arguments to the On/Off directives (httpd's FLAG directives
    # read the first word and ignore the rest)
    ("CondCache", None, "dir", "CondCache On Off"),
    ("CondCacheNoCache", None, "dir", "CondCacheNoCache On junk"),
    ("CondCacheNoStore", None, "dir", "CondCacheNoStore Off On"),
]


# CondCacheEntries is for the main server configuration only
MISPLACED = [
    ("VirtualHost", lambda s: "<VirtualHost 127.0.0.1:%d>\n  ServerName "
     "v.test\n  CondCacheEntries 1024\n</VirtualHost>" % s.port),
    ("Directory", lambda s: "<Directory %s>\n  CondCacheEntries 1024\n"
     "</Directory>" % s.docroot),
    ("Location", lambda s: "<Location /x>\n  CondCacheEntries 1024\n"
     "</Location>"),
    ("Files", lambda s: "<Files x.txt>\n  CondCacheEntries 1024\n</Files>"),
    ("DirectoryMatch", lambda s: "<DirectoryMatch ^/tmp>\n  CondCacheEntries "
     "1024\n</DirectoryMatch>"),
]


def check_refused(srv, directive, value=None):
    """Starting fails, with a message naming `directive` (and `value`),
    no crash, no server left."""
    p = srv.start(check=False)
    out = (p.stdout + p.stderr).replace(srv.conf_path, "<conf>")
    assert p.returncode != 0, out
    assert re.search(r"\b%s\b" % re.escape(directive), out), out
    if value is not None:
        assert value in out, out
    assert not CRASH.search(out), out
    assert not os.path.exists(srv.pid_file), out
    assert not srv._port_answers()
    return out


@pytest.mark.parametrize("directive,value,where,line", BAD_ARGS,
                         ids=["%s:%s" % (w, ln.replace(" ", "_"))
                              for _, _, w, ln in BAD_ARGS])
def test_bad_argument_stops_start(new_server, directive, value, where, line):
    conf = in_dir(line) if where == "dir" else server_level(line)
    srv = new_server("badarg", conf, start=False)
    check_refused(srv, directive, value)


@pytest.mark.parametrize("where,conf", MISPLACED,
                         ids=[w for w, _ in MISPLACED])
def test_server_only_directive_misplaced(new_server, where, conf):
    srv = new_server("misplaced", conf, start=False)
    out = check_refused(srv, "CondCacheEntries")
    assert re.search(r"not allowed|cannot occur", out), out


def _ram():
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def test_table_larger_than_half_the_ram_refused(new_server, request):
    """CondCacheEntries 268435456 (the maximum) needs 32 GiB; and the
    smallest count over half this machine's RAM is refused too, with the
    numbers in the message."""
    ram = _ram()
    slot = 128                  # status BytesPerEntry
    if 268435456 * slot <= ram // 2:
        pytest.skip("this machine has more than 64 GiB of RAM")
    srv = new_server("toolarge", server_level("CondCacheEntries 268435456"),
                     start=False)
    out = check_refused(srv, "CondCacheEntries", "268435456")
    assert re.search(r"needs \d+ MiB of shared memory, more than half of "
                     r"this machine's %d MiB" % (ram >> 20), out), out
    report(request.config, "config: %s" % out.strip().splitlines()[-1][:300])
    # just over half of the RAM
    n = (ram // 2) // slot + 1
    srv = new_server("toolarge2", server_level("CondCacheEntries %d" % n),
                     start=False)
    check_refused(srv, "CondCacheEntries", str(n))
    # and just under is accepted by the configuration check (not started)
    srv = new_server("almost", server_level("CondCacheEntries %d" % (
        (ram // 2) // slot - 64)), start=False)
    rc, out = srv.config_test()
    assert rc == 0, out


SHM_ENTRIES = 16000000          # 2 GB: accepted by the RAM check
AS_LIMIT = 1 << 30              # but not under a 1 GiB address space


def _shm_conf(s):
    return "CondCacheEntries %d\n%s" % (SHM_ENTRIES, directory(s))


def _shm_message_re():
    return (r"\[condcache:emerg\].*cannot create \d+ bytes of shared memory "
            r"for CondCacheEntries %d; lower CondCacheEntries or raise the "
            r"memory limits" % SHM_ENTRIES)


@pytest.mark.expect_errors(r"condcache:emerg.*cannot create \d+ bytes of "
                           r"shared memory", r"AH00020: Configuration Failed")
def test_shared_memory_failure_stops_start(new_server, request):
    """apr_shm_create fails (address space limited with prlimit --as): the
    server does not come up, the error_log says why and names the
    directive, nothing crashes.  `-k start` detaches before the module
    creates the table, so its exit status is 0 (as for any failure httpd
    meets after detaching); in the foreground it is not."""
    if SHM_ENTRIES * 128 > _ram() // 2:
        pytest.skip("this machine has too little RAM for a table bigger "
                    "than the address-space limit")
    srv = new_server("shmfail", _shm_conf, start=False)
    p = subprocess.run(["prlimit", "--as=%d" % AS_LIMIT, "--", APACHE_BIN,
                        "-f", srv.conf_path, "-k", "start"],
                       capture_output=True, text=True, timeout=30)
    deadline = time.time() + 10
    while time.time() < deadline and \
            "Configuration Failed" not in srv.error_log_text():
        time.sleep(0.05)
    log = srv.error_log_text()
    assert re.search(_shm_message_re(), log), (p.returncode, p.stderr, log)
    assert "AH00020: Configuration Failed" in log, log
    assert not CRASH.search(log + p.stderr), log
    time.sleep(0.3)
    assert not os.path.exists(srv.pid_file)
    assert not srv._port_answers()
    report(request.config, "config: shm failure under prlimit --as=1GiB: %s"
           % re.search(_shm_message_re(), log).group(0)[:300])

    # in the foreground: a non-zero exit status
    size = os.path.getsize(srv.error_log)
    p = subprocess.run(["prlimit", "--as=%d" % AS_LIMIT, "--", APACHE_BIN,
                        "-f", srv.conf_path, "-DFOREGROUND"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0, (p.stdout, p.stderr)
    with open(srv.error_log) as f:
        f.seek(size)
        tail = f.read()
    assert re.search(_shm_message_re(), tail + p.stderr), tail
    assert not CRASH.search(tail + p.stderr)

    # and without the limit the same configuration starts and serves tags
    srv.write("ok.txt", b"shm ok\n", mtime=OLD)
    srv.start()
    r = srv.get("/ok.txt")
    assert r.status_code == 200 and r.headers["ETag"] == sha1_tag(b"shm ok\n")
    assert srv.status()["Capacity"] == SHM_ENTRIES


# ---- .htaccess ---------------------------------------------------------

HTACCESS = {
    # dir: (.htaccess text, directive the error_log line must name, value)
    "entries": ("CondCacheEntries 1024\n", "CondCacheEntries", None),
    "badage": ("CondCache On\nCondCacheMaxAge abc\n", "CondCacheMaxAge",
               "abc"),
    "hugeage": ("CondCache On\nCondCacheMaxAge 99999999999999\n",
                "CondCacheMaxAge", "99999999999999"),
    "baddigest": ("CondCache On\nCondCacheDigest foo\n", "CondCacheDigest",
                  "foo"),
    "badsize": ("CondCache On\nCondCacheMaxFileSize 1x\n",
                "CondCacheMaxFileSize", "1x"),
    "zerosize": ("CondCache On\nCondCacheMaxFileSize 0\n",
                 "CondCacheMaxFileSize", None),
    "badflag": ("CondCache maybe\n", "CondCache", None),
    "extra": ("CondCache On\nCondCacheMaxAge 5 6\n", "CondCacheMaxAge", None),
}


class TestHtaccess:
    """AllowOverride FileInfo: the per-directory directives are allowed in
    .htaccess, CondCacheEntries is not; bad values give a 500 and an
    error_log line naming the directive.  Under AllowOverride Indexes the
    FileInfo directives are refused the same way."""

    @classmethod
    def populate(cls, srv):
        for d, (text, _, _) in HTACCESS.items():
            srv.write("ht/%s/.htaccess" % d, text.encode())
            srv.write("ht/%s/a.txt" % d, b"htaccess %s\n" % d.encode(),
                      mtime=OLD)
        srv.write("ht/good/.htaccess", b"CondCache On\nCondCacheMaxAge 60\n"
                  b"CondCacheDigest md5\nCondCacheMaxFileSize 100\n")
        srv.write("ht/good/a.txt", b"good\n", mtime=OLD)
        srv.write("ht/good/big.txt", b"x" * 101, mtime=OLD)
        srv.write("idx/.htaccess", b"CondCache On\n")
        srv.write("idx/a.txt", b"indexes only\n", mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return ("<Directory %s/ht>\n  AllowOverride FileInfo\n</Directory>\n"
                "<Directory %s/idx>\n  AllowOverride Indexes\n</Directory>"
                % (srv.docroot, srv.docroot))

    @pytest.mark.parametrize("d", sorted(HTACCESS))
    def test_bad_htaccess_is_500_with_clear_line(self, httpd, d,
                                                 expect_errors):
        _, directive, value = HTACCESS[d]
        expect_errors.append(r"\[core:alert\].*/ht/%s/\.htaccess: %s\b"
                             % (d, directive))
        size = httpd.error_log_size()
        r = httpd.raw("GET", "/ht/%s/a.txt" % d)
        assert r.status == 500, r
        assert r.header("ETag") is None
        time.sleep(0.05)
        lines, _ = httpd.error_log_lines_since(size)
        mine = [ln for ln in lines if "/ht/%s/.htaccess" % d in ln]
        assert mine, lines
        line = mine[0]
        assert re.search(r"\.htaccess: %s\b" % directive, line), line
        if value:
            assert value in line, line
        if directive == "CondCacheEntries":
            assert "not allowed here" in line, line

    @pytest.mark.expect_errors(r"\[core:alert\].*/idx/\.htaccess: CondCache "
                               r"not allowed here")
    def test_fileinfo_directive_under_allowoverride_indexes(self, httpd):
        r = httpd.raw("GET", "/idx/a.txt")
        assert r.status == 500
        assert r.header("ETag") is None

    def test_good_htaccess_takes_effect(self, httpd):
        r = httpd.get("/ht/good/a.txt")
        assert r.status_code == 200
        assert r.headers["ETag"] == md5_tag(b"good\n")
        assert "max-age=60" in r.headers["Cache-Control"]
        # over CondCacheMaxFileSize 100: core's tag, not a content tag
        r = httpd.get("/ht/good/big.txt")
        assert r.headers["ETag"] == core_meta_tag(
            httpd.path("ht/good/big.txt"))
        assert httpd.note(r) == "too-large"


class TestBoundaryValuesTakeEffect:
    """Accepted extremes are applied as written, not clamped or wrapped."""

    @classmethod
    def populate(cls, srv):
        for d in ("age0", "agemax", "age007", "size1", "sizemax"):
            srv.write("%s/a.txt" % d, b"boundary %s\n" % d.encode(),
                      mtime=OLD)

    @classmethod
    def conf(cls, srv):
        d = srv.docroot
        return "\n".join([
            "CondCacheEntries 1",
            "<Directory %s/age0>\n  CondCache On\n  CondCacheMaxAge 0\n"
            "</Directory>" % d,
            "<Directory %s/agemax>\n  CondCache On\n  CondCacheMaxAge "
            "2147483647\n</Directory>" % d,
            "<Directory %s/age007>\n  CondCache On\n  CondCacheMaxAge 007\n"
            "</Directory>" % d,
            "<Directory %s/size1>\n  CondCache On\n  CondCacheMaxFileSize 1\n"
            "</Directory>" % d,
            "<Directory %s/sizemax>\n  CondCache On\n  CondCacheMaxFileSize "
            "4611686018427387904\n</Directory>" % d,
        ])

    def test_values(self, httpd):
        def cc(path):
            r = httpd.get(path)
            assert r.status_code == 200
            return r
        assert "max-age=0" in cc("/age0/a.txt").headers["Cache-Control"]
        assert "max-age=2147483647" in \
            cc("/agemax/a.txt").headers["Cache-Control"]
        assert re.search(r"max-age=7\b",
                         cc("/age007/a.txt").headers["Cache-Control"])
        r = cc("/size1/a.txt")
        assert httpd.note(r) == "too-large"
        r = cc("/sizemax/a.txt")
        assert r.headers["ETag"] == sha1_tag(b"boundary sizemax\n")
        st = httpd.status()
        assert st["Capacity"] == 1
        # a table of one entry works: two files take turns
        for _ in range(3):
            for d in ("age0", "agemax"):
                r = cc("/%s/a.txt" % d)
                assert r.headers["ETag"] == sha1_tag(
                    b"boundary %s\n" % d.encode())
