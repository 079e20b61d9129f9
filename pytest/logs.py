"""What a server writes and shows about itself, and how to read it:

  - the harness's access log: its LogFormat and its parser (entries as
    dicts by field name), and the module's note of one request;
  - the ecosystem tests' second access log (the validators each request
    carried), read with EcoLog;
  - the module's notes, and which of them say the module produced the
    response;
  - the status page: its counters and the ?auto parser;
  - the error_log: reading it from an offset, the lines that fail a test
    (check_error_lines and the crash regexes), graceful restarts done.

The module that owns a log format is the one that parses it: nothing
else splits these lines.  Standard library only, so bench/run can use it.
"""
import os
import re
import time

from clients import REQ_ID_HEADER, RawConnection

# --------------------------------------------------------------------------
# Access logs


def _log_format(columns):
    """The quoted LogFormat string of (field, format) columns, tab
    separated (mod_log_config escapes a tab in a value as \\t)."""
    return '"%s"' % "\\t".join(spec for _, spec in columns)


# The harness's access log (conf/httpd.conf of every test server)
ACCESS_COLUMNS = (
    ("time", "%{%s}t"), ("pid", "%P"), ("method", "%m"), ("uri", "%U%q"),
    ("status", "%>s"), ("bytes", "%B"), ("note", "%{condcache}n"),
    ("etag", "%{ETag}o"), ("req_id", "%{" + REQ_ID_HEADER + "}i"),
)
ACCESS_FIELDS = tuple(f for f, _ in ACCESS_COLUMNS)
LOG_FORMAT = _log_format(ACCESS_COLUMNS)

# The ecosystem tests' second access log: the request's validators and the
# response's headers (eco_log_conf, EcoLog)
ECO_COLUMNS = (
    ("status", "%>s"), ("method", "%m"), ("uri", "%U%q"),
    ("inm", "%{If-None-Match}i"), ("ims", "%{If-Modified-Since}i"),
    ("etag", "%{ETag}o"), ("lastmod", "%{Last-Modified}o"),
    ("vary", "%{Vary}o"), ("cenc", "%{Content-Encoding}o"),
    ("note", "%{condcache}n"), ("ua", "%{User-Agent}i"),
    ("req_id", "%{" + REQ_ID_HEADER + "}i"), ("pid", "%P"),
)
ECO_FIELDS = tuple(f for f, _ in ECO_COLUMNS)
ECO_LOG_FORMAT = _log_format(ECO_COLUMNS)


def _unescape(value):
    # mod_log_config writes " as \" and \ as \\ (ap_escape_logitem)
    return re.sub(r'\\(["\\])', r"\1", value)


def read_entries(path, fields):
    """The complete lines of an access log as dicts by field name, values
    unescaped strings ("-" where httpd had nothing); [] before the first
    line is written."""
    try:
        with open(path, "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    out = []
    for line in data.splitlines():
        parts = line.split("\t")
        if len(parts) == len(fields):       # not a line still being written
            out.append(dict(zip(fields, map(_unescape, parts))))
    return out


def access_entries(path):
    """Entries of the harness's access log (all values strings)."""
    return read_entries(path, ACCESS_FIELDS)


def final_entries(path, req_id):
    """The access log entries of request `req_id` but interim ones: an h2c
    upgrade logs the request twice under its id, answered 101 on HTTP/1.1
    and then again as HTTP/2 stream 1."""
    return [e for e in access_entries(path)
            if e["req_id"] == req_id and not e["status"].startswith("1")]


def note_of(path, req_id, timeout=5.0):
    """The module's note (`%{condcache}n`, "-" for none) of the final
    response to request `req_id`, or None when no line for it appears
    within `timeout` (the line is written just after the response)."""
    deadline = time.monotonic() + timeout
    while True:
        got = final_entries(path, req_id)
        if got:
            return got[-1]["note"]
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)


def notes_of(path, req_ids, timeout=5.0):
    """The notes of many requests at once ({req_id: note}), reading the
    log once per round instead of once per request; ids without a line
    within `timeout` are missing from the result."""
    want = set(req_ids)
    deadline = time.monotonic() + timeout
    while True:
        got = {}
        for e in access_entries(path):
            if e["req_id"] in want and not e["status"].startswith("1"):
                got[e["req_id"]] = e["note"]
        if len(got) == len(want) or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def eco_log_conf(srv, name="eco_log"):
    """Config lines for a second CustomLog, logs/<name>, in ECO format.
    Read it with EcoLog(srv)."""
    return ('LogFormat %s ecolog\nCustomLog %s ecolog\n'
            % (ECO_LOG_FORMAT, os.path.join(srv.logs_dir, name)))


def _request_order(entry):
    m = re.match(r"r\d+-(\d+)$", entry.get("req_id") or "")
    return int(m.group(1)) if m else float("inf")


