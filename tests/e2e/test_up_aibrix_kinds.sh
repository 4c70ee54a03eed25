#!/usr/bin/env bash
# A manifest in AIBrix's shape, applied to a running `brix up` as written: a `vllm serve ...
# --port 8000` Deployment (named with a dot, as Kubernetes allows) with a Service, a ServiceAccount, a ConfigMap and a CRD brix does
# not know (KVCache) in one file. The Deployment runs (vLLM is a stand-in on PATH that execs
# `brix engine` with vLLM's arguments); the core kinds are stored, each with one warning that
# names what is not acted on locally; the unknown kind is skipped with a warning; the
# Service shows the gateway's address for its model (`brix get svc`, describe), and the
# official openai client serves through that address; `brix delete -f` of the same file
# deletes what was stored. `brix up -f` of the same file does the same at start.
# Usage: bash tests/e2e/test_up_aibrix_kinds.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

GP=$(free_port)
AP=$(free_port)
export BRIX_SERVER="http://127.0.0.1:$AP"

# vLLM's CLI, stood in for by brix's engine (it accepts vLLM's flags)
mkdir -p "$E2E_TMP/bin"
cat >"$E2E_TMP/bin/vllm" <<EOF
#!/usr/bin/env bash
[ "\$1" = serve ] || { echo "vllm stand-in: only 'serve'" >&2; exit 2; }
model=\$2
shift 2
exec "$BRIX" engine --model "\$model" "\$@"
EOF
chmod +x "$E2E_TMP/bin/vllm"

cat >"$E2E_TMP/aibrix.yaml" <<'YAML'
apiVersion: v1
kind: ServiceAccount
metadata:
  name: qwen-sa
  namespace: default
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: qwen-config
  namespace: default
data:
  chat_template: "{{ messages }}"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: qwen-coder-1.5b-instruct
  namespace: default
  labels:
    model.aibrix.ai/name: qwen-coder
    model.aibrix.ai/port: "8000"
spec:
  replicas: 1
  selector:
    matchLabels:
      model.aibrix.ai/name: qwen-coder
  strategy:
    type: Recreate
  template:
    metadata:
      labels:
        model.aibrix.ai/name: qwen-coder
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: "8000"
    spec:
      serviceAccountName: qwen-sa
      containers:
        - name: vllm-openai
          image: vllm/vllm-openai:v0.7.1
          command:
            - vllm
            - serve
            - Qwen/Qwen2.5-Coder-1.5B-Instruct
            - --host
            - "127.0.0.1"
            - --port
            - "8000"
            - --served-model-name
            - qwen-coder
            - --trust-remote-code
          ports:
            - containerPort: 8000
              protocol: TCP
          resources:
            limits:
              nvidia.com/gpu: "1"
          readinessProbe:
            httpGet:
              path: /health
              port: 8000
            periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: qwen-coder
  namespace: default
  labels:
    prometheus-discovery: "true"
spec:
  selector:
    model.aibrix.ai/name: qwen-coder
  ports:
    - name: serve
      port: 8000
      protocol: TCP
      targetPort: 8000
  type: ClusterIP
---
apiVersion: orchestration.aibrix.ai/v1alpha1
kind: KVCache
metadata:
  name: kvcache-cluster
spec:
  mode: distributed
YAML

start_up() { # start_up LOGNAME STATE [extra args]: brix up with the stand-in vllm on PATH
    local name=$1 state=$2
    shift 2
    PATH="$E2E_TMP/bin:$PATH" up_start "$name" "$state" "$@"
}
ready() {
    "$BRIX" get pods -o json 2>/dev/null |
        jq -e '[.items[] | select(.deployment == "qwen-coder-1.5b-instruct" and .phase == "Ready")] | length == 1' >/dev/null
}
BASE="http://127.0.0.1:$GP"
chat_ok() {
    [ "$(req POST /v1/chat/completions '{"model":"qwen-coder","messages":[{"role":"user","content":"hi"}],"max_tokens":4}')" = 200 ]
}

