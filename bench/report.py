"""bench/report.py: the report half of bench/run.

From the raw measurements of a run (Bench.results, also what --json
writes) it makes the medians, ratios and target checks (summarize), the
Markdown tables printed at the end of a run (markdown, machine_lines,
targets_lines) and, with --write-results, bench/RESULTS.md and the table
between the bench-results markers of bench/README.md and ../README.md
(write_results).  It measures nothing and starts nothing: what the rows
are (the cells below) is shared with bench/run, which imports them.
"""
import os
import shlex
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
KIB, MIB = 1024, 1024 * 1024
SLOW_REQUEST = 0.03   # s: a request this slow alone is run with fewer conns

# What bench/run measures and the rows of the report.
LOAD_CELLS = (
    # key, label, kind, path, size
    ("304-1k", "304 revalidation, 1 KiB", "304", "/f1k.bin", KIB),
    ("304-1m", "304 revalidation, 1 MiB", "304", "/f1m.bin", MIB),
    ("304-16m", "304 revalidation, 16 MiB", "304", "/f16m.bin", 16 * MIB),
    ("200-1k", "200 full response, 1 KiB", "200", "/f1k.bin", KIB),
    ("200-1m", "200 full response, 1 MiB", "200", "/f1m.bin", MIB),
)
# key, label, size, fresh files per round
COLD_SIZES = (("1m", "1 MiB", MIB, 5), ("64m", "64 MiB", 64 * MIB, 2))
GIB = 1024 * MIB
# The cold cells measure hashing in the request: under cold/, every server
# has this CondCacheInlineHashMax (bigger than any cold file); elsewhere C
# keeps the default (1 MiB), so the 16 MiB 304 cell's tag comes from the
# background worker.
COLD_INLINE_MAX = GIB
DEFAULT_INLINE_MAX = MIB
# ttfb: key, label, size, fresh files per round ("once": one file in all,
# full runs only)
TTFB_SIZES = (("64m", "64 MiB", 64 * MIB, "round"),
              ("2g", "2 GiB", 2 * GIB, "once"))
# Targets of the sections the background worker and the table file brought
TARGET_TTFB_RATIO = 1.5         # C's first-byte time / A's, at most
TARGET_TAG_SLACK = 1.0          # s beyond size / standalone throughput
TARGET_WARM_THROUGHPUT = 0.8    # warm-up GB/s / standalone, at least
TARGET_WARM_304 = 0.9           # C/A req/s during the warm-up, at least
TARGET_FILE_BYTES_PER_ENTRY = 128
TARGET_RPS = 0.95               # C/A req/s of the load cells, at least
# integrity: `CondCacheIntegrity sha-256` in integrity/ (sha1 tags), where
# the 1 KiB and 1 MiB load cells are run again on A and C (keys of their
# own: bench/run keeps what each server must answer per key)
INTEGRITY_CELLS = tuple(("integrity-" + key, label, kind,
                         "/integrity" + path, size)
                        for key, label, kind, path, size in LOAD_CELLS
                        if size <= MIB)
INTEGRITY_COLD_SIZE = 64 * MIB  # one fresh file per round, hashed inline
TARGET_INTEGRITY_COLD = 1.1     # C's hash time / (sha1 + sha256 alone)
INTEGRITY_MEM_FILES = 4         # fresh 1 KiB files per kind of tag
# tag digest, subdirectory of integrity/, label, entries per file expected
INTEGRITY_ENTRIES = (
    ("sha1", "", "sha1 tag + sha-256 fields", 2),
    ("sha256", "sha256/", "sha256 tag + sha-256 fields (shared)", 1),
)
TARGET_INTEGRITY_BYTES_PER_ENTRY = 128
# precompressed: `CondCachePrecompressed br gzip` in pre/, where each file
# F has a sidecar F.br (the brotli CLI, its default quality 11).  Files:
# key, label, path of F, size of F (compressible CSS-like text).
PRE_DIR = "pre"
PRE_FILES = (("1k", "1 KiB", "/pre/x1k.css", KIB),
             ("100k", "100 KiB", "/pre/x100k.css", 100 * KIB),
             ("1m", "1 MiB", "/pre/x1m.css", MIB))
# The cells: key, label, kind, file key, servers, servers measured in a
# quick run ("": verified only), target of C/A (None: a report, C against
# mod_brotli).
# Servers: A, the ceiling, serving F.br itself (`GET /pre/x1k.css.br`); C,
# the module, sending F.br in F's place (`GET /pre/x1k.css`); R, A's config
# with mod_brotli compressing F on the fly.  Every request carries
# `Accept-Encoding: br`.
PRE_CELLS = (
    ("pre-200-1k", "200, br sidecar, 1 KiB CSS", "200", "1k", "AC", "AC",
     TARGET_RPS),
    ("pre-200-100k", "200, br sidecar, 100 KiB CSS", "200", "100k", "AC",
     "", TARGET_RPS),
    ("pre-304-1k", "304 for the br variant, 1 KiB CSS", "304", "1k", "AC",
     "", TARGET_RPS),
    ("pre-brotli-1m", "200, br, 1 MiB CSS: sidecar against mod_brotli "
     "compressing on the fly", "200", "1m", "ACR", "CR", None),
)
PRE_ACCEPT = {"Accept-Encoding": "br"}


# --------------------------------------------------------------------------
# Statistics over the rounds

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def spread(xs):
    """(max - min) / median, as a fraction; None for fewer than 2 values."""
    xs = [x for x in xs if x is not None]
    if len(xs) < 2:
        return None
    m = statistics.median(xs)
    return (max(xs) - min(xs)) / m if m else None


def ratio(a, b):
    return a / b if a is not None and b else None


# --------------------------------------------------------------------------
# Formatting

def fmt_rps(x):
    if x is None:
        return "-"
    return "{:,.0f}".format(x) if x >= 100 else "%.1f" % x


def fmt_ratio(x, digits=2):
    return "-" if x is None else ("%%.%df" % digits) % x


def fmt_pct(x):
    return "" if x is None else " ±%.0f%%" % (100 * x)


def fmt_ms(x):
    return "-" if x is None else ("%.2f" % (x * 1e3) if x < 0.1 else
                                  "%.1f" % (x * 1e3))


def fmt_us(x):
    return "-" if x is None else ("%.1f" % x if x < 1000 else
                                  "{:,.0f}".format(x))


def fmt_count(n):
    return "-" if n is None else "{:,}".format(n)


def fmt_bytes(n):
    if n >= MIB:
        return "{:,} ({:.1f} MiB)".format(n, n / MIB)
    if n >= KIB:
        return "{:,} ({:.1f} KiB)".format(n, n / KIB)
    return "{:,}".format(n)


NOT_MEASURED = "n/a"    # a target whose measurement could not be made


def held(ok):
    if ok == NOT_MEASURED:
        return "- (not measured)"
    return "-" if ok is None else ("held" if ok else "**missed**")


# --------------------------------------------------------------------------
# Summary and Markdown

def paired_cpu_ratio(cell, x, y):
    """Median over the rounds of y's CPU per request / x's: x's requests
    per server-CPU-second relative to y's (higher is better for x, like a
    req/s ratio)."""
    xs, ys = cell.get(x, []), cell.get(y, [])
    return median([ratio(b.get("cpu_us"), a.get("cpu_us"))
                   for a, b in zip(xs, ys)])


def paired_ratio(cell, x, y):
    """Median over the rounds of x's req/s / y's req/s in the same round:
    the runs of one round are seconds apart, so slow drifts in the
    machine's load cancel."""
    xs, ys = cell.get(x, []), cell.get(y, [])
    return median([ratio(a["rps"], b["rps"]) for a, b in zip(xs, ys)])


def wrk_runs(args):
    return ("wrk %d threads, %d connections, %d s per run; median of %d "
            "interleaved round%s" % (args.threads, args.connections,
                                     args.duration, args.rounds,
                                     "" if args.rounds == 1 else "s"))


