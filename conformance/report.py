"""Sorting each server's disagreements into categories, the disagreements
of mod_condcache that are explained (and why), and RESULTS.md."""
import itertools

import matrix
import servers


class Outcome:
    """One case sent to one server: the headers sent, RFC 9110's answer
    and the server's."""

    def __init__(self, case, headers, expected, reason, got):
        self.case = case
        self.headers = headers
        self.expected = expected
        self.reason = reason
        self.got = got

    @property
    def agrees(self):
        return self.expected == self.got


class ServerResult:
    def __init__(self, server):
        self.letter = server.letter
        self.name = server.name
        self.title = server.title
        self.is_module = server.is_module
        self.version = ""
        self.etag = None
        self.last_modified = None
        self.error = None          # why it did not start or run
        self.outcomes = []

    @property
    def disagreements(self):
        return [o for o in self.outcomes if not o.agrees]


def minimal_disagreement(outcome, by_key):
    """The outcome of the smallest part of `outcome`'s request (a subset of
    its fields, same method) that the server also gets wrong: the
    combination of fields that causes the disagreement (a server that
    ignores If-Match answers 200 to If-Match alone, 304 when If-None-Match
    matches too: one cause).  The matrix holds every such subset, since
    "absent" is a kind of every field."""
    fields = sorted(outcome.case.kinds.items(),
                    key=lambda item: matrix.FIELD_ORDER.index(item[0]))
    for size in range(len(fields) + 1):
        for subset in itertools.combinations(fields, size):
            part = by_key.get(matrix.Case(outcome.case.method,
                                          dict(subset)).key)
            if part is not None and not part.agrees:
                return part
    return outcome


class Category:
    """Disagreements that share their minimal disagreeing request (the
    methods aside): one way a server departs from RFC 9110."""

    def __init__(self, root):
        self.root = root           # a minimal disagreeing outcome
        self.members = []
        self.methods = set()

    @property
    def label(self):
        fields = ", ".join("%s %s" % (f, self.root.case.kinds[f])
                           for f in matrix.FIELD_ORDER
                           if f in self.root.case.kinds)
        return "%s %s: expected %d, got %d" % (
            "/".join(m for m in matrix.METHODS if m in self.methods),
            fields or "no conditional fields", self.root.expected,
            self.root.got)


def categories(outcomes):
    """The server's disagreements sorted into Categories, largest first."""
    by_key = {o.case.key: o for o in outcomes}
    groups = {}
    for o in outcomes:
        if o.agrees:
            continue
        root = minimal_disagreement(o, by_key)
        key = root.case.key[1:]
        category = groups.get(key)
        if category is None or (root.case.method == "GET" and
                                category.root.case.method != "GET"):
            # the GET form is the example when there is one
            replaced = category
            category = groups[key] = Category(root)
            if replaced:
                category.members = replaced.members
                category.methods = replaced.methods
        category.members.append(o)
        category.methods.add(o.case.method)
    return sorted(groups.values(), key=lambda c: -len(c.members))


# --------------------------------------------------------------------------
# mod_condcache's disagreements that are not the module's doing

class Explanation:
    def __init__(self, label, text, applies):
        self.label = label
        self.text = text
        self.applies = applies


EXPLANATIONS = [
    Explanation(
        "HEAD with Range answers 206",
        "RFC 9110 14.2 defines Range for GET only, so a HEAD with Range "
        "should answer as without it (200). httpd treats HEAD as GET "
        "(r->method_number is M_GET, r->header_only set) and its "
        "byte-range filter, which the module's responses pass through "
        "exactly as core's do, turns the response into a 206. Core Apache "
        "(server b) answers the same request the same way; the harness "
        "checks that when b is run.",
        lambda o: (o.case.method == "HEAD" and "Range" in o.case.kinds
                   and o.expected == 200 and o.got == 206)),
]


def explain(outcome, core):
    """The Explanation of a mod_condcache disagreement, or None.  One
    that blames httpd must see core Apache answer the same (`core`: its
    status per case key) when core's results are there to compare."""
    for explanation in EXPLANATIONS:
        if not explanation.applies(outcome):
            continue
        core_status = core.get(outcome.case.key)
        if core_status is None or core_status == outcome.got:
            return explanation
    return None


