"""The requests the harness sends: each case is a method and, per field, a
*kind* of value ("match", "before", ...), turned into real header values
with each server's own validators (`headers_for`), so that "matching"
means matching that server's ETag and Last-Modified.
"""
import itertools

import rfc9110

RESOURCE = "/resource.txt"
RANGE = "bytes=0-9"
OTHER_TAG = '"conformance-other-tag"'
INVALID_DATE = "not-a-date"
HOUR = 3600

IF_MATCH = "If-Match"
IF_NONE_MATCH = "If-None-Match"
IF_MODIFIED_SINCE = "If-Modified-Since"
IF_UNMODIFIED_SINCE = "If-Unmodified-Since"
IF_RANGE = "If-Range"
FIELD_ORDER = [IF_MATCH, IF_UNMODIFIED_SINCE, IF_NONE_MATCH,
               IF_MODIFIED_SINCE, "Range", IF_RANGE]

TAG_KINDS = ["absent", "match", "other", "*", "weak", "list", "garbage"]
DATE_KINDS = ["absent", "before", "equal", "after", "invalid"]
IF_RANGE_KINDS = ["absent", "strong", "weak", "other", "date-equal",
                  "date-other", "garbage"]
METHODS = ["GET", "HEAD"]


class Validators:
    """A server's current ETag (field value or None) and Last-Modified
    (epoch seconds or None), from an unconditional GET."""

    def __init__(self, etag, last_modified):
        self.etag = etag
        self.last_modified = last_modified

    def tag_value(self, kind):
        etag = self.etag or '"no-etag-sent"'
        opaque = etag[2:] if etag.startswith("W/") else etag
        return {
            "match": etag,
            "other": OTHER_TAG,
            "*": "*",
            "weak": "W/" + opaque,
            "list": OTHER_TAG + ", " + etag,
            # the tag without its quotes: not an entity-tag (8.8.3), so it
            # must not match, however lenient a parser is tempted to be
            "garbage": opaque.strip('"'),
        }[kind]

    def date_value(self, kind):
        if kind == "invalid":
            return INVALID_DATE
        last_modified = self.last_modified or 0
        return rfc9110.format_http_date(last_modified + {
            "before": -HOUR, "equal": 0, "after": HOUR}[kind])

    def if_range_value(self, kind):
        return {
            "strong": self.tag_value("match"),
            "weak": self.tag_value("weak"),
            "other": OTHER_TAG,
            "date-equal": self.date_value("equal"),
            "date-other": self.date_value("before"),
            "garbage": INVALID_DATE,
        }[kind]


class Case:
    """A method and the kind of value of each field present."""

    def __init__(self, method, kinds):
        self.method = method
        self.kinds = {f: k for f, k in kinds.items() if k != "absent"}
        self.key = (method,) + tuple(self.kinds.get(f, "absent")
                                     for f in FIELD_ORDER)

    def headers_for(self, validators):
        headers = {}
        for field, kind in self.kinds.items():
            if field in (IF_MATCH, IF_NONE_MATCH):
                headers[field] = validators.tag_value(kind)
            elif field in (IF_MODIFIED_SINCE, IF_UNMODIFIED_SINCE):
                headers[field] = validators.date_value(kind)
            elif field == IF_RANGE:
                headers[field] = validators.if_range_value(kind)
            else:
                headers[field] = RANGE
        return {f: headers[f] for f in FIELD_ORDER if f in headers}

    def describe(self):
        return "%s %s" % (self.method, " ".join(
            "%s=%s" % (f, self.kinds[f]) for f in FIELD_ORDER
            if f in self.kinds) or "(no conditional fields)")


def cross(method_list, **fields_kinds):
    names = {"im": IF_MATCH, "inm": IF_NONE_MATCH, "ims": IF_MODIFIED_SINCE,
             "ius": IF_UNMODIFIED_SINCE, "range": "Range",
             "if_range": IF_RANGE}
    keys = list(fields_kinds)
    for method in method_list:
        for combo in itertools.product(*(fields_kinds[k] for k in keys)):
            yield Case(method, {names[k]: v for k, v in zip(keys, combo)})


def precondition_cases():
    """GET and HEAD x If-Match x If-None-Match x If-Modified-Since x
    If-Unmodified-Since, every kind of each: 2 x 7 x 7 x 5 x 5 = 2450."""
    return cross(METHODS, im=TAG_KINDS, inm=TAG_KINDS, ims=DATE_KINDS,
                 ius=DATE_KINDS)


def range_cases():
    """GET and HEAD x Range x If-Range, alone and after each kind of
    precondition outcome (none, passed, failed)."""
    # a precondition of each outcome: none, true, false (-> 412 or 304)
    preconditions = [{}, {"im": ["match"]}, {"im": ["other"]},
                     {"inm": ["match"]}, {"inm": ["other"]},
                     {"ims": ["equal"]}, {"ims": ["before"]},
                     {"ius": ["before"]}, {"ius": ["equal"]}]
    for pre in preconditions:
        yield from cross(METHODS, range=["absent", RANGE],
                         if_range=IF_RANGE_KINDS, **pre)


def all_cases():
    """Every case once, in a stable order."""
    seen = set()
    for case in itertools.chain(precondition_cases(), range_cases()):
        if case.key not in seen:
            seen.add(case.key)
            yield case