def cell_rows(cells, store, what, args, T):
    """The rows of load cells (req/s, CPU per request, ratios) from
    store[key][server][round], with their target rows; `what` names the
    section in the target rows."""
    rows = []
    for key, label, kind, path, size in cells:
        cell = store.get(key)
        if not cell:
            continue
        med = {n: median([r["rps"] for r in cell.get(n, [])]) for n in "ABC"}
        spr = {n: spread([r["rps"] for r in cell.get(n, [])]) for n in "ABC"}
        few = {n: any(r.get("connections", args.connections)
                      < args.connections for r in cell.get(n, []))
               for n in "ABC"}
        cpu = {n: median([r.get("cpu_us") for r in cell.get(n, [])])
               for n in "ABC"}
        row = {"key": key, "label": label, "med": med, "spread": spr,
               "few": few, "cpu": cpu,
               "cpuCA": paired_cpu_ratio(cell, "C", "A"),
               "cpuCB": paired_cpu_ratio(cell, "C", "B"),
               "CA": paired_ratio(cell, "C", "A"),
               "CB": paired_ratio(cell, "C", "B")}
        row["target"] = "C/A >= %.2f" % TARGET_RPS
        row["ok"] = None if row["CA"] is None else row["CA"] >= TARGET_RPS
        rows.append(row)
        T.append(("%s%s: module/ceiling >= %.2f" % (what, label, TARGET_RPS),
                  "%.3f (%s vs %s req/s); per server CPU-second %s" % (
                      row["CA"], fmt_rps(med["C"]), fmt_rps(med["A"]),
                      fmt_ratio(row["cpuCA"], 3)), row["ok"]))
    return rows


def fmt_cell(row, n):
    """Server n's median req/s in a row, † when run with fewer
    connections, and the spread over the rounds."""
    return (fmt_rps(row["med"][n]) + ("†" if row["few"][n] else "")
            + fmt_pct(row["spread"][n]))


def summarize(res, args):
    """Medians, ratios and target checks from the raw results."""
    s = {"targets": []}
    T = s["targets"]
    s["load"] = cell_rows(LOAD_CELLS, res["load"], "", args, T)
    ws = res["ws"].get("ws")
    if ws:
        med = {n: median([r["rps"] for r in ws.get(n, [])]) for n in "ABC"}
        spr = {n: spread([r["rps"] for r in ws.get(n, [])]) for n in "ABC"}
        tab = {}
        for r in ws.get("C", []):
            for k, v in r.get("table", {}).items():
                tab[k] = v if k == "EntriesInUse" else tab.get(k, 0) + v
        lookups = tab.get("Hits", 0) + tab.get("Misses", 0)
        reqs = sum(r["requests"] for r in ws.get("C", []))
        s["ws"] = {"med": med, "spread": spr,
                   "cpu": {n: median([r.get("cpu_us") for r in ws.get(n, [])])
                           for n in "ABC"},
                   "cpuCA": paired_cpu_ratio(ws, "C", "A"),
                   "cpuCB": paired_cpu_ratio(ws, "C", "B"),
                   "CA": paired_ratio(ws, "C", "A"),
                   "CB": paired_ratio(ws, "C", "B"),
                   "hit_ratio": ratio(tab.get("Hits"), lookups),
                   "evictions_per_request": ratio(tab.get("Evictions"), reqs),
                   "hashed_per_request": ratio(tab.get("FilesHashed"), reqs),
                   "entries_in_use": tab.get("EntriesInUse"),
                   "files": args.entries * args.ws_factor,
                   "entries": args.entries}
    cold = []
    for key, label, size, per_round in COLD_SIZES:
        rounds = res["cold"].get(key)
        if not rounds:
            continue
        row = {"key": key, "label": label, "size": size}
        for col in ("A", "B", "C_sha1", "C_sha1_hit", "C_xxh128",
                    "C_xxh128_hit", "memread_gbps", "standalone_sha1_gbps",
                    "standalone_xxh128_gbps", "mmap_xxh128_gbps"):
            row[col] = median([r.get(col) for r in rounds])

        def per_round(f):
            vals = []
            for r in rounds:
                try:
                    vals.append(f(r))
                except (TypeError, ZeroDivisionError, KeyError):
                    pass
            return median(vals)

        # hash time: time to first byte beyond the ceiling's, per round
        row["hash_B"] = per_round(lambda r: r["B"] - r["A"])
        row["hash_C_sha1"] = per_round(lambda r: r["C_sha1"] - r["A"])
        row["hash_C_xxh128"] = per_round(lambda r: r["C_xxh128"] - r["A"])
        gb = lambda t: size / t / 1e9 if t and t > 0 else None  # noqa: E731
        row["gbps_B"] = gb(row["hash_B"])
        row["gbps_C_sha1"] = gb(row["hash_C_sha1"])
        row["gbps_C_xxh128"] = gb(row["hash_C_xxh128"])
        row["speedup_sha1"] = per_round(
            lambda r: (r["B"] - r["A"]) / (r["C_sha1"] - r["A"])
            if r["C_sha1"] > r["A"] else None)
        row["speedup_xxh128"] = per_round(
            lambda r: (r["B"] - r["A"]) / (r["C_xxh128"] - r["A"])
            if r["C_xxh128"] > r["A"] else None)
        row["xxh_vs_mem"] = ratio(row["gbps_C_xxh128"], row["memread_gbps"])
        row["ok"] = (None if row["speedup_sha1"] is None
                     else row["speedup_sha1"] >= 4)
        cold.append(row)
        T.append(("cold %s: module sha1 hashing >= 4x faster than core "
                  "Digest" % label,
                  "%.1fx (hash time %s ms vs %s ms)" % (
                      row["speedup_sha1"] or 0, fmt_ms(row["hash_C_sha1"]),
                      fmt_ms(row["hash_B"])), row["ok"]))
        if row["gbps_C_xxh128"] and row["memread_gbps"]:
            T.append(("cold %s: xxh128 GB/s against a memory read (report)"
                      % label, "%.2f vs %.2f GB/s (%.0f%%)" % (
                          row["gbps_C_xxh128"], row["memread_gbps"],
                          100 * row["xxh_vs_mem"]), None))
    s["cold"] = cold
    s["integrity"] = summarize_integrity(res.get("integrity") or {}, args, T)
    s["precompressed"] = summarize_precompressed(
        res.get("precompressed") or {}, args, T)
    cg = res["callgrind"]
    if "A" in cg and "C" in cg:
        a, c = (cg[n]["instructions_per_request"] for n in "AC")
        s["callgrind"] = {"A": a, "C": c, "CA": c / a,
                          "agree": max(max(v["intervals"])
                                       / min(v["intervals"]) - 1
                                       for v in cg.values()),
                          "B": cg.get("B", {}).get("instructions_per_request"),
                          "C-miss": cg.get("C-miss", {}).get(
                              "instructions_per_request"),
                          "n": cg["A"]["requests_per_interval"],
                          "counts": cg["A"]["counts"]}
        s["callgrind"]["ok"] = s["callgrind"]["CA"] <= 1.10
        T.append(("instructions per 304: module within 1.10x of the ceiling",
                  "%.3fx (%s vs %s)" % (c / a, "{:,.0f}".format(c),
                                        "{:,.0f}".format(a)),
                  s["callgrind"]["ok"]))
    s["ttfb"] = summarize_ttfb(res.get("ttfb") or {}, T)
    s["warmup"] = summarize_warmup(res.get("warmup") or {}, T)
    s["restart"] = summarize_restart(res.get("restart") or {}, T)
    mem = res["memory"]
    if mem:
        m = mem["million"]
        ok = m["SharedMemoryBytes"] < 256 * MIB
        s["memory"] = mem
        T.append(("table memory: 1 million entries well under 256 MiB",
                  "%.1f MiB (%d bytes per entry)" % (
                      m["SharedMemoryBytes"] / MIB, m["BytesPerEntry"]), ok))
        s["memory_file"] = summarize_memory_file(mem, T)
    return s


