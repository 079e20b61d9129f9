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


def summarize(res, args):
    """Medians, ratios and target checks from the raw results."""
    s = {"load": [], "targets": []}
    T = s["targets"]
    for key, label, kind, path, size in LOAD_CELLS:
        cell = res["load"].get(key)
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
        row["target"] = "C/A >= 0.95"
        row["ok"] = None if row["CA"] is None else row["CA"] >= 0.95
        s["load"].append(row)
        T.append(("%s: module/ceiling >= 0.95" % label,
                  "%.3f (%s vs %s req/s); per server CPU-second %s" % (
                      row["CA"], fmt_rps(med["C"]), fmt_rps(med["A"]),
                      fmt_ratio(row["cpuCA"], 3)), row["ok"]))
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
    out["throughput_ok"] = (NOT_MEASURED if out["throughput_ratio"] is None
                            else out["throughput_ratio"]
                            >= TARGET_WARM_THROUGHPUT)
    T.append(("warm-up of %s files (%.0f MB): hashing throughput >= %.1fx "
              "standalone sha1 of the same bytes" % (
                  "{:,}".format(w["files"]), w["bytes"] / 1e6,
                  TARGET_WARM_THROUGHPUT),
              "%s (%s vs %s GB/s; %s, %s s, worker CPU %s s)" % (
                  fmt_ratio(out["throughput_ratio"]),
                  fmt_ratio(out["gbps"]),
                  fmt_ratio(out["standalone_gbps"]), al["state"],
                  fmt_ratio(al["seconds"]),
                  fmt_ratio(al.get("worker_cpu_seconds"))),
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
        out["ok"] = (per <= TARGET_FILE_BYTES_PER_ENTRY if out["used"]
                     else NOT_MEASURED)
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
        w("wrk %d threads, %d connections, %d s per run; median of %d "
          "interleaved round%s (±: (max-min)/median over the rounds); C/A "
          "and C/B are the medians of the ratios within each round. Every "
          "run checked: no wrk errors, and the bytes per response of the "
          "304 or 200 verified before." % (
              args.threads, args.connections, args.duration, args.rounds,
              "" if args.rounds == 1 else "s"))
        w("")
        w("| Workload | A ceiling | B Digest | C module | C/A | C/B | "
          "target | |")
        w("|---|---:|---:|---:|---:|---:|---|---|")
        dagger = False
        for row in s["load"]:
            m, sp, few = row["med"], row["spread"], row["few"]
            cells = []
            for n in "ABC":
                cells.append(fmt_rps(m[n]) + ("†" if few[n] else "")
                             + fmt_pct(sp[n]))
                dagger = dagger or few[n]
            w("| %s | %s | %s | %s | **%s** | %s | C/A >= 0.95 | %s |" % (
                row["label"], cells[0], cells[1], cells[2],
                fmt_ratio(row["CA"], 3), fmt_ratio(row["CB"], 1) + "x",
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
        g = lambda x: "-" if x is None else (  # noqa: E731
            "%.1f" % x if x < 1000 else "{:,.0f}".format(x))
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
      "module server started for it (`CondCacheEntries` 16x the files, no "
      "requests meanwhile). Warm-up throughput = WarmUpBytes / time from the "
      "background worker's start (its `/proc` start time) to the status "
      "page's first `WarmUpState: %s` (polled every 10 ms); %.2f s from "
      "the server's start command. Standalone: hashbench's `cc_digest_fd()`"
      " sha1 over the same bytes, one after the other in one file (no "
      "per-file costs), same run. After it: %s digests in the table, %s "
      "evictions; a HEAD of every file found %s of %s in the table (%s "
      "hashed by the request), and the tags of %d sample files are their "
      "sha1." % (
          "{:,}".format(wu["files"]), wu["bytes"] / 1e6, al["state"],
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
