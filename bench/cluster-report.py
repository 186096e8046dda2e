#!/usr/bin/env python3
"""Turns bench/cluster.sh's raw measurements into the markdown report it prints and saves.

usage: cluster-report.py RESULTS.tsv META.env
RESULTS.tsv lines (tab-separated): operation, path, round, seconds, edge peak VmRSS KiB, edge VmHWM KiB,
  gateway peak VmRSS KiB, gateway VmHWM KiB, then CPU ticks during the measurement of: edge, gateway, node1..3
META.env lines: KEY=VALUE
"""
import statistics
import sys

PATHS = {"edge": "AnnexEdge", "gateway": "git-annex gateway", "limit3": "3-way limit (client to 3 nodes)",
         "direct": "direct to one node"}
PROCS = ["edge", "gateway", "node1", "node2", "node3"]


def main():
    meta = {}
    with open(sys.argv[2]) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            meta[key] = value
    tick = 1.0 / int(meta["CLK_TCK"])
    rows = {}
    with open(sys.argv[1]) as f:
        for line in f:
            op, path, _round, secs, rss_e, hwm_e, rss_g, hwm_g, *cpu = line.rstrip("\n").split("\t")
            rows.setdefault((op, path), []).append({
                "secs": float(secs), "rss_edge": int(rss_e) / 1024, "hwm_edge": int(hwm_e) / 1024,
                "rss_gw": int(rss_g) / 1024, "hwm_gw": int(hwm_g) / 1024,
                "cpu": {p: int(t) * tick for p, t in zip(PROCS, cpu)}})

    ops = [("put-small", f"PUT {meta['PUT_SMALL_MIB']} MiB"), ("put-large", f"PUT {meta['PUT_LARGE_MIB']} MiB"),
           ("get", f"GET {meta['GET_MIB']} MiB")]
    med = {k: statistics.median(r["secs"] for r in v) for k, v in rows.items()}

    def cell(op, path):
        v = [r["secs"] for r in rows.get((op, path), [])]
        return "–" if not v else f"{statistics.median(v):.2f} ({min(v):.2f}–{max(v):.2f})"

    def speed(op, path, base):
        """How fast `path` is relative to `base` (ratio of median times, inverted): > 1 is faster."""
        if (op, path) not in med or (op, base) not in med:
            return None
        return med[(op, base)] / med[(op, path)]

    def fmt(x):
        return "–" if x is None else f"{x:.2f}×"

    out = [
        f"Measured {meta['DATE']} on {meta['MACHINE']}, loopback, {meta['ROUNDS']} rounds interleaved (each round "
        f"starting one path further; each GET {meta.get('GET_REPEATS', '1')} times per path per round); load average at start {meta['LOADAVG']}, at end {meta['LOADAVG_END']}.",
        f"AnnexEdge {meta['COMMIT']} (Release, .NET {meta['DOTNET']}, Serilog Warning); git-annex {meta['ANNEX']}: "
        "3 nodes `p2phttp --jobs 4`, git-annex's gateway `p2phttp --clusterjobs 3 --jobs 4` (nodes as local-path "
        "remotes); client: curl. Every PUT stores the whole object (it is removed from every node after each).",
        "",
        "Median (min–max) seconds, to the answer (PUT) or the last byte (GET). PUT via a gateway goes to the cluster "
        "UUID and stores on the 3 nodes; the 3-way limit is the client PUTting to the 3 nodes itself at once "
        "(time until all 3 answered).",
        "",
        "| operation | " + " | ".join(PATHS.values()) + " |",
        "|---|" + "---|" * len(PATHS),
    ]
    for op, label in ops:
        out.append(f"| {label} | " + " | ".join(cell(op, p) for p in PATHS) + " |")
    out += ["", "Ratios of medians as speed (> 1 = faster): reference time / path time.", "",
            "| operation | ratio | value | target | met |", "|---|---|---|---|---|"]
    for op, label in ops[:2]:
        r = speed(op, "edge", "limit3")
        out.append(f"| {label} | AnnexEdge / 3-way limit | {fmt(r)} | ≥ 0.9× | {'yes' if r and r >= 0.9 else 'NO'} |")
        r = speed(op, "edge", "gateway")
        out.append(f"| {label} | AnnexEdge / git-annex gateway | {fmt(r)} | > 1× | {'yes' if r and r > 1 else 'NO'} |")
        out.append(f"| {label} | git-annex gateway / 3-way limit | {fmt(speed(op, 'gateway', 'limit3'))} | | |")
        out.append(f"| {label} | AnnexEdge / direct to one node | {fmt(speed(op, 'edge', 'direct'))} | | |")
        out.append(f"| {label} | 3-way limit / direct to one node | {fmt(speed(op, 'limit3', 'direct'))} | | |")
    label = ops[2][1]
    r = speed("get", "edge", "direct")
    out.append(f"| {label} | AnnexEdge / direct | {fmt(r)} | ≥ 0.9× | {'yes' if r and r >= 0.9 else 'NO'} |")
    out.append(f"| {label} | AnnexEdge / git-annex gateway | {fmt(speed('get', 'edge', 'gateway'))} | (about 2×) | |")
    out.append(f"| {label} | git-annex gateway / direct | {fmt(speed('get', 'gateway', 'direct'))} | | |")

    out += ["", "CPU seconds per operation (median; utime+stime from /proc): on 2 cores the processes compete for "
            "CPU, so this is the cost, less disturbed by other load than the wall time. The client (curl) is not "
            "counted.", "",
            "| operation | path | AnnexEdge | git-annex gateway | node1 | node2 | node3 | nodes together |",
            "|---|---|---|---|---|---|---|---|"]
    for op, label in ops:
        for p, plabel in PATHS.items():
            v = rows.get((op, p))
            if not v:
                continue
            c = {q: statistics.median(r["cpu"][q] for r in v) for q in PROCS}
            nodes = statistics.median(sum(r["cpu"][q] for q in PROCS[2:]) for r in v)
            out.append(f"| {label} | {plabel} | " + " | ".join(f"{c[q]:.2f}" for q in PROCS) + f" | {nodes:.2f} |")

    out += ["", "Resident memory while the gateways worked, MiB: highest sampled VmRSS (every 20 ms) and VmHWM "
            "(reset before each measurement), max over the rounds.", "",
            "| operation | AnnexEdge peak RSS | AnnexEdge VmHWM | git-annex gateway peak RSS | git-annex gateway VmHWM |",
            "|---|---|---|---|---|"]
    for op, label in ops:
        e, g = rows.get((op, "edge"), []), rows.get((op, "gateway"), [])
        out.append(f"| {label} | {max(r['rss_edge'] for r in e):.0f} | {max(r['hwm_edge'] for r in e):.0f} | "
                   f"{max(r['rss_gw'] for r in g):.0f} | {max(r['hwm_gw'] for r in g):.0f} |")
    small = max(r["hwm_edge"] for r in rows[("put-small", "edge")])
    large = max(r["hwm_edge"] for r in rows[("put-large", "edge")])
    flat = large - small <= 32
    out += ["", f"AnnexEdge VmRSS after start-up {meta['RSS_EDGE_START']} MiB, after warm-up {meta['RSS_EDGE_WARM']} "
            f"MiB, at the end {meta['RSS_EDGE_END']} MiB. RSS flat (VmHWM during the {meta['PUT_LARGE_MIB']} MiB PUT "
            f"within 32 MiB of the {meta['PUT_SMALL_MIB']} MiB PUT's: {large:.0f} against {small:.0f} MiB): "
            f"{'yes' if flat else 'NO'}."]
    if meta.get("GET_STALLS"):
        out += ["", f"GET answers that stalled for {meta.get('GET_MAX_TIME', '?')} s and were measured again (path (kind): "
                    f"count): {meta['GET_STALLS']}."]
    print("\n".join(out))


main()