def summarize_integrity(r, args, T):
    """The integrity section: its load cells (C/A, as the others), the
    cold 64 MiB file (C's hash time against standalone sha1 + sha256 on
    the same file, median of the per-round ratios) and the entries per
    file by kind of tag."""
    if not r:
        return None
    what = "integrity (sha-256 fields), "
    out = {"load": cell_rows(INTEGRITY_CELLS, r.get("load") or {}, what,
                             args, T)}
    cold = r.get("cold")
    if cold:
        def both(x):
            return x["sha1"] + x["sha256"] if x["sha1"] and x["sha256"] \
                else None
        c = {k: median([x[k] for x in cold])
             for k in ("A", "C", "C_hit", "C_cpu", "sha1", "sha256",
                       "multi")}
        c.update(n=len(cold), hash=median([x["C"] - x["A"] for x in cold]),
                 sum=median([both(x) for x in cold]),
                 ratio=median([ratio(x["C"] - x["A"], both(x))
                               for x in cold]),
                 multi_ratio=median([ratio(x["multi"], both(x))
                                     for x in cold]))
        c["ok"] = (NOT_MEASURED if c["ratio"] is None
                   else c["ratio"] <= TARGET_INTEGRITY_COLD)
        out["cold"] = c
        T.append(("%scold %d MiB: sha1 tag + sha-256 fields hashed in the "
                  "request <= %.1fx standalone sha1 + sha256" % (
                      what, INTEGRITY_COLD_SIZE // MIB,
                      TARGET_INTEGRITY_COLD),
                  "%sx (hash time %s ms, C's CPU %s ms, vs %s + %s ms; both "
                  "in one read standalone %s ms)" % (
                      fmt_ratio(c["ratio"]), fmt_ms(c["hash"]),
                      fmt_ms(c["C_cpu"]), fmt_ms(c["sha1"]),
                      fmt_ms(c["sha256"]), fmt_ms(c["multi"])), c["ok"]))
    mem = r.get("memory")
    if mem:
        per = mem["BytesPerEntry"]
        # label, measured, its details, target
        rows = [("bytes per entry (`BytesPerEntry`)", per, "",
                 TARGET_INTEGRITY_BYTES_PER_ENTRY)]
        for algo, _, label, want in INTEGRITY_ENTRIES:
            m = mem[algo]
            got = m["EntriesInUse"] / m["files"]
            rows.append(("entries per file, %s" % label, got,
                         " (%d entries for %d files, %d inserts, %d "
                         "evictions: %.0f bytes per file)" % (
                             m["EntriesInUse"], m["files"], m["Inserts"],
                             m["Evictions"], got * per), want))
        out["memory"] = [(label, "%g" % value, more, want, value == want)
                         for label, value, more, want in rows]
        for label, value, more, want, ok in out["memory"]:
            T.append(("%s%s = %d" % (what, label, want), value + more, ok))
    return out


def summarize_precompressed(r, args, T):
    """The precompressed section: per cell the median req/s and CPU per
    request of A (the .br file served by core), C (the module's sidecar)
    and R (mod_brotli on the fly), with C/A (the target) and C/R (a
    report), medians of the per-round ratios."""
    store = (r or {}).get("load")
    if not store:
        return None
    rows = []
    for key, label, kind, fkey, names, quick_names, target in PRE_CELLS:
        cell = store.get(key)
        if not cell:
            continue
        fpath = next(p for k, _, p, _ in PRE_FILES if k == fkey)
        med = {n: median([x["rps"] for x in cell.get(n, [])]) for n in "ACR"}
        spr = {n: spread([x["rps"] for x in cell.get(n, [])]) for n in "ACR"}
        few = {n: any(x.get("connections", args.connections)
                      < args.connections for x in cell.get(n, []))
               for n in "ACR"}
        cpu = {n: median([x.get("cpu_us") for x in cell.get(n, [])])
               for n in "ACR"}
        row = {"key": key, "label": label, "kind": kind, "med": med,
               "spread": spr, "few": few, "cpu": cpu,
               "file": (r.get("files") or {}).get(fpath),
               "CA": paired_ratio(cell, "C", "A"),
               "CR": paired_ratio(cell, "C", "R"),
               "cpuCA": paired_cpu_ratio(cell, "C", "A"),
               "cpuCR": paired_cpu_ratio(cell, "C", "R"),
               "target": target}
        if target is not None:
            row["ok"] = NOT_MEASURED if row["CA"] is None \
                else row["CA"] >= target
            T.append(("precompressed %s: module (sidecar) / ceiling (the .br "
                      "file) >= %.2f" % (label, target),
                      "%s (%s vs %s req/s); per server CPU-second %s" % (
                          fmt_ratio(row["CA"], 3), fmt_rps(med["C"]),
                          fmt_rps(med["A"]), fmt_ratio(row["cpuCA"], 3)),
                      row["ok"]))
        else:
            row["ok"] = None
            T.append(("precompressed %s: module against mod_brotli (report)"
                      % label,
                      "%sx (%s vs %s req/s); per server CPU-second %sx; "
                      "module / ceiling %s" % (
                          fmt_ratio(row["CR"], 1), fmt_rps(med["C"]),
                          fmt_rps(med["R"]), fmt_ratio(row["cpuCR"], 1),
                          fmt_ratio(row["CA"], 3)), None))
        rows.append(row)
    return {"rows": rows, "files": r.get("files") or {},
            "brotli": r.get("brotli")}


def markdown_precompressed(sp, args, w):
    w("### Precompressed sidecars (`CondCachePrecompressed br gzip`)")
    w("")
    files = ", ".join("%s %s -> %s bytes" % (
        p.rsplit("/", 1)[1], "{:,}".format(f["size"]),
        "{:,}".format(f["br"])) for p, f in sorted(
            sp["files"].items(), key=lambda x: x[1]["size"]))
    w("Compressible CSS-like text in `pre/`, each file F with a sidecar "
      "`F.br` made by the `brotli` CLI (quality 11): %s. **C** has "
      "`CondCachePrecompressed br gzip` there and gets `GET /pre/x.css` "
      "with `Accept-Encoding: br`: it sends `x.css.br` in the file's place, "
      "the pair checked once before (the first requests decode and compare; "
      "measured from the second on, a table hit). **A**, the ceiling, gets "
      "`GET /pre/x.css.br`: the same bytes as a core static file. "
      "**mod_brotli**: A's config plus mod_brotli (`AddOutputFilterByType "
      "BROTLI_COMPRESS text/css`, its default quality 5) gets `GET "
      "/pre/x.css` and compresses the file on every request. Every request "
      "carries `Accept-Encoding: br`; the 304s send C `If-None-Match: "
      "\"<tag>-br\"` and A its own tag of the `.br` file. Checked before "
      "measuring and before each run: C's 200 has `Content-Encoding: br`, "
      "the tag `\"<sha1 of F>-br\"`, `Vary: Accept-Encoding` and exactly "
      "the bytes of `F.br`, its 304 the same tag and `Vary` without "
      "`Content-Encoding`; A's 200 the `.br` file's bytes and tag; "
      "mod_brotli's 200 `Content-Encoding: br`, `\"size-mtime-br\"`, and "
      "(once) a body the `brotli` CLI decodes to F. C's status page over "
      "each of its runs: `VariantsServed` at least the requests wrk "
      "completed, nothing decoded, hashed or rejected. %s (±: (max-min)/"
      "median over the rounds), A and C in turn (A first in odd rounds), "
      "the six orders with mod_brotli; the ratios are the medians of the "
      "per-round ratios; every run checked as in the load cells." % (
          files, wrk_runs(args)))
    w("")
    w("| Workload | A ceiling, the `.br` file | C module, the sidecar | "
      "mod_brotli on the fly | C/A | C/mod_brotli | target | |")
    w("|---|---:|---:|---:|---:|---:|---|---|")
    for row in sp["rows"]:
        def cellv(n):
            if row["med"][n] is None:
                return "-"
            return (fmt_rps(row["med"][n]) + ("†" if row["few"][n] else "")
                    + fmt_pct(row["spread"][n]))
        w("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            row["label"], cellv("A"), cellv("C"), cellv("R"),
            ("**%s**" if row["target"] is not None else "%s")
            % fmt_ratio(row["CA"], 3),
            "-" if row["CR"] is None
            else "**%s**" % (fmt_ratio(row["CR"], 1) + "x"),
            "C/A >= %.2f" % row["target"] if row["target"] is not None
            else "(report)",
            held(row["ok"])))
    w("")
    w("Server CPU per request, us, as in the load cells; C/A and "
      "C/mod_brotli = the other's CPU per request / C's, median of the "
      "per-round ratios.")
    w("")
    w("| Workload | A ceiling | C module | mod_brotli | C/A | C/mod_brotli |")
    w("|---|---:|---:|---:|---:|---:|")
    for row in sp["rows"]:
        w("| %s | %s | %s | %s | %s | %s |" % (
            row["label"], fmt_us(row["cpu"]["A"]), fmt_us(row["cpu"]["C"]),
            fmt_us(row["cpu"]["R"]), fmt_ratio(row["cpuCA"], 3),
            "-" if row["cpuCR"] is None
            else fmt_ratio(row["cpuCR"], 1) + "x"))
    if any(any(row["few"].values()) for row in sp["rows"]):
        w("")
        w("†: run with one connection per wrk thread: mod_brotli always (a "
          "request of the 1 MiB file takes it about %d ms alone), another "
          "server when a single request took over %d ms." % (
              SLOW_REQUEST * 1000, SLOW_REQUEST * 1000))
    w("")


