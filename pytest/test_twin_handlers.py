"""Twin servers (module on vs not loaded) over handlers chosen every way
httpd offers: CGI by AddHandler, by AddType x-httpd-cgi with ExecCGI, by
ScriptAlias and through Action; mod_negotiation (MultiViews, type-maps),
mod_asis, mod_include, mod_lua, mod_autoindex, mod_dir, mod_alias,
mod_imagemap and a WordPress-style mod_rewrite front controller in
.htaccess.  Scripts and maps must run exactly as without the module, and
never be sent as source; static files get the content tag and nothing else
changes."""
import pytest

from twin import CONDITIONALS, own_validators, Twin

OLD = 1600000000
STATIC = b"static file body, long enough for ranges\n" * 4

CGI = b"""#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'hello from cgi: SECRET-IN-SOURCE is not printed\\n' | cut -c1-15
"""
# A script run by Action: prints the path it was asked for, never the file.
ACTION = b"""#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'action handled %s\\n' "$PATH_INFO"
"""
ASIS = b"""Status: 203 Whatever
Content-Type: text/plain
X-Asis: yes

as-is body
"""
SHTML = b"""<p>before</p>
<!--#include virtual="inc.txt" -->
<p>after <!--#echo var="DOCUMENT_NAME" --></p>
"""
LUA = b"""function handle(r)
    r.content_type = "text/plain"
    r:puts("hello from lua\\n")
    return apache2.OK
end
"""
TYPEMAP = b"""URI: doc

URI: doc.en.html
Content-Type: text/html
Content-Language: en

URI: doc.fr.html
Content-Type: text/html
Content-Language: fr
"""
IMAGEMAP = b"""default /static.txt
rect /inc.txt 0,0 10,10
"""
WP_HTACCESS = b"""<IfModule mod_rewrite.c>
RewriteEngine On
RewriteBase /wp/
RewriteRule ^index\\.cgi$ - [L]
RewriteCond %{REQUEST_FILENAME} !-f
RewriteCond %{REQUEST_FILENAME} !-d
RewriteRule . /wp/index.cgi [L]
</IfModule>
<IfModule mod_condcache.c>
CondCache On
</IfModule>
"""
WP_INDEX = b"""#!/bin/sh
printf 'Content-Type: text/html\\r\\n\\r\\n'
printf 'front controller for %s\\n' "$REQUEST_URI"
"""


def populate(srv):
    w = lambda rel, data, mode=0o644: srv.write(rel, data, mode=mode,  # noqa
                                                mtime=OLD)
    w("s/static.txt", STATIC)
    w("s/inc.txt", b"included text\n")
    # CGI by AddHandler, by AddType + ExecCGI, by ScriptAlias
    w("s/by-handler.cgi", CGI, 0o755)
    w("s/by-type.pl", CGI, 0o755)
    w("cgi-bin/script", CGI, 0o755)
    w("cgi-bin/act", ACTION, 0o755)
    # a type Action handles: the file must never be sent
    w("s/page.act", b"SOURCE OF page.act\n")
    w("s/raw.asis", ASIS)
    w("s/page.shtml", SHTML)
    w("s/hello.lua", LUA)
    w("s/doc.var", TYPEMAP)
    w("s/doc.en.html", b"<p>English</p>\n")
    w("s/doc.fr.html", b"<p>Francais</p>\n")
    w("s/multi.en.html", b"<p>multi en</p>\n")
    w("s/multi.de.html", b"<p>multi de</p>\n")
    w("s/map.map", IMAGEMAP)
    w("s/list/one.txt", b"one\n")
    w("s/list/two.txt", b"two\n")
    w("s/idx/index.html", b"<p>index</p>\n")
    w("wp/.htaccess", WP_HTACCESS)
    w("wp/index.cgi", WP_INDEX, 0o755)
    w("wp/style.css", b"body { color: red }\n")
    w("aliased/file.txt", STATIC)


MODULES = ["cgi", "actions", "asis", "include", "lua", "negotiation",
           "autoindex", "rewrite", "imagemap"]


