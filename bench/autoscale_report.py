#!/usr/bin/env python3
"""Computes and prints the side-by-side table of bench/autoscale.sh (stdlib only).

For each STRATEGY and PHASE (bursty, flat) DIR holds:
  STRATEGY-PHASE.jsonl  brix bench run --output (one line per request)
  STRATEGY-PHASE.csv    autoscale_sample.py rows (t_wall,ready,pods,desired,...)
  STRATEGY-PHASE.meta   JSON: t0 (wall time the bench started), dur (planned
                        seconds of arrivals), step (seconds after t0 where
                        the burst starts; bursty only), end (wall time the
                        bench exited)

Per strategy:
  first up    seconds from the step to the first sample whose desiredScale
              is above its value at the step (sampling adds up to one interval)
  first ready seconds from the step to the first sample with more Ready pods
              than at the step
  SLO         fraction of requests with ok and TTFT <= SLO_MS
  replica-s   integral of Ready pods over [t0, t0 + dur] (sample and hold)
  dir changes number of reversals (up->down or down->up) of desiredScale
              while sampling, from t0 to the bench's end
Writes DIR/summary.csv (one row per strategy and phase) and prints the table.

usage: autoscale_report.py DIR SLO_MS STRATEGY...
"""
import csv
import json
import math
import os
import sys


def load_samples(path):
    rows = []
    with open(path) as f:
        for r in csv.DictReader(f):
            try:
                t = float(r["t_wall"])
                ready = int(r["ready"])
            except (KeyError, ValueError):
                continue
            d = r.get("desired", "")
            rows.append({"t": t, "ready": ready,
                         "desired": int(float(d)) if d not in ("", None) else None,
                         "panic": r.get("panic") == "1"})
    return rows


def load_requests(path):
    reqs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                reqs.append(json.loads(line))
    return reqs