def summarize_ttfb(ttfb, T):
    """Per size: C's first-byte time against A's (median of the per-file
    ratios), and the time until C's tag appeared against the size hashed
    at the standalone throughput + TARGET_TAG_SLACK (every file)."""
    rows = []
    for key, label, size, _ in TTFB_SIZES:
        recs = ttfb.get(key)
        if not recs:
            continue
        bounds = [size / (r["standalone_gbps"] * 1e9) + TARGET_TAG_SLACK
                  if r.get("standalone_gbps") else None for r in recs]
        row = {"key": key, "label": label, "size": size, "n": len(recs),
               "sparse": any(r.get("sparse") for r in recs),
               "A": median([r["A"] for r in recs]),
               "C": median([r["C"] for r in recs]),
               "ratio": median([ratio(r["C"], r["A"]) for r in recs]),
               "tag_s": median([r["tag_s"] for r in recs]),
               "tag_max": max(r["tag_s"] for r in recs),
               "gbps": median([r.get("standalone_gbps") for r in recs]),
               "bound": median(bounds),
               "within": sum(1 for r, b in zip(recs, bounds)
                             if b is not None and r["tag_s"] <= b),
               "bounded": sum(1 for b in bounds if b is not None)}
        row["ratio_ok"] = (None if row["ratio"] is None
                           else row["ratio"] <= TARGET_TTFB_RATIO)
        row["tag_ok"] = (NOT_MEASURED if not row["bounded"]
                         else row["within"] == row["bounded"])
        rows.append(row)
        kind = " (sparse)" if row["sparse"] else ""
        T.append(("first request of a fresh %s file%s: time to first byte "
                  "<= %.1fx the ceiling's" % (label, kind, TARGET_TTFB_RATIO),
                  "%.2fx (%s vs %s ms)" % (row["ratio"] or 0,
                                           fmt_ms(row["C"]), fmt_ms(row["A"])),
                  row["ratio_ok"]))
        T.append(("fresh %s file%s: content tag within size / standalone "
                  "sha1 + %.0f s" % (label, kind, TARGET_TAG_SLACK),
                  "%.2f s (bound %s s; %d of %d files within)" % (
                      row["tag_s"], "-" if row["bound"] is None
                      else "%.2f" % row["bound"], row["within"],
                      row["bounded"]), row["tag_ok"]))
    return rows


def summarize_warmup(w, T):
    if not w.get("alone"):
        return None
    al = w["alone"]
    out = {"files": w["files"], "bytes": w["bytes"],
           "standalone_gbps": w.get("standalone_gbps"), "alone": al,
           "gbps": (al["bytes"] / al["seconds"] / 1e9
                    if al["seconds"] > 0 else None)}
    out["throughput_ratio"] = ratio(out["gbps"], out["standalone_gbps"])
    outside = al.get("seconds_outside")
    out["gbps_outside"] = (al["bytes"] / outside / 1e9
                           if outside and outside > 0 else None)
    out["outside_ratio"] = ratio(out["gbps_outside"], out["standalone_gbps"])
    out["throughput_ok"] = (NOT_MEASURED if out["throughput_ratio"] is None
                            else out["throughput_ratio"]
                            >= TARGET_WARM_THROUGHPUT)
    T.append(("warm-up of %s files (%.0f MB): hashing throughput >= %.1fx "
              "standalone sha1 of the same bytes" % (
                  "{:,}".format(w["files"]), w["bytes"] / 1e6,
                  TARGET_WARM_THROUGHPUT),
              "%s (%s vs %s GB/s; %s, %s s, worker CPU %s s; from the "
              "worker's start, seen from outside: %s)" % (
                  fmt_ratio(out["throughput_ratio"]),
                  fmt_ratio(out["gbps"]),
                  fmt_ratio(out["standalone_gbps"]), al["state"],
                  fmt_ratio(al["seconds"]),
                  fmt_ratio(al.get("worker_cpu_seconds")),
                  fmt_ratio(out["outside_ratio"])),
              out["throughput_ok"]))
    if al.get("requests"):
        T.append(("warm-up: a request for each file after it found the "
                  "digest in the table (report)", "%s of %s" % (
                      fmt_count(al.get("request_hits")),
                      fmt_count(al["requests"])), None))
    wins = [x for x in w.get("windows", []) if "A" in x and "C" in x]
    # "none" before the window: the worker had not begun its walk yet
    # (the page says none until it does)
    during = [x for x in wins
              if x["C"]["state_before"] in ("none", "running")
              and x["C"]["state_after"] == "running"]
    out.update(rounds=len(wins), during=len(during),
               A=median([x["A"]["rps"] for x in during]),
               C=median([x["C"]["rps"] for x in during]),
               cpu_A=median([x["A"]["cpu_us"] for x in during]),
               cpu_C=median([x["C"]["cpu_us"] for x in during]),
               CA=median([ratio(x["C"]["rps"], x["A"]["rps"])
                          for x in during]),
               cpuCA=median([ratio(x["A"]["cpu_us"], x["C"]["cpu_us"])
                             for x in during]),
               files_during=median([x["C"]["files_after"]
                                    - x["C"]["files_before"]
                                    for x in during]),
               CA_all=median([ratio(x["C"]["rps"], x["A"]["rps"])
                              for x in wins]))
    out["rps_ok"] = (NOT_MEASURED if out["CA"] is None
                     else out["CA"] >= TARGET_WARM_304)
    T.append(("304s of a 1 KiB file while the warm-up runs: module/ceiling "
              ">= %.2f" % TARGET_WARM_304,
              "%s (%d of %d rounds with the warm-up running through C's "
              "window)" % (fmt_ratio(out["CA"], 3), out["during"],
                           out["rounds"]) if out["during"] else
              "the warm-up was not running through C's window in any of "
              "%d rounds (C/A in those windows: %s)" % (
                  out["rounds"], fmt_ratio(out["CA_all"], 3)),
              out["rps_ok"]))
    return out


def summarize_restart(r, T):
    recs = r.get("restarts")
    if not recs:
        return None
    requests = sum(x["requests"] for x in recs)
    hits = sum(x["hits"] for x in recs)
    out = {"files": r["files"], "entries": r["entries"], "n": len(recs),
           "primed": r["primed"], "first_state": r["first_state"],
           "requests": requests, "hits": hits,
           "hit_ratio": ratio(hits, requests),
           "bytes_hashed": max(x["bytes_hashed"] for x in recs),
           "files_hashed": max(x["files_hashed"] for x in recs),
           "states": sorted(set(x["state"] for x in recs)),
           "start_C": median([x["start_C"] for x in recs]),
           "start_A": median([x["start_A"] for x in recs]),
           "start_ratio": median([ratio(x["start_C"], x["start_A"])
                                  for x in recs]),
           "entries_after": min(x["entries_in_use"] for x in recs)}
    out["hits_ok"] = hits == requests
    out["bytes_ok"] = out["bytes_hashed"] == 0
    out["state_ok"] = out["states"] == ["reattached"]
    what = "%s files, %d full restart%s" % (
        "{:,}".format(r["files"]), len(recs), "" if len(recs) == 1 else "s")
    T.append(("restart with a table file (%s): every revalidation a table "
              "hit" % what, "%s of %s (%.2f%%)" % (
                  "{:,}".format(hits), "{:,}".format(requests),
                  100 * (out["hit_ratio"] or 0)), out["hits_ok"]))
    T.append(("restart with a table file: BytesHashed after the restart "
              "= 0", "{:,}".format(out["bytes_hashed"]), out["bytes_ok"]))
    T.append(("restart with a table file: TableState reattached",
              ", ".join(out["states"]), out["state_ok"]))
    T.append(("restart: start command to first answer, module with its "
              "table file vs ceiling (report)", "%s vs %s ms" % (
                  fmt_ms(out["start_C"]), fmt_ms(out["start_A"])), None))
    return out


