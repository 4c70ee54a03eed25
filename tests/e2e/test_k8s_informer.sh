#!/usr/bin/env bash
# Oracle check of the fake Kubernetes API server against a real client: an informer of
# @kubernetes/client-node 1.4.0 lists, watches, gets add/update/delete, re-watches after a clean
# end of stream and relists after a 410 (k8s_informer.mjs). brix itself is not run.
# Usage: bash tests/e2e/test_k8s_informer.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
bx_need python3 node
source "$E2E_DIR/../k8s/lib.sh"
[ -d "$E2E_DIR/node_modules/@kubernetes/client-node" ] ||
    fail "@kubernetes/client-node is not installed: run scripts/deps.sh"

fake_apiserver_start "$E2E_TMP" --watch-timeout 1 || fail "fake apiserver did not start"
timeout 60 node "$E2E_DIR/k8s_informer.mjs" "$KUBECONFIG_FAKE" "$FAKE_API" >"$E2E_TMP/node.log" 2>&1 || {
    cat "$E2E_TMP/node.log" >&2
    fail "the client-node informer did not see what the fake served"
}
log "$(tail -n 1 "$E2E_TMP/node.log")"
