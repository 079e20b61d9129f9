"""`make -f Makefile.apxs install DESTDIR=<scratch>` stages the module, its
Debian snippets and the tool; Debian's own a2enmod and apache2ctl then
enable and load it from a copy of /etc/apache2 (APACHE_CONFDIR), and the
staged server serves the tags the staged tool prints.  The real
/etc/apache2 and the system's module directory are never touched."""
import filecmp
import os
import pathlib
import re
import shutil
import socket
import stat
import tempfile
import time

import pytest

from clients import build_request, free_port, RawConnection
from condcache_env import REPO_DIR
from eco_util import need_program, run
from logs import check_error_lines
from procs import kill, wait_gone


REAL_CONFDIR = "/etc/apache2"
LIBEXECDIR = "/usr/lib/apache2/modules"
BINDIR = "/usr/local/bin"
SO = "mod_condcache.so"
CSS = b"body { color: #123456 }\n" * 30

WATCHED = [  # system paths the staging must leave as they are
    os.path.join(REAL_CONFDIR, "mods-available", "condcache.load"),
    os.path.join(REAL_CONFDIR, "mods-available", "condcache.conf"),
    os.path.join(REAL_CONFDIR, "mods-enabled", "condcache.load"),
    os.path.join(REAL_CONFDIR, "mods-enabled", "condcache.conf"),
    os.path.join(LIBEXECDIR, SO),
    os.path.join(BINDIR, "condcache-etag"),
    "/var/lib/apache2/module/enabled_by_admin/condcache",
]


def snapshot(paths):
    out = {}
    for p in paths:
        try:
            st = os.lstat(p)
            out[p] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            out[p] = None
    return out


def tree_snapshot(top):
    out = {}
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            out[p] = (st.st_mode, st.st_size, st.st_mtime_ns,
                      os.readlink(p) if stat.S_ISLNK(st.st_mode) else None)
    return out


@pytest.fixture(scope="module")
def scratch(env):
    if not os.path.isdir(REAL_CONFDIR):
        pytest.skip("no %s: not a Debian-style apache2 layout" % REAL_CONFDIR)
    # in the harness's base dir (mode 755: the staged server's children,
    # www-data, read the site from here); removed with it
    d = pathlib.Path(tempfile.mkdtemp(prefix="install-", dir=env.base_dir))
    os.chmod(d, 0o755)
    return d


@pytest.fixture(scope="module")
def staged(scratch):
    make = need_program("make", "make")
    real_before = snapshot(WATCHED)
    conf_before = tree_snapshot(REAL_CONFDIR)
    destdir = scratch / "stage"
    p = run([make, "-f", "Makefile.apxs", "install", "DESTDIR=%s" % destdir],
            cwd=REPO_DIR, timeout=600)
    assert p.returncode == 0, "make install failed:\n%s\n%s" % (p.stdout,
                                                               p.stderr)
    yield {
        "destdir": destdir,
        "so": destdir / LIBEXECDIR.lstrip("/") / SO,
        "load": destdir / "etc/apache2/mods-available/condcache.load",
        "conf": destdir / "etc/apache2/mods-available/condcache.conf",
        "tool": destdir / BINDIR.lstrip("/") / "condcache-etag",
        "make_output": p.stdout + p.stderr,
    }
    assert snapshot(WATCHED) == real_before, "system files changed"
    assert tree_snapshot(REAL_CONFDIR) == conf_before, \
        "the real %s changed" % REAL_CONFDIR


@pytest.fixture(scope="module")
def confdir(scratch, staged):
    """A copy of Debian's /etc/apache2 whose condcache.load points at the
    staged module, and whose envvars keep run, lock and log dirs in the
    scratch dir.  Returns (path, environment for Debian's tools)."""
    copy = scratch / "apache2"
    shutil.copytree(REAL_CONFDIR, copy, symlinks=True)
    avail = copy / "mods-available"
    for name in ("condcache.load", "condcache.conf"):
        src = staged["load"] if name.endswith(".load") else staged["conf"]
        text = src.read_text()
        if name.endswith(".load"):
            text = text.replace(os.path.join(LIBEXECDIR, SO), str(staged["so"]))
        else:
            # the table file in the scratch dir, not the machine's
            state = scratch / "condcache-state"
            state.mkdir(mode=0o700, exist_ok=True)
            text = text.replace("/var/cache/apache2/mod_condcache", str(state))
        dst = avail / name
        if dst.exists() or dst.is_symlink():
            dst.unlink()
        dst.write_text(text)
    for name in ("condcache.load", "condcache.conf"):
        for d in ("mods-enabled",):
            link = copy / d / name
            if link.is_symlink() or link.exists():
                link.unlink()       # a copy of an earlier real install
    for sub in ("run", "lock", "log", "state", "htdocs"):
        (scratch / sub).mkdir(exist_ok=True)
        os.chmod(scratch / sub, 0o755)
    with open(copy / "envvars", "a") as f:
        f.write("\n# added by test_eco_install.py: stay in the scratch dir\n"
                "export APACHE_RUN_DIR=%s\n"
                "export APACHE_PID_FILE=%s\n"
                "export APACHE_LOCK_DIR=%s\n"
                "export APACHE_LOG_DIR=%s\n"
                % (scratch / "run", scratch / "run" / "apache2.pid",
                   scratch / "lock", scratch / "log"))
    envv = dict(os.environ)
    envv.pop("APACHE_ENVVARS", None)
    envv["APACHE_CONFDIR"] = str(copy)
    envv["APACHE_STATE_DIRECTORY"] = str(scratch / "state")
    envv["PATH"] = envv.get("PATH", "") + ":/usr/sbin:/sbin"
    return copy, envv


