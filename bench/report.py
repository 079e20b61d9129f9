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


def fmt_bytes(n):
    if n >= MIB:
        return "{:,} ({:.1f} MiB)".format(n, n / MIB)
    if n >= KIB:
        return "{:,} ({:.1f} KiB)".format(n, n / KIB)
    return "{:,}".format(n)


def held(ok):
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
    mem = res["memory"]
    if mem:
        m = mem["million"]
        ok = m["SharedMemoryBytes"] < 256 * MIB
        s["memory"] = mem
        T.append(("table memory: 1 million entries well under 256 MiB",
                  "%.1f MiB (%d bytes per entry)" % (
                      m["SharedMemoryBytes"] / MIB, m["BytesPerEntry"]), ok))
    return s


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
      " sha1, `CondCacheEntries %d`)." % (pin, args.entries))
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
          "round x %d round%s. The module's first request is checked to be "
          "a hash-and-store, its second a table hit. Hash time = TTFB minus "
          "the ceiling's TTFB for the same file." % (
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
        w("")
    return "\n".join(out), s


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
        tag = {True: "held", False: "MISSED", None: "reported"}[ok]
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
