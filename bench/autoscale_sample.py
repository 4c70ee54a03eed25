#!/usr/bin/env python3
"""Samples a brix up stack for bench/autoscale.sh (stdlib only).

Every INTERVAL seconds until SIGTERM/SIGINT: GET /v1/pods?deployment=D and
GET /v1/objects/podautoscaler/PA from the admin API, one CSV row:

  t_wall,ready,pods,desired,actual,panic,metric,reason

t_wall is time.time(); ready counts pods in phase Ready, pods all rows;
desired/actual are status.desiredScale/actualScale (empty until written);
panic is 1 when status.panic is true (or status.reason starts with
"KPA panic"); metric is the first value of status.metrics; reason is
status.reason (quoted CSV). The pids of every pod seen go to PIDFILE (one
per line) so the caller can make sure no engine outlives the run.

usage: autoscale_sample.py ADMIN_URL DEPLOYMENT PA INTERVAL OUT.csv PIDFILE
"""
import csv
import json
import signal
import sys
import time
import urllib.request

running = True


def stop(_sig, _frm):
    global running
    running = False


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=1.0) as r:
            return json.load(r)
    except Exception:  # a missed sample is a gap, not an error
        return None


def main():
    if len(sys.argv) != 7:
        sys.stderr.write(__doc__)
        return 2
    base, dep, pa, interval, out, pidfile = sys.argv[1:]
    interval = float(interval)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    pids = set()
    with open(out, "w", buffering=1, newline="") as f:
        w = csv.writer(f)
        w.writerow(["t_wall", "ready", "pods", "desired", "actual", "panic", "metric", "reason"])
        nxt = time.time()
        while running:
            t = time.time()
            pods = get(f"{base}/v1/pods?deployment={dep}")
            obj = get(f"{base}/v1/objects/podautoscaler/{pa}")
            if pods is not None:
                items = pods.get("items", [])
                ready = sum(1 for p in items if p.get("phase") == "Ready")
                new = {p.get("pid") for p in items if p.get("pid")} - pids
                if new:
                    pids |= new
                    with open(pidfile, "w") as pf:
                        pf.write("".join(f"{p}\n" for p in sorted(pids)))
                st = ((obj or {}).get("object") or {}).get("status") or {}
                metrics = st.get("metrics") or {}
                mval = next(iter(metrics.values()), "") if isinstance(metrics, dict) else ""
                reason = st.get("reason") or ""
                w.writerow(["%.3f" % t, ready, len(items), st.get("desiredScale", ""),
                            st.get("actualScale", ""), 1 if st.get("panic") is True or reason.startswith("KPA panic") else 0,
                            mval, reason])
            nxt += interval
            delay = nxt - time.time()
            if delay > 0:
                time.sleep(delay)
            else:
                nxt = time.time()
    return 0


if __name__ == "__main__":
    sys.exit(main())
