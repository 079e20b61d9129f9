"""HTTP header values the tests send and check: dates in RFC 9110's three
forms (IMF-fixdate, the obsolete RFC 850 and asctime forms a precondition
must still understand) and Cache-Control directives.
"""
import time
from email.utils import formatdate, parsedate_to_datetime


# --------------------------------------------------------------------------
# Dates

def http_date(t=None):
    return formatdate(time.time() if t is None else t, usegmt=True)


def rfc850_date(t):
    return time.strftime("%A, %d-%b-%y %H:%M:%S GMT", time.gmtime(t))


def asctime_date(t):
    s = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(t))
    # asctime pads the day with a space, not a zero
    parts = s.split(" ")
    if parts[2].startswith("0"):
        parts[2] = " " + parts[2][1:]
    return " ".join(parts)


def parse_http_date(value):
    return parsedate_to_datetime(value).timestamp()


# --------------------------------------------------------------------------
# Cache-Control

def parse_cache_control(value):
    """Parses a Cache-Control value (possibly several fields joined with
    ',') into an ordered list of (directive-lower, value-or-None)."""
    out = []
    if value is None:
        return out
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" in part:
            k, v = part.split("=", 1)
            v = v.strip()
            if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
                v = v[1:-1]
            out.append((k.strip().lower(), v))
        else:
            out.append((part.lower(), None))
    return out


def cache_control_dict(value):
    """Like parse_cache_control but as a dict; asserts no directive is
    repeated (a repeated max-age is a bug we want to see)."""
    items = parse_cache_control(value)
    names = [k for k, _ in items]
    assert len(names) == len(set(names)), \
        "repeated Cache-Control directive in %r" % value
    return dict(items)