def debian_tool(name):
    return need_program(name, "apache2")


def tool_run(name, args, envv, timeout=60):
    return run([debian_tool(name)] + list(args), env=envv, timeout=timeout)


def loaded_modules(envv):
    p = tool_run("apachectl", ["-M"], envv)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


class TestMakeInstall:
    def test_staged_files(self, staged):
        so, load, conf, tool = (staged[k] for k in ("so", "load", "conf",
                                                    "tool"))
        for p in (so, load, conf, tool):
            assert p.is_file(), "%s not staged; make said:\n%s" % (
                p, staged["make_output"])
        assert filecmp.cmp(so, os.path.join(REPO_DIR, ".libs", SO),
                           shallow=False)
        assert filecmp.cmp(tool, os.path.join(REPO_DIR, "build",
                                              "condcache-etag"),
                           shallow=False)
        assert os.stat(tool).st_mode & 0o777 == 0o755
        assert stat.S_IMODE(os.stat(load).st_mode) == 0o644
        assert filecmp.cmp(conf, os.path.join(REPO_DIR, "conf",
                                              "condcache.conf"), shallow=False)
        # the .load names the final location, not the staging dir
        assert re.search(r"^LoadModule\s+condcache_module\s+%s\s*$"
                         % re.escape(os.path.join(LIBEXECDIR, SO)),
                         load.read_text(), re.M), load.read_text()
        assert str(staged["destdir"]) not in load.read_text()

    def test_nothing_else_staged(self, staged):
        found = sorted(str(p.relative_to(staged["destdir"]))
                       for p in staged["destdir"].rglob("*") if p.is_file())
        assert found == sorted([
            "etc/apache2/mods-available/condcache.conf",
            "etc/apache2/mods-available/condcache.load",
            LIBEXECDIR.lstrip("/") + "/" + SO,
            BINDIR.lstrip("/") + "/condcache-etag",
        ])
        # and the table file's directory, root's alone
        state = staged["destdir"] / "var/cache/apache2/mod_condcache"
        assert state.is_dir() and stat.S_IMODE(state.stat().st_mode) == 0o700

    def test_staged_tool_runs(self, staged, tmp_path):
        f = tmp_path / "a.css"
        f.write_bytes(CSS)
        p = run([str(staged["tool"]), str(f)])
        q = run([os.path.join(REPO_DIR, "build", "condcache-etag"), str(f)])
        assert p.returncode == q.returncode == 0, p.stderr
        assert p.stdout == q.stdout != ""


class TestDebianTools:
    def test_confdir_is_honoured(self, confdir):
        copy, envv = confdir
        p = tool_run("apache2ctl", ["-S"], envv)
        assert p.returncode == 0, p.stdout + p.stderr
        assert 'ServerRoot: "%s"' % copy in p.stdout, p.stdout
        assert "condcache_module" not in loaded_modules(envv)

    def test_a2enmod_then_apachectl_M(self, confdir, staged):
        copy, envv = confdir
        real_link = os.path.join(REAL_CONFDIR, "mods-enabled", "condcache.load")
        real_had = os.path.lexists(real_link)
        p = tool_run("a2enmod", ["condcache"], envv)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "Enabling module condcache" in p.stdout
        for name in ("condcache.load", "condcache.conf"):
            link = copy / "mods-enabled" / name
            assert link.is_symlink(), name
            assert os.readlink(link) == "../mods-available/" + name
        assert (envv["APACHE_STATE_DIRECTORY"] and os.path.exists(os.path.join(
            envv["APACHE_STATE_DIRECTORY"], "module", "enabled_by_admin",
            "condcache")))
        assert os.path.lexists(real_link) == real_had
        mods = loaded_modules(envv)
        assert re.search(r"^\s*condcache_module \(shared\)\s*$", mods, re.M), \
            mods
        p = tool_run("apache2ctl", ["configtest"], envv)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "Syntax OK" in p.stdout + p.stderr

    def test_directives_known_after_enable(self, confdir):
        copy, envv = confdir
        if not (copy / "mods-enabled" / "condcache.load").is_symlink():
            assert tool_run("a2enmod", ["condcache"], envv).returncode == 0
        extra = copy / "conf-available" / "condcache-directives.conf"
        extra.write_text("<Directory /var/www/html>\n    CondCache On\n"
                         "    CondCacheDigest sha256\n    CondCacheMaxAge 60\n"
                         "</Directory>\n")
        p = tool_run("a2enconf", ["condcache-directives"], envv)
        assert p.returncode == 0, p.stdout + p.stderr
        try:
            p = tool_run("apache2ctl", ["configtest"], envv)
            assert p.returncode == 0, p.stdout + p.stderr
            assert "Syntax OK" in p.stdout + p.stderr
        finally:
            assert tool_run("a2disconf", ["condcache-directives"],
                            envv).returncode == 0

    def test_a2dismod(self, confdir):
        copy, envv = confdir
        if not (copy / "mods-enabled" / "condcache.load").is_symlink():
            assert tool_run("a2enmod", ["condcache"], envv).returncode == 0
        p = tool_run("a2dismod", ["condcache"], envv)
        assert p.returncode == 0, p.stdout + p.stderr
        assert not os.path.lexists(copy / "mods-enabled" / "condcache.load")
        assert "condcache_module" not in loaded_modules(envv)
        p = tool_run("apache2ctl", ["configtest"], envv)
        assert p.returncode == 0 and "Syntax OK" in p.stdout + p.stderr


