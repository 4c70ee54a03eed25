#!/usr/bin/env bash
# A RayClusterFleet of 2-node groups under steady load through a rolling update and a
# worker's death (issue 17): ready groups and request success over time.
#
#   bash bench/scenarios/multinode.sh [path/to/brix] [--quick] [--out DIR] [--publish]
#
# `brix up` runs one RayClusterFleet (AIBrix's shape): 2 replicas, each a RayCluster of a head
# and one worker (brix engine as a 2-node group: --group-size from the local runner, profile
# deepseek-v3-tp16-h100, TP 16 over 2 nodes of 8 H100), strategy RollingUpdate maxSurge 1 /
# maxUnavailable 0. Poisson load (chat, streamed) runs through the gateway the whole time;
#   1. after a steady phase, the head template changes (a new --seed): the fleet rolls;
#   2. once the rollout is complete, one worker is SIGKILLed: its leader fails its requests
#      and turns unready, the group restarts as a unit.
# The admin API is sampled every 0.2 s (multinode_sample.py): RayClusters, ready ones, replica
# sets and the fleet's counts.
# Prints and writes (results/multinode/<stamp>/): summary.csv (requests and failures in each
# phase, fewest ready groups during the rollout, rollout seconds, worker death to its group
# serving again), groups.png (ready groups and RayClusters over time, with the requests
# answered and failed per second) and the per-request JSONL.
# Invariants (--quick too): no failed request and never fewer than 2 ready groups during the
# rollout; the rollout completes; the killed worker's group serves again; the plot exists.
# Timings are wall clock on this machine: figures, not assertions.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bs_init multinode "$@"

RATE=4 IN=128 OUT=32
if [ "$BS_QUICK" = 1 ]; then STEADY=3 TOTAL=20; else STEADY=10 TOTAL=60; fi
echo "fleet: 2 x (head + 1 worker), deepseek-v3-tp16-h100, maxSurge 1 / maxUnavailable 0; load: Poisson ${RATE}/s, ${IN} in / ${OUT} out" >"$BS_RES/settings.txt"
cat "$BS_RES/settings.txt" >&2

write_fleet() { # SEED FILE
    cat >"$2" <<YAML
apiVersion: orchestration.aibrix.ai/v1alpha1
kind: RayClusterFleet
metadata:
  name: big
  labels: {model.aibrix.ai/name: big}
spec:
  replicas: 2
  selector: {matchLabels: {model.aibrix.ai/name: big}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {model.aibrix.ai/name: big}}
    spec:
      headGroupSpec:
        rayStartParams: {}
        template:
          metadata:
            labels: {model.aibrix.ai/name: big}
            annotations: {brix.ai/drain-grace-seconds: "10"}
          spec:
            containers:
              - name: head
                command: ["{brix}", engine, --port, "{port}", --model, big,
                          --profile, deepseek-v3-tp16-h100, --group-timeout, "2",
                          --seed, "$1", --log-level, warn]
      workerGroupSpecs:
        - groupName: workers
          replicas: 1
          minReplicas: 1
          maxReplicas: 1
          rayStartParams: {}
          template:
            spec:
              containers:
                - name: worker
                  command: ["{brix}", engine, --port, "{port}", --group-timeout, "2",
                            --log-level, warn]
YAML
}

GP=$(bx_free_port) AP=$(bx_free_port)
ADMIN="http://127.0.0.1:$AP"
PIDFILE="$BS_RES/pids"
: >"$PIDFILE"
write_fleet 1 "$BS_RES/fleet-v1.yaml"
write_fleet 2 "$BS_RES/fleet-v2.yaml"
bx_spawn "$BS_RES/up.log" "$BRIX" up -f "$BS_RES/fleet-v1.yaml" --state "$BS_RES/state" \
    --host 127.0.0.1 --port "$GP" --admin-port "$AP" --log-level info
UP=$BX_LAST
stop_engines() { # the engines of this run, should brix up leave any
    local p
    while read -r p; do
        [ -n "$p" ] && grep -qa engine "/proc/$p/cmdline" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    done <"$PIDFILE"
    return 0
}
trap 'bx_cleanup; stop_engines' EXIT

