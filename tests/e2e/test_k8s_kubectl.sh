#!/usr/bin/env bash
# Oracle check of the fake Kubernetes API server against a real client: kubectl (1.32) applies a
# CRD and objects of it, gets them with the CRD's printer columns, watches a change, waits on a
# status through an informer (plain list+watch and, with KUBE_FEATURE_WatchListClient, the
# streaming WatchList), server-side applies, scales a Deployment and a custom resource, deletes.
# Usage: bash tests/e2e/test_k8s_kubectl.sh /path/to/brix   (brix itself is not run)
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
bx_need python3 kubectl
source "$E2E_DIR/../k8s/lib.sh"

fake_apiserver_start "$E2E_TMP" || fail "fake apiserver did not start"
K=(kubectl --kubeconfig "$KUBECONFIG_FAKE" --request-timeout=10s)
D=$E2E_TMP

cat >"$D/crd.yaml" <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.brix.dev
spec:
  group: example.brix.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    additionalPrinterColumns:
    - {name: Size, type: string, jsonPath: .spec.size}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Phase, type: string, jsonPath: .status.phase}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: string, enum: [small, large]}
              replicas: {type: integer, minimum: 0}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
YAML
cat >"$D/objs.yaml" <<'YAML'
apiVersion: example.brix.dev/v1
kind: Widget
metadata: {name: w1, labels: {app: demo}}
spec: {size: small, replicas: 2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d1}
spec:
  replicas: 1
  selector: {matchLabels: {app: d1}}
  template:
    metadata: {labels: {app: d1}}
    spec: {containers: [{name: c, image: busybox}]}
YAML

# --- apply a CRD, then objects of it
"${K[@]}" apply -f "$D/crd.yaml" >"$D/out" 2>&1 || fail "apply crd: $(cat "$D/out")"
grep -q 'customresourcedefinition.apiextensions.k8s.io/widgets.example.brix.dev created' "$D/out" ||
    fail "apply crd said: $(cat "$D/out")"
"${K[@]}" apply -f "$D/objs.yaml" >"$D/out" 2>&1 || fail "apply objects: $(cat "$D/out")"
grep -q 'widget.example.brix.dev/w1 created' "$D/out" || fail "apply said: $(cat "$D/out")"
"${K[@]}" apply -f "$D/objs.yaml" >"$D/out" 2>&1 || fail "re-apply: $(cat "$D/out")"
grep -q 'widget.example.brix.dev/w1 unchanged' "$D/out" || fail "re-apply said: $(cat "$D/out")"

# --- get shows the CRD's printer columns
"${K[@]}" get widgets >"$D/get" 2>&1 || fail "get widgets: $(cat "$D/get")"
head -n 1 "$D/get" | grep -Eq '^NAME +SIZE +REPLICAS +PHASE +AGE$' ||
    fail "printer columns: $(cat "$D/get")"
grep -Eq '^w1 +small +2 +' "$D/get" || fail "row of w1: $(cat "$D/get")"
"${K[@]}" get deploy d1 >"$D/get" 2>&1 || fail "get deploy: $(cat "$D/get")"
grep -Eq '^d1 +0/1 +0 +0 +' "$D/get" || fail "deployment row: $(cat "$D/get")"

# --- a schema violation is refused with the API's 422
if "${K[@]}" patch widget w1 --type=merge -p '{"spec":{"size":"huge"}}' >"$D/out" 2>&1; then
    fail "an enum violation was accepted"
fi
grep -q 'Unsupported value: "huge"' "$D/out" || fail "422 message: $(cat "$D/out")"

# --- get -w receives a change
"${K[@]}" get widgets -w --request-timeout=0 >"$D/watch" 2>&1 &
WPID=$!
E2E_PIDS+=("$WPID")
for _ in $(seq 50); do grep -q '^w1 ' "$D/watch" && break; sleep 0.1; done
"${K[@]}" patch widget w1 --type=merge -p '{"spec":{"replicas":7}}' >/dev/null ||
    fail "patch widget"
for _ in $(seq 50); do grep -Eq '^w1 +small +7 ' "$D/watch" && break; sleep 0.1; done
grep -Eq '^w1 +small +7 ' "$D/watch" || fail "get -w did not show the change: $(cat "$D/watch")"
stop_pid "$WPID"

