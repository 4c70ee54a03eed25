#!/usr/bin/env bash
# The GPU optimizer in `brix controller` (docs/hetero.md, "Optimizer service") on the fake
# API server (tests/k8s/fake_apiserver.py) and its kubelet stand-in:
#   - two Deployments of model llm (replicas 0), a profile for each; load from a stand-in
#     for the gateway's GET /brix/load (the contract; keyed): 14 rps of short requests;
#     --gpu-optimizer-port serves /metrics/<ns>/<dep> in AIBrix's text: the other type's
#     floor replica (label model.aibrix.ai/min_replicas) serves 6 of them, 200 units (two
#     replicas) of the cheaper type the other 8;
#     /status names both Deployments, the load;
#   - keys ($BRIX_GPU_OPTIMIZER_API_KEYS): /status and /scale need one, /metrics does not;
#   - an optimizer-KPA PodAutoscaler (domain source on the optimizer's address) sets the
#     Deployment's spec.replicas to 2 in the API server; a PUT /scale override gives the
#     other Deployment 200 units; a deleted Deployment is forgotten (404).
# Skipped when kubectl, jq or python3 is absent.
# Usage: bash tests/e2e/test_k8s_gpuopt.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
# shellcheck source=gpuopt_lib.sh
source "$(dirname "$0")/gpuopt_lib.sh"
e2e_init "$@"
source "$E2E_DIR/../k8s/lib.sh"
k8s_e2e_start 30

mkdir -p "$E2E_TMP/profiles"
cat >"$E2E_TMP/profiles/a.json" <<'JSON'
{"gpu": "llm-a", "cost": 2.0, "created": 1700000000,
 "tputs": [[4.0, 1.0], [2.0, 0.5]], "indexes": [[16, 64], [64, 256]]}
JSON
cat >"$E2E_TMP/profiles/b.json" <<'JSON'
{"gpu": "default/llm-b", "cost": 4.0, "created": 1700000000,
 "tputs": [[6.0, 4.0], [3.0, 2.0]], "indexes": [[16, 64], [64, 256]]}
JSON

{
    k8s_dep_yaml llm-a 0
    k8s_dep_yaml llm-b 1
} >"$E2E_TMP/deps.yaml"
"${K[@]}" apply -f "$E2E_TMP/deps.yaml" >/dev/null || fail "apply deployments"

