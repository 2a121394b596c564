#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""report.py: the tables and the RESULTS JSON of `make bench` (scripts/bench).

Reads what the guest and the decoder runs wrote under --run DIR:
  modes/modes.jsonl, modes/meta-modes.json   one line per (mode, round)
  profile/profile.txt                        stap -t's timing report
  decoder/decoder.jsonl, decoder/*.profile   one line per decoder run
  scale/scale.jsonl, scale/churn.json        memory per phase, churn summary
prints the tables, writes them to DIR/tables.txt and everything to --results.

Ratios are taken round by round against the baseline of the same round
(rounds are interleaved), then summarised as median [min-max].
"""
import argparse
import json
import os
import re
import platform
import statistics
import sys
import time

MODE_ORDER = ["baseline", "floor", "disarmed", "every", "threshold", "ring", "pcap"]
MODE_LABEL = {
    "baseline": "baseline (no tracing)",
    "floor": "floor (same probes, empty)",
    "disarmed": "disarmed (a call, a return)",
    "every": "latency, every exchange",
    "threshold": "latency, threshold 10 ms",
    "ring": "latency, ring (no trigger)",
    "pcap": "tcpdump -w (snaplen 65535)",
    "defaults": "prebuilt, loader defaults",
}
THROUGHPUT_TARGET = 0.99	# threshold mode keeps >= 99% of the baseline
FLOOR_FACTOR_TARGET = 1.5	# threshold tracing CPU <= 1.5x the floor's
STATS_TARGET = 5e6		# tcpstap stats records/s


def load_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def load_json(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def summary(values):
    """median, min, max of the values that exist, or None."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def fmt(s, digits=3, scale=1.0):
    if s is None:
        return "-"
    m, lo, hi = (s["median"] * scale, s["min"] * scale, s["max"] * scale)
    return "%.*f [%.*f-%.*f]" % (digits, m, digits, lo, digits, hi)


def per_round(rec):
    """Absolute metrics of one (mode, round) record."""
    d = {
        "rps": rec["rps"],
        "p50_ms": rec["p50_ms"],
        "p99_ms": rec["p99_ms"],
        "cpu_us_per_x": rec["cpu_ticks"] * 1e6 / rec["hz"] / rec["requests"],
    }
    hits = rec.get("probe_hits")
    if hits:
        wall_s = rec["wall_ns"] / 1e9
        d["handler_ns_per_event"] = rec["probe_ns"] / hits
        d["events_per_s"] = hits / wall_s
        d["events_per_x"] = hits / rec["requests"]
        d["handler_us_per_x"] = rec["probe_ns"] / 1e3 / rec["requests"]
        d["traced_x_per_s"] = rec.get("exchanges", 0) / wall_s
        if rec.get("exchanges"):
            d["emitted_share"] = rec["emitted"] / rec["exchanges"]
        d["skipped_share"] = rec.get("skipped_probes", 0) / (hits + rec.get("skipped_probes", 0))
    return d


def modes_part(run):
    recs = load_jsonl(os.path.join(run, "modes", "modes.jsonl"))
    if not recs:
        return None
    na = {r["mode"]: r["na"] for r in recs if "na" in r}
    rounds = {}
    for r in recs:
        if "na" in r:
            continue
        r["derived"] = per_round(r)
        rounds.setdefault(r["mode"], {})[r["round"]] = r
    base = rounds.get("baseline", {})
    out = {"na": na, "rounds": recs, "summary": {}}
    for mode, by_round in rounds.items():
        s = {}
        for key in ["rps", "p50_ms", "p99_ms", "cpu_us_per_x", "handler_ns_per_event",
                    "events_per_s", "events_per_x", "handler_us_per_x", "traced_x_per_s",
                    "emitted_share", "skipped_share"]:
            s[key] = summary([r["derived"].get(key) for r in by_round.values()])
        for key, ratio_key in [("rps", "throughput"), ("p50_ms", "p50"), ("p99_ms", "p99"),
                               ("cpu_us_per_x", "cpu_per_x")]:
            s["ratio_" + ratio_key] = summary(
                [r["derived"][key] / base[n]["derived"][key]
                 for n, r in by_round.items() if n in base and base[n]["derived"][key]])
        # CPU per exchange that tracing adds: mode minus baseline, same round.
        s["tracing_us_per_x"] = summary(
            [r["derived"]["cpu_us_per_x"] - base[n]["derived"]["cpu_us_per_x"]
             for n, r in by_round.items() if n in base])
        s["rounds"] = len(by_round)
        s["tracer_failures"] = sum(1 for r in by_round.values() if r.get("tracer_rc"))
        s["disarmed_rounds"] = sum(1 for r in by_round.values() if r.get("armed") == 0)
        out["summary"][mode] = s
    # The two comparisons the issue asks for, round by round.
    pc = {}
    for mode in ["floor", "disarmed", "every", "threshold", "ring"]:
        if mode in rounds and "pcap" in rounds:
            pc[mode] = summary([_tracing(rounds, mode, n) / _tracing(rounds, "pcap", n)
                                for n in rounds[mode]
                                if n in rounds["pcap"] and n in base and _tracing(rounds, "pcap", n) > 0])
    out["vs_pcap"] = pc
    if "threshold" in rounds and "floor" in rounds:
        out["threshold_vs_floor"] = summary(
            [_tracing(rounds, "threshold", n) / _tracing(rounds, "floor", n)
             for n in rounds["threshold"]
             if n in rounds["floor"] and n in base and _tracing(rounds, "floor", n) > 0])
    return out


def _tracing(rounds, mode, n):
    return (rounds[mode][n]["derived"]["cpu_us_per_x"] -
            rounds["baseline"][n]["derived"]["cpu_us_per_x"])


def modes_tables(m, meta, lines):
    s = m["summary"]
    b = s.get("baseline")
    lines.append("== Tracing modes: ratios to the baseline of the same round, median [min-max] ==")
    if meta:
        lines.append("guest: kernel %s, %d vCPUs (QEMU TCG, no KVM), %d MB; redis %s, tcpdump %s, systemtap-runtime %s"
                     % (meta["kernel"], meta["cpus"], meta["mem_kb"] // 1024, meta["redis"],
                        meta["tcpdump"], meta["systemtap_runtime"]))
    if b:
        lines.append("baseline, absolute (emulated): %.0f exchanges/s, p50 %.3f ms, p99 %.3f ms, %.1f us guest CPU/exchange"
                     % (b["rps"]["median"], b["p50_ms"]["median"], b["p99_ms"]["median"],
                        b["cpu_us_per_x"]["median"]))
    hdr = "%-28s %-22s %-22s %-22s %-22s" % (
        "mode", "throughput", "p50 latency", "p99 latency", "CPU/exchange")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for mode in MODE_ORDER:
        if mode in m["na"]:
            lines.append("%-28s n/a (%s)" % (MODE_LABEL[mode], m["na"][mode]))
            continue
        if mode not in s:
            continue
        x = s[mode]
        lines.append("%-28s %-22s %-22s %-22s %-22s" % (
            MODE_LABEL[mode], fmt(x["ratio_throughput"]), fmt(x["ratio_p50"]),
            fmt(x["ratio_p99"]), fmt(x["ratio_cpu_per_x"])))
        notes = []
        if x["tracer_failures"]:
            notes.append("tracer failed in %d of %d rounds" % (x["tracer_failures"], x["rounds"]))
        if x["disarmed_rounds"]:
            notes.append("module disarmed in %d rounds" % x["disarmed_rounds"])
        if notes:
            lines.append("%-28s   ! %s" % ("", "; ".join(notes)))
    lines.append("")
    lines.append("== The module's own counters (state file), median [min-max] ==")
    hdr = "%-28s %-22s %-20s %-16s %-18s %-16s" % (
        "mode", "handler ns/event", "events/s", "events/exchange", "emitted/exchanges", "skipped hits")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for mode in ["every", "threshold", "ring"]:
        if mode not in s or not s[mode]["handler_ns_per_event"]:
            continue
        x = s[mode]
        lines.append("%-28s %-22s %-20s %-16s %-18s %-16s" % (
            MODE_LABEL[mode], fmt(x["handler_ns_per_event"], 0), fmt(x["events_per_s"], 0),
            fmt(x["events_per_x"], 1), fmt(x["emitted_share"], 2), fmt(x["skipped_share"], 3)))
    lines.append("events: handler runs (probe hits) on both ends of every connection (one kernel); "
                 "handler ns: the module's own clock around its handler bodies;")
    lines.append("emitted/exchanges: the share of the module's exchanges sent to userspace; skipped hits: "
                 "share of handler runs SystemTap skipped (a global's lock not had in time): events lost")
    lines.append("")
    lines.append("== How much cheaper than pcap: guest CPU per exchange added by tracing (mode - baseline, same round) ==")
    hdr = "%-28s %-26s %-22s" % ("mode", "added CPU us/exchange", "vs tcpdump -w")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for mode in ["floor", "disarmed", "every", "threshold", "ring", "pcap"]:
        if mode not in s:
            continue
        vs = "1" if mode == "pcap" else fmt(m["vs_pcap"].get(mode), 2)
        lines.append("%-28s %-26s %-22s" % (MODE_LABEL[mode], fmt(s[mode]["tracing_us_per_x"], 2), vs))
    lines.append("")
    if all(k in s for k in ["floor", "disarmed", "every"]):
        med = {k: s[k]["tracing_us_per_x"]["median"] for k in ["floor", "disarmed", "every"]}
        lines.append("where latency's added CPU goes (medians, us/exchange): probes and SystemTap's entry %.1f, "
                     "the call into the engine %.1f, the handlers' work and the loader %.1f"
                     % (med["floor"], med["disarmed"] - med["floor"], med["every"] - med["disarmed"]))
        lines.append("")
    d = s.get("defaults")
    if d:
        rec = [r for r in m["rounds"] if r.get("mode") == "defaults"][0]
        if rec.get("tracer_rc"):
            what = "stopped: tracer exit %d: %s" % (rec["tracer_rc"], rec.get("tracer_note", "?"))
        elif rec.get("armed") == 0:
            what = "module disarmed itself (reason %d)" % rec.get("disarm_reason", 0)
        else:
            what = "ran to the end, armed (window %d ppm of a CPU)" % rec.get("window_ppm", 0)
        lines.append("guard check: prebuilt/%s tcpstap_latency.ko, tcpstap-load -t 10 with its defaults, same load: %s"
                     % (meta["kernel"] if meta else "?", what))
        lines.append("")
    t = s.get("threshold")
    if t and t["ratio_throughput"]:
        loss = 1 - t["ratio_throughput"]["median"]
        lines.append("target: threshold mode costs <= 1%% of throughput: %.1f%% -> %s"
                     % (loss * 100, "met" if t["ratio_throughput"]["median"] >= THROUGHPUT_TARGET else "MISSED"))
    tf = m.get("threshold_vs_floor")
    if tf:
        lines.append("target: threshold mode's added CPU <= %.1fx the floor's: %.2fx -> %s"
                     % (FLOOR_FACTOR_TARGET, tf["median"], "met" if tf["median"] <= FLOOR_FACTOR_TARGET else "MISSED"))
    lines.append("")


PROBE_LINE = re.compile(r'^(?P<probe>\S.*?), \((?P<where>[^)]*)\), hits: (?P<hits>\d+), '
                        r'cycles: (?P<min>\d+)min/(?P<avg>\d+)avg/(?P<max>\d+)max')
LOCK_LINE = re.compile(r"^'__global_(?P<g>\w+)' lock contention occurred (?P<n>\d+) times")


def profile_part(run):
    path = os.path.join(run, "profile", "profile.txt")
    if not os.path.exists(path):
        return None
    probes, locks = [], []
    with open(path) as f:
        for line in f:
            m = PROBE_LINE.match(line.strip())
            if m:
                probes.append({"probe": m["probe"], "hits": int(m["hits"]), "min_cycles": int(m["min"]),
                               "avg_cycles": int(m["avg"]), "max_cycles": int(m["max"])})
            m = LOCK_LINE.match(line.strip())
            if m:
                locks.append({"global": m["g"], "contended": int(m["n"])})
    handler_locks = _handler_locks(os.path.join(run, "profile", "latency-p3.c"))
    for x in probes:
        if x["probe"] in handler_locks:
            x["locks"], x["write_locks"] = handler_locks[x["probe"]]
    csv = os.path.join(run, "profile", "profile-bench.csv")
    rps = None
    if os.path.exists(csv):
        for line in open(csv):
            f = line.strip().split('","')
            if f and f[0] == '"GET':
                rps = float(f[1])
    return {"probes": probes, "lock_contention": locks, "rps": rps}


def _handler_locks(path):
    """Probe point -> (globals locked at handler entry, of which for writing),
    from the C that stap -p3 generated."""
    if not os.path.exists(path):
        return {}
    src = open(path).read()
    fn_locks = {}
    for m in re.finditer(r'static void (probe_\d+) \(struct context \* __restrict__ c\) \{(.*?)\n\}\n', src, re.S):
        lk = re.search(r'static const struct stp_probe_lock locks\[\] = \{(.*?)\n  \};', m.group(2), re.S)
        if lk:
            fn_locks[m.group(1)] = (len(re.findall(r'\.lock = ', lk.group(1))),
                                    len(re.findall(r'\.write_p = 1', lk.group(1))))
    out = {}
    for m in re.finditer(r'STAP_PROBE_INIT\(\d+, &(probe_\d+), "((?:[^"\\]|\\.)*)"', src):
        if m.group(1) in fn_locks:
            out[m.group(2).replace('\\"', '"')] = fn_locks[m.group(1)]
    return out


def profile_tables(p, lines):
    lines.append("== Profile: latency.stp built with stap -t (per-probe cycles include SystemTap's locking) ==")
    if p["rps"]:
        lines.append("load: the 'every exchange' mode's, %.0f exchanges/s with timing on" % p["rps"])
    hdr = "%-42s %10s %12s %12s %14s %14s" % ("probe point", "hits", "min cycles", "avg cycles",
                                               "max cycles", "locks (write)")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for x in p["probes"]:
        if x["hits"] < 2:
            continue
        lk = "%d (%d)" % (x["locks"], x["write_locks"]) if "locks" in x else "-"
        lines.append("%-42s %10d %12d %12d %14d %14s" % (x["probe"][:42], x["hits"], x["min_cycles"],
                                                         x["avg_cycles"], x["max_cycles"], lk))
    lines.append("locks: the globals SystemTap locks at handler entry, held to its end (stap -p3)")
    if p["lock_contention"]:
        lines.append("lock contention (times a handler found a global's lock taken): " + ", ".join(
            "%s %d" % (l["global"], l["contended"]) for l in p["lock_contention"]))
    lines.append("")


def decoder_part(run):
    recs = load_jsonl(os.path.join(run, "decoder", "decoder.jsonl"))
    if not recs:
        return None
    out = {"runs": recs, "summary": {}}
    for cmd in dict.fromkeys(r["command"] for r in recs):
        rs = [r for r in recs if r["command"] == cmd]
        wall = statistics.median(r["wall_s"] for r in rs)
        cpu = statistics.median(r["user_s"] + r["sys_s"] for r in rs)
        tag = cmd.replace("tcpstap ", "").replace(" --", "-").replace(" ", "-")
        prof = os.path.join(run, "decoder", tag + ".profile")
        out["summary"][cmd] = {
            "records": rs[0]["records"], "bytes": rs[0]["bytes"], "runs": len(rs),
            "wall_s": wall, "cpu_s": cpu,
            "records_per_s": rs[0]["records"] / wall if wall else None,
            "mb_per_s": rs[0]["bytes"] / 1e6 / wall if wall else None,
            "max_rss_kb": max(r["max_rss_kb"] for r in rs),
            "profile": open(prof).read().splitlines() if os.path.exists(prof) else None,
        }
    return out


def decoder_tables(d, lines):
    lines.append("== Decoder throughput: one core (taskset), output to /dev/null, median of runs ==")
    hdr = "%-22s %12s %10s %9s %14s %10s %12s" % (
        "command", "records", "MB", "seconds", "records/s", "MB/s", "peak RSS")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for cmd, x in d["summary"].items():
        lines.append("%-22s %12d %10.0f %9.2f %14.0f %10.0f %9d kB" % (
            cmd, x["records"], x["bytes"] / 1e6, x["wall_s"], x["records_per_s"],
            x["mb_per_s"], x["max_rss_kb"]))
    st = d["summary"].get("tcpstap stats")
    if st:
        lines.append("target: tcpstap stats >= 5 million records/s: %.1f M -> %s"
                     % (st["records_per_s"] / 1e6, "met" if st["records_per_s"] >= STATS_TARGET else "MISSED"))
    for cmd, x in d["summary"].items():
        if x["profile"]:
            lines.append("where the time goes, %s (perf, top symbols):" % cmd)
            lines.extend("  " + p.strip().rstrip(" -") for p in x["profile"][:8])
    lines.append("")


def scale_part(run):
    phases = load_jsonl(os.path.join(run, "scale", "scale.jsonl"))
    if not phases:
        return None
    out = {"phases": phases, "churn": load_json(os.path.join(run, "scale", "churn.json"))}
    by = {p["phase"]: p for p in phases}
    if "before_load" in by and "after_unload" in by:
        out["slab_delta_kb"] = by["after_unload"]["slab_kb"] - by["before_load"]["slab_kb"]
        out["mem_available_delta_kb"] = (by["after_unload"]["mem_available_kb"] -
                                         by["before_load"]["mem_available_kb"])
    if "setup" in by and "loaded" in by:
        out["module_load_kb"] = by["setup"]["mem_available_kb"] - by["loaded"]["mem_available_kb"]
    if "conns_gone" in by and "after_unload" in by:
        out["freed_on_unload_kb"] = (by["after_unload"]["mem_available_kb"] -
                                     by["conns_gone"]["mem_available_kb"])
    for a, b, key in [("before_load", "after_unload", "slab_growth"),
                      ("conns_gone", "after_unload", "slab_freed_by_unload")]:
        sa, sb = _slabinfo(run, a), _slabinfo(run, b)
        if sa and sb:
            d = {k: sb.get(k, 0) - sa.get(k, 0) for k in set(sa) | set(sb)}
            out[key] = sorted(([k, v] for k, v in d.items() if v), key=lambda kv: -abs(kv[1]))[:8]
    during = [p for p in phases if "sockets" in p]
    if during:
        out["max_module_sockets"] = max(p["sockets"] for p in during)
        out["evicted"] = during[-1]["evicted"]
        out["armed_throughout"] = all(p["armed"] == 1 for p in during)
    return out


def _slabinfo(run, phase):
    """kB held per slab cache (slabs x pages per slab x 4 kB)."""
    path = os.path.join(run, "scale", "slabinfo-%s.txt" % phase)
    if not os.path.exists(path):
        return None
    kb = {}
    for line in open(path):
        f = line.split()
        if len(f) < 15 or f[0].startswith("#") or f[0] == "slabinfo":
            continue
        kb[f[0]] = int(f[14]) * int(f[5]) * 4
    return kb


def scale_tables(sc, params, lines):
    lines.append("== Scale: %s concurrent connections with churn for %s s, threshold mode ==" % (
        params.get("scale_conns", "?"), params.get("scale_seconds", "?")))
    c = sc.get("churn")
    if c:
        lines.append("churn: %d connections opened, %d completed (%d exchanges each), %d exchanges, peak %d open; "
                     "errors: %d connect, %d io, %d protocol" % (
                         c["opened"], c["completed"], c["exchanges_per_conn"], c["exchanges"],
                         c["peak_open"], c["err_connect"], c["err_io"], c["err_proto"]))
        why = ["%s %s" % (k, ", ".join("%s %d" % kv for kv in c[k].items()))
               for k in ["connect_errors", "io_errors"] if c.get(k)]
        if why:
            lines.append("  errors by errno: " + "; ".join(why))
    hdr = "%-14s %9s %11s %12s %7s %7s %9s %8s %8s %10s" % (
        "phase", "Slab kB", "SUnrecl kB", "MemAvail kB", ".ko kB", "TCP", "TIME_WAIT", "sockets",
        "evicted", "exchanges")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for p in sc["phases"]:
        g = p.get
        lines.append("%-14s %9d %11s %12d %7d %7d %9d %8s %8s %10s" % (
            p["phase"], p["slab_kb"], g("sunreclaim_kb", "-"), p["mem_available_kb"], p["module_kb"],
            p["tcp_inuse"], p["tcp_tw"], g("sockets", "-"), g("evicted", "-"), g("exchanges", "-")))
    lines.append("sockets/evicted/exchanges: the module's state file (sockets held, bounded by max_sockets)")
    if "module_load_kb" in sc:
        lines.append("module memory at load (MemAvailable, setup - loaded): %d kB; given back at unload "
                     "(after_unload - conns_gone): %d kB" % (sc["module_load_kb"], sc.get("freed_on_unload_kb", 0)))
    if "slab_delta_kb" in sc:
        lines.append("after unload vs before load: Slab %+d kB, MemAvailable %+d kB"
                     % (sc["slab_delta_kb"], sc["mem_available_delta_kb"]))
    for key, what in [("slab_growth", "slab caches grown from before load to after unload"),
                      ("slab_freed_by_unload", "slab caches changed by the unload itself")]:
        if sc.get(key):
            lines.append("%s (kB): %s" % (what, ", ".join("%s %+d" % (k, v) for k, v in sc[key])))
    lines.append("")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--elapsed", type=int, default=0)
    ap.add_argument("--stap-flags", default="")
    ap.add_argument("--param", action="append", default=[])
    a = ap.parse_args()
    params = dict(p.split("=", 1) for p in a.param)
    meta = load_json(os.path.join(a.run, "modes", "meta-modes.json"))
    res = {
        "kernel": a.kernel,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"cpus": os.cpu_count(), "machine": platform.machine(),
                 "cpu_model": _cpu_model()},
        "guest": meta,
        "emulation": "QEMU TCG without KVM: absolute numbers are not real-hardware numbers; ratios carry over",
        "params": params,
        "bench_stap_flags": a.stap_flags,
        "elapsed_s": a.elapsed,
        "modes": modes_part(a.run),
        "profile": profile_part(a.run),
        "decoder": decoder_part(a.run),
        "scale": scale_part(a.run),
    }
    lines = ["tcpstap benchmark, kernel %s, %s (run took %d s)" % (a.kernel, res["date"], a.elapsed), ""]
    if res["modes"]:
        modes_tables(res["modes"], meta, lines)
    if res["profile"]:
        profile_tables(res["profile"], lines)
    if res["decoder"]:
        decoder_tables(res["decoder"], lines)
    if res["scale"]:
        scale_tables(res["scale"], params, lines)
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(a.run, "tables.txt"), "w") as f:
        f.write(text + "\n")
    res["tables"] = lines
    with open(a.results, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


if __name__ == "__main__":
    sys.exit(main())
