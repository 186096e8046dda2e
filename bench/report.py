#!/usr/bin/env python3
"""Turns bench/run.sh's raw measurements into the markdown table it prints and saves.

usage: report.py RESULTS.tsv CPU.tsv META.env
RESULTS.tsv lines: operation <TAB> path <TAB> round <TAB> value   (seconds for get/put, requests/s for cp*)
CPU.tsv lines: operation <TAB> path <TAB> round <TAB> node ticks <TAB> ticks of the path's process <TAB> requests
META.env lines: KEY=VALUE (sizes, versions, memory peaks)
"""
import statistics
import sys

PATHS = [("direct", "direct"), ("edge", "edge"), ("edge-info", "edge, Information log"), ("caddy", "Caddy"),
         ("edge-tls", "edge, HTTPS"), ("caddy-tls", "Caddy, HTTPS")]


def load_cpu(cpu_path, tick):
    """CPU seconds per request, per (operation, path), for the node and for the process the client talks to."""
    node, proxy = {}, {}
    with open(cpu_path) as f:
        for line in f:
            op, path, _round, node_ticks, path_ticks, count = line.rstrip("\n").split("\t")
            n = max(int(count), 1)
            node.setdefault((op, path), []).append(int(node_ticks) * tick / n)
            proxy.setdefault((op, path), []).append(int(path_ticks) * tick / n)
    return node, proxy


