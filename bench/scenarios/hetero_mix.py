#!/usr/bin/env python3
"""Numbers behind bench/scenarios/hetero.sh (stdlib only).

Owns: the load mixes as `brix bench run --trace` files, the optimizer's copy of the GPU
profiles (rates in wall-clock requests per second), the replica counts read from the
optimizer's /status, SLO attainment of a run's JSONL, and the verdict over summary.csv. It
reads files given on the command line and writes only the files named as outputs.

  hetero_mix.py trace MIX SHORT LONG DUR SCALE SEED OUT.jsonl
        MIX short|long|mixed|shifting; SHORT, LONG: simulated requests per second of chats
        (128 in / 32 out) and documents (4096 in / 256 out); DUR wall seconds; the engines run
        at --time-scale SCALE, so the trace's wall rate is the simulated one x SCALE.
        shifting: chats fall linearly from SHORT to 0 while documents rise from 0 to LONG.
  hetero_mix.py wallprofiles SRC DST SCALE
        each SRC/*.json (brix bench profile output, simulated req/s) copied to DST with its
        tputs x SCALE: the optimizer reads the gateway's wall-clock load
  hetero_mix.py replicas STATUS.json
        "name replicas" per Deployment of the optimizer's last result (brix up's /status),
        then "_unserved RPS": the load (wall req/s) that no monitored type serves within the SLO
  hetero_mix.py runs STATUS.json        the optimizer's run count (0 before a result)
  hetero_mix.py slo RUN.jsonl SCALE TTFT_S TPOT_S
        "n ok met": requests, answered, answered with TTFT <= TTFT_S and TPOT <= TPOT_S
        (simulated seconds: wall x SCALE)
  hetero_mix.py summary RUNS.csv OUT.csv SPEC...
        the rows of OUT.csv, one mix per SPEC: NAME copies RUNS.csv's rows of NAME;
        NAME=P1+P2+...: a mix of phases of equal length, its rows the time-weighted means of
        the phases' rows per config ($/h, replicas, unserved load: the mean; SLO attainment:
        met / requests over every phase), plus "fixed-<type>" per "only-<type>": that type
        alone sized for the shift's peak phase (the most replicas any phase needed), as a
        static fleet must be; sized, not run (no requests, attainment nan)
  hetero_mix.py plotdata SUMMARY.csv OUT.dat OUT.gp
        one line per (mix, config): "x cost attainment% colour unserved" (unserved 1: the
        configuration leaves load that it serves within no SLO), mixes side by side, configs
        within a mix; OUT.gp the gnuplot lines naming them (xtics, key entries)
  hetero_mix.py verdict SUMMARY.csv MIN_ATTAINMENT [BOTH...]
        the invariants: every request answered; on every mix the optimizer's $/h <= the
        cheapest single type's (among those that serve every shape of the mix, "only-<type>");
        prints the savings against it and against the cheapest "fixed-<type>" where there is
        one, and a note where the optimizer's SLO attainment is under MIN_ATTAINMENT or where,
        on a mix named in BOTH (those with short and long requests), it is not cheaper than
        the cheapest single type (the issue's goal; a note, not an invariant: a sizing window's
        draw can tip a mix's whole replicas)
"""
import csv
import glob
import json
import os
import random
import sys

CHAT = (128, 32)
DOC = (4096, 256)


def cmd_trace(mix, short, long_, dur, scale, seed, out):
    if mix not in ("short", "long", "mixed", "shifting"):
        print("unknown mix %s" % mix, file=sys.stderr)
        return 2
    rng = random.Random(seed)
    rows = []

    def poisson(rate_sim, shape, ramp):
        """rate(t) = rate_sim x scale x ramp(t/dur) by thinning; ramp in [0, 1]."""
        peak = rate_sim * scale
        if peak <= 0:
            return
        t = 0.0
        while True:
            t += rng.expovariate(peak)
            if t >= dur:
                return
            if rng.random() <= ramp(t / dur):
                rows.append((t, shape))

    one = lambda x: 1.0  # noqa: E731
    if mix in ("short", "mixed"):
        poisson(short, CHAT, one)
    if mix in ("long", "mixed"):
        poisson(long_, DOC, one)
    if mix == "shifting":
        poisson(short, CHAT, lambda x: 1.0 - x)
        poisson(long_, DOC, lambda x: x)
    rows.sort()
    with open(out, "w") as f:
        for t, (i, o) in rows:
            f.write(json.dumps({"timestamp": round(t, 4), "prompt_tokens": i, "output_tokens": o}) + "\n")
    print(len(rows))
    return 0


