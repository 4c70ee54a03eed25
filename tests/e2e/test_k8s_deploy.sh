#!/usr/bin/env bash
# deploy/ (brix on Kubernetes), checked without a cluster:
#  1. `kubectl kustomize deploy/` renders; every object converts to JSON offline;
#  2. k8s_deploy_check.py: AIBrix's CRDs (group, version, kind, names, scope, subresources,
#     printer columns, fields, structural schemas), RBAC inside an allow-list (no wildcard,
#     no Secrets), the Deployments' security settings and probes, the gateway Service;
#  3. the Dockerfile: two stages on debian:bookworm-slim, a numeric non-root USER, the -dev
#     packages of scripts/deps.sh to build and (with apt-cache) exactly their runtime
#     libraries to run (plus CA certificates and tzdata);
#  4. against the fake API server (tests/k8s/fake_apiserver.py, when present): `kubectl apply
#     -k deploy/` succeeds, the samples of examples/k8s/ apply and read back unchanged,
#     `kubectl get modeladapters|podautoscalers` print AIBrix's columns with the status
#     values, the CRD schemas reject what AIBrix's reject, `kubectl scale` goes through a
#     RayClusterFleet's scale subresource.
# Needs kubectl (1.27 or newer, for its kustomize); skipped with a message without it.
#   bash tests/e2e/test_k8s_deploy.sh build/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
ROOT=$(cd "$E2E_DIR/../.." && pwd)

if ! command -v kubectl >/dev/null; then
    log "SKIP: kubectl is not installed (deploy/ not checked)"
    exit 0
fi
bx_need python3 jq
kv=$(kubectl version --client -o json 2>/dev/null | jq -r '.clientVersion.minor' | tr -dc 0-9)
if [ -z "$kv" ] || [ "$kv" -lt 27 ]; then
    log "SKIP: kubectl 1.${kv:-?} is older than 1.27 (its kustomize cannot render deploy/)"
    exit 0
fi

# ---- 1. render
kubectl kustomize "$ROOT/deploy" >"$E2E_TMP/deploy.yaml" 2>"$E2E_TMP/kustomize.err" ||
    fail "kubectl kustomize deploy/: $(cat "$E2E_TMP/kustomize.err")"
ndocs=$(grep -c '^kind:' "$E2E_TMP/deploy.yaml")
# kubectl's --local mode parses the manifests and prints JSON without a server.
kubectl annotate --local -f "$E2E_TMP/deploy.yaml" -o json brix.test/rendered=1 2>"$E2E_TMP/conv.err" |
    jq -s . >"$E2E_TMP/deploy.json" || fail "manifests do not parse: $(cat "$E2E_TMP/conv.err")"
[ "$(jq length "$E2E_TMP/deploy.json")" = "$ndocs" ] || fail "parsed $(jq length "$E2E_TMP/deploy.json") of $ndocs objects"
log "kustomize renders $ndocs objects"

# ---- 2. objects against AIBrix's facts and the allow-lists
python3 "$E2E_DIR/k8s_deploy_check.py" "$E2E_TMP/deploy.json" >"$E2E_TMP/check.out" 2>&1 ||
    fail "deploy/ checks:$(printf '\n')$(cat "$E2E_TMP/check.out")"
log "$(tail -n 1 "$E2E_TMP/check.out")"

# ---- 3. Dockerfile
DF=$ROOT/Dockerfile
[ -f "$DF" ] || fail "no Dockerfile"
[ "$(grep -cE '^FROM \$\{DEBIAN_IMAGE\}' "$DF")" = 2 ] || fail "Dockerfile: want two stages FROM \${DEBIAN_IMAGE}"
grep -qE '^ARG DEBIAN_IMAGE=debian:bookworm-slim$' "$DF" || fail "Dockerfile: base is not debian:bookworm-slim"
user=$(grep -E '^USER ' "$DF" | tail -n 1 | awk '{print $2}')
[[ "$user" =~ ^[1-9][0-9]*(:[1-9][0-9]*)?$ ]] || fail "Dockerfile: last USER '$user' is not a numeric non-root uid"
grep -qE '^COPY --from=build ' "$DF" || fail "Dockerfile: the runtime stage does not copy from the build stage"
# Package lists of the two stages (the words of the apt-get install lines).
pkgs() {
    awk -v stage="$1" '/^FROM /{n++} n==stage' "$DF" | sed -n '/apt-get install/,/&& rm/p' |
        tr -d '\\' | tr ' ' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vE '^(apt-get|install|rm|update)$' | sort -u
}
build_pkgs=$(pkgs 1)
run_pkgs=$(pkgs 2)
for p in $build_pkgs; do
    grep -qE "(^|[[:space:]])$p([[:space:]]|$)" "$ROOT/scripts/deps.sh" ||
        fail "Dockerfile builds with $p, which scripts/deps.sh does not install"
