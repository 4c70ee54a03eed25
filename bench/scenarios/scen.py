#!/usr/bin/env python3
"""Numbers behind bench/scenarios/*.sh (stdlib only), computed from `brix bench run` JSONL.

Owns: invariant checks, per-run statistics, CDF and time-series data for gnuplot, Prometheus
counter sums, and the terminal table. It reads files given on the command line and writes only
the files named as outputs; nothing is kept between calls.

  scen.py check RUN.jsonl N            N lines, each ok, no error, completion_tokens > 0;
                                       exit 1 (with a message per violation) otherwise
  scen.py stats RUN.jsonl [SCALE]      CSV fields: n,ok,ttft_mean,ttft_p50,ttft_p99,tpot_mean,
                                       e2e_mean,e2e_p99,req_s,tok_s (ms and per second, times
                                       multiplied by SCALE = the engines' --time-scale, so they
                                       read as simulated GPU time; rates divided by it)
  scen.py cdf RUN.jsonl OUT.dat [SCALE]   sorted TTFT (ms) and cumulative fraction
  scen.py service OUT.dat BIN RUN.jsonl...  per BIN seconds of completion time, cumulative
                                       tokens (prompt + completion) served per file (one column
                                       each); prints the largest gap between columns at any time
  scen.py byturn RUN.jsonl OUT.dat [SCALE]   mean TTFT (ms) per multi-turn turn: "turn ms"
  scen.py slo RUN.jsonl SLO_MS [SCALE]  fraction of requests ok with TTFT <= SLO_MS
  scen.py promsum NAME FILE...         sum of every sample of metric NAME in the files
  scen.py table FILE.csv               aligned table on stdout
"""
import csv
import json
import math
import sys


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def pct(vals, p):
    """numpy's default (linear) percentile, as brix bench run computes it."""
    if not vals:
        return float("nan")
    v = sorted(vals)
    k = (len(v) - 1) * p / 100.0
    lo = math.floor(k)
    hi = math.ceil(k)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def mean(vals):
    return sum(vals) / len(vals) if vals else float("nan")


def cmd_check(path, n):
    rows = load(path)
    bad = []
    if len(rows) != n:
        bad.append("%d requests answered, %d planned" % (len(rows), n))
    for r in rows:
        if not r.get("ok") or r.get("error"):
            bad.append("request %s failed: status %s %s" % (r.get("id"), r.get("status"), r.get("error")))
        elif not r.get("completion_tokens"):
            bad.append("request %s: empty answer" % r.get("id"))
        if len(bad) > 10:
            break
    for b in bad:
        print("INVARIANT %s: %s" % (path, b), file=sys.stderr)
    return 1 if bad else 0


def stats(rows, scale):
    ok = [r for r in rows if r.get("ok")]
    ttft = [r["ttft_ms"] * scale for r in ok if r.get("ttft_ms") is not None]
    tpot = [r["tpot_ms"] * scale for r in ok if r.get("tpot_ms") is not None]
    e2e = [r["e2e_ms"] * scale for r in ok if r.get("e2e_ms") is not None]
    if rows:
        t0 = min(r["send_s"] for r in rows)
        t1 = max(r["send_s"] + (r.get("e2e_ms") or 0) / 1000.0 for r in rows)
        dur = max(t1 - t0, 1e-9) * scale
    else:
        dur = float("nan")
    toks = sum((r.get("prompt_tokens") or 0) + (r.get("completion_tokens") or 0) for r in ok)
    return {"n": len(rows), "ok": len(ok), "ttft_mean": mean(ttft), "ttft_p50": pct(ttft, 50),
            "ttft_p99": pct(ttft, 99), "tpot_mean": mean(tpot), "e2e_mean": mean(e2e),
            "e2e_p99": pct(e2e, 99), "req_s": len(ok) / dur, "tok_s": toks / dur}


def cmd_stats(path, scale):
    s = stats(load(path), scale)
    print("%d,%d,%.1f,%.1f,%.1f,%.2f,%.1f,%.1f,%.2f,%.0f" % (
        s["n"], s["ok"], s["ttft_mean"], s["ttft_p50"], s["ttft_p99"], s["tpot_mean"],
        s["e2e_mean"], s["e2e_p99"], s["req_s"], s["tok_s"]))
    return 0


