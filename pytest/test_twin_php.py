"""Twin servers (module on vs not loaded) in front of PHP the ways real sites
run it, each from its Debian package:

  - mod_php (libapache2-mod-php8.2, prefork only), selected by
    `AddType application/x-httpd-php .php` as the PHP manual describes, and
    by `<FilesMatch \\.php$> SetHandler application/x-httpd-php`;
  - php-fpm (php8.2-fpm), started by the test on a unix socket and reached
    through mod_proxy_fcgi with `SetHandler "proxy:unix:...|fcgi://localhost"`;
  - php-cgi (php8.2-cgi) through mod_actions: `Action application/x-httpd-php
    /cgi-bin/php-cgi-wrapper` + `AddType application/x-httpd-php .php`.

Every PHP response (plain, HEAD, conditional with the server's own
validators and with the tag of the script's source, If-Match "bogus", POST,
a missing script, PATH_INFO, a directory index) must be exactly what httpd
sends without the module, and never the script's source; the static files
next to the scripts are the module's (content ETag, nothing else changes).
"""
import atexit
import os
import signal
import subprocess
import time

import pytest

from tags import sha1_tag
from twin import CONDITIONALS, own_validators, Twin

OLD = 1600000000

SECRET = b"SECRET-IN-SOURCE"
HELLO = (b'<?php $db_password = "SECRET-IN-SOURCE"; '
         b'echo "php says " . (1+1) . "\\n"; '
         b'echo "path_info=" . ($_SERVER["PATH_INFO"] ?? "-") . "\\n"; ?>\n')
FORM = (b'<?php $db_password = "SECRET-IN-SOURCE";\n'
        b'header("Content-Type: text/plain; charset=UTF-8");\n'
        b'echo "method " . $_SERVER["REQUEST_METHOD"] . "\\n";\n'
        b'echo "field=" . ($_POST["field"] ?? "-") . "\\n";\n?>\n')
INDEX = (b'<?php $db_password = "SECRET-IN-SOURCE"; '
         b'echo "index says " . (2+2) . "\\n"; ?>\n')
STATIC = b"static file next to the php scripts, long enough for ranges\n" * 4
CSS = b"body { color: #336699 }\n"

HELLO_OUT = b"php says 2\npath_info=-\n"

PHP_SO = "/usr/lib/apache2/modules/libphp8.2.so"
PHP_FPM = "/usr/sbin/php-fpm8.2"
PHP_CGI = "/usr/bin/php-cgi8.2"


def need_file(path, package):
    """PHP is part of what these tests run against: a missing package is a
    failure that says how to install it, not a skip."""
    if not os.access(path, os.R_OK):
        pytest.fail("%s is missing: run `apt-get install -y %s`"
                    % (path, package), pytrace=False)
    return path


# --------------------------------------------------------------------------
# php-fpm, started and stopped by the test (by its own pid)

FPM_CONF = """\
[global]
pid = {tmp}/php-fpm.pid
error_log = {tmp}/php-fpm.log
daemonize = no

[www]
user = www-data
group = www-data
listen = {sock}
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
pm = static
pm.max_children = 2
"""


class PhpFpm:
    def __init__(self, tmp):
        self.tmp = tmp
        self.sock = os.path.join(tmp, "php.sock")
        self.conf = os.path.join(tmp, "php-fpm.conf")
        self.log = os.path.join(tmp, "php-fpm.log")
        self.proc = None

    def start(self, timeout=20):
        os.makedirs(self.tmp, exist_ok=True)
        with open(self.conf, "w") as f:
            f.write(FPM_CONF.format(tmp=self.tmp, sock=self.sock))
        self.proc = subprocess.Popen(
            [PHP_FPM, "--nodaemonize", "--fpm-config", self.conf],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT, cwd=self.tmp)
        atexit.register(self.stop)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            if os.path.exists(self.sock) and "ready to handle" in \
                    self.log_text():
                return
            time.sleep(0.05)
        text = self.log_text()
        self.stop()
        pytest.fail("php-fpm did not start (exit %r); %s:\n%s"
                    % (self.proc.returncode, self.log, text), pytrace=False)

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        p = self.proc
        if p is None or p.poll() is not None:
            return
        # SIGQUIT: graceful stop of the master and its pool
        p.send_signal(signal.SIGQUIT)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


# --------------------------------------------------------------------------
# The sites

def site_files(d):
    return [
        ("%s/hello.php" % d, HELLO, 0o644),
        ("%s/form.php" % d, FORM, 0o644),
        ("%s/idx/index.php" % d, INDEX, 0o644),
        ("%s/static.txt" % d, STATIC, 0o644),
        ("%s/style.css" % d, CSS, 0o644),
    ]


def cc_block():
    return "<IfModule mod_condcache.c>\n        CondCache On\n    " \
           "</IfModule>"