done
if command -v apt-cache >/dev/null && apt-cache show libuv1-dev >/dev/null 2>&1; then
    want=$(for p in $build_pkgs; do
        case $p in *-dev) apt-cache show "$p" | awk -F': ' '/^Depends:/{print $2; exit}' |
            tr ',' '\n' | sed 's/^ *//; s/ .*//' | head -n 1 ;; esac
    done | sort -u)
    extra=$(comm -13 <(echo "$want") <(echo "$run_pkgs") | grep -vxE 'ca-certificates|tzdata')
    missing=$(comm -23 <(echo "$want") <(echo "$run_pkgs"))
    [ -z "$missing" ] || fail "Dockerfile runtime stage lacks $missing"
    [ -z "$extra" ] || fail "Dockerfile runtime stage installs $extra, no -dev package's library"
    log "Dockerfile runtime libraries match the -dev packages ($(echo "$want" | wc -l))"
fi
grep -qx '!src/' "$ROOT/.dockerignore" || fail ".dockerignore does not keep src/"

# ---- 4. the fake API server
FAKE=$ROOT/tests/k8s/fake_apiserver.py
if [ ! -f "$FAKE" ]; then
    log "SKIP (part 4): no tests/k8s/fake_apiserver.py, kubectl apply not tried"
    log "PASS"
    exit 0
fi
bx_spawn "$E2E_TMP/fake.log" python3 "$FAKE" --port 0 --port-file "$E2E_TMP/fake.port"
E2E_LOGS+=("$E2E_TMP/fake.log")
for ((i = 0; i < 200; i++)); do
    [ -s "$E2E_TMP/fake.port" ] && break
    kill -0 "$BX_LAST" 2>/dev/null || fail "the fake API server exited"
    sleep 0.05
done
[ -s "$E2E_TMP/fake.port" ] || fail "the fake API server wrote no port"
cat >"$E2E_TMP/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: fake
    cluster:
      server: http://127.0.0.1:$(cat "$E2E_TMP/fake.port")
users:
  - name: fake
    user: {}
contexts:
  - name: fake
    context: {cluster: fake, user: fake, namespace: default}
current-context: fake
EOF
export KUBECONFIG=$E2E_TMP/kubeconfig
K() { kubectl --request-timeout=20s "$@"; }

# kubectl apply validates (strict) against the server's OpenAPI document first. Where the
# fake has no document for a group (kubectl: "error validating data: ... could not find the
# requested resource"), say so and apply with --validate=false: the server still checks the
# objects against the CRD schemas.
noted=0
kapply() { # OUT ARGS...: kubectl apply ARGS, its output in OUT
    local out=$1
    shift
    K apply "$@" >"$out" 2>&1 && return 0
    # Only a missing document falls back; a field kubectl finds wrong stays an error.
    grep -qE 'error validating data: (failed to download openapi|the server could not find the requested resource)' "$out" ||
        return 1
    if [ "$noted" = 0 ]; then
        log "note: the fake's OpenAPI document fails kubectl's validation ($(grep -o 'error validating data.*' "$out" | head -c 120)); --validate=false"
        noted=1
    fi
    K apply --validate=false "$@" >"$out" 2>&1
}
# Every kind deploy/ holds must be served (discovery); a kind the fake lacks is named and
# left out, so that the rest is still tried.
served() { # APIVERSION KIND
    local path=/apis/$1
    [ "$1" = v1 ] && path=/api/v1
    K get --raw "$path" 2>/dev/null | jq -e --arg k "$2" 'any(.resources[]; .kind == $k)' >/dev/null
}
missing_kinds=()
while read -r av kind; do
    served "$av" "$kind" || missing_kinds+=("$av/$kind")