class EcoLog:
    """The extra access log of one server: entries with None where httpd
    wrote "-" and the status as an int."""

    def __init__(self, srv, name="eco_log"):
        self.path = os.path.join(srv.logs_dir, name)

    def entries(self):
        out = []
        for e in read_entries(self.path, ECO_FIELDS):
            e = {k: None if v == "-" else v for k, v in e.items()}
            e["status"] = int(e["status"])
            out.append(e)
        return out

    def mark(self):
        """A position: entries(since=mark) are the ones logged after it."""
        return len(self.entries())

    def since(self, mark):
        """Entries after `mark`, in the order the requests were sent: each
        process writes its line when its response is done, so two children
        can log out of order; the harness's request id says the order."""
        return sorted(self.entries()[mark:], key=_request_order)

    def wait(self, pred, count=1, since=0, timeout=10):
        """Waits until at least `count` entries after `since` satisfy
        `pred` and returns them (the log line is written after the client
        has its response, so it may lag a little)."""
        deadline = time.time() + timeout
        while True:
            got = [e for e in self.since(since) if pred(e)]
            if len(got) >= count or time.time() > deadline:
                return got
            time.sleep(0.02)

    def for_path(self, path, since=0, count=1, timeout=10):
        return self.wait(lambda e: e["uri"] == path, count, since, timeout)


# --------------------------------------------------------------------------
# The module's notes

# for responses the module produced
PRODUCED_NOTES = ("hit", "miss", "shared", "uncached", "changed", "busy",
                  "too-large", "error", "cancelled", "no-store", "no-etag")
# for those it left to httpd ("-": no note at all)
LEFT_NOTES = ("bypass", "-")


# --------------------------------------------------------------------------
# The status page

STATUS_PATH = "/condcache-status?auto"

# the ?auto page's words, then its counters, in the order the page lists
# them
STATUS_WORDS = ("TableFile", "TableState", "WarmUpState")
STATUS_COUNTERS = (
    "Capacity", "EntriesInUse", "Hits", "Misses", "Inserts", "Evictions",
    "FilesHashed", "BytesHashed", "Waits", "Uncached", "LockRecoveries",
    "VariantsServed", "VariantsChecked", "VariantsRejected", "BytesDecoded",
    "SharedMemoryBytes", "BytesPerEntry",
    "QueueWaiting", "QueueAdded", "QueueDone", "QueueStored", "QueueBytes",
    "QueueFull", "WarmUpFiles", "WarmUpHashed", "WarmUpBytes",
    "WarmUpMilliseconds", "WorkerPid",
)
STATUS_KEYS = STATUS_WORDS + STATUS_COUNTERS


def status_items(text, prefix=""):
    """The `Key: value` lines of a ?auto page whose key starts with
    `prefix` (mod_status's page carries the module's as "CondCacheHits:"),
    in order, as (key without prefix, int value or the string)."""
    out = []
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if not sep or not k.startswith(prefix):
            continue
        v = v.strip()
        try:
            v = int(v)
        except ValueError:
            pass
        out.append((k[len(prefix):].strip(), v))
    return out


def parse_status(text):
    """The module's ?auto page as a dict."""
    return dict(status_items(text))


def fetch_status(host, port, path=STATUS_PATH, timeout=10):
    """GETs the status page (on a connection of its own, so as not to
    disturb a keep-alive client) and parses it."""
    with RawConnection(host, port, timeout=timeout) as c:
        r = c.request("GET", path, close=True)
    if r.status != 200:
        raise RuntimeError("status handler on port %d answered %d"
                           % (port, r.status))
    return parse_status(r.body.decode("latin-1"))


# --------------------------------------------------------------------------
# The error_log

ERROR_LEVEL_RE = re.compile(r"\[([\w.-]*):(emerg|alert|crit|error)\]")
CRASH_RE = re.compile(r"Segmentation fault|exit signal|AH00052|"
                      r"\[core:crit\]|\[core:alert\]|\[[\w.-]*:emerg\]")
HARD_CRASH_RE = re.compile(r"Segmentation fault|exit signal|AH00052")


def check_error_lines(lines, expected=()):
    """Returns the lines that make a test fail: crash indicators and
    error-or-worse lines not matching any of `expected` (regexes).
    Hard crash lines (segfault, exit signal, AH00052) are never allowed."""
    bad = []
    pats = [re.compile(p) for p in expected]
    for line in lines:
        if HARD_CRASH_RE.search(line):
            bad.append(line)
            continue
        if CRASH_RE.search(line) or ERROR_LEVEL_RE.search(line):
            if not any(p.search(line) for p in pats):
                bad.append(line)
    return bad


def read_text(path):
    """A log's text ("" before it exists)."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def size_of(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def lines_since(path, offset):
    """(complete lines written after byte `offset`, the offset after
    them): a line still being written is left for the next call."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    return data[:end].decode("utf-8", "replace").splitlines(), offset + end


def count_resumes(path):
    """How many times the server has (re)started: a graceful restart is
    done when a new "resuming normal operations" line is written."""
    return read_text(path).count("resuming normal operations")