def conf_modphp_addtype(root, extra):
    return """
<Directory {root}/site>
    AddType application/x-httpd-php .php
    DirectoryIndex index.php
    {cc}
</Directory>
""".format(root=root, cc=cc_block())


def conf_modphp_filesmatch(root, extra):
    return """
<Directory {root}/site>
    <FilesMatch \\.php$>
        SetHandler application/x-httpd-php
    </FilesMatch>
    DirectoryIndex index.php
    {cc}
</Directory>
""".format(root=root, cc=cc_block())


def conf_fpm(root, extra):
    return """
<Directory {root}/site>
    <FilesMatch \\.php$>
        SetHandler "proxy:unix:{sock}|fcgi://localhost"
    </FilesMatch>
    DirectoryIndex index.php
    {cc}
</Directory>
""".format(root=root, cc=cc_block(), sock=extra["sock"])


def conf_cgi(root, extra):
    return """
ScriptAlias /cgi-bin/ {root}/cgi-bin/
<Directory {root}/cgi-bin>
    Options +ExecCGI
    {cc}
</Directory>
<Directory {root}/site>
    AddType application/x-httpd-php .php
    Action application/x-httpd-php /cgi-bin/php-cgi-wrapper
    DirectoryIndex index.php
    {cc}
</Directory>
""".format(root=root, cc=cc_block())


# php-cgi: cgi.force_redirect (php-cgi runs only when the server redirected
# to it, REDIRECT_STATUS set, which Action does) and cgi.fix_pathinfo (the
# script is PATH_TRANSLATED, not the wrapper in SCRIPT_FILENAME).
CGI_INI = b"""cgi.force_redirect = 1
cgi.fix_pathinfo = 1
expose_php = Off
display_errors = Off
"""


def cgi_wrapper(ini_dir):
    # a leading ':' keeps Debian's conf.d (opcache and the rest) and adds ours
    return ("#!/bin/sh\nPHP_INI_SCAN_DIR=':%s'\nexport PHP_INI_SCAN_DIR\n"
            "exec %s\n" % (ini_dir, PHP_CGI)).encode()


# name: (config, modules, error_log line of a missing script)
SITES = {
    "modphp-addtype": (conf_modphp_addtype, [],
                       r"\[php:error\].*script '.*/missing\.php' not found "
                       r"or unable to stat"),
    "modphp-filesmatch": (conf_modphp_filesmatch, [],
                          r"\[php:error\].*script '.*/missing\.php' not "
                          r"found or unable to stat"),
    "fpm": (conf_fpm, ["proxy", "proxy_fcgi"],
            r"\[proxy_fcgi:error\].*AH01071: Got error 'Primary script "
            r"unknown'"),
    "cgi-action": (conf_cgi, ["cgi", "actions"],
                   r"\[actions:error\].*AH00652: File does not exist: "
                   r".*/site/missing\.php"),
}


@pytest.fixture(scope="module", params=list(SITES))
def site(env, request):
    """(name, twin) for one way of running PHP."""
    name = request.param
    conf_fn, modules, missing_re = SITES[name]
    global_conf = ""
    extra = {}
    fpm = None
    if name.startswith("modphp"):
        if env.mpm != "prefork":
            pytest.skip("mod_php needs the prefork MPM (libphp8.2.so is not "
                        "thread-safe; Debian's mod_php refuses worker/event)")
        need_file(PHP_SO, "libapache2-mod-php8.2")
        global_conf = "LoadModule php_module %s" % PHP_SO
    elif name == "fpm":
        need_file(PHP_FPM, "php8.2-fpm")
    elif name == "cgi-action":
        need_file(PHP_CGI, "php8.2-cgi")
    env.require_module()

    tmp = os.path.join(env.base_dir, "php-%s" % name)
    os.makedirs(tmp, exist_ok=True)
    os.chmod(tmp, 0o755)

    def populate(srv):
        for rel, data, mode in site_files("site"):
            srv.write(rel, data, mode=mode, mtime=OLD)
        if name == "cgi-action":
            ini_dir = os.path.join(tmp, "php-cgi.d")
            os.makedirs(ini_dir, exist_ok=True)
            with open(os.path.join(ini_dir, "99-twin.ini"), "wb") as f:
                f.write(CGI_INI)
            srv.write("cgi-bin/php-cgi-wrapper", cgi_wrapper(ini_dir),
                      mode=0o755, mtime=OLD)

    try:
        if name == "fpm":
            fpm = PhpFpm(tmp)
            fpm.start()
            extra["sock"] = fpm.sock
        t = Twin(env, "php-" + name,
                 lambda srv, on: conf_fn(srv.docroot, extra),
                 modules=modules, populate=populate, global_conf=global_conf)
        t.missing_re = missing_re
        t.fpm = fpm
        t.start()
        try:
            yield name, t
        finally:
            t.stop()
    finally:
        if fpm is not None:
            fpm.stop()


