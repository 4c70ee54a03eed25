# shellcheck shell=bash
# Starts the fake Kubernetes API server (tests/k8s/fake_apiserver.py, a test fixture) and writes
# a kubeconfig for it (plain http; insecure-skip-tls-verify: true, which client-node wants for
# an http server). Sourced by e2e tests (after tests/e2e/lib.sh, which gives E2E_TMP,
# E2E_PIDS and E2E_LOGS) or by hand:
#
#   source tests/k8s/lib.sh
#   fake_apiserver_start DIR [ARGS...]   starts it on a free port of 127.0.0.1, waits until it
#                                        serves; sets FAKE_API (http://127.0.0.1:PORT),
#                                        FAKE_API_PID, FAKE_API_PORT and KUBECONFIG_FAKE
#                                        (DIR/kubeconfig, namespace default)
#   fake_api METHOD PATH [JSON]          curl to the fake (control endpoints /fake/...)
#   fake_kubeconfig FILE SERVER [TOKEN]  writes a kubeconfig for SERVER
#
# Stop it with kill "$FAKE_API_PID" (the e2e lib stops it at exit: it is in E2E_PIDS).

FAKE_API_PY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fake_apiserver.py"

fake_kubeconfig() {
    local file=$1 server=$2 token=${3:-}
    cat >"$file" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: $server
    insecure-skip-tls-verify: true
contexts:
- name: fake
  context:
    cluster: fake
    user: fake
    namespace: default
current-context: fake
users:
- name: fake
  user:
    token: ${token:-fake-token}
KCFG
}

fake_apiserver_start() {
    local dir=$1
    shift
    mkdir -p "$dir"
    rm -f "$dir/fake-api.port"
    python3 "$FAKE_API_PY" --port 0 --port-file "$dir/fake-api.port" "$@" \
        >"$dir/fake-api.log" 2>&1 &
    FAKE_API_PID=$!
    if declare -p E2E_PIDS >/dev/null 2>&1; then
        E2E_PIDS+=("$FAKE_API_PID")
        E2E_LOGS+=("$dir/fake-api.log")
    fi
    local i
    for ((i = 0; i < 100; i++)); do
        [ -s "$dir/fake-api.port" ] && break
        kill -0 "$FAKE_API_PID" 2>/dev/null || {
            echo "fake apiserver exited: $(tail -n 5 "$dir/fake-api.log")" >&2
            return 1
        }
        sleep 0.1
    done
    [ -s "$dir/fake-api.port" ] || {
        echo "fake apiserver did not start" >&2
        return 1
    }
    FAKE_API_PORT=$(cat "$dir/fake-api.port")
    FAKE_API="http://127.0.0.1:$FAKE_API_PORT"
    KUBECONFIG_FAKE="$dir/kubeconfig"
    fake_kubeconfig "$KUBECONFIG_FAKE" "$FAKE_API"
}

fake_api() {
    local method=$1 path=$2 body=${3:-}
    if [ -n "$body" ]; then
        curl -sS --max-time 10 -X "$method" -H 'Content-Type: application/json' \
            --data-binary "$body" "$FAKE_API$path"
    else
        curl -sS --max-time 10 -X "$method" "$FAKE_API$path"
    fi
}
