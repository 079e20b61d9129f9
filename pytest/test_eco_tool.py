"""condcache-etag, the command-line tool: it prints exactly the tag the
server sends (as `curl -I` shows it), for every digest, and fails loudly on
files it cannot tag."""
import os
import subprocess

import pytest

from clients import curl_exchange
from condcache_env import REPO_DIR
from eco_util import need_program, run
from tags import content_tag, have_xxh128, TAG_RES


OLD = 1600000000
TOOL = os.environ.get("CONDCACHE_ETAG",
                      os.path.join(REPO_DIR, "build", "condcache-etag"))
ALGOS = ("sha1", "sha256", "md5", "xxh128")
FILES = {
    "small.txt": b"condcache-etag says the same as the server\n",
    "empty.txt": b"",
    "style.css": b"".join(b".c%d { margin: %dpx }\n" % (i, i)
                          for i in range(2000)),
    # more than one read block of the hasher (256 KiB), not a multiple of it
    "blob.bin": bytes((i * 7919 + (i >> 11)) & 0xFF
                      for i in range(600 * 1024 + 123)),
}


def tool(*args):
    if not os.access(TOOL, os.X_OK):
        pytest.fail("%s is not built (make -f Makefile.apxs)" % TOOL,
                    pytrace=False)
    return run([TOOL] + list(args), timeout=60)


def curl_etag(url):
    """The ETag header exactly as curl -I prints it."""
    x = curl_exchange(url, head=True, curl=need_program("curl", "curl"))
    assert x.response.status == 200, x
    tags = x.response.header_all("ETag")
    assert len(tags) == 1, x
    return tags[0]


class TestTool:
    @classmethod
    def populate(cls, srv):
        for a in ALGOS + ("default",):
            for name, data in FILES.items():
                srv.write("%s/%s" % (a, name), data, mtime=OLD)
        # no MIME type for this one (no extension): still a static file
        srv.write("default/LICENSE", b"do what you like\n", mtime=OLD)

    @classmethod
    def conf(cls, srv):
        out = ["<Directory %s/default>\n  CondCache On\n</Directory>"
               % srv.docroot]
        for a in ALGOS:
            out.append("<Directory %s/%s>\n  CondCache On\n"
                       "  CondCacheDigest %s\n</Directory>"
                       % (srv.docroot, a, a))
        return "\n".join(out)

    @pytest.mark.parametrize("algo", ALGOS)
    @pytest.mark.parametrize("name", sorted(FILES))
    def test_tool_equals_curl(self, httpd, algo, name):
        path = httpd.path("%s/%s" % (algo, name))
        sent = curl_etag(httpd.url("/%s/%s" % (algo, name)))
        p = tool("--digest", algo, path)
        assert p.returncode == 0, p.stderr
        assert p.stderr == ""
        # one line: the tag as sent, two spaces, the file name
        assert p.stdout == "%s  %s\n" % (sent, path)
        assert TAG_RES[algo].match(sent), sent
        if algo != "xxh128" or have_xxh128():
            assert sent == content_tag(algo, FILES[name])

    @pytest.mark.parametrize("name", sorted(FILES))
    def test_default_digest_is_the_servers_default(self, httpd, name):
        path = httpd.path("default/" + name)
        sent = curl_etag(httpd.url("/default/" + name))
        p = tool(path)
        assert p.returncode == 0, p.stderr
        assert p.stdout == "%s  %s\n" % (sent, path)

    def test_file_without_mime_type(self, httpd):
        # files such as LICENSE or Makefile have no type in mime.types;
        # the tool cannot know that, so the server must tag them too
        path = httpd.path("default/LICENSE")
        sent = curl_etag(httpd.url("/default/LICENSE"))
        p = tool(path)
        assert p.returncode == 0, p.stderr
        assert p.stdout == "%s  %s\n" % (sent, path)

    @pytest.mark.parametrize("form", ["--digest=md5", "-d md5"])
    def test_option_forms(self, httpd, form):
        path = httpd.path("md5/small.txt")
        p = tool(*(form.split() + [path]))
        assert p.returncode == 0, p.stderr
        assert p.stdout == "%s  %s\n" % (
            curl_etag(httpd.url("/md5/small.txt")), path)

    def test_many_files_one_line_each_in_order(self, httpd):
        names = sorted(FILES)
        paths = [httpd.path("sha256/" + n) for n in names]
        p = tool("--digest", "sha256", *paths)
        assert p.returncode == 0, p.stderr
        want = "".join("%s  %s\n" % (curl_etag(httpd.url("/sha256/" + n)), pth)
                       for n, pth in zip(names, paths))
        assert p.stdout == want

    def test_relative_path_printed_as_given(self, httpd):
        p = subprocess.run([TOOL, "small.txt"], cwd=httpd.path("sha1"),
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        assert p.stdout == "%s  small.txt\n" % curl_etag(
            httpd.url("/sha1/small.txt"))

    def test_tag_follows_content_change(self, httpd):
        rel = "sha1/changing.txt"
        httpd.write(rel, b"first\n", mtime=OLD)
        t1 = curl_etag(httpd.url("/" + rel))
        httpd.write(rel, b"second, longer\n", mtime=OLD)
        t2 = curl_etag(httpd.url("/" + rel))
        assert t1 != t2
        p = tool(httpd.path(rel))
        assert p.stdout.split("  ")[0] == t2


class TestToolErrors:
    """No server needed: bad arguments."""

    def test_nonexistent_file(self, tmp_path):
        missing = str(tmp_path / "no-such-file.css")
        p = tool(missing)
        assert p.returncode != 0
        assert p.stdout == ""
        assert missing in p.stderr
        assert "No such file" in p.stderr

    def test_directory(self, tmp_path):
        p = tool(str(tmp_path))
        assert p.returncode != 0
        assert p.stdout == ""
        assert str(tmp_path) in p.stderr
        assert "regular file" in p.stderr or "directory" in p.stderr.lower()

    def test_unreadable_file(self, tmp_path):
        f = tmp_path / "secret.txt"
        f.write_bytes(b"secret\n")
        f.chmod(0)
        if os.geteuid() == 0:
            # root reads anything; use a user that cannot
            p = run(["setpriv", "--reuid=65534", "--regid=65534",
                     "--clear-groups", TOOL, str(f)], timeout=30)
        else:
            p = tool(str(f))
        assert p.returncode != 0
        assert str(f) in p.stderr
        assert "Permission denied" in p.stderr

    def test_good_and_bad_files(self, tmp_path):
        good = tmp_path / "good.txt"
        good.write_bytes(b"good\n")
        bad = str(tmp_path / "missing.txt")
        p = tool(str(good), bad, str(good))
        assert p.returncode != 0
        # the good ones are still printed
        assert p.stdout == 2 * ("%s  %s\n" % (content_tag("sha1", b"good\n"),
                                              good))
        assert bad in p.stderr

    def test_unknown_digest(self, tmp_path):
        good = tmp_path / "good.txt"
        good.write_bytes(b"good\n")
        p = tool("--digest", "crc32", str(good))
        assert p.returncode != 0
        assert p.stdout == ""
        assert "crc32" in p.stderr

    def test_no_files(self):
        p = tool()
        assert p.returncode != 0
        assert "usage" in p.stderr.lower()