ready_groups() { # the RayClusters whose status says ready
    curl -s --max-time 2 "$ADMIN/v1/objects/raycluster" | python3 -c '
import json, sys
print(sum(1 for o in json.load(sys.stdin)["items"] if (o.get("status") or {}).get("state") == "ready"))' 2>/dev/null || echo 0
}
fleet_done() { # 1 when the fleet runs 2 updated, available groups and nothing else
    curl -s --max-time 2 "$ADMIN/v1/objects/rayclusterfleet/big" | python3 -c '
import json, sys
s = json.load(sys.stdin)["object"].get("status") or {}
ok = s.get("updatedReplicas") == 2 and s.get("availableReplicas") == 2 and s.get("replicas") == 2
print(1 if ok else 0)' 2>/dev/null || echo 0
}
now() { python3 -c 'import time; print("%.3f" % time.time())'; }

for ((i = 0; i < 300; i++)); do
    [ "$(ready_groups)" = 2 ] && [ "$(fleet_done)" = 1 ] && break
    kill -0 "$UP" 2>/dev/null || { echo "multinode: brix up exited: $(tail -n 5 "$BS_RES/up.log")" >&2; exit 1; }
    sleep 0.2
done
[ "$i" -lt 300 ] || { echo "multinode: the fleet is not ready after 60 s" >&2; exit 1; }
bx_spawn "$BS_RES/sample.log" python3 "$BS_HERE/multinode_sample.py" "$ADMIN" big 0.2 \
    "$BS_RES/groups.csv" "$PIDFILE"
SMP=$BX_LAST

T0=$(now)
bx_spawn "$BS_RES/load.bench.txt" "$BRIX" bench run --url "http://127.0.0.1:$GP" --model big \
    --rate "$RATE" --duration "$TOTAL" --input-len "$IN" --output-len "$OUT" --seed 1 \
    --timeout 60 --no-progress --output "$BS_RES/load.jsonl" --summary-json "$BS_RES/load.summary.json"
LOAD=$BX_LAST
sleep "$STEADY"

# 1. the rolling update
T_ROLL=$(now)
"$BRIX" apply -f "$BS_RES/fleet-v2.yaml" --server "$ADMIN" >"$BS_RES/apply.log" 2>&1
sleep 1
for ((i = 0; i < 600; i++)); do
    [ "$(fleet_done)" = 1 ] && [ "$(ready_groups)" = 2 ] && break
    sleep 0.2
done
T_ROLLED=$(now)
[ "$i" -lt 600 ] || echo "multinode: INVARIANT the rollout did not complete in 120 s" >&2
sleep 1

