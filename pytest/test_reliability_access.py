"""Reliability 9: access control is untouched.

One server with mod_condcache (CondCache On for the whole docroot) and a
core-only twin with the same configuration and files (FileETag Digest, so
that both give the same tags).  For refused requests -- Require all denied,
Require ip 10.0.0.1, symlinks under -FollowSymLinks, symlinks whose owner
differs from their target's under SymLinksIfOwnerMatch, files the children
(www-data) cannot read or reach, hidden files denied by <Files ".ht*"> and
by <FilesMatch "^\\.">, each plain, HEAD, with the file's real tag in
If-None-Match, with If-Match and with Range:
  - the status is the twin's (and the one intended);
  - no ETag on a refusal (no 304 that would confirm a tag either);
  - nothing is hashed or looked up: FilesHashed, BytesHashed, Hits and
    Misses do not move.
The files that are allowed answer alike on both servers, tags included.
The status handler answers only per its own Require: `Require local` 200,
`Require ip 10.9.9.9` 403 without the counters.
"""
import os

import pytest

from tags import sha1_tag

OLD = 1600000000
DATA = b"access control test file\n" * 20
OTHER = b"owned by www-data\n"
SECRET = b"outside the docroot\n"
# core's own lines for these refusals (error level): client denied by
# server configuration, symbolic link not allowed, file permissions deny
# server access, search permissions missing on a path component
REFUSAL_LINES = r"\] AH01630: |\] AH00037: |\] AH00132: |\] AH00035: "

# path: the status intended
ALLOWED = {
    "/pub/a.txt": 200,
    "/nofollow/real.txt": 200,
    "/follow/link.txt": 200,
    "/follow/outside.txt": 200,
    "/owner/same.txt": 200,
    "/hidden/visible.txt": 200,
}
REFUSED = {
    "/denied/a.txt": 403,
    "/iponly/a.txt": 403,
    "/nofollow/link.txt": 403,
    "/owner/other.txt": 403,
    "/owner/othertarget.txt": 403,
    "/unreadable/secret.txt": 403,
    "/unreadable/closed/a.txt": 403,
    "/hidden/.htsecret": 403,
    "/hidden/.htaccess.bak": 403,
    "/hidden/.dotfile": 403,
    "/pub/.htpasswd": 403,
    "/pub/missing.txt": 404,
}


def populate(srv):
    uid = 33     # www-data
    srv.write("pub/a.txt", DATA, mtime=OLD)
    srv.write("pub/b.txt", OTHER, mtime=OLD)
    os.chown(srv.path("pub/b.txt"), uid, uid)
    srv.write("pub/.htpasswd", DATA, mtime=OLD)
    srv.write("denied/a.txt", DATA, mtime=OLD)
    srv.write("iponly/a.txt", DATA, mtime=OLD)
    srv.write("nofollow/real.txt", DATA, mtime=OLD)
    os.symlink("../pub/a.txt", srv.path("nofollow/link.txt"))
    srv.mkdir("follow")
    os.symlink("../pub/a.txt", srv.path("follow/link.txt"))
    outside = os.path.join(srv.dir, "outside", "secret.txt")
    os.makedirs(os.path.dirname(outside), exist_ok=True)
    os.chmod(os.path.dirname(outside), 0o755)
    with open(outside, "wb") as f:
        f.write(SECRET)
    os.chmod(outside, 0o644)
    os.symlink(outside, srv.path("follow/outside.txt"))
    srv.mkdir("owner")
    os.symlink("../pub/a.txt", srv.path("owner/same.txt"))       # root/root
    os.symlink("../pub/a.txt", srv.path("owner/other.txt"))
    os.lchown(srv.path("owner/other.txt"), uid, uid)            # link: 33
    os.symlink("../pub/b.txt", srv.path("owner/othertarget.txt"))  # target
    srv.write("unreadable/secret.txt", DATA, mode=0o000, mtime=OLD)
    srv.write("unreadable/closed/a.txt", DATA, mtime=OLD)
    os.chmod(srv.path("unreadable/closed"), 0o000)
    srv.write("hidden/visible.txt", DATA, mtime=OLD)
    srv.write("hidden/.htsecret", DATA, mtime=OLD)
    srv.write("hidden/.htaccess.bak", DATA, mtime=OLD)
    srv.write("hidden/.dotfile", DATA, mtime=OLD)