# --- wait on a status through an informer, without and with WatchList
for wl in false true; do
    "${K[@]}" patch widget w1 --subresource=status --type=merge \
        -p '{"status":{"phase":"Pending"}}' >/dev/null || fail "status patch"
    KUBE_FEATURE_WatchListClient=$wl "${K[@]}" wait widget/w1 --for=jsonpath='{.status.phase}'=Running \
        --timeout=15s >"$D/wait" 2>&1 &
    WAITPID=$!
    sleep 0.5
    "${K[@]}" patch widget w1 --subresource=status --type=merge \
        -p '{"status":{"phase":"Running"}}' >/dev/null || fail "status patch"
    wait "$WAITPID" || fail "kubectl wait (WatchListClient=$wl): $(cat "$D/wait")"
    grep -q 'condition met' "$D/wait" || fail "kubectl wait said: $(cat "$D/wait")"
done
"${K[@]}" get widget w1 -o jsonpath='{.status.phase} {.spec.size} {.metadata.generation}' >"$D/out"
[ "$(cat "$D/out")" = "Running small 2" ] || fail "status/spec/generation: $(cat "$D/out")"

# --- server-side apply, with a field manager conflict
sed 's/replicas: 2}/replicas: 3}/' "$D/objs.yaml" >"$D/ssa.yaml"
# spec.replicas was last set by kubectl patch (manager kubectl-patch): a conflict, as on a cluster
if "${K[@]}" apply --server-side --field-manager=a -f "$D/ssa.yaml" >"$D/out" 2>&1; then
    fail "server-side apply over kubectl-patch's field was accepted"
fi
grep -q 'conflict with "kubectl-patch": .spec.replicas' "$D/out" || fail "conflict: $(cat "$D/out")"
"${K[@]}" apply --server-side --field-manager=a --force-conflicts -f "$D/ssa.yaml" >"$D/out" 2>&1 ||
    fail "server-side apply: $(cat "$D/out")"
sed 's/replicas: 2}/replicas: 4}/' "$D/objs.yaml" >"$D/ssa2.yaml"
if "${K[@]}" apply --server-side --field-manager=b -f "$D/ssa2.yaml" >"$D/out" 2>&1; then
    fail "a conflicting server-side apply was accepted"
fi
grep -q 'conflict' "$D/out" || fail "conflict message: $(cat "$D/out")"
"${K[@]}" apply --server-side --field-manager=b --force-conflicts -f "$D/ssa2.yaml" >/dev/null 2>&1 ||
    fail "forced server-side apply"
[ "$("${K[@]}" get widget w1 -o jsonpath='{.spec.replicas}')" = 4 ] || fail "forced apply value"

# --- scale a Deployment and a custom resource with a scale subresource
"${K[@]}" scale deployment d1 --replicas=3 >/dev/null 2>&1 || fail "scale deployment"
[ "$("${K[@]}" get deploy d1 -o jsonpath='{.spec.replicas}')" = 3 ] || fail "deployment replicas"
"${K[@]}" scale widget w1 --replicas=5 >/dev/null 2>&1 || fail "scale widget"
[ "$("${K[@]}" get widget w1 -o jsonpath='{.spec.replicas}')" = 5 ] || fail "widget replicas"

# --- delete (kubectl waits for the object to go)
"${K[@]}" delete widget w1 --timeout=10s >"$D/out" 2>&1 || fail "delete: $(cat "$D/out")"
grep -q 'widget.example.brix.dev "w1" deleted' "$D/out" || fail "delete said: $(cat "$D/out")"
if "${K[@]}" get widget w1 >"$D/out" 2>&1; then fail "w1 still there"; fi
grep -q 'NotFound\|not found' "$D/out" || fail "get after delete: $(cat "$D/out")"
"${K[@]}" delete -f "$D/crd.yaml" >/dev/null 2>&1 || fail "delete crd"
if "${K[@]}" get widgets >"$D/out" 2>&1; then fail "widgets still served after the CRD went"; fi
log "kubectl applied, got, watched, waited (list+watch and WatchList), applied server-side, scaled, deleted"