def conf(srv, on):
    root = srv.docroot
    cc = "CondCache On" if on else ""
    return """
ScriptAlias /cgi-bin/ {root}/cgi-bin/
<Directory {root}/cgi-bin>
    Options +ExecCGI
    {cc}
</Directory>
<Directory {root}/s>
    {cc}
    Options +ExecCGI +Includes +Indexes +MultiViews
    AddHandler cgi-script .cgi
    AddType application/x-httpd-cgi .pl
    AddHandler send-as-is .asis
    AddType text/html .shtml
    AddOutputFilter INCLUDES .shtml
    AddHandler lua-script .lua
    AddHandler type-map .var
    AddHandler imap-file .map
    AddType application/x-act .act
    Action application/x-act /cgi-bin/act
    AddLanguage en .en
    AddLanguage de .de
    AddLanguage fr .fr
    LanguagePriority en fr de
    DirectoryIndex index.html
</Directory>
<Directory {root}/wp>
    AllowOverride FileInfo
    Options +ExecCGI +FollowSymLinks
    AddHandler cgi-script .cgi
    DirectoryIndex index.cgi
</Directory>
Alias /al/ {root}/aliased/
<Directory {root}/aliased>
    {cc}
    Require all granted
</Directory>
""".format(root=root, cc=cc)


@pytest.fixture(scope="module")
def twin(env):
    t = Twin(env, "handlers", conf, modules=MODULES, populate=populate)
    t.start()
    yield t
    t.stop()


@pytest.mark.parametrize("path", [
    "/s/by-handler.cgi", "/s/by-type.pl", "/cgi-bin/script", "/s/page.act",
    "/s/raw.asis", "/s/page.shtml", "/s/hello.lua", "/s/map.map?3,3",
    "/s/map.map", "/s/list/", "/s/list", "/s/idx", "/s/nope.txt", "/wp/",
    "/wp/some/post/", "/wp/index.cgi", "/s/static.txt/extra",
])
@pytest.mark.parametrize("name,method,make", CONDITIONALS[:9],
                         ids=[c[0] for c in CONDITIONALS[:9]])
def test_left_alone(twin, path, name, method, make):
    """Every handler's response, plain and conditional, is what httpd sends
    without the module."""
    twin.check(method, path, own_validators(twin, path, make),
               expect="alone")


def test_scripts_run_not_shown(twin):
    """The source of a script is never sent: each answers with its output."""
    for path, want in [("/s/by-handler.cgi", b"hello from cgi:"),
                       ("/s/by-type.pl", b"hello from cgi:"),
                       ("/cgi-bin/script", b"hello from cgi:"),
                       ("/s/page.act", b"action handled /s/page.act"),
                       ("/s/hello.lua", b"hello from lua"),
                       ("/wp/some/post/", b"front controller for")]:
        on, off = twin.pair("GET", path)
        assert on.status == 200, (path, on)
        assert on.body.startswith(want), (path, on.body)
        assert b"#!/bin/sh" not in on.body and b"function handle" not in on.body


@pytest.mark.parametrize("path,data", [
    ("/s/static.txt", STATIC), ("/al/file.txt", STATIC),
    ("/wp/style.css", b"body { color: red }\n"),
    ("/s/idx/index.html", b"<p>index</p>\n"),
])
@pytest.mark.parametrize("name,method,make", CONDITIONALS,
                         ids=[c[0] for c in CONDITIONALS])
def test_static_is_ours(twin, path, data, name, method, make):
    """Static files: the module's response differs from core's only in the
    ETag, for every kind of conditional and range request."""
    twin.check(method, path, own_validators(twin, path, make),
               expect="ours", data=data)


@pytest.mark.parametrize("path,data", [
    ("/s/idx/", b"<p>index</p>\n"),
    ("/s/multi", b"<p>multi en</p>\n"),
    ("/s/doc.var", b"<p>English</p>\n"),
])
def test_dir_index_and_multiviews_are_ours(twin, path, data):
    """mod_dir's index and a MultiViews variant are files core would send:
    the module serves them with the content tag (and, negotiated, the
    variant list part of core's tag)."""
    twin.check("GET", path, expect="ours", data=data)
    twin.check("GET", path, own_validators(
        twin, path, lambda t, lm: [("If-None-Match", t)]), expect="ours",
        data=data)