def cmd_cdf(path, out, scale):
    v = sorted(r["ttft_ms"] * scale for r in load(path) if r.get("ok") and r.get("ttft_ms") is not None)
    with open(out, "w") as f:
        for i, x in enumerate(v):
            f.write("%.3f %.5f\n" % (x, (i + 1) / len(v)))
    return 0


def cmd_service(out, binsz, paths):
    series = []
    t0 = None
    for p in paths:
        rows = load(p)
        done = [(r["send_s"] + (r.get("e2e_ms") or 0) / 1000.0,
                 (r.get("prompt_tokens") or 0) + (r.get("completion_tokens") or 0))
                for r in rows if r.get("ok")]
        series.append(done)
        for r in rows:
            t0 = r["send_s"] if t0 is None else min(t0, r["send_s"])
    t0 = t0 or 0.0
    tend = max((t for s in series for t, _ in s), default=0.0)
    nb = int(math.ceil((tend - t0) / binsz)) + 1
    cols = []
    for s in series:
        c = [0.0] * nb
        for t, tok in s:
            c[min(nb - 1, int((t - t0) / binsz))] += tok
        acc = 0.0
        for i in range(nb):
            acc += c[i]
            c[i] = acc
        cols.append(c)
    gap = 0.0
    with open(out, "w") as f:
        for i in range(nb):
            vals = [c[i] for c in cols]
            gap = max(gap, max(vals) - min(vals))
            f.write("%.2f %s\n" % ((i + 1) * binsz, " ".join("%.0f" % v for v in vals)))
    print("%.0f" % gap)
    return 0


def cmd_byturn(path, out, scale):
    by = {}
    for r in load(path):
        if r.get("ok") and r.get("ttft_ms") is not None and r.get("turn") is not None:
            by.setdefault(r["turn"], []).append(r["ttft_ms"] * scale)
    with open(out, "w") as f:
        for t in sorted(by):
            f.write("%d %.3f\n" % (t + 1, mean(by[t])))
    return 0


def cmd_slo(path, slo, scale):
    rows = load(path)
    good = sum(1 for r in rows if r.get("ok") and r.get("ttft_ms") is not None
               and r["ttft_ms"] * scale <= slo)
    print("%.3f" % (good / len(rows) if rows else 0.0))
    return 0


def cmd_promsum(name, paths):
    tot = 0.0
    for p in paths:
        try:
            f = open(p)
        except OSError:
            continue
        with f:
            for line in f:
                if line.startswith("#"):
                    continue
                parts = line.split()
                if len(parts) < 2:
                    continue
                m = parts[0].split("{", 1)[0]
                if m == name:
                    try:
                        tot += float(parts[-1])
                    except ValueError:
                        pass
    print("%.0f" % tot)
    return 0


def cmd_table(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return 0
    w = [max(len(r[i]) if i < len(r) else 0 for r in rows) for i in range(len(rows[0]))]
    for j, r in enumerate(rows):
        print("  ".join(c.rjust(w[i]) if i else c.ljust(w[i]) for i, c in enumerate(r)))
        if j == 0:
            print("  ".join("-" * x for x in w))
    return 0


def main(a):
    if len(a) < 2:
        sys.stderr.write(__doc__)
        return 2
    c = a[1]
    sc = lambda i: float(a[i]) if len(a) > i else 1.0  # noqa: E731
    if c == "check" and len(a) == 4:
        return cmd_check(a[2], int(a[3]))
    if c == "stats" and len(a) in (3, 4):
        return cmd_stats(a[2], sc(3))
    if c == "cdf" and len(a) in (4, 5):
        return cmd_cdf(a[2], a[3], sc(4))
    if c == "service" and len(a) >= 5:
        return cmd_service(a[2], float(a[3]), a[4:])
    if c == "byturn" and len(a) in (4, 5):
        return cmd_byturn(a[2], a[3], sc(4))
    if c == "slo" and len(a) in (4, 5):
        return cmd_slo(a[2], float(a[3]), sc(4))
    if c == "promsum" and len(a) >= 3:
        return cmd_promsum(a[2], a[3:])
    if c == "table" and len(a) == 3:
        return cmd_table(a[2])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