# 2. a worker dies
read -r WPID CLUSTER < <(curl -s "$ADMIN/v1/pods" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    l = p.get("labels") or {}
    if l.get("ray.io/node-type") == "worker" and p.get("phase") == "Ready":
        print(p["pid"], l.get("ray.io/cluster")); break')
T_KILL=$(now)
kill -KILL "$WPID"
python3 - "$ADMIN" "$CLUSTER" >"$BS_RES/recovery.txt" <<'PY'
import json, sys, time, urllib.request
admin, name = sys.argv[1], sys.argv[2]
t0, down, up = time.time(), None, None
while time.time() - t0 < 60:
    try:
        with urllib.request.urlopen(admin + "/v1/objects/raycluster/" + name, timeout=1) as r:
            st = (json.load(r)["object"].get("status") or {}).get("state")
    except Exception:
        st = None
    if down is None and st != "ready":
        down = time.time()
    if down is not None and st == "ready":
        up = time.time()
        break
    time.sleep(0.05)
print("%.3f %s" % (t0, "%.3f" % up if up else "none"))
PY
read -r _ T_UP <"$BS_RES/recovery.txt"
wait "$LOAD" || true
sleep 0.5
bx_stop "$SMP" 3

rc=0
python3 - "$BS_RES" "$T0" "$T_ROLL" "$T_ROLLED" "$T_KILL" "$T_UP" <<'PY' || rc=$?
import csv, json, os, sys
res, t0, t_roll, t_rolled, t_kill, t_up = sys.argv[1], *map(float, sys.argv[2:6]), sys.argv[6]
t_up = float(t_up) if t_up != "none" else None
reqs = [json.loads(l) for l in open(os.path.join(res, "load.jsonl")) if l.strip()]
def phase(r):
    t = t0 + r["send_s"]
    # a failed request's end is not known: it counts as in flight until the latest phase
    end = t + r["e2e_ms"] / 1000.0 if r["ok"] and r.get("e2e_ms") is not None else float("inf")
    if end < t_roll: return "steady"
    if t < t_rolled: return "rollout"
    if end < t_kill: return "after rollout"
    return "worker death"
counts = {}
for r in reqs:
    p = phase(r)
    c = counts.setdefault(p, [0, 0])
    c[0] += 1
    c[1] += 0 if r["ok"] else 1
samples = list(csv.DictReader(open(os.path.join(res, "groups.csv"))))
during = [int(s["ready_groups"]) for s in samples if t_roll <= float(s["t_wall"]) <= t_rolled]
most = [int(s["groups"]) for s in samples if t_roll <= float(s["t_wall"]) <= t_rolled]
with open(os.path.join(res, "summary.csv"), "w") as f:
    f.write("phase,requests,failed\n")
    for p in ("steady", "rollout", "after rollout", "worker death"):
        c = counts.get(p, [0, 0])
        f.write("%s,%d,%d\n" % (p, c[0], c[1]))
    f.write("fewest ready groups in rollout,%d,\n" % (min(during) if during else -1))
    f.write("most RayClusters in rollout,%d,\n" % (max(most) if most else -1))
    f.write("rollout seconds,%.1f,\n" % (t_rolled - t_roll))
    f.write("worker death to group ready seconds,%s,\n" % ("%.2f" % (t_up - t_kill) if t_up else "none"))
with open(os.path.join(res, "plot.dat"), "w") as f:
    for s in samples:
        f.write("%.2f %s %s\n" % (float(s["t_wall"]) - t0, s["ready_groups"], s["groups"]))
fails, oks = {}, {}
for r in reqs:
    b = int(r["send_s"])
    d = oks if r["ok"] else fails
    d[b] = d.get(b, 0) + 1
with open(os.path.join(res, "fails.dat"), "w") as f:
    for b in range(0, int(max([r["send_s"] for r in reqs] + [0])) + 1):
        f.write("%d %d %d\n" % (b, fails.get(b, 0), oks.get(b, 0)))
with open(os.path.join(res, "marks.txt"), "w") as f:
    f.write("%.2f %.2f %.2f\n" % (t_roll - t0, t_rolled - t0, t_kill - t0))
bad = []
if counts.get("rollout", [0, 0])[1]: bad.append("failed requests during the rollout")
if not during or min(during) < 2: bad.append("fewer than 2 ready groups during the rollout")
if most and max(most) > 3: bad.append("more than replicas + maxSurge RayClusters")
if t_up is None: bad.append("the killed worker's group did not serve again")
for b in bad: print("multinode: INVARIANT " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
[ "$rc" = 0 ] || BS_FAIL=1
read -r M_ROLL M_ROLLED M_KILL <"$BS_RES/marks.txt"
bs_plot "$BS_RES/groups.png" "
set title 'RayClusterFleet of 2-node groups: rolling update, then a worker killed'
set xlabel 'seconds'
set ylabel 'RayClusters'
set y2label 'requests per second (by send time)'
set ytics nomirror
set y2tics
set yrange [0:4]
set xrange [0:*]
set y2range [0:*]
set arrow from $M_ROLL, graph 0 to $M_ROLL, graph 1 nohead dt 2
set arrow from $M_ROLLED, graph 0 to $M_ROLLED, graph 1 nohead dt 2
set arrow from $M_KILL, graph 0 to $M_KILL, graph 1 nohead lc rgb 'red'
plot '$BS_RES/plot.dat' using 1:2 with steps lw 2 title 'ready groups', \
     '$BS_RES/plot.dat' using 1:3 with steps title 'RayClusters', \
     '$BS_RES/fails.dat' using 1:3 axes x1y2 with steps dt 3 title 'answered/s', \
     '$BS_RES/fails.dat' using 1:2 axes x1y2 with impulses lw 3 title 'failed/s'"
bs_table "$BS_RES/summary.csv"
bs_publish "$BS_RES/summary.csv" "$BS_RES/groups.png"
bs_finish