def cmd_wallprofiles(src, dst, scale):
    os.makedirs(dst, exist_ok=True)
    n = 0
    for p in sorted(glob.glob(os.path.join(src, "*.json"))):
        with open(p) as f:
            prof = json.load(f)
        prof["tputs"] = [[x * scale for x in row] for row in prof["tputs"]]
        with open(os.path.join(dst, os.path.basename(p)), "w") as f:
            json.dump(prof, f)
        n += 1
    return 0 if n else 1


def model0(path):
    with open(path) as f:
        st = json.load(f)
    ms = st.get("models") or []
    return ms[0] if ms else {}


def cmd_replicas(path):
    m = model0(path)
    for d in m.get("deployments", []):
        if d.get("monitored") and "replicas" in d:
            print("%s %d" % (d["name"], d["replicas"]))
    print("_unserved %.3f" % (m.get("unservedRps") or 0))
    return 0


def cmd_runs(path):
    try:
        m = model0(path)
    except (OSError, ValueError):
        m = {}
    print(m.get("runs", 0) if m.get("ok") else 0)
    return 0


def cmd_slo(path, scale, ttft_s, tpot_s):
    n = ok = met = 0
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            n += 1
            if not r.get("ok"):
                continue
            ok += 1
            ttft = (r.get("ttft_ms") or 0) * scale / 1000.0
            tpot = (r.get("tpot_ms") or 0) * scale / 1000.0
            if ttft <= ttft_s and tpot <= tpot_s:
                met += 1
    print("%d %d %d" % (n, ok, met))
    return 0


FIELDS = ["mix", "config", "cost_per_hour", "slo_attainment", "requests", "answered", "unserved_rps"]


def _num(x):
    try:
        return float(x)
    except ValueError:
        return float("nan")


def _fmt(x):
    return "%.4g" % x if x != int(x) else "%d" % x


def cmd_summary(runs, out, specs):
    with open(runs, newline="") as f:
        rd = csv.DictReader(f)
        header = rd.fieldnames
        rows = list(rd)
    types = header[len(FIELDS):]
    res = []
    for spec in specs:
        name, _, phases = spec.partition("=")
        if not phases:
            res += [r for r in rows if r["mix"] == name]
            continue
        phases = phases.split("+")
        per = {}  # config -> its row per phase
        for r in rows:
            if r["mix"] in phases:
                per.setdefault(r["config"], {})[r["mix"]] = r
        for cfg, byph in per.items():
            if len(byph) != len(phases):
                print("hetero_mix: %s: config %s lacks a phase" % (name, cfg), file=sys.stderr)
                return 1
            rs = [byph[p] for p in phases]
            n = len(rs)
            req = sum(int(r["requests"]) for r in rs)
            met = sum(round(_num(r["slo_attainment"]) * int(r["requests"])) for r in rs if int(r["requests"]))
            row = {"mix": name, "config": cfg,
                   "cost_per_hour": "%.3f" % (sum(float(r["cost_per_hour"]) for r in rs) / n),
                   "slo_attainment": "%.4f" % (met / req) if req else "nan",
                   "requests": str(req), "answered": str(sum(int(r["answered"]) for r in rs)),
                   "unserved_rps": "%.4g" % (sum(float(r["unserved_rps"]) for r in rs) / n)}
            for t in types:
                row[t] = _fmt(sum(float(r[t]) for r in rs) / n)
            res.append(row)
        for cfg in list(per):
            if not cfg.startswith("only-"):
                continue
            rs = [per[cfg][p] for p in phases]
            peak = max(rs, key=lambda r: float(r["cost_per_hour"]))
            row = {"mix": name, "config": "fixed-" + cfg[len("only-"):],
                   "cost_per_hour": peak["cost_per_hour"], "slo_attainment": "nan", "requests": "0",
                   "answered": "0", "unserved_rps": "%.4g" % max(float(r["unserved_rps"]) for r in rs)}
            for t in types:
                row[t] = _fmt(max(float(r[t]) for r in rs))
            res.append(row)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        w.writeheader()
        for r in res:
            w.writerow({k: r[k] for k in header})
    return 0


