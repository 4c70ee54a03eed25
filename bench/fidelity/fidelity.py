#!/usr/bin/env python3
"""bench/fidelity: replays published real-vLLM runs on `brix engine` and compares.

For each case of cases.json (the published figures and their sources, written down by
hand; sharegpt320_lengths.json holds the per-request lengths of the runs that list them):
starts one `brix engine` with the case's profile and flags, sends the case's workload with
`brix bench run` (completions, so prompt lengths are exact), and prints one table row per
figure: source, GPU, figure, published, brix, ratio, and whether it is within +-15 % (or,
when not, why it cannot be, from the case's "why").

Usage: fidelity.py BRIX [--quick] [--only ID[,ID]] [--json OUT] [--markdown]
  --quick   the cases marked "quick", shortened and sped up: checks that the benchmark runs,
            not its ratios (CI)
FIDELITY_KEEP_LOGS=DIR keeps the engines' and bench runs' logs of a case that did not run.
Owns the engines it starts (stopped by pid). Exit 0 when every case ran (whatever the
ratios), 1 when one could not run, 2 on bad usage.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOLERANCE = 0.15


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_health(port, proc, secs=20):
    end = time.time() + secs
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def write_trace(path, wl, lengths, limit):
    outs = lengths[wl["trace"]]
    ins = lengths[wl.get("inputs", "input_lens")]
    n = min(len(outs), limit) if limit else len(outs)
    with open(path, "w") as f:
        for i in range(n):
            rec = {"timestamp": 0.0, "prompt_tokens": max(ins[i], 1),
                   "output_tokens": max(outs[i], 1)}
            f.write(json.dumps(rec) + "\n")
    return n


def metrics(summary, ts):
    """The figures a case can name, in simulated time (the wall clock x time scale)."""
    m = {"duration_ms": summary["duration_s"] * 1000.0 * ts,
         "req_s": summary["request_throughput"] / ts,
         "out_tok_s": summary["output_throughput"] / ts}
    for k in ("ttft", "tpot", "itl", "e2e"):
        d = summary[k + "_ms"]
        if d["samples"] > 0:
            m[k + "_mean"] = d["mean"] * ts
            m[k + "_p50"] = d["p50"] * ts
    return m


def run_case(brix, case, lengths, quick, tmp):
    q = case.get("quick", {}) if quick else {}
    ts = q.get("time_scale", case.get("time_scale", 1))
    wl = case["workload"]
    port = free_port()
    log = open(os.path.join(tmp, case["id"] + ".engine.log"), "w")
    eng = subprocess.Popen([brix, "engine", "--host", "127.0.0.1", "--port", str(port),
                            "--model", "fidelity", "--profile", case["profile"],
                            "--time-scale", str(ts), "--seed", "0"] + case["args"],
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        if not wait_health(port, eng):
            return None, f"engine did not start (log {log.name})"
        summ = os.path.join(tmp, case["id"] + ".json")
        cmd = [brix, "bench", "run", "--url", f"http://127.0.0.1:{port}", "--endpoint",
               "completions", "--model", "fidelity", "--seed", "0", "--no-progress",
               "--summary-json", summ, "--output", os.path.join(tmp, case["id"] + ".jsonl")]
        if "trace" in wl:
            trace = os.path.join(tmp, case["id"] + ".trace.jsonl")
            n = write_trace(trace, wl, lengths, q.get("requests"))
            cmd += ["--trace", trace, "--num-requests", str(n)]
        else:
            n = q.get("requests", wl["requests"])
            cmd += ["--input-len", str(wl["input"]), "--output-len", str(wl["output"]),
                    "--len-dist", "fixed", "--num-requests", str(n)]
            rate = wl.get("rate")
            cmd += ["--rate", str(rate * ts) if rate else "inf"]
            if wl.get("concurrency"):
                cmd += ["--max-concurrency", str(wl["concurrency"])]
        if wl.get("stream", True) is False:
            cmd += ["--no-stream"]
        with open(os.path.join(tmp, case["id"] + ".bench.log"), "w") as blog:
            rc = subprocess.call(cmd, stdout=blog, stderr=subprocess.STDOUT, timeout=900)
        if rc != 0 or not os.path.exists(summ):
            return None, f"brix bench run exited {rc} (log {blog.name})"
        with open(summ) as f:
            s = json.load(f)
        if s["failed"] > 0:
            return None, f"{s['failed']} of {s['requests']} requests failed"
        m = metrics(s, ts)
        # vLLM's benchmark times one gap per streamed chunk; a multi-step burst's tokens
        # come in one chunk there and in one network read here: count the gaps between reads
        gaps = []
        with open(os.path.join(tmp, case["id"] + ".jsonl")) as f:
            for line in f:
                gaps += [g for g in (json.loads(line).get("itl_ms") or []) if g > 0.5]
        if gaps:
            gaps.sort()
            m["itl_p50"] = gaps[len(gaps) // 2] * ts
        return m, None
    finally:
        stop(eng)
        log.close()


def fmt(v):
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def main(argv):
    args = argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__.split("\n\n")[2], file=sys.stderr)
        return 2
    brix, rest = os.path.abspath(args[0]), args[1:]
    quick, only, out_json = False, None, None
    while rest:
        a = rest.pop(0)
        if a == "--quick":
            quick = True
        elif a == "--only" and rest:
            only = set(rest.pop(0).split(","))
        elif a == "--json" and rest:
            out_json = rest.pop(0)
        else:
            print(f"fidelity: unknown argument {a}", file=sys.stderr)
            return 2
    with open(os.path.join(HERE, "cases.json")) as f:
        cases = json.load(f)["cases"]
    with open(os.path.join(HERE, "sharegpt320_lengths.json")) as f:
        lengths = json.load(f)
    cases = [c for c in cases if (not quick or "quick" in c) and (not only or c["id"] in only)]
    if not cases:
        print("fidelity: no case selected", file=sys.stderr)
        return 2
    rows, failed = [], 0
    print("| case | GPU | figure | published | brix | ratio | within +-15 % |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="brix-fidelity-") as tmp:
        for c in cases:
            t0 = time.time()
            m, err = run_case(brix, c, lengths, quick, tmp)
            if err:
                failed += 1
                print(f"| {c['id']} | {c['gpu']} | - | - | - | - | did not run: {err} |")
                keep = os.environ.get("FIDELITY_KEEP_LOGS")
                if keep:  # the logs outlive the temporary folder
                    shutil.copytree(tmp, keep, dirs_exist_ok=True)
                continue
            for fg in c["figures"]:
                got = m.get(fg["metric"])
                if got is None:
                    failed += 1
                    print(f"| {c['id']} | {c['gpu']} | {fg['label']} | {fg['published']} | "
                          f"- | - | no such figure measured |")
                    continue
                ratio = got / fg["published"]
                ok = abs(ratio - 1) <= TOLERANCE
                verdict = "yes" if ok else "no" + (f": {fg['why']}" if fg.get("why") else "")
                print(f"| {c['id']} | {c['gpu']} | {fg['label']} | {fmt(fg['published'])} | "
                      f"{fmt(got)} | {ratio:.2f} | {verdict} |", flush=True)
                rows.append({"case": c["id"], "gpu": c["gpu"], "figure": fg["label"],
                             "metric": fg["metric"], "published": fg["published"],
                             "brix": got, "ratio": ratio, "within": ok})
            print(f"fidelity: {c['id']}: {time.time() - t0:.1f} s", file=sys.stderr)
    if out_json:
        with open(out_json, "w") as f:
            json.dump({"quick": quick, "rows": rows}, f, indent=1)
    n_ok = sum(r["within"] for r in rows)
    print(f"\n{n_ok} of {len(rows)} figures within +-15 %"
          + (" (--quick: shortened runs, ratios not meaningful)" if quick else ""))
    for c in cases:
        print(f"- {c['id']}: {c['source']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
