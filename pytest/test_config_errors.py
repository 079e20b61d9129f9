"""Bad directive arguments and misplaced directives fail at config time
with a message naming the directive."""
import os
import re

import pytest


def directory(srv, *lines):
    return "<Directory %s>\n  CondCache On\n  %s\n</Directory>" % (
        srv.docroot, "\n  ".join(lines))


BAD = [
    ("CondCacheMaxAge", lambda s: directory(s, "CondCacheMaxAge -5")),
    ("CondCacheMaxAge", lambda s: directory(s, "CondCacheMaxAge abc")),
    ("CondCacheMaxAge", lambda s: directory(s, "CondCacheMaxAge 12abc")),
    ("CondCacheMaxAge", lambda s: "CondCacheMaxAge -1"),
    ("CondCacheEntries", lambda s: "CondCacheEntries 0"),
    ("CondCacheEntries", lambda s: "CondCacheEntries -3"),
    ("CondCacheEntries", lambda s: "CondCacheEntries lots"),
    ("CondCacheDigest", lambda s: directory(s, "CondCacheDigest foo")),
    ("CondCacheDigest", lambda s: "CondCacheDigest crc32"),
    ("CondCacheMaxFileSize", lambda s: directory(s, "CondCacheMaxFileSize 0")),
    ("CondCacheMaxFileSize", lambda s: directory(s, "CondCacheMaxFileSize -1")),
    ("CondCacheMaxFileSize", lambda s: directory(s, "CondCacheMaxFileSize x")),
    ("CondCache", lambda s: directory(s, "CondCache maybe")),
    ("CondCacheEntries", lambda s: """
<VirtualHost 127.0.0.1:%d>
    ServerName v.test
    CondCacheEntries 1024
</VirtualHost>""" % s.port),
    ("CondCacheEntries", lambda s: directory(s, "CondCacheEntries 1024")),
    ("CondCacheEntries", lambda s: "<Location /x>\n CondCacheEntries 1024\n"
                                   "</Location>"),
]


@pytest.mark.parametrize("directive,conf", BAD,
                         ids=["%d-%s" % (i, d) for i, (d, _) in
                              enumerate(BAD)])
def test_bad_config_rejected(new_server, directive, conf):
    srv = new_server("cfgerr", conf, start=False)
    rc, out = srv.config_test()
    assert rc != 0, out
    # the message itself must name the directive (the path of the config
    # file, which contains "condcache", does not count)
    msg = out.replace(srv.conf_path, "<conf>")
    assert re.search(r"\b%s\b" % directive, msg, re.I), out
    assert "Syntax OK" not in out


def test_bad_config_start_fails(new_server):
    srv = new_server("cfgstart", lambda s: directory(s, "CondCacheMaxAge abc"),
                     start=False)
    p = srv.start(check=False)
    assert p.returncode != 0
    assert "condcachemaxage" in (p.stdout + p.stderr).lower()
    assert not os.path.exists(srv.pid_file)


def test_good_config_accepted(new_server):
    conf = lambda s: """
CondCacheEntries 4096
CondCache On
CondCacheDigest md5
<VirtualHost 127.0.0.1:{port}>
    ServerName v.test
    CondCache On
    CondCacheDigest sha256
    CondCacheMaxAge 10
    CondCacheNoCache On
    CondCacheNoStore Off
    CondCacheMaxFileSize 123456789
</VirtualHost>
<Directory {r}>
    CondCache On
    CondCacheDigest xxh128
    CondCacheMaxAge 31536000
    CondCacheNoCache Off
    CondCacheNoStore Off
    CondCacheMaxFileSize 1
</Directory>
""".format(port=s.port, r=s.docroot)
    srv = new_server("cfgok", conf, start=False)
    rc, out = srv.config_test()
    assert rc == 0, out
    assert "Syntax OK" in out