done < <(jq -r '.[] | "\(.apiVersion) \(.kind)"' "$E2E_TMP/deploy.json" | sort -u)
SRC=(-k "$ROOT/deploy")
if ((${#missing_kinds[@]})); then
    log "note: the fake does not serve ${missing_kinds[*]}: applied without them"
    jq --arg drop "${missing_kinds[*]}" '{apiVersion: "v1", kind: "List", items: [.[] |
        select("\(.apiVersion)/\(.kind)" as $k | $drop | split(" ") | index($k) | not)]}' \
        "$E2E_TMP/deploy.json" >"$E2E_TMP/apply.json"
    SRC=(-f "$E2E_TMP/apply.json")
fi
kapply "$E2E_TMP/apply.out" "${SRC[@]}" ||
    fail "kubectl apply ${SRC[*]}: $(cat "$E2E_TMP/apply.out")"
log "kubectl apply -k deploy/: $(grep -c ' created$' "$E2E_TMP/apply.out") objects created"
# Applying again changes nothing.
pdb_rv() { K get poddisruptionbudgets -A -o jsonpath='{.items[*].metadata.resourceVersion}' 2>/dev/null || true; }
pdb_before=$(pdb_rv)
kapply "$E2E_TMP/apply2.out" "${SRC[@]}" ||
    fail "second apply: $(cat "$E2E_TMP/apply2.out")"
# (A PodDisruptionBudget is the exception: its selector's patch strategy is "replace", so
# kubectl's strategic-merge patch always carries it and kubectl says "configured"; the object
# itself must not change: its resourceVersion stays.)
if grep -vE ' unchanged$' "$E2E_TMP/apply2.out" | grep -vqE '^poddisruptionbudget\.policy/[a-z0-9-]+ configured$'; then
    fail "second apply changed objects: $(grep -vE ' unchanged$' "$E2E_TMP/apply2.out")"
fi
[ "$(pdb_rv)" = "$pdb_before" ] || fail "second apply changed the PodDisruptionBudget ($pdb_before -> $(pdb_rv))"

# The samples, in AIBrix's shapes, apply; the custom resources read back as written: every
# field of the file is in the stored spec (nothing pruned or changed; the CRD may add defaults).
kapply "$E2E_TMP/samples.out" -f "$ROOT/examples/k8s/" ||
    fail "kubectl apply -f examples/k8s/: $(cat "$E2E_TMP/samples.out")"
for f in "$ROOT"/examples/k8s/{adapter,autoscaler,fleet}.yaml; do
    K get -f "$f" -o json | jq 'if .kind == "List" then .items else [.] end' >"$E2E_TMP/got.json"
    kubectl annotate --local -f "$f" -o json x=y | jq -s . >"$E2E_TMP/want.json"
    jq -e -n --slurpfile got "$E2E_TMP/got.json" --slurpfile want "$E2E_TMP/want.json" \
        '[$got[0], $want[0]] | transpose | all(.[0].spec * .[1].spec == .[0].spec)' >/dev/null ||
        fail "$(basename "$f") reads back changed: $(diff <(jq -S '.[].spec' "$E2E_TMP/want.json") <(jq -S '.[].spec' "$E2E_TMP/got.json"))"
done
log "examples/k8s/ applied and read back unchanged"

# kubectl get prints AIBrix's columns, filled from the status subresource.
K patch modeladapter sql-lora --subresource=status --type=merge \
    -p '{"status":{"phase":"Running","candidates":2,"desiredReplicas":2,"readyReplicas":1,"instances":["llama-3-8b-0"]}}' \
    >/dev/null || fail "status patch of the ModelAdapter"
K patch podautoscaler llama-3-8b-kpa --subresource=status --type=merge \
    -p '{"status":{"actualScale":3,"desiredScale":3}}' >/dev/null || fail "status patch of the PodAutoscaler"
squeeze() { tr -s ' ' | sed 's/ $//'; }
K get modeladapters >"$E2E_TMP/ma.txt" || fail "kubectl get modeladapters"
[ "$(head -n 1 "$E2E_TMP/ma.txt" | squeeze)" = "NAME PHASE DESIRED READY CANDIDATES MODEL PATH AGE" ] ||
    fail "kubectl get modeladapters header: $(head -n 1 "$E2E_TMP/ma.txt")"
sed -n 2p "$E2E_TMP/ma.txt" | squeeze | grep -qE '^sql-lora Running 2 1 2 huggingface://yard1/llama-2-7b-sql-lora-test [0-9]+s$' ||
    fail "kubectl get modeladapters row: $(sed -n 2p "$E2E_TMP/ma.txt")"
K get podautoscalers >"$E2E_TMP/pa.txt" || fail "kubectl get podautoscalers"
[ "$(head -n 1 "$E2E_TMP/pa.txt" | squeeze)" = "NAME MINPODS MAXPODS REPLICAS STRATEGY AGE" ] ||
    fail "kubectl get podautoscalers header: $(head -n 1 "$E2E_TMP/pa.txt")"
sed -n 2p "$E2E_TMP/pa.txt" | squeeze | grep -qE '^llama-3-8b-kpa 1 8 3 KPA [0-9]+s$' ||
    fail "kubectl get podautoscalers row: $(sed -n 2p "$E2E_TMP/pa.txt")"
log "kubectl get modeladapters / podautoscalers print AIBrix's columns"

# What AIBrix's schemas reject is rejected: replicas other than 1, a PodAutoscaler without
# scalingStrategy, an unknown strategy, a schedule time not in HH:MM.
bad() { # NAME MSG-REGEX FILE [soft]: the object in FILE must be refused (soft: the fake may
         # not check this keyword yet, say so instead of failing)
    if kapply "$E2E_TMP/bad.out" -f "$3"; then
        [ "${4:-}" = soft ] || fail "$1 was accepted"
        log "note: the fake accepted $1 (a real API server refuses it)"
        return 0
    fi
    grep -qE "$2" "$E2E_TMP/bad.out" || fail "$1: $(cat "$E2E_TMP/bad.out")"
}
sed 's/name: sql-lora/name: two-lora/; s/schedulerName: default/replicas: 2/' \
    "$ROOT/examples/k8s/adapter.yaml" >"$E2E_TMP/bad1.yaml"
bad "a ModelAdapter with replicas: 2" 'spec.replicas' "$E2E_TMP/bad1.yaml"
sed 's/name: llama-3-8b-kpa/name: no-strategy/; /scalingStrategy:/d' \
    "$ROOT/examples/k8s/autoscaler.yaml" >"$E2E_TMP/bad2.yaml"
bad "a PodAutoscaler without scalingStrategy" 'scalingStrategy' "$E2E_TMP/bad2.yaml"
sed 's/name: llama-3-8b-kpa/name: bad-strategy/; s/scalingStrategy: KPA/scalingStrategy: VPA/' \
    "$ROOT/examples/k8s/autoscaler.yaml" >"$E2E_TMP/bad3.yaml"
bad "a PodAutoscaler with scalingStrategy VPA" 'scalingStrategy' "$E2E_TMP/bad3.yaml"
sed 's/name: llama-3-8b-kpa/name: bad-window/; s/startTime: "08:00"/startTime: "8:00"/' \
    "$ROOT/examples/k8s/autoscaler.yaml" >"$E2E_TMP/bad4.yaml"
bad "a PodAutoscaler schedule starting at 8:00 (pattern HH:MM)" 'startTime' "$E2E_TMP/bad4.yaml" soft
log "the schemas reject what AIBrix's reject"

# The scale subresource of a RayClusterFleet (what a PodAutoscaler uses).
K scale rayclusterfleet qwen-tp2 --replicas=3 >/dev/null || fail "kubectl scale rayclusterfleet"
[ "$(K get rayclusterfleet qwen-tp2 -o jsonpath='{.spec.replicas}')" = 3 ] || fail "scale did not set spec.replicas"
log "kubectl scale rayclusterfleet goes through its scale subresource"
log "PASS"