def check(twin, method, path, headers=None, expect="alone", data=None,
          body=b""):
    """twin.check, and the script's source never reaches the client."""
    on, off = twin.check(method, path, headers, expect=expect, data=data,
                         body=body)
    for r in (on, off):
        assert SECRET not in r.body and b"<?php" not in r.body, \
            "%s %s sent PHP source:\n%r" % (method, path, r)
    return on, off


def script_validators(twin, path, make):
    """Like twin.own_validators, but the validators a script's plain GET
    sends (none, from PHP) are asked for once per path and twin, not
    before every request: each php-cgi run costs a fork and PHP's start.
    (A helper that could live in twin.py as a cached own_validators.)"""
    cache = twin.__dict__.setdefault("_script_validators", {})
    if path not in cache:
        seen = {}
        for srv in (twin.on, twin.off):
            r = twin._send(srv, "GET", path, [], b"")
            seen[srv.port] = (r.header("ETag"), r.header("Last-Modified"))
        cache[path] = seen
    seen = cache[path]

    def headers(srv):
        etag, lm = seen[srv.port]
        return [(k, v) for k, v in make(etag, lm) if v is not None]
    return headers


# The requests every PHP response is put through: the first nine of the
# static conditionals (with the server's own validators: a script sends
# none, so "own" ones are left out as a client would), plus validators a
# module that hashed the script's source would match.
SOURCE_TAG = sha1_tag(HELLO)
PHP_CONDITIONALS = CONDITIONALS[:9] + [
    ("inm-source-tag", "GET", lambda t, lm: [("If-None-Match", SOURCE_TAG)]),
    ("inm-source-tag-head", "HEAD",
     lambda t, lm: [("If-None-Match", SOURCE_TAG)]),
    ("im-source-tag", "GET", lambda t, lm: [("If-Match", SOURCE_TAG)]),
    ("ims-future", "GET", lambda t, lm: [
        ("If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT")]),
]

PHP_PATHS = ["/site/hello.php", "/site/form.php", "/site/hello.php/extra",
             "/site/missing.php", "/site/idx/", "/site/static.txt/extra"]


@pytest.mark.parametrize("path", PHP_PATHS)
@pytest.mark.parametrize("name,method,make", PHP_CONDITIONALS,
                         ids=[c[0] for c in PHP_CONDITIONALS])
def test_php_left_alone(site, expect_errors, path, name, method, make):
    """Every PHP response, plain and conditional, is what httpd sends
    without the module: the script ran, its output is untouched."""
    sname, twin = site
    if "missing" in path:
        expect_errors.append(twin.missing_re)
    check(twin, method, path, script_validators(twin, path, make),
          expect="alone")


FORM_TYPE = ("Content-Type", "application/x-www-form-urlencoded")


@pytest.mark.parametrize("headers", [
    [FORM_TYPE],
    [FORM_TYPE, ("If-Match", '"bogus"')],
    [FORM_TYPE, ("If-None-Match", "*")],
    [FORM_TYPE, ("If-Unmodified-Since", "Sun, 06 Nov 1994 08:49:37 GMT")],
], ids=["plain", "if-match-bogus", "inm-star", "ius-old"])
def test_php_post(site, headers):
    """A POST reaches the script, which echoes the posted field; any
    precondition is the script's business, as without the module."""
    sname, twin = site
    body = b"field=posted+value+42&other=1"
    on, off = check(twin, "POST", "/site/form.php", headers, body=body)
    assert on.status == 200, on
    assert on.body == b"method POST\nfield=posted value 42\n", on


def test_php_runs_not_shown(site):
    """The scripts run on both servers: their output, never the source."""
    sname, twin = site
    for path, want in [("/site/hello.php", HELLO_OUT),
                       ("/site/hello.php/extra",
                        b"php says 2\npath_info=/extra\n"),
                       ("/site/form.php", b"method GET\nfield=-\n"),
                       ("/site/idx/", b"index says 4\n")]:
        on, off = twin.pair("GET", path)
        for which, r in (("on", on), ("off", off)):
            assert r.status == 200, (sname, which, path, r)
            assert r.body == want, (sname, which, path, r.body)
            assert SECRET not in r.body and b"<?php" not in r.body
            assert r.header("ETag") is None, (which, path, r)


@pytest.mark.parametrize("path,data", [
    ("/site/static.txt", STATIC), ("/site/style.css", CSS),
])
@pytest.mark.parametrize("name,method,make", CONDITIONALS,
                         ids=[c[0] for c in CONDITIONALS])
def test_static_next_to_php_is_ours(site, path, data, name, method, make):
    """The static files next to the scripts: the module's response differs
    from core's only in the ETag, the content tag of the file."""
    sname, twin = site
    check(twin, method, path, own_validators(twin, path, make),
          expect="ours", data=data)
