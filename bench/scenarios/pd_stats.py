#!/usr/bin/env python3
"""Numbers behind bench/scenarios/pd.sh (stdlib only), from `brix bench run` JSONL.

Owns: TTFT and ITL percentiles of one run (every inter-token gap of every
request pooled for ITL, as AIBrix's P/D figures), and the ITL CDF for gnuplot.
Reads the files named on the command line, writes only the named output.

  pd_stats.py stats RUN.jsonl SCALE   CSV fields: n,ok,ttft_p50,ttft_p95,ttft_mean,
                                      itl_p50,itl_p95,itl_p99,itl_mean,tok_s (ms of simulated
                                      time: wall x SCALE, the engines' --time-scale)
  pd_stats.py itlcdf RUN.jsonl OUT.dat SCALE   sorted ITL (ms) and cumulative fraction
"""
import json
import sys


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def main(a):
    rows = load(a[1])
    if a[0] == "stats":
        scale = float(a[2])
        ok = [r for r in rows if r.get("ok")]
        ttft = [r["ttft_ms"] * scale for r in ok if r.get("ttft_ms") is not None]
        itl = [x * scale for r in ok for x in (r.get("itl_ms") or [])]
        toks = sum(r.get("completion_tokens") or 0 for r in ok)
        t0 = min((r["send_s"] for r in ok), default=0)
        span = max((r["send_s"] + r["e2e_ms"] / 1000.0 for r in ok), default=0) - t0
        tok_s = toks / (span * scale) if span > 0 else float("nan")
        mean = lambda v: sum(v) / len(v) if v else float("nan")
        print("%d,%d,%.1f,%.1f,%.1f,%.2f,%.2f,%.2f,%.2f,%.1f" % (
            len(rows), len(ok), pct(ttft, 50), pct(ttft, 95), mean(ttft),
            pct(itl, 50), pct(itl, 95), pct(itl, 99), mean(itl), tok_s))
    elif a[0] == "itlcdf":
        scale = float(a[3])
        itl = sorted(x * scale for r in rows if r.get("ok") for x in (r.get("itl_ms") or []))
        with open(a[2], "w") as f:
            for i, x in enumerate(itl):
                if i % max(1, len(itl) // 2000) == 0 or i == len(itl) - 1:
                    f.write("%.3f %.5f\n" % (x, (i + 1) / len(itl)))
    else:
        sys.exit("unknown command " + a[0])


if __name__ == "__main__":
    main(sys.argv[1:])
