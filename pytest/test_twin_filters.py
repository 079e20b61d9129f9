"""Twin servers (module on vs not loaded) over output filters on static
files.  Filters that rewrite the body (mod_substitute, mod_sed,
mod_ext_filter, mod_charset_lite, mod_include by filter, INFLATE, a
mod_filter chain of the admin's own) make the file's digest a lie about the
response: there the module stands aside and the response is core's, byte
for byte.  Compression (mod_deflate, mod_brotli, also through mod_filter's
AddOutputFilterByType) keeps the bytes' identity, so those responses are
the module's and differ only in the ETag, which keeps the filter's suffix.
"""
import pytest

from twin import CONDITIONALS, own_validators, Twin

OLD = 1600000000
TEXT = b"Hello world, hello filters.\n" * 40
LATIN = "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e\n".encode("utf-8") * 10

# conditionals where core and the module agree whatever the coding (core
# cannot answer 304 to a suffixed tag, bug 45023; that is tested elsewhere)
SAFE = [c for c in CONDITIONALS if c[0] in (
    "plain", "head", "inm-star", "inm-other", "im-bogus", "ius-old",
    "range", "range-416")]


def populate(srv):
    for d in ("subst", "sed", "ext", "charset", "incl", "chain", "gz", "br",
              "bytype", "plain", "inflate"):
        srv.write("%s/f.txt" % d, TEXT, mtime=OLD)
        srv.write("%s/f.html" % d, b"<p>" + TEXT + b"</p>\n", mtime=OLD)
    srv.write("charset/latin.txt", LATIN, mtime=OLD)
    srv.write("incl/inc.txt", b"included\n", mtime=OLD)
    import gzip
    srv.write("inflate/packed.txt.gz", gzip.compress(TEXT, mtime=0), mtime=OLD)


MODULES = ["substitute", "sed", "ext_filter", "charset_lite", "include",
           "deflate", "brotli", "filter", "headers"]


def conf(srv, on):
    cc = "CondCache On" if on else ""
    return """
ExtFilterDefine upper mode=output cmd="/usr/bin/tr a-z A-Z"
FilterDeclare mychain
FilterProvider mychain SUBSTITUTE "%{{CONTENT_TYPE}} =~ m#^text/#"
<Directory {root}>
    {cc}
</Directory>
<Directory {root}/subst>
    AddOutputFilter SUBSTITUTE .txt .html
    Substitute "s/hello/HOWDY/"
</Directory>
<Directory {root}/sed>
    AddOutputFilter Sed .txt .html
    OutputSed "s/world/planet/g"
</Directory>
<Directory {root}/ext>
    SetOutputFilter upper
</Directory>
<Directory {root}/charset>
    CharsetSourceEnc UTF-8
    CharsetDefault ISO-8859-1
    SetOutputFilter XLATEOUT
</Directory>
<Directory {root}/incl>
    Options +Includes
    SetOutputFilter INCLUDES
</Directory>
<Directory {root}/chain>
    FilterChain mychain
    Substitute "s/world/chain/"
</Directory>
<Directory {root}/gz>
    SetOutputFilter DEFLATE
</Directory>
<Directory {root}/br>
    SetOutputFilter BROTLI_COMPRESS
</Directory>
<Directory {root}/bytype>
    AddOutputFilterByType DEFLATE text/plain text/html
</Directory>
<Directory {root}/inflate>
    AddEncoding gzip .gz
    SetOutputFilter INFLATE
</Directory>
""".format(root=srv.docroot, cc=cc)


@pytest.fixture(scope="module")
def twin(env):
    t = Twin(env, "filters", conf, modules=MODULES, populate=populate)
    t.start()
    yield t
    t.stop()


REWRITING = ["/subst/f.txt", "/sed/f.txt", "/ext/f.txt", "/charset/latin.txt",
             "/incl/f.html", "/chain/f.txt", "/inflate/packed.txt.gz"]


# httpd alone fails a 412 through INFLATE (the empty body: "Zlib:
# Validation bytes not present", connection dropped; If-Match with
# INFLATE's "-gunzip" tag is a 412 too): nothing to compare there.
HTTPD_FAILS = {("/inflate/packed.txt.gz", n)
               for n in ("im-own", "im-bogus", "ius-old")}
REWRITING_CASES = [(p, c) for p in REWRITING for c in CONDITIONALS
                   if (p, c[0]) not in HTTPD_FAILS]


@pytest.mark.parametrize("path,case", REWRITING_CASES,
                         ids=["%s-%s" % (p, c[0]) for p, c in REWRITING_CASES])
@pytest.mark.parametrize("ae", ["identity", "gzip, br"])
def test_rewriting_filters_left_alone(twin, path, case, ae):
    """Where a filter may rewrite the body, the response is httpd's own."""
    name, method, make = case
    twin.check(method, path, own_validators(
        twin, path, lambda t, lm: [("Accept-Encoding", ae)] + make(t, lm)),
        expect="alone")


def test_rewriting_filters_do_rewrite(twin):
    """The filters are really at work (else the test above proves little)."""
    checks = {"/subst/f.txt": b"HOWDY", "/sed/f.txt": b"planet",
              "/ext/f.txt": b"HELLO WORLD", "/chain/f.txt": b"chain",
              "/charset/latin.txt": "caf\u00e9".encode("latin-1"),
              "/inflate/packed.txt.gz": b"Hello world"}
    for path, want in checks.items():
        on, off = twin.pair("GET", path)
        assert on.status == 200 and want in on.body, (path, on)


@pytest.mark.parametrize("path", ["/gz/f.txt", "/br/f.txt", "/bytype/f.txt",
                                  "/bytype/f.html", "/plain/f.txt"])
@pytest.mark.parametrize("name,method,make", SAFE, ids=[c[0] for c in SAFE])
@pytest.mark.parametrize("ae", ["identity", "gzip", "br", "gzip, br"])
def test_compression_is_ours(twin, path, name, method, make, ae):
    """Compressed or not, the module's response differs from core's only in
    the ETag, whose coding suffix is the filter's."""
    data = TEXT if path.endswith(".txt") else b"<p>" + TEXT + b"</p>\n"
    twin.check(method, path, own_validators(
        twin, path, lambda t, lm: [("Accept-Encoding", ae)] + make(t, lm)),
        expect="ours", data=data)