def conf(srv, with_module):
    d = srv.docroot
    lines = [
        "FileETag Digest",
        '<Files ".ht*">\n  Require all denied\n</Files>',
        "<Directory %s>\n  %s\n</Directory>"
        % (d, "CondCache On" if with_module else "# no module"),
        "<Directory %s/denied>\n  Require all denied\n</Directory>" % d,
        "<Directory %s/iponly>\n  Require ip 10.0.0.1\n</Directory>" % d,
        "<Directory %s/nofollow>\n  Options -FollowSymLinks\n</Directory>"
        % d,
        "<Directory %s/follow>\n  Options +FollowSymLinks\n</Directory>" % d,
        "<Directory %s/owner>\n  Options -FollowSymLinks "
        "+SymLinksIfOwnerMatch\n</Directory>" % d,
        '<Directory %s/hidden>\n  <FilesMatch "^\\.">\n    Require all '
        'denied\n  </FilesMatch>\n</Directory>' % d,
    ]
    if with_module:
        lines += [
            "<Location /cc-status-local>\n  CondCacheStatus On\n"
            "  Require local\n</Location>",
            "<Location /cc-status-ip>\n  CondCacheStatus On\n"
            "  Require ip 10.9.9.9\n</Location>",
        ]
    return "\n".join(lines)


MODULES = ["authz_host"]

VARIANTS = [
    ("GET", []),
    ("HEAD", []),
    ("GET", [("If-None-Match", sha1_tag(DATA))]),
    ("GET", [("If-None-Match", "*")]),
    ("GET", [("If-Match", '"bogus"')]),
    ("GET", [("If-Modified-Since", "Sat, 01 Jan 2050 00:00:00 GMT")]),
    ("GET", [("Range", "bytes=0-3")]),
]


@pytest.fixture(scope="class")
def core_twin(env):
    """The same files and configuration, without mod_condcache."""
    srv = env.new_server("AccessCoreTwin")
    populate(srv)
    srv.install(conf(srv, False), modules=MODULES, with_module=False)
    srv.start()
    srv.settle()
    yield srv
    srv.stop()


class TestAccessControlUntouched:
    modules = MODULES

    @classmethod
    def populate(cls, srv):
        populate(srv)

    @classmethod
    def conf(cls, srv):
        return conf(srv, True)

    def both(self, httpd, core_twin, method, path, headers):
        a = httpd.raw(method, path, headers)
        b = core_twin.raw(method, path, headers)
        return a, b

    @pytest.mark.expect_errors(REFUSAL_LINES)
    def test_same_answers_and_no_hashing_of_refused_files(self, httpd,
                                                          core_twin):
        # allowed: the same answers as core, tags included
        for path, want in sorted(ALLOWED.items()):
            for method, hdrs in VARIANTS:
                a, b = self.both(httpd, core_twin, method, path, hdrs)
                where = "%s %s %r: module %d, core %d" % (
                    method, path, hdrs, a.status, b.status)
                assert a.status == b.status, where
                if a.status in (200, 206, 304):
                    assert a.header("ETag") == b.header("ETag"), where
                    assert a.body == b.body, where
            assert httpd.raw("GET", path).status == want, path

        before = httpd.status()
        for path, want in sorted(REFUSED.items()):
            for method, hdrs in VARIANTS:
                a, b = self.both(httpd, core_twin, method, path, hdrs)
                where = "%s %s %r: module %d, core %d" % (
                    method, path, hdrs, a.status, b.status)
                assert a.status == b.status == want, where
                assert a.header("ETag") is None, where
                assert a.header("Last-Modified") is None, where
                assert httpd.note(a) in ("-", "bypass"), where
        after = httpd.status()
        for k in ("FilesHashed", "BytesHashed", "Hits", "Misses", "Inserts"):
            assert after[k] == before[k], (k, before, after)

    @pytest.mark.expect_errors(REFUSAL_LINES)
    def test_status_handler_follows_its_own_require(self, httpd):
        r = httpd.get("/cc-status-local?auto")
        assert r.status_code == 200
        assert "FilesHashed:" in r.text
        r = httpd.get("/cc-status-ip?auto")
        assert r.status_code == 403
        assert "FilesHashed" not in r.text and "Hits" not in r.text
        r = httpd.get("/cc-status-ip")
        assert r.status_code == 403
        assert "mod_condcache status" not in r.text