# A stand-in for the gateway's GET /brix/load (docs/hetero.md, "Load windows"): the last two
# 10 s windows, 140 requests each of 64 prompt and 16 completion tokens (ticks 60:40), so 14
# rps; it wants the key the optimizer was given and answers 401 without it.
LP=$(free_port)
cat >"$E2E_TMP/load.py" <<'PY'
import json, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlparse, parse_qs
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        u = urlparse(self.path)
        if u.path != "/brix/load" or self.headers.get("Authorization") != "Bearer gw-key":
            self.send_response(401 if u.path == "/brix/load" else 404); self.end_headers(); return
        m = parse_qs(u.query).get("model", [""])[0]
        now = int(time.time()) // 10 * 10
        tr = {"60:40": 140, "meta_v": 4, "meta_interval_sec": 10, "meta_precision": 10,
              "meta_total_reqs": 140, "meta_pending_reqs": 0, "meta_queueing_reqs": 0}
        body = json.dumps({"model": m, "windows": [{"ts": now - 20, "trace": tr},
                                                   {"ts": now - 10, "trace": tr}]}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$E2E_TMP/load.py" "$LP" >"$E2E_TMP/load.log" 2>&1 &
E2E_PIDS+=("$!")

OP=$(free_port)
MP=$(free_port)
HP=$(free_port)
KEY=opt-key
BRIX_GPU_OPTIMIZER_GATEWAY_KEY=gw-key,other BRIX_GPU_OPTIMIZER_API_KEYS=$KEY POD_NAMESPACE=default \
    "$BRIX" controller --kubeconfig "$KUBECONFIG_FAKE" --bind-host 127.0.0.1 --health-port "$HP" \
    --metrics-port "$MP" --gpu-optimizer-port "$OP" --gpu-profiles "$E2E_TMP/profiles" \
    --gpu-optimizer-gateway 127.0.0.1 --gpu-optimizer-gateway-port "$LP" >"$E2E_TMP/ctl.log" 2>&1 &
E2E_PIDS+=("$!")
E2E_LOGS+=("$E2E_TMP/ctl.log")
OPT="http://127.0.0.1:$OP"
wait_ready "$OPT/healthz" "$!"

log "14 rps of short requests: llm-b's floor replica (4 \$/h for 6 rps) takes 6, llm-a (2 \$/h for 4) 2 replicas the other 8"
wait_for 25 "llm-a at 200 units" units_is llm-a 200
units_is llm-b 100 || fail "llm-b not at its floor (label min_replicas 1): $(cat "$E2E_TMP/body")"
code "$OPT/metrics/default/llm-a" >/dev/null
grep -qx '# TYPE vllm:deployment_replicas gauge' "$E2E_TMP/body" || fail "metric text: $(cat "$E2E_TMP/body")"
[ "$(code "$OPT/status")" = 401 ] || fail "/status without a key"
[ "$(code -H "Authorization: Bearer $KEY" "$OPT/status")" = 200 ] || fail "/status with the key"
check "$E2E_TMP/body" '.models[0].model == "llm" and (.models[0].deployments | length == 2)' "/status lists both"
check "$E2E_TMP/body" '[.models[0].deployments[] | select(.profile)] | length == 2' "both profiles matched (name, ns/name)"
check "$E2E_TMP/body" '.models[0].loadError == null and .models[0].rps > 13.9 and .models[0].rps < 14.1' \
    "/status: the load read from /brix/load (14 rps), no load error"

cat >"$E2E_TMP/pa.yaml" <<YAML
apiVersion: autoscaling.aibrix.ai/v1alpha1
kind: PodAutoscaler
metadata:
  name: llm-a-optimizer-kpa
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llm-a}
  minReplicas: 0
  maxReplicas: 3
  scalingStrategy: KPA
  metricsSources:
  - metricSourceType: domain
    protocolType: http
    endpoint: 127.0.0.1:$OP
    path: /metrics/default/llm-a
    targetMetric: vllm:deployment_replicas
    targetValue: "100"
YAML
"${K[@]}" apply -f "$E2E_TMP/pa.yaml" >/dev/null || fail "apply the PodAutoscaler"

log "the KPA sets llm-a's spec.replicas to 2 (ceil(200 / 100))"
replicas_is() { [ "$("${K[@]}" get deployment "$1" -o jsonpath='{.spec.replicas}')" = "$2" ]; }
wait_for 20 "llm-a spec.replicas 2" replicas_is llm-a 2
replicas_is llm-b 0 || fail "llm-b changed"
ev_ok() {
    "${K[@]}" get events -o json | jq -e '[.items[] | select(.reason == "GPUMixChosen" and
        .involvedObject.kind == "Deployment" and .involvedObject.name == "llm-a" and
        (.message | startswith("2 replicas (200 units): ")))] | length >= 1' >/dev/null
}
wait_for 10 "a GPUMixChosen Event on Deployment llm-a" ev_ok

log "PUT /scale llm-b 2 (an override): 200 units"
[ "$(code -X PUT --data '{"replicas":2}' "$OPT/scale/default/llm-b")" = 401 ] || fail "/scale without a key"
[ "$(code -H "Authorization: Bearer $KEY" -X PUT --data '{"replicas":2}' "$OPT/scale/default/llm-b")" = 200 ] ||
    fail "PUT /scale: $(cat "$E2E_TMP/body")"
units_is llm-b 200 || fail "llm-b not at 200 units after the override: $(cat "$E2E_TMP/body")"

log "llm-b deleted: the optimizer forgets it"
"${K[@]}" delete deployment llm-b >/dev/null || fail "delete llm-b"
gone() { [ "$(code "$OPT/metrics/default/llm-b")" = 404 ]; }
wait_for 10 "/metrics/default/llm-b 404" gone
log "ok"