class TestStagedServer:
    """Debian's layout, Debian's control script, the staged module: start it
    with the MPM under test and compare its tags with the staged tool."""

    def test_serves_tags_of_staged_tool(self, env, confdir, staged, scratch):
        copy, envv = confdir
        htdocs = scratch / "htdocs"
        (htdocs / "style.css").write_bytes(CSS)
        os.chmod(htdocs / "style.css", 0o644)
        port = free_port()
        (copy / "ports.conf").write_text("Listen 127.0.0.1:%d\n" % port)
        (copy / "sites-available" / "condcache-test.conf").write_text("""
<VirtualHost *:{port}>
    DocumentRoot {htdocs}
    <Directory {htdocs}>
        Require all granted
        CondCache On
        CondCacheNoCache On
    </Directory>
</VirtualHost>
""".format(port=port, htdocs=htdocs))
        steps = [("a2dissite", ["000-default"]),
                 ("a2ensite", ["condcache-test"]),
                 ("a2enmod", ["condcache"])]
        mpms = {"prefork", "worker", "event"}
        if env.mpm != "prefork":
            # mod_php (installed for the twin suites) needs prefork: an
            # admin switching MPM disables it first, as a2dismod demands
            for load in sorted((copy / "mods-enabled").glob("php*.load")):
                steps.append(("a2dismod", ["-q", load.stem]))
        for m in mpms - {env.mpm}:
            if (copy / "mods-enabled" / ("mpm_%s.load" % m)).is_symlink():
                steps.append(("a2dismod", ["-q", "mpm_" + m]))
        steps.append(("a2enmod", ["-q", "mpm_" + env.mpm]))
        for name, args in steps:
            p = tool_run(name, args, envv)
            assert p.returncode == 0, (name, args, p.stdout + p.stderr)
        mods = loaded_modules(envv)
        assert "condcache_module" in mods
        assert "mpm_%s_module" % env.mpm in mods

        p = tool_run("apache2ctl", ["-k", "start"], envv)
        assert p.returncode == 0, p.stdout + p.stderr
        pid_file = scratch / "run" / "apache2.pid"
        pid = None
        try:
            deadline = time.time() + 20
            while time.time() < deadline:
                try:
                    pid = int(pid_file.read_text())
                    socket.create_connection(("127.0.0.1", port), 1).close()
                    break
                except (OSError, ValueError):
                    time.sleep(0.05)
            assert pid, "the staged server did not start:\n%s" % \
                (scratch / "log" / "error.log").read_text()[-2000:]
            tool_line = run([str(staged["tool"]), str(htdocs / "style.css")])
            tag = tool_line.stdout.split("  ")[0]
            with RawConnection("127.0.0.1", port) as c:
                c.send(build_request("GET", "/style.css",
                                     host="127.0.0.1:%d" % port))
                r = c.read_response()
            assert r.status == 200 and r.body == CSS
            assert r.header("ETag") == tag
            assert r.header("Cache-Control") == "no-cache"
            with RawConnection("127.0.0.1", port) as c:
                c.send(build_request("GET", "/style.css",
                                     [("If-None-Match", tag)],
                                     host="127.0.0.1:%d" % port))
                r = c.read_response()
            assert r.status == 304
            assert r.header("ETag") == tag
        finally:
            tool_run("apache2ctl", ["-k", "stop"], envv)
            if pid and not wait_gone(pid, 15):
                kill(pid)
        log = (scratch / "log" / "error.log").read_text()
        assert not check_error_lines(log.splitlines()), log
