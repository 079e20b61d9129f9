"""What RFC 9110 says a GET or HEAD of a static file should answer, given
its conditional and range header fields: `expected()`, the one place the
rules live, and the field parsers it needs (entity-tag lists, HTTP-dates).

Section numbers are RFC 9110's (June 2022).
"""
import calendar
import email.utils
import re

# 8.8.3: entity-tag = [ weak ] opaque-tag; weak = %s"W/" (case-sensitive);
# opaque-tag = DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E / obs-text
ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')

# 5.6.7: the three forms a recipient must accept
MONTHS = {m: i + 1 for i, m in enumerate(
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}
IMF_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) ([A-Z][a-z]{2}) (\d{4}) "
    r"(\d\d):(\d\d):(\d\d) GMT")
RFC850_DATE = re.compile(
    r"(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), "
    r"(\d\d)-([A-Z][a-z]{2})-(\d\d) (\d\d):(\d\d):(\d\d) GMT")
ASCTIME_DATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) "
    r"(\d\d):(\d\d):(\d\d) (\d{4})")


def parse_http_date(text):
    """Seconds since the epoch, or None when `text` is not one HTTP-date
    (5.6.7; a list of dates is not a valid date, 13.1.3 and 13.1.4)."""
    text = text.strip(" \t")
    m = IMF_FIXDATE.fullmatch(text)
    if m:
        day, mon, year, hh, mi, ss = m.group(2, 3, 4, 5, 6, 7)
    else:
        m = RFC850_DATE.fullmatch(text)
        if m:
            day, mon, yy, hh, mi, ss = m.group(2, 3, 4, 5, 6, 7)
            # 5.6.7: a two-digit year more than 50 years ahead is in the past
            year = 2000 + int(yy)
            if year > 2050:
                year -= 100
        else:
            m = ASCTIME_DATE.fullmatch(text)
            if not m:
                return None
            mon, day, hh, mi, ss, year = m.group(2, 3, 4, 5, 6, 7)
    if mon not in MONTHS:
        return None
    fields = (int(year), MONTHS[mon], int(day), int(hh), int(mi), int(ss))
    if not (1 <= fields[2] <= 31 and fields[3] < 24 and fields[4] < 60
            and fields[5] < 61):
        return None
    return calendar.timegm(fields)


def format_http_date(seconds):
    """IMF-fixdate (5.6.7), the form every server here sends."""
    return email.utils.formatdate(seconds, usegmt=True)


def parse_entity_tag(text):
    """(weak, opaque) of one entity-tag, or None (8.8.3)."""
    m = ENTITY_TAG.fullmatch(text.strip(" \t"))
    return (bool(m.group(1)), m.group(2)) if m else None


def parse_tag_list(text):
    """'*' or the list of (weak, opaque) members of an If-Match or
    If-None-Match value (13.1.1, 13.1.2: "*" / #entity-tag).  Members that
    are not entity-tags are dropped: a value with none left is a list that
    matches nothing.  5.6.1: empty list elements are ignored."""
    if text.strip(" \t") == "*":
        return "*"
    members = []
    # commas may appear inside an opaque-tag: take quoted strings whole
    for m in re.finditer(r'\s*((?:W/)?"[^"]*"|[^,]*)\s*(?:,|$)', text):
        member = parse_entity_tag(m.group(1)) if m.group(1) else None
        if member:
            members.append(member)
    return members


def strong_match(a, b):
    """8.8.3.2: both strong and the same opaque-tag."""
    return not a[0] and not b[0] and a[1] == b[1]


def weak_match(a, b):
    """8.8.3.2: the same opaque-tag, either or both may be weak."""
    return a[1] == b[1]