def summarize_memory_file(mem, T):
    f = mem.get("file")
    out = {}
    if f:
        per = f["file_bytes"] / f["Capacity"]
        out.update(f)
        out["per_entry"] = per
        out["alloc_per_entry"] = f["file_allocated"] / f["Capacity"]
        out["used"] = f["TableFile"] == f["path"]
        # per entry: the table's fixed header (about 1 KiB in all) is not
        out["ok"] = (round(per, 1) <= TARGET_FILE_BYTES_PER_ENTRY
                     if out["used"] else NOT_MEASURED)
        T.append(("table file: bytes per entry <= %d" %
                  TARGET_FILE_BYTES_PER_ENTRY,
                  "%.1f (%s bytes for %s entries, %s)" % (
                      per, "{:,}".format(f["file_bytes"]),
                      "{:,}".format(f["Capacity"]), f["TableState"])
                  if out["used"] else
                  "not measured: the server did not use the file (TableFile "
                  "%s, TableState %s)" % (f["TableFile"], f["TableState"]),
                  out["ok"]))
    st = mem.get("strace")
    if st:
        a, b = st["memory"], st["file"]
        names = sorted(set(a) | set(b),
                       key=lambda k: -max(a.get(k, 0), b.get(k, 0)))
        names = [k for k in names if max(a.get(k, 0), b.get(k, 0)) >= 0.05]
        # futex: the MPM's thread hand-offs, which follow their timing
        diff = [k for k in names if k != "futex"
                and abs(a.get(k, 0) - b.get(k, 0)) >= 0.05]
        out["strace"] = {"names": names, "memory": a, "file": b,
                         "diff": diff, "requests": st["requests"],
                         "ok": not diff}
        T.append(("table file: a 304 from the table makes the same syscalls "
                  "as with the table in memory (futex aside)",
                  "%.2f vs %.2f per 304%s" % (
                      sum(b.values()), sum(a.values()),
                      "" if not diff else "; differ: " + ", ".join(
                          "%s %.2f vs %.2f" % (k, b.get(k, 0), a.get(k, 0))
                          for k in diff)), not diff))
    return out


