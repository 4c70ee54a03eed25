#!/usr/bin/env python3
"""Samples a `brix up` running a RayClusterFleet, for bench/scenarios/multinode.sh (stdlib only).

Every INTERVAL seconds until SIGTERM/SIGINT, one CSV row from the admin API:

  t_wall,groups,ready_groups,rs,fleet_ready,fleet_updated,fleet_available

groups: RayClusters listed; ready_groups: those whose status says state "ready"
(KubeRay's: provisioned, head ready, every worker ready); rs: RayClusterReplicaSets;
fleet_*: the fleet's status counts. The pids of every pod seen go to PIDFILE (one per
line) so the caller can make sure no engine outlives the run.

usage: multinode_sample.py ADMIN_URL FLEET INTERVAL OUT.csv PIDFILE
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from autoscale_sample import get  # noqa: E402  (one GET helper for the samplers)

running = True


def stop(_sig, _frm):
    global running
    running = False


def main(a):
    if len(a) != 5:
        sys.exit(__doc__)
    admin, fleet, interval, out, pidfile = a[0], a[1], float(a[2]), a[3], a[4]
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    pids = set()
    with open(out, "w") as f:
        f.write("t_wall,groups,ready_groups,rs,fleet_ready,fleet_updated,fleet_available\n")
        while running:
            t = time.time()
            rcs = get(admin + "/v1/objects/raycluster")
            rss = get(admin + "/v1/objects/rayclusterreplicaset")
            fl = get(admin + "/v1/objects/rayclusterfleet/" + fleet)
            pods = get(admin + "/v1/pods")
            if rcs is not None and rss is not None and fl is not None:
                items = rcs.get("items", [])
                ready = sum(1 for o in items if (o.get("status") or {}).get("state") == "ready")
                st = (fl.get("object") or fl).get("status") or {}
                f.write("%.3f,%d,%d,%d,%d,%d,%d\n" % (
                    t, len(items), ready, len(rss.get("items", [])), st.get("readyReplicas", 0),
                    st.get("updatedReplicas", 0), st.get("availableReplicas", 0)))
                f.flush()
            for p in (pods or {}).get("items", []):
                if p.get("pid") and p["pid"] not in pids:
                    pids.add(p["pid"])
                    with open(pidfile, "a") as pf:
                        pf.write("%d\n" % p["pid"])
            time.sleep(max(0.0, interval - (time.time() - t)))


if __name__ == "__main__":
    main(sys.argv[1:])