def load(results_path, meta_path):
    values = {}
    with open(results_path) as f:
        for line in f:
            op, path, _round, value = line.rstrip("\n").split("\t")
            values.setdefault((op, path), []).append(float(value))
    meta = {}
    with open(meta_path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            meta[key] = value
    return values, meta


def main():
    values, meta = load(sys.argv[1], sys.argv[3])
    node_cpu, proxy_cpu = load_cpu(sys.argv[2], 1.0 / int(meta["CLK_TCK"]))
    ops = [
        ("get", f"GET {meta['GET_MIB']} MiB", "s", True),
        ("put", f"PUT {meta['PUT_MIB']} MiB", "s", True),
        ("cp1", "checkpresent, 1 connection", "req/s", False),
        ("cp32", "checkpresent, 32 connections", "req/s", False),
    ]
    second = meta.get("SECOND_EDGE")
    second_label = f"edge, DownloadTransport {second}" if second else "edge, Information log"
    labels = [(p, second_label if p == "edge-info" else label) for p, label in PATHS]
    paths = [p for p in labels if any((op, p[0]) in values for op, *_ in ops)]
    med = {k: statistics.median(v) for k, v in values.items()}

    def cell(op, path, unit):
        v = values.get((op, path))
        if not v:
            return "–"
        digits = 2 if unit == "s" else 0
        return f"{med[(op, path)]:.{digits}f} ({min(v):.{digits}f}–{max(v):.{digits}f})"

    def speed(op, path, base, timed):
        """How fast `path` is relative to `base`: >1 is faster. Time ratios are inverted, rate ratios are not."""
        if (op, path) not in med or (op, base) not in med:
            return None
        a, b = med[(op, path)], med[(op, base)]
        return b / a if timed else a / b

    def fmt(x):
        return "–" if x is None else f"{x:.2f}×"

    out = []
    out.append(f"Measured {meta['DATE']} on {meta['MACHINE']}, loopback, {meta['ROUNDS']} rounds interleaved "
               f"({', '.join(p[0] for p in paths)} in turn, each round starting one further); load average at start {meta['LOADAVG']}.")
    out.append(f"AnnexEdge {meta['COMMIT']} (Release, .NET {meta['DOTNET']}), git-annex {meta['ANNEX']} "
               f"(`p2phttp --jobs 4`), Caddy {meta['CADDY']}; client: curl for GET/PUT, bench/AnnexEdge.Bench for req/s "
               f"({meta['RPS_SECS']} s each)."
               + (f" Edge environment: `{meta['EDGE_ENV']}`." if meta.get("EDGE_ENV") else ""))
    out.append("")
    out.append("Median (min–max) per path; GET/PUT in seconds to the last byte / the answer, checkpresent in requests/s.")
    out.append("")
    out.append("| operation | unit | " + " | ".join(label for _, label in paths) + " |")
    out.append("|---|---|" + "---|" * len(paths))
    for op, label, unit, _ in ops:
        out.append(f"| {label} | {unit} | " + " | ".join(cell(op, p, unit) for p, _ in paths) + " |")
    out.append("")
    out.append("Ratios of medians, as speed (>1 = faster): for GET/PUT direct_time/path_time, for req/s path/direct; "
               "edge/Caddy likewise.")
    out.append("")
    out.append(f"| operation | edge/direct | {second_label}/direct | Caddy/direct | edge/Caddy | target | met |")
    out.append("|---|---|---|---|---|---|---|")
    for op, label, _, timed in ops:
        ed = speed(op, "edge", "direct", timed)
        ei = speed(op, "edge-info", "direct", timed)
        cd = speed(op, "caddy", "direct", timed)
        ec = speed(op, "edge", "caddy", timed)
        if op == "get":
            target, met = "edge ≥ Caddy", ec is not None and ec >= 1.0
        elif op == "put":
            target, met = "edge ≥ 0.95× direct", ed is not None and ed >= 0.95
        else:
            target = "edge ≥ 0.8× direct and ≥ Caddy"
            met = ed is not None and ec is not None and ed >= 0.8 and ec >= 1.0
        out.append(f"| {label} | {fmt(ed)} | {fmt(ei)} | {fmt(cd)} | {fmt(ec)} | {target} | {'yes' if met else 'NO'} |")
    if any(p == "edge-tls" for p, _ in paths):
        out.append("")
        out.append("Over HTTPS (client to proxy; the same certificate for both, plain HTTP to the node): speed of the edge "
                   "against Caddy (>1 = faster) and CPU per operation of each (medians).")
        out.append("")
        out.append("| operation | edge/Caddy speed | target | met | edge CPU | Caddy CPU | CPU target | met |")
        out.append("|---|---|---|---|---|---|---|---|")
        for op, label, _, timed in ops:
            ec = speed(op, "edge-tls", "caddy-tls", timed)
            goal = 1.1 if op == "get" else 1.0
            scale, unit = (1e3, "ms") if timed else (1e6, "µs")
            ecpu, ccpu = proxy_cpu.get((op, "edge-tls")), proxy_cpu.get((op, "caddy-tls"))
            em = statistics.median(ecpu) if ecpu else None
            cm = statistics.median(ccpu) if ccpu else None
            cpu_met = em is not None and cm is not None and em <= cm
            out.append(f"| {label} | {fmt(ec)} | ≥ {goal}× | {'yes' if ec is not None and ec >= goal else 'NO'} | "
                       f"{'–' if em is None else f'{em * scale:.0f} {unit}'} | {'–' if cm is None else f'{cm * scale:.0f} {unit}'} | "
                       f"≤ Caddy's | {'yes' if cpu_met else 'NO'} |")
    out.append("")
    out.append("CPU time per operation (median; ms per GET/PUT, µs per checkpresent request): of the proxy, "
               "and of the node when reached directly. This is less disturbed than wall time by other load on "
               "the machine.")
    out.append("")
    proxies = [p for p in paths if p[0] != "direct"]
    out.append("| operation | " + " | ".join(label for _, label in proxies) + " | node (direct) |")
    out.append("|---|" + "---|" * (len(proxies) + 1))
    for op, label, _, timed in ops:
        scale, unit = (1e3, "ms") if timed else (1e6, "µs")

        def c(table, path):
            v = table.get((op, path))
            return "–" if not v else f"{statistics.median(v) * scale:.0f} {unit}"

        out.append(f"| {label} | " + " | ".join(c(proxy_cpu, p) for p, _ in proxies) + f" | {c(node_cpu, 'direct')} |")
    out.append("")
    out.append(f"Peak resident memory (VmHWM) over the whole run: edge {meta['HWM_EDGE']} MiB, "
               f"{second_label} {meta['HWM_EDGE_INFO']} MiB, Caddy {meta['HWM_CADDY']} MiB, "
               f"node {meta['HWM_NODE']} MiB; edge after start-up {meta['RSS_EDGE_START']} MiB. "
               f"Log lines written by the second edge: {meta['INFO_LOG_LINES']}.")
    if meta.get("GET_STALLS"):
        out.append("")
        out.append(f"GET answers that stalled for {meta.get('GET_MAX_TIME', '?')} s and were measured again (path: count): "
                   f"{meta['GET_STALLS']}.")
    print("\n".join(out))


main()