def markdown(res, args):
    s = summarize(res, args)
    meta = res["meta"]
    out = []
    w = out.append
    pin = ("httpd pinned to CPU %d, wrk and the clients to CPU %d"
           % (args.server_cpu, args.client_cpu) if args.pin else "no pinning")
    w("Servers (same config but the ETag lines; event MPM, 2 x 32 threads, "
      "%s): **A** = core `FileETag MTime Size` (the ceiling: no hashing), "
      "**B** = core `FileETag Digest`, **C** = mod_condcache (`CondCache On`,"
      " sha1, `CondCacheEntries %d`, the default `CondCacheInlineHashMax` "
      "of 1 MiB: the 16 MiB file's tag comes from the background worker; "
      "under `cold/`, for the cold cells that measure hashing in the "
      "request, `CondCacheInlineHashMax %d`)." % (pin, args.entries,
                                                  COLD_INLINE_MAX))
    w("")
    if s["load"] or s.get("ws"):
        w("### Requests per second")
        w("")
        w(wrk_runs(args) + " (±: (max-min)/median over the rounds); C/A "
          "and C/B are the medians of the ratios within each round. Every "
          "run checked: no wrk errors, and the bytes per response of the "
          "304 or 200 verified before.")
        w("")
        w("| Workload | A ceiling | B Digest | C module | C/A | C/B | "
          "target | |")
        w("|---|---:|---:|---:|---:|---:|---|---|")
        dagger = False
        for row in s["load"]:
            dagger = dagger or any(row["few"].values())
            w("| %s | %s | %s | %s | **%s** | %s | %s | %s |" % (
                row["label"], fmt_cell(row, "A"), fmt_cell(row, "B"),
                fmt_cell(row, "C"), fmt_ratio(row["CA"], 3),
                fmt_ratio(row["CB"], 1) + "x", row["target"],
                held(row["ok"])))
        ws = s.get("ws")
        if ws:
            m, sp = ws["med"], ws["spread"]
            w("| working set: %s files of 1 KiB at random, table of %s "
              "entries, all 304 | %s%s | %s%s | %s%s | **%s** | %s | "
              "(report) | - |" % (
                  "{:,}".format(ws["files"]), "{:,}".format(ws["entries"]),
                  fmt_rps(m["A"]), fmt_pct(sp["A"]), fmt_rps(m["B"]),
                  fmt_pct(sp["B"]), fmt_rps(m["C"]), fmt_pct(sp["C"]),
                  fmt_ratio(ws["CA"], 3), fmt_ratio(ws["CB"], 1) + "x"))
        w("")
        w("Server CPU per request, us (user + system time of all of the "
          "server's processes during the run / requests): what the req/s "
          "above cost the server, unaffected by other load competing for "
          "its core. C/A here = A's CPU per request / C's (requests per "
          "CPU-second, relative), median of the per-round ratios.")
        w("")
        w("| Workload | A ceiling | B Digest | C module | C/A | C/B |")
        w("|---|---:|---:|---:|---:|---:|")
        g = fmt_us
        rows = [(r["label"], r) for r in s["load"]]
        if ws:
            rows.append(("working set", ws))
        for label, r in rows:
            w("| %s | %s | %s | %s | **%s** | %s |" % (
                label, g(r["cpu"]["A"]), g(r["cpu"]["B"]), g(r["cpu"]["C"]),
                fmt_ratio(r["cpuCA"], 3),
                fmt_ratio(r["cpuCB"], 1) + "x"))
        if dagger:
            w("")
            w("†: run with %d connections (one per wrk thread): a single "
              "request took over %d ms (hashing on every request), and %d "
              "queued connections would leave a short run with few "
              "completed requests. The server is CPU-bound either way."
              % (args.threads, SLOW_REQUEST * 1000, args.connections))
        if ws:
            w("")
            w("Working set, module's table counters over its runs: hit ratio "
              "%s, %s evictions and %s files hashed per request, %s of %s "
              "entries in use." % (
                  "-" if ws["hit_ratio"] is None
                  else "%.1f%%" % (100 * ws["hit_ratio"]),
                  fmt_ratio(ws["evictions_per_request"]),
                  fmt_ratio(ws["hashed_per_request"]),
                  ws["entries_in_use"], ws["entries"]))
        w("")
    if s["cold"]:
        w("### Cold first request (time to hash)")
        w("")
        w("Time to first byte of a GET, ms, page cache warm (the file is "
          "read just before), median over fresh files (new inodes): %s per "
          "round x %d round%s, in `cold/`, where `CondCacheInlineHashMax` "
          "is raised to 1 GiB so that the request hashes (with the default, "
          "1 MiB, the 64 MiB file would go to the background worker: see "
          "the large-file section). The module's first request is checked "
          "to be a hash-and-store, its second a table hit. Hash time = TTFB"
          " minus the ceiling's TTFB for the same file." % (
              ", ".join("%d of %s" % (n, l) for _, l, _, n in COLD_SIZES),
              args.rounds, "" if args.rounds == 1 else "s"))
        w("")
        w("| File | A ceiling | B Digest | C sha1 cold | C sha1 2nd (hit) | "
          "C xxh128 cold | C xxh128 2nd (hit) | B/C hash time, sha1 | target |"
          " |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
        for r in s["cold"]:
            w("| %s | %s | %s | %s | %s | %s | %s | **%s** | >= 4x | %s |" % (
                r["label"], fmt_ms(r["A"]), fmt_ms(r["B"]),
                fmt_ms(r["C_sha1"]), fmt_ms(r["C_sha1_hit"]),
                fmt_ms(r["C_xxh128"]), fmt_ms(r["C_xxh128_hit"]),
                "-" if r["speedup_sha1"] is None
                else "%.1fx" % r["speedup_sha1"], held(r["ok"])))
        w("")
        w("Hashing throughput, GB/s (10^9 bytes/s), same files, same run. "
          "Memory read: `pread()` of the cached file into one 256 KiB buffer "
          "(the module's block size), no hashing: the physical limit of a "
          "pread-based hasher. Standalone: the module's `cc_digest_fd()` "
          "outside httpd. xxh128 over mmap: `mmap(MAP_POPULATE)` + "
          "`cc_digest_buffer()`, no copy: what hashing from a mapping could "
          "reach.")
        w("")
        w("| File | memory read | sha1 standalone | C sha1 in httpd | "
          "B Digest in httpd | xxh128 standalone | C xxh128 in httpd | "
          "C xxh128 / memory read | xxh128 over mmap |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        g = lambda x: "-" if x is None else "%.2f" % x  # noqa: E731
        for r in s["cold"]:
            w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["label"], g(r["memread_gbps"]),
                g(r["standalone_sha1_gbps"]), g(r["gbps_C_sha1"]),
                g(r["gbps_B"]), g(r["standalone_xxh128_gbps"]),
                g(r["gbps_C_xxh128"]),
                "-" if r["xxh_vs_mem"] is None
                else "%.0f%%" % (100 * r["xxh_vs_mem"]),
                g(r["mmap_xxh128_gbps"])))
        w("")
    if s.get("integrity"):
        markdown_integrity(s["integrity"], args, w)
    if s.get("precompressed"):
        markdown_precompressed(s["precompressed"], args, w)
    if s.get("ttfb"):
        markdown_ttfb(s["ttfb"], w)
    if s.get("warmup"):
        markdown_warmup(s["warmup"], args, w)
    if s.get("restart"):
        markdown_restart(s["restart"], w)
    cg = s.get("callgrind")
    if cg:
        w("### Instructions per 304 (callgrind)")
        w("")
        k = len(cg["counts"])
        w("`httpd -X` under `valgrind --tool=callgrind`, one keep-alive "
          "connection, 1 KiB file; %d runs per server that serve %s 304s "
          "after the same warm-up: per request = difference of the totals / "
          "difference of the counts, so startup and shutdown cancel%s. "
          "User-space instructions only: the kernel's work in syscalls is "
          "not counted." % (
              k, " / ".join("{:,}".format(x) for x in cg["counts"]),
              "" if k < 3 else " (the %d differences agree within %.2f%%)"
              % (k - 1, 100 * cg["agree"])))
        w("")
        w("| | A ceiling | C module | C/A | target | |")
        w("|---|---:|---:|---:|---|---|")
        w("| instructions per 304 | %s | %s | **%.3f** | <= 1.10 | %s |" % (
            "{:,.0f}".format(cg["A"]), "{:,.0f}".format(cg["C"]), cg["CA"],
            held(cg["ok"])))
        if cg.get("C-miss"):
            w("| C, every request a table miss (two 1 KiB files taking turns "
              "in a table of one entry) | | %s | %.3f | (report) | |" % (
                  "{:,.0f}".format(cg["C-miss"]), cg["C-miss"] / cg["A"]))
        if cg.get("B"):
            w("| B, core Digest (hashes the 1 KiB on every request) | | %s | "
              "%.3f | (report) | |" % ("{:,.0f}".format(cg["B"]),
                                      cg["B"] / cg["A"]))
        w("")
    sc = res.get("syscalls")
    if sc and "A" in sc and "C" in sc:
        w("### Syscalls per 304 (strace -c, same setup)")
        w("")
        names = sorted(set(sc["A"]) | set(sc["C"]),
                       key=lambda k: -max(sc["A"].get(k, 0),
                                          sc["C"].get(k, 0)))
        names = [k for k in names if max(sc["A"].get(k, 0),
                                         sc["C"].get(k, 0)) >= 0.05]
        w("| syscall | A ceiling | C module |")
        w("|---|---:|---:|")
        for k in names:
            w("| %s | %.2f | %.2f |" % (k, sc["A"].get(k, 0),
                                        sc["C"].get(k, 0)))
        w("| **total** | %.2f | %.2f |" % (sum(sc["A"].values()),
                                           sum(sc["C"].values())))
        w("")
    cost = meta.get("syscost")
    if cost:
        line = ("One `fstat()` of an open file costs %.0f ns here, "
                "`open()`+`close()` %.0f ns (hashbench, same run)." % (
                    cost["fstat_ns"], cost["open_close_ns"]))
        row = next((r for r in s["load"] if r["key"] == "304-1k"), None)
        if row and row["cpu"]["A"] and row["cpu"]["C"]:
            per_a, per_c = row["cpu"]["A"], row["cpu"]["C"]
            line += (" In the 1 KiB 304 cell A's server spends %.1f us of "
                     "CPU per request, C's %.1f us (%+.1f us); one extra "
                     "fstat() is %.1f%% of A's." % (
                         per_a, per_c, per_c - per_a,
                         100 * cost["fstat_ns"] / 1e3 / per_a))
        w(line)
        w("")
    if s.get("memory"):
        mem = s["memory"]
        w("### Table memory (from the status page)")
        w("")
        w("| CondCacheEntries | bytes per entry | SharedMemoryBytes | target "
          "| |")
        w("|---:|---:|---:|---|---|")
        c = mem["configured"]
        w("| %s | %d | %s | | |" % ("{:,}".format(c["Capacity"]),
                                    c["BytesPerEntry"],
                                    fmt_bytes(c["SharedMemoryBytes"])))
        m = mem["million"]
        w("| %s | %d | %s | < 256 MiB | %s |" % (
            "{:,}".format(m["Capacity"]), m["BytesPerEntry"],
            fmt_bytes(m["SharedMemoryBytes"]),
            held(m["SharedMemoryBytes"] < 256 * MIB)))
        mf = s.get("memory_file") or {}
        if "per_entry" in mf:
            w("| %s, in a table file (`CondCacheTableFile`, TableState %s) "
              "| **%.1f** (file size / entries; allocated %.1f) | %s | <= %d "
              "bytes per entry | %s |" % (
                  "{:,}".format(mf["Capacity"]), mf["TableState"],
                  mf["per_entry"], mf["alloc_per_entry"],
                  fmt_bytes(mf["file_bytes"]), TARGET_FILE_BYTES_PER_ENTRY,
                  held(mf["ok"]) if mf["used"] else
                  "- (not measured: the server used TableFile %s)"
                  % mf["TableFile"]))
        w("")
        if mf.get("strace"):
            st = mf["strace"]
            w("Syscalls per 304 from the table, `httpd -X` of the module "
              "with its table in shared memory and in a table file "
              "(strace -c, %s 304s each, as in the syscall section). "
              "Target: the same syscalls, each within 0.05 per request but "
              "futex (the event MPM's hand-offs between its threads, whose "
              "count follows their timing and varies from run to run of "
              "the same server): %s." % ("{:,}".format(st["requests"]),
                                         held(st["ok"])))
            w("")
            w("| syscall | table in memory | table file |")
            w("|---|---:|---:|")
            for k in st["names"]:
                w("| %s | %.2f | %.2f |" % (k, st["memory"].get(k, 0),
                                            st["file"].get(k, 0)))
            w("| **total** | %.2f | %.2f |" % (sum(st["memory"].values()),
                                               sum(st["file"].values())))
            w("")
    return "\n".join(out), s