def core_statuses(results):
    """Core Apache's status per case key, when core Apache ran."""
    for r in results:
        if r.name == servers.CORE_SERVER:
            return {o.case.key: o.got for o in r.outcomes}
    return {}


def unexplained_module_disagreements(results):
    """(server name, outcome) of every mod_condcache disagreement that no
    Explanation covers."""
    core = core_statuses(results)
    return [(r.name, o) for r in results if r.is_module
            for o in r.disagreements if explain(o, core) is None]


# --------------------------------------------------------------------------
# RESULTS.md

def request_text(outcome):
    return "<br>".join(["`%s %s`" % (outcome.case.method, matrix.RESOURCE)] +
                       ["`%s: %s`" % (k, v)
                        for k, v in outcome.headers.items()])


def summary_text(category):
    return "%s (%d cases)" % (category.label, len(category.members))


def markdown(results, command, case_count, file_info):
    core = core_statuses(results)
    lines = [
        "# Conditional-request conformance results",
        "",
        "Generated by `%s` (%d cases per server). "
        "Do not edit: rerun the command." % (command, case_count),
        "",
        "Every server serves the same file, %s. Each case is a GET or HEAD "
        "with some of If-Match, If-None-Match, If-Modified-Since, "
        "If-Unmodified-Since, Range and If-Range; the kinds of value "
        "(match, weak, before, ...) are relative to the validators that "
        "server sent for an unconditional GET (conformance/README.md lists "
        "them). The expected status comes from RFC 9110 "
        "(conformance/rfc9110.py, `expected()`); only the status code is "
        "compared." % file_info,
        "",
        "A disagreement category is the smallest combination of fields "
        "(a subset of a failing request's) that the server also gets "
        "wrong: each failing case counts in the category of its own "
        "smallest such subset, shown with its expected and received "
        "status (the larger requests of a category may be answered "
        "differently, for the same cause).",
        "",
        "## Summary",
        "",
        "| server | agree / total | main disagreement categories |",
        "|---|---|---|",
    ]
    for r in results:
        if r.error:
            lines.append("| %s. %s | did not run | %s |" % (
                r.letter, r.title, r.error.splitlines()[0]))
            continue
        cats = categories(r.outcomes)
        main = "<br>".join(summary_text(c) for c in cats[:3])
        if len(cats) > 3:
            main += "<br>(%d more categories)" % (len(cats) - 3)
        lines.append("| %s. %s | %d / %d | %s |" % (
            r.letter, r.title,
            len(r.outcomes) - len(r.disagreements), len(r.outcomes),
            main or "none"))
    for r in results:
        lines += ["", "## %s. %s" % (r.letter, r.title), ""]
        if r.error:
            lines += ["Did not run:", "", "```", r.error, "```"]
            continue
        lines += ["%s; ETag `%s`, Last-Modified `%s`." % (
                      r.version, r.etag, r.last_modified), "",
                  "%d of %d cases agree." % (
                      len(r.outcomes) - len(r.disagreements),
                      len(r.outcomes))]
        cats = categories(r.outcomes)
        if not cats:
            continue
        lines += ["", "| cases | smallest disagreeing request | expected | "
                  "got | RFC 9110 rule for the expected status | example "
                  "request |" + (" explained |" if r.is_module else ""),
                  "|---|---|---|---|---|---|" +
                  ("---|" if r.is_module else "")]
        for c in cats:
            row = "| %d | %s | %d | %d | %s | %s |" % (
                len(c.members), c.label.split(":")[0], c.root.expected,
                c.root.got, c.root.reason, request_text(c.root))
            if r.is_module:
                labels = {getattr(explain(o, core), "label", "**no**")
                          for o in c.members}
                row += " %s |" % ", ".join(sorted(labels))
            lines.append(row)
        if r.is_module:
            for explanation in EXPLANATIONS:
                if any(explain(o, core) is explanation
                       for o in r.disagreements):
                    lines += ["", "*%s*: %s" % (explanation.label,
                                                explanation.text)]
    return "\n".join(lines) + "\n"
