#!/usr/bin/env python3
"""Writes a `brix bench run --trace` file for bench/autoscale.sh (stdlib only).

Poisson arrivals with a piecewise-constant rate: PHASES is a comma list of
RATE:SECONDS (e.g. 1.5:15,8:35,1.5:25). Every request has the same prompt
and output length. Seeded, so each strategy sees the same arrivals.

usage: autoscale_trace.py PHASES SEED PROMPT_TOKENS OUTPUT_TOKENS OUT.jsonl
prints the number of requests written.
"""
import json
import random
import sys


def main():
    if len(sys.argv) != 6:
        sys.stderr.write(__doc__)
        return 2
    phases, seed, pt, ot, out = sys.argv[1:]
    rng = random.Random(int(seed))
    n = 0
    start = 0.0
    with open(out, "w") as f:
        for ph in phases.split(","):
            rate, secs = (float(x) for x in ph.split(":"))
            t = start
            while rate > 0:
                t += rng.expovariate(rate)
                if t >= start + secs:
                    break
                f.write(json.dumps({"timestamp": round(t, 4), "prompt_tokens": int(pt),
                                    "output_tokens": int(ot)}) + "\n")
                n += 1
            start += secs
    print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