def markdown_integrity(si, args, w):
    w("### Integrity fields (`CondCacheIntegrity sha-256`)")
    w("")
    w("C with `CondCacheIntegrity sha-256` in `integrity/` (sha1 tags): its "
      "200s carry `Repr-Digest` and `Unencoded-Digest` from digests kept in "
      "the table, hashed in the same read as the tag. Checked before "
      "measuring: C's 200s carry both fields with the file's sha-256 "
      "(hashlib), its 304s neither, A's answers neither. Requests per "
      "second as in the load cells, on A and C only, in turn (A first in "
      "odd rounds): " + wrk_runs(args) + "; C/A is the median of the "
      "per-round ratios, every run checked as there; server CPU per "
      "request as there.")
    w("")
    w("| Workload | A ceiling | C, sha-256 fields | C/A | target | | "
      "CPU per request, us: A | C | C/A |\n"
      "|---|---:|---:|---:|---|---|---:|---:|---:|")
    for row in si["load"]:
        w("| %s | %s | %s | **%s** | %s | %s | %s | %s | %s |" % (
            row["label"], fmt_cell(row, "A"), fmt_cell(row, "C"),
            fmt_ratio(row["CA"], 3), row["target"], held(row["ok"]),
            fmt_us(row["cpu"]["A"]), fmt_us(row["cpu"]["C"]),
            fmt_ratio(row["cpuCA"], 3)))
    if any(any(row["few"].values()) for row in si["load"]):
        w("")
        w("†: run with one connection per wrk thread (see the load cells).")
    w("")
    c = si.get("cold")
    if c:
        w("Cold: a fresh %d MiB file per round (new inode) in "
          "`integrity/cold/`, where `CondCacheInlineHashMax` is raised so "
          "that the request hashes; page cache warm. C's first GET is "
          "checked to be one hash-and-store of two digests (FilesHashed +1, "
          "Inserts +2) in one read (BytesHashed + the file's size) with both "
          "fields right, its second a table hit. Hash time = C's time to "
          "first byte - A's (median of 3) for the same file. Standalone, on "
          "the same file in the same run: hashbench's `cc_digest_fd()` sha1 "
          "and sha256 (median of 3 passes each; 1 with `--quick`) and, for "
          "the record, `cc_digest_fd_multi()` of both in one read. Target: "
          "C's hash time <= %.1fx the sum of the two standalone times "
          "(median of the per-round ratios). C's CPU: the user + system time "
          "of C's processes during its first GET (`/proc`, to a clock "
          "tick): well below its time to first byte, C waited for its CPU "
          "(other load) rather than hashed." % (
              INTEGRITY_COLD_SIZE // MIB, TARGET_INTEGRITY_COLD))
        w("")
        w("| File | rounds | A ceiling, ms | C first GET, ms | C's CPU, ms | "
          "C hash time, ms | C 2nd (hit), ms | sha1 alone, ms | sha256 "
          "alone, ms | sum, ms | C hash time / sum | target | | both in one "
          "read, ms | one read / sum |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
          "---:|---:|")
        w("| %d MiB | %d | %s | %s | %s | %s | %s | %s | %s | %s | **%s** | "
          "<= %.1fx | %s | %s | %s |" % (
              INTEGRITY_COLD_SIZE // MIB, c["n"], fmt_ms(c["A"]),
              fmt_ms(c["C"]), fmt_ms(c["C_cpu"]), fmt_ms(c["hash"]),
              fmt_ms(c["C_hit"]),
              fmt_ms(c["sha1"]), fmt_ms(c["sha256"]), fmt_ms(c["sum"]),
              fmt_ratio(c["ratio"]), TARGET_INTEGRITY_COLD, held(c["ok"]),
              fmt_ms(c["multi"]), fmt_ratio(c["multi_ratio"])))
        w("")
    if si.get("memory"):
        w("Memory, from the status page of a module server started for it "
          "(an empty table): %d fresh 1 KiB files requested once with each "
          "kind of tag; entries per file = EntriesInUse after / files." %
          INTEGRITY_MEM_FILES)
        w("")
        w("| | measured | target | |")
        w("|---|---|---|---|")
        for label, value, more, want, ok in si["memory"]:
            w("| %s | **%s**%s | %d | %s |" % (label, value, more, want,
                                               held(ok)))
        w("")


def markdown_ttfb(rows, w):
    w("### First request of a large file (hashed in the background)")
    w("")
    w("A fresh file (new inode) above `CondCacheInlineHashMax` (the "
      "default, 1 MiB): the module answers its first request at once, "
      "without a tag, and its background worker hashes the file. Time to "
      "first byte of that first GET on C, against A's for a fresh file of "
      "the same size (median of 3 requests), page cache warm (hashbench "
      "reads the file just before). Then the time from that request until "
      "C's answer to a HEAD (one every 10 ms) carries the content tag, "
      "against the bound size / standalone sha1 throughput (hashbench's "
      "`cc_digest_fd()` on the same file, same run) + %.0f s. One request "
      "per file; the ratio is the median of the per-file ratios, and the "
      "tag target holds when every file's tag came within its own bound."
      % TARGET_TAG_SLACK)
    w("")
    w("| File | files | A ceiling, ms | C first byte, ms | C/A | target | "
      "| C's tag after, s | standalone sha1, GB/s | bound, s | target | |")
    w("|---|---:|---:|---:|---:|---|---|---:|---:|---:|---|---|")
    for r in rows:
        w("| %s%s | %d | %s | %s | **%s** | <= %.1fx | %s | %s | %s | %s | "
          "within | %s |" % (
              r["label"], " (sparse)" if r["sparse"] else " (real bytes)",
              r["n"], fmt_ms(r["A"]), fmt_ms(r["C"]),
              fmt_ratio(r["ratio"]), TARGET_TTFB_RATIO, held(r["ratio_ok"]),
              "%.2f" % r["tag_s"] + ("" if r["n"] == 1
                                     else " (max %.2f)" % r["tag_max"]),
              fmt_ratio(r["gbps"]), fmt_ratio(r["bound"]), held(r["tag_ok"])))
    w("")


def markdown_warmup(wu, args, w):
    al = wu["alone"]
    w("### Warm-up (`CondCacheWarmUp`)")
    w("")
    w("A tree of %s files of 1 KiB to 1 MiB (deterministic, log-uniform "
      "sizes; %.1f MB), page cache warm, under `CondCacheWarmUp` on a "
      "module server started for it (`CondCacheEntries` %s, no requests "
      "meanwhile). Warm-up throughput = WarmUpBytes / WarmUpMilliseconds, "
      "the walk's time by the worker's own monotonic clock, as the status "
      "page gives them with `WarmUpState: %s`. Seen from outside, from the "
      "background worker's start (its `/proc` start time, which adds its "
      "start behind httpd's children at `SCHED_IDLE`) to the first status "
      "page that says so (polled every 20 ms): %.2f s, %s of standalone; "
      "%.2f s from the server's start command. Standalone: hashbench's "
      "`cc_digest_fd()`"
      " sha1 over the same bytes, one after the other in one file (no "
      "per-file costs), same run. After it: %s digests in the table, %s "
      "evictions; a HEAD of every file found %s of %s in the table (%s "
      "hashed by the request), and the tags of %d sample files are their "
      "sha1." % (
          "{:,}".format(wu["files"]), wu["bytes"] / 1e6,
          "{:,}".format(al.get("entries", 0)), al["state"],
          al.get("seconds_outside") or 0, fmt_ratio(wu.get("outside_ratio")),
          al["seconds_from_launch"], "{:,}".format(al["entries_in_use"]),
          fmt_count(al.get("evictions")), fmt_count(al.get("request_hits")),
          fmt_count(al.get("requests")), fmt_count(al.get("request_hashed")),
          al.get("sample", 0)))
    w("")
    cpu = al.get("worker_cpu_seconds")
    w("| | files | hashed | bytes | seconds | GB/s | target | |")
    w("|---|---:|---:|---:|---:|---:|---|---|")
    w("| warm-up in the worker | %s | %s | %s | %.2f | %s | | |" % (
        "{:,}".format(al["files"]), "{:,}".format(al["hashed"]),
        "{:,}".format(al["bytes"]), al["seconds"], fmt_ratio(wu["gbps"])))
    if al.get("seconds_outside"):
        w("| (report) the same, from the worker's start, seen from outside "
          "| | | | %.2f | %s (%s of standalone) | | |" % (
              al["seconds_outside"], fmt_ratio(wu.get("gbps_outside")),
              fmt_ratio(wu.get("outside_ratio"))))
    w("| standalone sha1, same bytes | | | %s | | %s | | |" % (
        "{:,}".format(wu["bytes"]), fmt_ratio(wu["standalone_gbps"])))
    w("| **warm-up / standalone** | | | | | **%s** | >= %.1f | %s |" % (
        fmt_ratio(wu["throughput_ratio"]), TARGET_WARM_THROUGHPUT,
        held(wu["throughput_ok"])))
    if cpu:
        w("| (report) the worker's CPU time, s, and bytes per CPU-second "
          "| | | | %.2f | %s | | |" % (cpu, fmt_ratio(al["bytes"] / cpu
                                                      / 1e9)))
    w("")
    if cpu:
        w("The worker's CPU time (user + system, from `/proc`, to a clock "
          "tick) tells the two causes of a low ratio apart: CPU time close "
          "to the wall time with a low GB per CPU-second is the worker's "
          "own cost per file; CPU time well below the wall time is CPU it "
          "did not get (it runs at nice 19; other load on the machine).")
        w("")
    w("304 revalidations of a 1 KiB file while a warm-up runs (wrk, %d "
      "threads, %d connections, %d s, as in the 304 cells), C's and A's "
      "windows in turn (C first in odd rounds): C's on the module server "
      "just started (a new table, so its warm-up starts over; stopped "
      "after the window), A's with that server stopped: the ceiling "
      "without background work. The worker runs at nice 19 on the "
      "server's CPU, so under load it yields to its own server's children. "
      "Only rounds whose warm-up was still `running` when C's window "
      "ended, and `running` or not begun yet (`none`) when it started, "
      "count (%d of %d; the warm-up looked at %s files during C's window, "
      "median). C's CPU per request includes the worker's." % (
          args.threads, args.connections, args.duration, wu["during"],
          wu["rounds"], "-" if wu["files_during"] is None
          else "{:,.0f}".format(wu["files_during"])))
    w("")
    w("| Workload | A ceiling | C module | C/A | target | |")
    w("|---|---:|---:|---:|---|---|")
    if wu["during"]:
        w("| 304 revalidation, 1 KiB, warm-up running, req/s | %s | %s | "
          "**%s** | >= %.2f | %s |" % (
              fmt_rps(wu["A"]), fmt_rps(wu["C"]), fmt_ratio(wu["CA"], 3),
              TARGET_WARM_304, held(wu["rps_ok"])))
        w("| same, server CPU per request, us | %.1f | %.1f | %s | | |" % (
            wu["cpu_A"], wu["cpu_C"], fmt_ratio(wu["cpuCA"], 3)))
    else:
        w("| 304 revalidation, 1 KiB, warm-up running | - | - | - | >= %.2f "
          "| - (not measured: the warm-up was not running through C's "
          "window in any round; C/A in those windows %s) |" % (
              TARGET_WARM_304, fmt_ratio(wu["CA_all"], 3)))
    w("")


def markdown_restart(r, w):
    w("### Full restart with a table file")
    w("")
    w("A module server with `CondCacheTableFile` (in a directory of mode "
      "0700 in the scratch directory) and `CondCacheEntries %s`, and a "
      "ceiling server, both serving %s files of 1-4 KiB. Every file primed "
      "(GET: %s entries in use, %s evictions), then %d time%s: both servers "
      "stopped fully (SIGTERM, wait until every process, the background "
      "worker included, is gone), started again (in turn, each first "
      "alternately), and every file revalidated once on C with its tag. "
      "Start time: from the start command to the first complete answer (a "
      "304) to a conditional GET. BytesHashed: the counter after the "
      "revalidations (counters start at zero at each start)." % (
          "{:,}".format(r["entries"]), "{:,}".format(r["files"]),
          "{:,}".format(r["primed"]["EntriesInUse"]),
          "{:,}".format(r["primed"]["Evictions"]), r["n"],
          "" if r["n"] == 1 else "s"))
    w("")
    w("| | measured | target | |")
    w("|---|---:|---|---|")
    w("| revalidations after the restart that were table hits | **%s of %s "
      "(%.2f%%)** | 100%% | %s |" % (
          "{:,}".format(r["hits"]), "{:,}".format(r["requests"]),
          100 * (r["hit_ratio"] or 0), held(r["hits_ok"])))
    w("| BytesHashed after the restart | **%s** (%s files) | 0 | %s |" % (
        "{:,}".format(r["bytes_hashed"]), "{:,}".format(r["files_hashed"]),
        held(r["bytes_ok"])))
    w("| TableState after the restart | **%s** (before: %s) | reattached "
      "| %s |" % (", ".join(r["states"]), r["first_state"],
                  held(r["state_ok"])))
    w("| start command to first answer, C with its table file, ms | %s | "
      "(report) | |" % fmt_ms(r["start_C"]))
    w("| same, A ceiling, ms | %s | | |" % fmt_ms(r["start_A"]))
    w("")


# --------------------------------------------------------------------------
# RESULTS.md and the README sections

def machine_lines(res, args):
    m = res["meta"]
    return [
        "- CPU: %s, %d cores, %.0f GiB RAM" % (m["cpu"], m["cores"],
                                               m["memory_gib"]),
        "- Kernel: Linux %s" % m["kernel"],
        "- httpd: %s; %s" % (m["apache"], m["wrk"]),
        "- Module: commit %s" % m["commit"],
        "- Date: %s; load average %.2f at the start, %.2f at the end; "
        "%d s in all" % (m["date"], m["load_start"], m.get("load_end", 0),
                         m.get("seconds", 0)),
    ]


def targets_lines(s):
    out = []
    for name, value, ok in s["targets"]:
        tag = {True: "held", False: "MISSED", None: "reported",
               NOT_MEASURED: "NOT MEASURED"}[ok]
        out.append("- %s: %s — %s" % (tag, name, value))
    return out


README_BEGIN = "<!-- bench-results:begin -->"
README_END = "<!-- bench-results:end -->"


def write_results(res, args, table, s):
    """Rewrites bench/RESULTS.md and the table between the markers in
    bench/README.md and ../README.md (where it has them); returns the
    files written."""
    cmd = "bench/run" + "".join(" " + shlex.quote(a) for a in args.argv)
    lines = [
        "# mod_condcache benchmark results",
        "",
        "Written by `%s` (run from the repository's top directory). "
        "`bench/README.md` says what each figure is and how it is measured; "
        "timings here never decide a test's pass or fail." % cmd,
        "",
        "## Machine",
        "",
    ] + machine_lines(res, args) + [
        "",
        "## Results",
        "",
        table,
        "## Targets",
        "",
    ] + targets_lines(s) + [
        "",
    ]
    lines += ["What limits the module where a target is missed or close, "
              "with suggestions for the C code: `bench/README.md`, \"What "
              "limits the module\".", ""]
    if res["meta"]["load_start"] > 0.5 or res["meta"].get("load_end", 0) > 2.5:
        lines += ["Note: the machine was not idle (load average above), so "
                  "the req/s figures carry noise beyond the ± shown; the "
                  "callgrind instruction counts do not.", ""]
    path = os.path.join(HERE, "RESULTS.md")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    written = [path]
    block = "\n".join([README_BEGIN, "", "From `bench/RESULTS.md` (%s, %s):"
                       % (res["meta"]["date"], res["meta"]["cpu"]), "",
                       table, README_END])
    for readme in (os.path.join(HERE, "README.md"),
                   os.path.join(REPO, "README.md")):
        try:
            with open(readme) as f:
                text = f.read()
        except FileNotFoundError:
            continue
        i, j = text.find(README_BEGIN), text.find(README_END)
        if i < 0 or j < i:
            continue
        text = text[:i] + block + text[j + len(README_END):]
        with open(readme, "w") as f:
            f.write(text)
        written.append(readme)
    return written
