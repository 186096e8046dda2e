#!/usr/bin/env python3
"""Markdown report of bench/multisite.sh: multisite-report.py RESULTS.tsv META.env.

RESULTS.tsv rows: operation, path, state, round, seconds, 1-minute load average, then the CPU ticks (utime+stime)
each process in META's PROCS used during the measurement."""
import statistics
import sys
from collections import defaultdict

rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
meta = dict(line.rstrip("\n").split("=", 1) for line in open(sys.argv[2]) if "=" in line)
procs = meta["PROCS"].split()
tick_ms = 1000 / int(meta["CLK_TCK"])
get_mib, put_mib = int(meta["GET_MIB"]), int(meta["PUT_MIB"])
small_requests = int(meta["SMALL_REPEATS"]) + 1
gateway = meta["GATEWAY"] == "1"

by = defaultdict(list)
loads = []
for op, path, state, rnd, secs, load, *ticks in rows:
    by[(op, state, path)].append((float(secs), dict(zip(procs, (int(t) for t in ticks)))))
    loads.append(float(load))


def secs(op, state, path):
    return [s for s, _ in by.get((op, state, path), [])]


def med(values):
    return statistics.median(values) if values else float("nan")


def cpu_ms(op, state, path, group, per=1):
    """Median over rounds of the CPU of the processes whose name starts with one of group, per operation."""
    samples = [sum(t for p, t in ticks.items() if p.startswith(group)) * tick_ms / per for _, ticks in by.get((op, state, path), [])]
    return med(samples)


def span(values, scale=1.0, fmt="{:.2f}"):
    if not values:
        return "n/a"
    return f"{fmt.format(med(values) * scale)} ({fmt.format(min(values) * scale)}–{fmt.format(max(values) * scale)})"


def ratio(a, b):
    return f"{a / b:.2f}" if a == a and b == b and b > 0 else "n/a"


STATES = [("direct", "A–C link (1 link)"), ("viab", "via B (2 links)")]
PATH_NAMES = {
    "edge": "AnnexEdge at A",
    "direct": "client to the node(s) itself",
    "gateway": "git-annex's gateway at A",
}
paths = ["edge", "direct"] + (["gateway"] if gateway else [])
edges = ("edge-",)
gws = ("gw-",)
fwd = ("forwarder",)
nodes = ("a1", "b1", "c1")

out = []
w = out.append
w("# Multi-site cluster benchmark (bench/multisite.sh)")
w("")
w(f"{meta['DATE']}, {meta['MACHINE']}, commit {meta['COMMIT']}, .NET {meta['DOTNET']}, git-annex {meta['ANNEX']}.")
w(f"{meta['ROUNDS']} rounds; every link between sites {meta['DELAY_MS']} ms one way (a round trip costs "
  f"{2 * float(meta['DELAY_MS']):g} ms per link). Client at site A.")
w(f"**Loaded machine**: load average {meta['LOADAVG']} at the start, {meta['LOADAVG_END']} at the end, "
  f"{min(loads):.2f}–{max(loads):.2f} (1 min) during the measurements (other work shares the 2 cores). "
  "Figures are medians over the rounds, (min–max) in brackets; CPU is the median per operation, in ms.")
if meta.get("GATEWAY_NOTE"):
    w(f"git-annex's gateway: {meta['GATEWAY_NOTE']}.")
w("")

w(f"## GET of a {get_mib} MiB key that only site C's node has, through the cluster UUID at A")
w("")
w("| Route | Path | Time s | MiB/s | vs the node itself | vs git-annex's gateway | edges' CPU ms | gateways' CPU ms | forwarder CPU ms | nodes' CPU ms |")
w("|---|---|---|---|---|---|---|---|---|---|")
for state, label in STATES:
    base = med(secs("get", state, "direct"))
    gw = med(secs("get", state, "gateway"))
    for p in paths:
        s = secs("get", state, p)
        w(f"| {label} | {PATH_NAMES[p]} | {span(s)} | {get_mib / med(s):.0f} | {ratio(med(s), base)} | "
          f"{ratio(med(s), gw) if gateway else 'n/a'} | {cpu_ms('get', state, p, edges):.0f} | "
          f"{cpu_ms('get', state, p, gws):.0f} | {cpu_ms('get', state, p, fwd):.0f} | {cpu_ms('get', state, p, nodes):.0f} |")
w("")

w(f"## GET of a 4 KiB key that only site C's node has: latency on a keep-alive connection")
w("")
w(f"Median of {small_requests - 1} requests per round (the connection's first not counted); the table gives the median "
  "(min–max) of the rounds' medians, and CPU per request.")
w("")
w("| Route | Path | Latency ms | vs the node itself | vs git-annex's gateway | edges' CPU ms | gateways' CPU ms |")
w("|---|---|---|---|---|---|---|")
for state, label in STATES:
    base = med(secs("get-small", state, "direct"))
    gw = med(secs("get-small", state, "gateway"))
    for p in paths:
        s = secs("get-small", state, p)
        w(f"| {label} | {PATH_NAMES[p]} | {span(s, 1000, '{:.1f}')} | {ratio(med(s), base)} | "
          f"{ratio(med(s), gw) if gateway else 'n/a'} | {cpu_ms('get-small', state, p, edges, small_requests):.2f} | "
          f"{cpu_ms('get-small', state, p, gws, small_requests):.2f} |")
w("")

w(f"## PUT of a fresh {put_mib} MiB key through the cluster UUID at A, stored at all 3 sites")
w("")
w("The node itself: the client PUTs to a1, b1 and c1 at once (a1 local, b1 and c1 over the same forwarders; via B, c1 "
  "through the A–B and B–C forwarders), the 3-way limit. Every node is checked with checkpresent after each PUT.")
w("")
w("| Route to C | Path | Time s | MiB/s (one copy) | vs 3-way | vs git-annex's gateway | edges' CPU ms | gateways' CPU ms | forwarder CPU ms | nodes' CPU ms |")
w("|---|---|---|---|---|---|---|---|---|---|")
for state, label in STATES:
    base = med(secs("put", state, "direct"))
    gw = med(secs("put", state, "gateway"))
    for p in paths:
        s = secs("put", state, p)
        name = "client to the 3 nodes at once (3-way)" if p == "direct" else PATH_NAMES[p]
        w(f"| {label} | {name} | {span(s)} | {put_mib / med(s):.0f} | {ratio(med(s), base)} | "
          f"{ratio(med(s), gw) if gateway else 'n/a'} | {cpu_ms('put', state, p, edges):.0f} | "
          f"{cpu_ms('put', state, p, gws):.0f} | {cpu_ms('put', state, p, fwd):.0f} | {cpu_ms('put', state, p, nodes):.0f} |")
w("")

w(f"## The forwarder alone: GET of the {get_mib} MiB key from c1, 3 times")
w("")
w("| Path | Time s | MiB/s | forwarder CPU ms |")
w("|---|---|---|---|")
for state in {k[1] for k in by if k[0] == "get-fwd"}:
    for p, name in (("local", "straight from the node"), ("direct0", "through the forwarder, no delay")):
        s = secs("get-fwd", state, p)
        w(f"| {name} | {span(s)} | {get_mib / med(s):.0f} | {cpu_ms('get-fwd', state, p, fwd):.0f} |")
w("")
print("\n".join(out))