def pct(vals, p):
    if not vals:
        return None
    v = sorted(vals)
    k = (len(v) - 1) * p / 100.0
    lo = math.floor(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def value_at(rows, t, key):
    """The last sampled value at or before t (or the first one)."""
    val = None
    for r in rows:
        if r["t"] > t:
            break
        if r[key] is not None:
            val = r[key]
    if val is None:
        for r in rows:
            if r[key] is not None:
                return r[key]
    return val


def first_above(rows, t_from, key, base):
    for r in rows:
        if r["t"] >= t_from and r[key] is not None and base is not None and r[key] > base:
            return r["t"] - t_from
    return None


def replica_seconds(rows, a, b):
    total = 0.0
    prev = None
    for r in rows:
        if prev is not None:
            lo, hi = max(prev["t"], a), min(r["t"], b)
            if hi > lo:
                total += prev["ready"] * (hi - lo)
        prev = r
    if prev is not None and b > max(prev["t"], a):
        total += prev["ready"] * (b - max(prev["t"], a))
    return total


def direction_changes(rows, a, b):
    seq = [r["desired"] for r in rows if a <= r["t"] <= b and r["desired"] is not None]
    changes = 0
    moves = 0
    path = [str(seq[0])] if seq else []
    last_dir = 0
    for x, y in zip(seq, seq[1:]):
        if y == x:
            continue
        moves += 1
        path.append(str(y))
        d = 1 if y > x else -1
        if last_dir and d != last_dir:
            changes += 1
        last_dir = d
    return changes, moves, (max(seq) if seq else None), ">".join(path)


def phase_stats(d, strat, phase, slo_ms):
    base = os.path.join(d, f"{strat}-{phase}")
    if not all(os.path.exists(base + ext) for ext in (".jsonl", ".csv", ".meta")):
        return None
    with open(base + ".meta") as f:
        meta = json.load(f)
    rows = load_samples(base + ".csv")
    reqs = load_requests(base + ".jsonl")
    t0, dur = meta["t0"], meta["dur"]
    end = meta.get("end", t0 + dur)
    ok = [q for q in reqs if q.get("ok")]
    ttft = [q["ttft_ms"] for q in ok if q.get("ttft_ms") is not None]
    good = sum(1 for q in ok if q.get("ttft_ms") is not None and q["ttft_ms"] <= slo_ms)
    s = {
        "requests": len(reqs),
        "errors": len(reqs) - len(ok),
        "slo": good / len(reqs) if reqs else None,
        "ttft_p50": pct(ttft, 50),
        "ttft_p99": pct(ttft, 99),
        "replica_s": replica_seconds(rows, t0, t0 + dur),
        "mean_ready": replica_seconds(rows, t0, t0 + dur) / dur if dur > 0 else None,
        "samples": len(rows),
    }
    s["dir_changes"], s["moves"], s["max_desired"], s["path"] = direction_changes(rows, t0, end)
    if "step" in meta:
        ts = t0 + meta["step"]
        s["first_up"] = first_above(rows, ts, "desired", value_at(rows, ts, "desired"))
        s["first_ready"] = first_above(rows, ts, "ready", value_at(rows, ts, "ready"))
        s["panic"] = any(r["panic"] for r in rows if r["t"] >= t0)
    return s


def fmt(v, spec="%.2f"):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    return spec % v


def main():
    if len(sys.argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    d, slo_ms, strats = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    res = {s: {p: phase_stats(d, s, p, slo_ms) for p in ("bursty", "flat")} for s in strats}

    fields = ["requests", "errors", "slo", "ttft_p50", "ttft_p99", "replica_s", "mean_ready",
              "dir_changes", "moves", "max_desired", "path", "first_up", "first_ready", "samples"]
    with open(os.path.join(d, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["strategy", "phase"] + fields)
        for s in strats:
            for p in ("bursty", "flat"):
                st = res[s][p]
                if st is not None:
                    w.writerow([s, p] + ["" if st.get(k) is None else
                                         (round(st[k], 4) if isinstance(st[k], float) else st[k])
                                         for k in fields])

    def g(s, p, k):
        st = res[s][p]
        return None if st is None else st.get(k)

    slo_s = "%g" % (slo_ms / 1000.0)
    lines = [
        ("bursty: step -> first desired increase (s)", lambda s: fmt(g(s, "bursty", "first_up"))),
        ("bursty: step -> first extra Ready pod (s)", lambda s: fmt(g(s, "bursty", "first_ready"))),
        (f"bursty: SLO attainment (TTFT <= {slo_s} s, ok)",
         lambda s: fmt(None if g(s, "bursty", "slo") is None else 100 * g(s, "bursty", "slo"), "%.1f%%")),
        ("bursty: TTFT p50 / p99 (ms)",
         lambda s: "%s / %s" % (fmt(g(s, "bursty", "ttft_p50"), "%.0f"), fmt(g(s, "bursty", "ttft_p99"), "%.0f"))),
        ("bursty: errors / requests",
         lambda s: "%s / %s" % (fmt(g(s, "bursty", "errors")), fmt(g(s, "bursty", "requests")))),
        ("bursty: replica-seconds (Ready)", lambda s: fmt(g(s, "bursty", "replica_s"), "%.1f")),
        ("bursty: desiredScale path", lambda s: g(s, "bursty", "path") or "-"),
        ("bursty: scale moves / direction changes",
         lambda s: "%s / %s" % (fmt(g(s, "bursty", "moves")), fmt(g(s, "bursty", "dir_changes")))),
        (f"flat: SLO attainment (TTFT <= {slo_s} s, ok)",
         lambda s: fmt(None if g(s, "flat", "slo") is None else 100 * g(s, "flat", "slo"), "%.1f%%")),
        ("flat: replica-seconds (Ready)", lambda s: fmt(g(s, "flat", "replica_s"), "%.1f")),
        ("flat: desiredScale path", lambda s: g(s, "flat", "path") or "-"),
        ("flat: scale moves / direction changes",
         lambda s: "%s / %s" % (fmt(g(s, "flat", "moves")), fmt(g(s, "flat", "dir_changes")))),
    ]
    w0 = max(len(n) for n, _ in lines)
    cols = [max(8, len(s)) for s in strats]
    cells = [[fn(s) for s in strats] for _, fn in lines]
    cols = [max(cols[i], max(len(r[i]) for r in cells)) for i in range(len(strats))]
    print("| %s | %s |" % ("metric".ljust(w0), " | ".join(s.ljust(c) for s, c in zip(strats, cols))))
    print("|%s|%s|" % ("-" * (w0 + 2), "|".join("-" * (c + 2) for c in cols)))
    for (name, _), row in zip(lines, cells):
        print("| %s | %s |" % (name.ljust(w0), " | ".join(v.ljust(c) for v, c in zip(row, cols))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