def expected(method, headers, etag, last_modified):
    """(status, reason) RFC 9110 requires for `method` (GET or HEAD) with
    request `headers` (field name -> value, absent fields left out) on a
    file whose current validators are `etag` (field value or None) and
    `last_modified` (epoch seconds or None); the file exists and is big
    enough for any range asked here (bytes=0-9).  `reason` names the rule
    that decided, with its section."""
    tag = parse_entity_tag(etag) if etag else None
    ignored = []

    def decided(status, why):
        if ignored:
            why += "; ignored: " + ", ".join(ignored)
        return status, why

    if_match = headers.get("If-Match")
    if_none_match = headers.get("If-None-Match")
    if_modified_since = headers.get("If-Modified-Since")
    if_unmodified_since = headers.get("If-Unmodified-Since")

    # 13.2.2 step 1: If-Match.  13.1.1: "*" is true when a current
    # representation exists (it does); otherwise true when any member
    # matches by STRONG comparison.  False: 412.
    if if_match is not None:
        members = parse_tag_list(if_match)
        if members == "*":
            pass
        elif not (tag and any(strong_match(m, tag) for m in members)):
            return decided(412, "13.1.1 If-Match: no member matches by "
                                "strong comparison -> 412")
    # 13.2.2 step 2: If-Unmodified-Since, only when If-Match is absent
    # (13.1.4: a recipient MUST ignore it when If-Match is present, and
    # MUST ignore a value that is not a valid HTTP-date).  False when the
    # representation was modified after the date: 412.
    if if_unmodified_since is not None:
        date = parse_http_date(if_unmodified_since)
        if if_match is not None:
            ignored.append("If-Unmodified-Since (If-Match present, 13.1.4)")
        elif date is None:
            ignored.append("If-Unmodified-Since (invalid date, 13.1.4)")
        elif last_modified is not None and last_modified > date:
            return decided(412, "13.1.4 If-Unmodified-Since: modified "
                                "after the date -> 412")
    # 13.2.2 step 3: If-None-Match.  13.1.2: WEAK comparison; "*" matches
    # any current representation.  False (a match) on GET/HEAD: 304.
    if if_none_match is not None:
        members = parse_tag_list(if_none_match)
        if members == "*":
            return decided(304, "13.1.2 If-None-Match: * with a current "
                                "representation -> 304")
        if tag and any(weak_match(m, tag) for m in members):
            return decided(304, "13.1.2 If-None-Match: a member matches by "
                                "weak comparison -> 304")
    # 13.2.2 step 4: If-Modified-Since, GET/HEAD only and only without
    # If-None-Match (13.1.3: MUST ignore it then, and when the value is not
    # a valid HTTP-date).  False (not modified since): 304.
    if if_modified_since is not None:
        date = parse_http_date(if_modified_since)
        if if_none_match is not None:
            ignored.append("If-Modified-Since (If-None-Match present, "
                           "13.1.3)")
        elif date is None:
            ignored.append("If-Modified-Since (invalid date, 13.1.3)")
        elif last_modified is not None and last_modified <= date:
            return decided(304, "13.1.3 If-Modified-Since: not modified "
                                "since the date -> 304")
    # 13.2.2 step 5 and 14.2: Range is defined for GET only: a server MUST
    # ignore it on other methods (HEAD answers as without Range: 200).
    if "Range" in headers and method != "GET":
        ignored.append("Range (not GET, 14.2)")
    elif "Range" in headers:
        if_range = headers.get("If-Range")
        if if_range is None:
            return decided(206, "14.2 Range on GET, no If-Range -> 206")
        # 13.1.5: an entity-tag is compared STRONGLY (a weak tag never
        # matches); a date must exactly match Last-Modified (a strong
        # validator here: the files are old, 8.8.2.2); anything else is
        # false.  False: the Range is ignored, the whole 200.
        range_tag = parse_entity_tag(if_range)
        range_date = parse_http_date(if_range)
        if range_tag is not None:
            if tag and strong_match(range_tag, tag):
                return decided(206, "13.1.5 If-Range: entity-tag matches by "
                                    "strong comparison -> 206")
            ignored.append("Range (If-Range entity-tag is not a strong "
                           "match, 13.1.5)")
        elif range_date is not None:
            if range_date == last_modified:
                return decided(206, "13.1.5 If-Range: date equals "
                                    "Last-Modified -> 206")
            ignored.append("Range (If-Range date is not Last-Modified, "
                           "13.1.5)")
        else:
            ignored.append("Range (If-Range is neither an entity-tag nor "
                           "a date, 13.1.5)")
    elif "If-Range" in headers:
        ignored.append("If-Range (no Range, 13.1.5)")
    # 13.2.2 step 6: perform the method
    return decided(200, "13.2.2 step 6: no precondition false -> 200")