def cmd_verdict(path, min_att, both=()):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    bad = []
    mixes = []
    for r in rows:
        if r["mix"] not in mixes:
            mixes.append(r["mix"])
        if int(r["answered"]) != int(r["requests"]):
            bad.append("%s/%s: %s of %s requests answered" % (r["mix"], r["config"], r["answered"], r["requests"]))
    for m in mixes:
        rs = {r["config"]: r for r in rows if r["mix"] == m}
        opt = rs.get("optimizer")
        singles = [r for c, r in rs.items() if c.startswith("only-")]
        if not opt or not singles:
            continue
        # a type that leaves load unserved (its profile serves no rate of that shape within
        # the SLO) cannot be sized to meet it
        ok_singles = [r for r in singles if float(r["unserved_rps"]) == 0]
        if not ok_singles:
            print("%s: no single type serves the whole mix within the SLO" % m)
            continue
        best = min(ok_singles, key=lambda r: float(r["cost_per_hour"]))
        oc, bc = float(opt["cost_per_hour"]), float(best["cost_per_hour"])
        print("%s: optimizer $%.2f/h (SLO %.1f %%), cheapest single type %s $%.2f/h (SLO %.1f %%): %+.0f %%"
              % (m, oc, 100 * _num(opt["slo_attainment"]), best["config"], bc,
                 100 * _num(best["slo_attainment"]), 100 * (oc - bc) / bc if bc else 0))
        fixed = [r for c, r in rs.items() if c.startswith("fixed-") and float(r["unserved_rps"]) == 0]
        if fixed:
            fb = min(fixed, key=lambda r: float(r["cost_per_hour"]))
            fc = float(fb["cost_per_hour"])
            print("%s: optimizer $%.2f/h, cheapest single type sized for the peak (static) %s $%.2f/h: %+.0f %%"
                  % (m, oc, fb["config"], fc, 100 * (oc - fc) / fc if fc else 0))
        if oc > bc + 1e-9:
            bad.append("%s: the optimizer's mix ($%.2f/h) costs more than %s ($%.2f/h)" % (m, oc, best["config"], bc))
        if m in both and not oc < bc - 1e-9:
            print("%s: note: a mix of short and long requests, and the optimizer's mix is not cheaper than %s"
                  % (m, best["config"]))
        if _num(opt["slo_attainment"]) < min_att:
            print("%s: note: the optimizer's SLO attainment %.1f %% is under %.0f %%"
                  % (m, 100 * _num(opt["slo_attainment"]), 100 * min_att))
    for b in bad:
        print("hetero: INVARIANT " + b, file=sys.stderr)
    return 1 if bad else 0


def cmd_plotdata(path, out, gp):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    mixes, cfgs = [], []
    for r in rows:
        if r["mix"] not in mixes:
            mixes.append(r["mix"])
        if r["config"] not in cfgs:
            cfgs.append(r["config"])
    w = len(cfgs) + 1
    with open(out, "w") as f:
        for r in rows:
            x = mixes.index(r["mix"]) * w + cfgs.index(r["config"])
            att = _num(r["slo_attainment"]) if int(r["requests"]) else float("nan")  # not run
            f.write("%d %s %s %d %d\n" % (x, r["cost_per_hour"], "NaN" if att != att else "%.2f" % (100 * att),
                                          cfgs.index(r["config"]) + 1, float(r["unserved_rps"]) > 0))
    with open(gp, "w") as f:
        f.write("set xtics (%s)\n" % ", ".join('"%s" %g' % (m, i * w + (len(cfgs) - 1) / 2.0)
                                               for i, m in enumerate(mixes)))
        f.write("set xrange [-1:%d]\n" % (len(mixes) * w - 1))
        f.write("keys = \"%s\"\n" % " ".join(cfgs))
        f.write("nkeys = %d\n" % len(cfgs))
    return 0


def main(a):
    try:
        c = a[1]
        if c == "trace" and len(a) == 9:
            return cmd_trace(a[2], float(a[3]), float(a[4]), float(a[5]), float(a[6]), int(a[7]), a[8])
        if c == "wallprofiles" and len(a) == 5:
            return cmd_wallprofiles(a[2], a[3], float(a[4]))
        if c == "replicas" and len(a) == 3:
            return cmd_replicas(a[2])
        if c == "runs" and len(a) == 3:
            return cmd_runs(a[2])
        if c == "slo" and len(a) == 6:
            return cmd_slo(a[2], float(a[3]), float(a[4]), float(a[5]))
        if c == "summary" and len(a) >= 5:
            return cmd_summary(a[2], a[3], a[4:])
        if c == "plotdata" and len(a) == 5:
            return cmd_plotdata(a[2], a[3], a[4])
        if c == "verdict" and len(a) >= 4:
            return cmd_verdict(a[2], float(a[3]), a[4:])
    except IndexError:
        pass
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
