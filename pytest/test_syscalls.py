"""What the module asks of the kernel, read with strace: a revalidation
that hits the table neither opens nor reads the file; a 200 serves and
describes one descriptor, opened after httpd's stat."""
import os
import re

from eco_util import need_program, SyscallTrace
from procs import children
from tags import sha1_tag

OLD = 1600000000
BODY = os.urandom(64 * 1024)
TAG = sha1_tag(BODY)
TRACED = "openat,open,newfstatat,fstat,statx,faccessat,faccessat2"


class TestSyscalls:

    @classmethod
    def populate(cls, srv):
        srv.write("d/a.bin", BODY, mtime=OLD)
        srv.write("off/a.bin", BODY, mtime=OLD)

    @classmethod
    def conf(cls, srv):
        return """
<Directory {r}/d>
    CondCache On
</Directory>
<Directory {r}/off>
    FileETag MTime Size
</Directory>
""".format(r=srv.docroot)

    def trace(self, httpd, tmp_path, request):
        """The traced calls that name the file or use a descriptor, while
        `request()` runs."""
        strace = need_program("strace", "strace")
        pids = children(httpd.pid)
        assert pids
        # and the parent (strace -f follows its forks): a prefork server
        # may start a child between the snapshot and the request
        pids.append(httpd.pid)
        t = SyscallTrace(strace, pids, TRACED, str(tmp_path / "strace.txt"))
        t.start(pids)
        try:
            r = request()
        finally:
            t.stop()
        return r, t.lines()

    def test_hit_304_opens_nothing(self, httpd, tmp_path):
        httpd.settle()
        assert httpd.get("/d/a.bin").headers["ETag"] == TAG   # now stored
        before = httpd.status()
        r, lines = self.trace(httpd, tmp_path, lambda: httpd.get(
            "/d/a.bin", {"If-None-Match": TAG}))
        assert r.status_code == 304
        after = httpd.status()
        assert after["Hits"] == before["Hits"] + 1
        assert after["BytesHashed"] == before["BytesHashed"]
        path = httpd.path("d/a.bin")
        named = [l for l in lines if '"%s"' % path in l]
        assert any("newfstatat" in l or "statx" in l for l in named), lines
        assert any("faccessat" in l for l in named), lines
        # never opened, so never read: a hit costs httpd's stat and one
        # permission check, where core opens and closes the file
        assert not any("open" in l for l in named), named

    def test_core_opens_for_its_304(self, httpd, tmp_path):
        """The baseline: core's default handler opens the file even for a
        304, so the module's revalidation makes fewer calls than core's."""
        tag = httpd.get("/off/a.bin").headers["ETag"]
        r, lines = self.trace(httpd, tmp_path, lambda: httpd.get(
            "/off/a.bin", {"If-None-Match": tag}))
        assert r.status_code == 304
        path = httpd.path("off/a.bin")
        assert any("open" in l and '"%s"' % path in l for l in lines), lines

    def test_200_describes_its_descriptor(self, httpd, tmp_path):
        httpd.settle()
        r, lines = self.trace(httpd, tmp_path, lambda: httpd.get("/d/a.bin"))
        assert r.status_code == 200 and r.content == BODY
        assert r.headers["ETag"] == TAG
        path = httpd.path("d/a.bin")
        opened = [l for l in lines if "open" in l and '"%s"' % path in l]
        assert len(opened) == 1, lines
        fd = re.search(r"= (\d+)$", opened[0]).group(1)
        # fstat of that descriptor: newfstatat(fd, "", ..., AT_EMPTY_PATH)
        assert any(re.search(r"(newfstatat|fstat|statx)\(%s\b" % fd, l)
                   for l in lines), lines
        # a plain 200 (no validators) goes straight to the descriptor
        assert not any("faccessat" in l and '"%s"' % path in l
                       for l in lines), lines