log "brix apply of the AIBrix-shaped file: brix's kinds applied, core kinds stored, the CRD skipped"
start_up up1 "$E2E_TMP/state1"
"$BRIX" apply -f "$E2E_TMP/aibrix.yaml" >"$E2E_TMP/apply.out" 2>"$E2E_TMP/apply.err" ||
    fail "brix apply refused the file: $(cat "$E2E_TMP/apply.err")"
for l in "serviceaccount/qwen-sa created" "configmap/qwen-config created" \
    "deployment/qwen-coder-1.5b-instruct created" "service/qwen-coder created"; do
    grep -qx "$l" "$E2E_TMP/apply.out" || fail "no '$l': $(cat "$E2E_TMP/apply.out")"
done
grep -q kvcache "$E2E_TMP/apply.out" && fail "the unknown kind was applied: $(cat "$E2E_TMP/apply.out")"
grep -q "Warning: .*aibrix.yaml: document 5: kind KVCache (orchestration.aibrix.ai/v1alpha1): unknown kind, skipped" \
    "$E2E_TMP/apply.err" || fail "no warning for the unknown kind: $(cat "$E2E_TMP/apply.err")"
# one warning per object, naming each field not acted on (probes are acted on)
[ "$(grep -c '^Warning: deployment/qwen-coder-1.5b-instruct:' "$E2E_TMP/apply.err")" = 1 ] ||
    fail "not one warning for the deployment: $(cat "$E2E_TMP/apply.err")"
dw=$(grep '^Warning: deployment/qwen-coder-1.5b-instruct:' "$E2E_TMP/apply.err")
for f in "accepted, not acted on locally: spec.strategy" spec.template.metadata.annotations \
    spec.template.spec.serviceAccountName "spec.template.spec.containers\[0\].image, .ports, .resources" \
    "--port 8000 becomes the port brix allocates"; do
    grep -q -- "$f" <<<"$dw" || fail "deployment warning lacks '$f': $dw"
done
grep -q -i "probe" <<<"$dw" && fail "the readiness probe is named as not acted on: $dw"
grep -q "^Warning: service/qwen-coder: accepted, not acted on locally: metadata.namespace" "$E2E_TMP/apply.err" &&
    fail "metadata.namespace named"
grep -q "^Warning: service/qwen-coder: accepted, not acted on locally: spec.ports, .type$" "$E2E_TMP/apply.err" ||
    fail "service warning: $(cat "$E2E_TMP/apply.err")"
grep -q "^Warning: serviceaccount/qwen-sa: stored, not acted on locally" "$E2E_TMP/apply.err" ||
    fail "serviceaccount warning: $(cat "$E2E_TMP/apply.err")"
grep -q "^Warning: configmap/qwen-config: stored, not acted on locally" "$E2E_TMP/apply.err" ||
    fail "configmap warning: $(cat "$E2E_TMP/apply.err")"

log "the vllm Deployment runs and serves through the gateway"
wait_for 30 "qwen-coder Ready" ready
wait_for 15 "a chat through the gateway" chat_ok
check "$E2E_TMP/body" '.choices[0].message.content | length > 0' "chat answer has content"

log "the Service names the model at the gateway's address"
"$BRIX" get svc >"$E2E_TMP/svc.txt" || fail "brix get svc failed"
grep -Eq "^qwen-coder +ClusterIP +http://127.0.0.1:$GP +qwen-coder +8000:8000/TCP" "$E2E_TMP/svc.txt" ||
    fail "get svc: $(cat "$E2E_TMP/svc.txt")"
"$BRIX" describe service qwen-coder >"$E2E_TMP/dsvc.txt" || fail "describe service failed"
grep -q "http://127.0.0.1:$GP" "$E2E_TMP/dsvc.txt" || fail "describe svc: $(cat "$E2E_TMP/dsvc.txt")"
"$BRIX" get sa qwen-sa >/dev/null || fail "get sa"
"$BRIX" get configmap qwen-config -o yaml | grep -q "chat_template" || fail "get cm -o yaml"
ep=$("$BRIX" get svc qwen-coder -o json | jq -r '.status.endpoint')
model=$("$BRIX" get svc qwen-coder -o json | jq -r '.status.models[0]')
[ "$ep" = "http://127.0.0.1:$GP" ] && [ "$model" = qwen-coder ] || fail "service status: $ep $model"
if command -v node >/dev/null && [ -d "$E2E_DIR/node_modules/openai" ]; then
    (cd "$E2E_DIR" && BASE_URL="$ep/v1" MODEL="$model" timeout 60 node --input-type=module -e '
import OpenAI from "openai";
const c = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: "x", maxRetries: 0 });
const r = await c.chat.completions.create({ model: process.env.MODEL,
  messages: [{ role: "user", content: "hello" }], max_tokens: 4 });
