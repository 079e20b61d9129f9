"""A farm: two httpd nodes with mod_condcache, each with its own copy of
the site (other inodes, other mtimes), behind mod_proxy_balancer.  A tag a
client got from one node revalidates with a 304 on the other, whichever
way the balancer routes."""
import os

import pytest

from clients import build_request, RawConnection
from logs import eco_log_conf, EcoLog
from tags import core_meta_tag, sha1_tag


OLD = 1600000000
SITE = {
    "assets/app.css": b"".join(b".x%d { padding: %dpx }\n" % (i, i)
                               for i in range(800)),
    "assets/app.js": b"console.log('farm');\n" * 300,
    "index.html": b"<!doctype html><title>farm</title><p>farm</p>\n",
}
# node n1 got the files yesterday, n2 today: same bytes, other metadata
MTIMES = {"n1": OLD, "n2": OLD + 86400 + 17}
NODE_MODULES = ["headers"]
FRONT_MODULES = ["proxy", "proxy_http", "proxy_balancer",
                 "lbmethod_byrequests", "slotmem_shm", "headers"]


def get(port, path, headers=()):
    with RawConnection("127.0.0.1", port, timeout=30) as c:
        c.send(build_request("GET", path, list(headers),
                             host="127.0.0.1:%d" % port))
        return c.read_response("GET")


def route(node):
    # mod_proxy_balancer reads the route after the first dot
    return ("Cookie", "ROUTEID=client42.%s" % node)


@pytest.fixture(scope="class")
def farm(env):
    nodes = {}
    made = []
    try:
        for name in ("n1", "n2"):
            def populate(srv, name=name):
                for rel, data in SITE.items():
                    srv.write(rel, data, mtime=MTIMES[name])

            def conf(srv, name=name):
                return eco_log_conf(srv) + """
Header always set X-Node {name}
<Directory {r}>
    CondCache On
    CondCacheNoCache On
</Directory>
""".format(r=srv.docroot, name=name)

            nodes[name] = env.start_server("farm-" + name, conf,
                                       modules=NODE_MODULES,
                                       populate=populate)
            made.append(nodes[name])

        def front_conf(srv):
            return """
<Proxy balancer://farm>
    BalancerMember http://127.0.0.1:{p1} route=n1
    BalancerMember http://127.0.0.1:{p2} route=n2
    ProxySet lbmethod=byrequests stickysession=ROUTEID
</Proxy>
ProxyPass /farm/ balancer://farm/
Header always set X-Route "%{{BALANCER_WORKER_ROUTE}}e"
""".format(p1=nodes["n1"].port, p2=nodes["n2"].port)

        front = env.start_server("farm-front", front_conf,
                             modules=FRONT_MODULES, with_module=False)
        made.append(front)
        yield nodes, front
    finally:
        for s in made:
            s.stop()


class TestFarm:
    def test_copies_differ_in_metadata_not_in_tag(self, farm):
        nodes, _ = farm
        for rel in SITE:
            p1, p2 = (nodes[n].path(rel) for n in ("n1", "n2"))
            s1, s2 = os.stat(p1), os.stat(p2)
            assert (s1.st_dev, s1.st_ino) != (s2.st_dev, s2.st_ino)
            assert s1.st_mtime_ns != s2.st_mtime_ns
            # what core's FileETag would send differs per node ...
            assert core_meta_tag(p1) != core_meta_tag(p2)
            assert core_meta_tag(p1, inode=True) != core_meta_tag(p2, inode=True)
            # ... ours does not
            r1, r2 = (get(nodes[n].port, "/" + rel) for n in ("n1", "n2"))
            assert r1.status == r2.status == 200
            assert r1.header("X-Node") == "n1" and r2.header("X-Node") == "n2"
            assert r1.header("ETag") == r2.header("ETag") == \
                sha1_tag(SITE[rel])
            assert r1.header("Last-Modified") != r2.header("Last-Modified")

    @pytest.mark.parametrize("first,second", [("n1", "n2"), ("n2", "n1")])
    @pytest.mark.parametrize("rel", sorted(SITE))
    def test_tag_from_one_node_304_on_other(self, farm, first, second, rel):
        nodes, front = farm
        path = "/farm/" + rel
        r1 = get(front.port, path, [route(first)])
        assert r1.status == 200
        assert r1.header("X-Node") == first
        assert r1.header("X-Route") == first
        assert r1.body == SITE[rel]
        tag = r1.header("ETag")
        log = EcoLog(nodes[second])
        mark = log.mark()
        r2 = get(front.port, path, [route(second), ("If-None-Match", tag)])
        assert r2.status == 304, r2
        assert r2.header("X-Node") == second
        assert r2.header("ETag") == tag
        got = log.for_path("/" + rel, since=mark)
        assert [(e["status"], e["inm"]) for e in got] == [(304, tag)]

    @pytest.mark.parametrize("first,second", [("n1", "n2"), ("n2", "n1")])
    def test_browser_validators_from_other_node(self, farm, first, second):
        """A browser sends both validators it got; the other node's file is
        older or newer, so the date alone would say "modified" one way.
        If-None-Match decides (RFC 9110 13.1.3): 304 both ways."""
        nodes, front = farm
        path = "/farm/assets/app.css"
        r1 = get(front.port, path, [route(first)])
        assert r1.header("X-Node") == first
        r2 = get(front.port, path, [
            route(second), ("If-None-Match", r1.header("ETag")),
            ("If-Modified-Since", r1.header("Last-Modified"))])
        assert r2.status == 304, r2
        assert r2.header("X-Node") == second
        assert r2.header("ETag") == r1.header("ETag")

    def test_round_robin_all_304(self, farm):
        nodes, front = farm
        path = "/farm/assets/app.js"
        r0 = get(front.port, path)
        assert r0.status == 200
        tag = r0.header("ETag")
        seen = set()
        for _ in range(6):
            r = get(front.port, path, [("If-None-Match", tag)])
            assert r.status == 304, r
            assert r.header("ETag") == tag
            seen.add(r.header("X-Node"))
        # byrequests alternates: both nodes answered
        assert seen == {"n1", "n2"}

    def test_direct_to_nodes(self, farm):
        nodes, _ = farm
        r1 = get(nodes["n1"].port, "/index.html")
        r2 = get(nodes["n2"].port, "/index.html",
                 [("If-None-Match", r1.header("ETag"))])
        assert r2.status == 304
        assert r2.header("ETag") == r1.header("ETag")
