#!/usr/bin/env bash
# The fake Kubernetes API server (tests/k8s/fake_apiserver.py, a test fixture of Kubernetes mode)
# keeps the rules of the real API that brix's client and controllers depend on: its unit tests,
# one or more per rule (tests/k8s/test_fake_apiserver.py). brix itself is not run here.
# Usage: bash tests/e2e/test_k8s_fake.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
bx_need python3

python3 -m unittest "$E2E_DIR/../k8s/test_fake_apiserver.py" >"$E2E_TMP/unittest.log" 2>&1 || {
    tail -n 60 "$E2E_TMP/unittest.log" >&2
    fail "tests/k8s/test_fake_apiserver.py failed"
}
tail -n 3 "$E2E_TMP/unittest.log"