if (!r.choices[0].message.content) throw new Error("empty answer");
console.log("ok", r.model);
') >"$E2E_TMP/node.out" 2>&1 || fail "openai client through the Service's endpoint: $(cat "$E2E_TMP/node.out")"
    log "the openai client serves through the Service's endpoint: $(cat "$E2E_TMP/node.out")"
else
    log "node or the openai package missing: openai client step skipped"
fi

log "a server whose command takes no port option (xDiT's shape) runs as written on its containerPort"
FP=$(free_port)
cat >"$E2E_TMP/fixed.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: fixed-port
  labels: {model.aibrix.ai/name: fixed-model}
spec:
  replicas: 1
  selector: {matchLabels: {model.aibrix.ai/name: fixed-model}}
  template:
    metadata: {labels: {model.aibrix.ai/name: fixed-model}}
    spec:
      containers:
        - name: server
          command: ["sh", "-c"]
          args: ["exec python3 -m http.server --bind 127.0.0.1 $FP"]
          ports: [{containerPort: $FP}]
          readinessProbe: {httpGet: {path: /, port: $FP}, periodSeconds: 1}
YAML
"$BRIX" apply -f "$E2E_TMP/fixed.yaml" >"$E2E_TMP/fixed.out" 2>"$E2E_TMP/fixed.err" ||
    fail "apply of a command without a port option: $(cat "$E2E_TMP/fixed.err")"
grep -q "runs as written and is reached on port $FP" "$E2E_TMP/fixed.err" ||
    fail "no note of the fixed port: $(cat "$E2E_TMP/fixed.err")"
fixed_ready() {
    [ "$("$BRIX" get pods -o json | jq -r '.items[] | select(.deployment == "fixed-port") | "\(.phase) \(.port)"')" = "Ready $FP" ]
}
wait_for 30 "the fixed-port pod Ready on $FP" fixed_ready
"$BRIX" delete deploy fixed-port >/dev/null || fail "delete fixed-port"

log "brix delete -f of the same file deletes what was stored"
"$BRIX" delete -f "$E2E_TMP/aibrix.yaml" >"$E2E_TMP/del.out" 2>"$E2E_TMP/del.err" ||
    fail "delete -f: $(cat "$E2E_TMP/del.out" "$E2E_TMP/del.err")"
for l in 'serviceaccount "qwen-sa" deleted' 'configmap "qwen-config" deleted' \
    'deployment "qwen-coder-1.5b-instruct" deleted' 'service "qwen-coder" deleted'; do
    grep -qx "$l" "$E2E_TMP/del.out" || fail "no '$l': $(cat "$E2E_TMP/del.out")"
done
grep -q "kind KVCache: unknown kind, skipped" "$E2E_TMP/del.err" || fail "delete: $(cat "$E2E_TMP/del.err")"
"$BRIX" get svc 2>&1 | grep -q "No resources found" || fail "services left"
stop_pid "$UP_PID"

log "brix up -f of the same file: the same, at start"
start_up up2 "$E2E_TMP/state2" -f "$E2E_TMP/aibrix.yaml"
grep -q "Warning: .*document 5: kind KVCache" "$E2E_TMP/up2.log" || fail "up -f: no warning: $(head -20 "$E2E_TMP/up2.log")"
grep -q "Warning: deployment/qwen-coder-1.5b-instruct: .*spec.strategy" "$E2E_TMP/up2.log" || fail "up -f: no deployment warning"
grep -q "Service/qwen-coder created" "$E2E_TMP/up2.log" || fail "up -f: service not stored"
wait_for 30 "qwen-coder Ready (brix up -f)" ready
wait_for 15 "a chat through the gateway (brix up -f)" chat_ok
stop_pid "$UP_PID"
log "ok"
