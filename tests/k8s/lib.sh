# shellcheck shell=bash
# Starts the fake Kubernetes API server (tests/k8s/fake_apiserver.py, a test fixture; see
# docs/kubernetes-fake.md) and writes a kubeconfig for it. Sourced by e2e tests (after
# tests/e2e/lib.sh, whose E2E_PIDS/E2E_LOGS then stop it and show its log) or by hand:
#
#   fake_apiserver_start DIR [ARGS...]      plain http on a free port of 127.0.0.1, waits until
#                                           it serves; sets FAKE_API (its URL), FAKE_API_PORT,
#                                           FAKE_API_PID and KUBECONFIG_FAKE (DIR/kubeconfig:
#                                           context fake, namespace default, token fake-token,
#                                           insecure-skip-tls-verify, which client-node wants
#                                           for http)
#   fake_apiserver_start_tls DIR [ARGS...]  the same over https with a throwaway CA
#                                           (DIR/tls/ca.crt), a token it requires (fake-token)
#                                           and client certificates it accepts
#                                           (DIR/tls/client.{crt,key}); KUBECONFIG_FAKE names
#                                           the CA and the token, KUBECONFIG_FAKE_CERT the CA
#                                           and the client certificate instead
#   fake_api METHOD PATH [JSON]             curl to the fake (control endpoints /fake/...)
#   fake_kubeconfig FILE SERVER [TOKEN] [CA_FILE] [CERT KEY]   writes a kubeconfig
#   fake_kubelet_start DIR BRIX IP_FIRST [ARGS...]   the cluster stand-in (fake_kubelet.py:
#                                           Deployments -> ReplicaSets -> pods run as `BRIX
#                                           engine` on 127.0.0.IP_FIRST and up) against
#                                           $FAKE_API; waits until it has synced; sets
#                                           FAKE_KUBELET_PID, its log DIR/kubelet.log
#   fake_kuberay_start DIR                  the fake KubeRay operator (fake_kuberay.py: RayClusters
#                                           -> head and worker pods, their status) against
#                                           $FAKE_API, with KubeRay's RayCluster CRD
#                                           (deploy/kuberay) applied first (kubectl, with
#                                           $KUBECONFIG_FAKE); waits until it has
#                                           synced; sets FAKE_KUBERAY_PID, its log DIR/kuberay.log
#   fake_model_deployment FILE NAME REPLICAS [ENGINE_ARG...]   writes a Deployment of model NAME
#                                           (labels model.aibrix.ai/name, /port 8000,
#                                           adapter.model.aibrix.ai/enabled) whose pods run
#                                           `brix engine --model NAME ENGINE_ARG...`
#
# For the e2e tests (after tests/e2e/lib.sh's e2e_init: they use fail, log, E2E_TMP, BRIX):
#   k8s_e2e_start IP_FIRST                  skips the test (exit 0) without python3, kubectl or
#                                           jq; the fake (FAKE_ARGS: more flags), deploy/crds
#                                           applied, the stand-in with pods from
#                                           127.0.0.IP_FIRST; K=(kubectl ...) for the fake
#   k8s_ready_ips MODEL                     the podIPs of MODEL's Ready pods (not being deleted,
#                                           no Ray workers), sorted
#   k8s_wait_ready_pods MODEL N             waits (30 s) until there are N of them, or fails
#   k8s_start_controller ID [FLAGS...]      `brix controller` as pod ctl-ID, leader-elected on a
#                                           short Lease (3 s / 2 s / 0.5 s), health and metrics
#                                           on free ports of 127.0.0.1, log E2E_TMP/ctl-ID.log;
#                                           sets CTL_PID, CTL_HP, CTL_MP
#
# Stop it with kill "$FAKE_API_PID".

FAKE_API_PY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fake_apiserver.py"
FAKE_KUBELET_PY="$(dirname "$FAKE_API_PY")/fake_kubelet.py"
FAKE_KUBERAY_PY="$(dirname "$FAKE_API_PY")/fake_kuberay.py"

fake_model_deployment() {
    local file=$1 name=$2 replicas=$3 a args="--model, $2"
    shift 3
    for a in "$@"; do args+=", \"$a\""; done
    cat >"$file" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $name
  labels: {model.aibrix.ai/name: $name}
spec:
  replicas: $replicas
  selector: {matchLabels: {model.aibrix.ai/name: $name}}
  template:
    metadata:
      labels: {model.aibrix.ai/name: $name, model.aibrix.ai/port: "8000",
               adapter.model.aibrix.ai/enabled: "true"}
    spec:
      containers:
      - name: engine
        image: brix:test
        command: [brix, engine]
        args: [$args]
        ports: [{containerPort: 8000}]
YAML
}

fake_kubelet_start() {
    local dir=$1 brix=$2 ip_first=$3 i
    shift 3
    mkdir -p "$dir"
    rm -f "$dir/kubelet.ready"
    python3 "$FAKE_KUBELET_PY" --server "$FAKE_API" --brix "$brix" --workdir "$dir/pods" \
        --ip-first "$ip_first" --ready-file "$dir/kubelet.ready" "$@" >"$dir/kubelet.log" 2>&1 &
    FAKE_KUBELET_PID=$!
    if declare -p E2E_PIDS >/dev/null 2>&1; then
        E2E_PIDS+=("$FAKE_KUBELET_PID")
        E2E_LOGS+=("$dir/kubelet.log")
    fi
    for ((i = 0; i < 100; i++)); do
        [ -s "$dir/kubelet.ready" ] && return 0
        sleep 0.1
    done
    echo "fake kubelet did not sync: $(tail -n 5 "$dir/kubelet.log")" >&2
    return 1
}

fake_kuberay_start() {
    local dir=$1 i
    mkdir -p "$dir"
    rm -f "$dir/kuberay.ready"
    kubectl --kubeconfig "$KUBECONFIG_FAKE" --request-timeout=10s apply \
        -f "$(dirname "$FAKE_API_PY")/../../deploy/kuberay/rayclusters.ray.io.yaml" >/dev/null || {
        echo "fake_kuberay_start: the RayCluster CRD" >&2
        return 1
    }
    python3 "$FAKE_KUBERAY_PY" --server "$FAKE_API" --token fake-token \
        --ready-file "$dir/kuberay.ready" >"$dir/kuberay.log" 2>&1 &
    FAKE_KUBERAY_PID=$!
    if declare -p E2E_PIDS >/dev/null 2>&1; then
        E2E_PIDS+=("$FAKE_KUBERAY_PID")
        E2E_LOGS+=("$dir/kuberay.log")
    fi
    for ((i = 0; i < 100; i++)); do
        [ -s "$dir/kuberay.ready" ] && return 0
        sleep 0.1
    done
    echo "fake KubeRay did not sync: $(tail -n 5 "$dir/kuberay.log")" >&2
    return 1
}

fake_kubeconfig() {
    local file=$1 server=$2 token=${3:-fake-token} ca=${4:-} cert=${5:-} key=${6:-}
    local tls="    insecure-skip-tls-verify: true" user="    token: $token"
    if [ -n "$ca" ]; then
        tls="    certificate-authority-data: $(base64 -w0 <"$ca")"
    fi
    if [ -n "$cert" ]; then
        user="    client-certificate-data: $(base64 -w0 <"$cert")
    client-key-data: $(base64 -w0 <"$key")"
    fi
    cat >"$file" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: $server
$tls
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
$user
KCFG
}

# fake_tls_certs DIR: a CA, a server certificate for 127.0.0.1/localhost and a client one.
fake_tls_certs() {
    local d=$1
    mkdir -p "$d"
    (
        cd "$d" || exit 1
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=fake-ca \
            -keyout ca.key -out ca.crt 2>/dev/null &&
            openssl req -newkey rsa:2048 -nodes -subj /CN=fake-apiserver \
                -keyout server.key -out server.csr 2>/dev/null &&
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext &&
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
                -extfile server.ext -out server.crt 2>/dev/null &&
            openssl req -newkey rsa:2048 -nodes -subj /CN=fake-user/O=system:masters \
                -keyout client.key -out client.csr 2>/dev/null &&
            printf 'extendedKeyUsage=clientAuth\n' >client.ext &&
            openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
                -extfile client.ext -out client.crt 2>/dev/null
    ) || {
        echo "fake_tls_certs: openssl failed" >&2
        return 1
    }
}

fake_apiserver_start() {
    local dir=$1
    shift
    _fake_apiserver_run "$dir" http "$@"
}

fake_apiserver_start_tls() {
    local dir=$1
    shift
    fake_tls_certs "$dir/tls" || return 1
    _fake_apiserver_run "$dir" https --tls-cert "$dir/tls/server.crt" \
        --tls-key "$dir/tls/server.key" --client-ca "$dir/tls/ca.crt" --token fake-token "$@"
}

_fake_apiserver_run() {
    local dir=$1 scheme=$2
    shift 2
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
    FAKE_API="$scheme://127.0.0.1:$FAKE_API_PORT"
    KUBECONFIG_FAKE="$dir/kubeconfig"
    if [ "$scheme" = https ]; then
        FAKE_API_CA="$dir/tls/ca.crt"
        fake_kubeconfig "$KUBECONFIG_FAKE" "$FAKE_API" fake-token "$FAKE_API_CA"
        KUBECONFIG_FAKE_CERT="$dir/kubeconfig-cert"
        fake_kubeconfig "$KUBECONFIG_FAKE_CERT" "$FAKE_API" "" "$FAKE_API_CA" \
            "$dir/tls/client.crt" "$dir/tls/client.key"
    else
        fake_kubeconfig "$KUBECONFIG_FAKE" "$FAKE_API"
    fi
}

fake_api() {
    local method=$1 path=$2 body=${3:-}
    local args=(-sS --max-time 10 -X "$method" -H 'Authorization: Bearer fake-token')
    [ -z "${FAKE_API_CA:-}" ] || [[ $FAKE_API != https* ]] || args+=(--cacert "$FAKE_API_CA")
    if [ -n "$body" ]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$body")
    fi
    curl "${args[@]}" "$FAKE_API$path"
}

k8s_e2e_start() {
    local t
    for t in python3 kubectl jq; do
        command -v "$t" >/dev/null || {
            log "SKIP: $t not installed"
            exit 0
        }
    done
    # shellcheck disable=SC2086
    fake_apiserver_start "$E2E_TMP" ${FAKE_ARGS:-} || fail "fake apiserver did not start"
    K=(kubectl --kubeconfig "$KUBECONFIG_FAKE" --request-timeout=10s)
    "${K[@]}" apply -k "$(dirname "$FAKE_API_PY")/../../deploy/crds" >/dev/null || fail "CRDs"
    fake_kubelet_start "$E2E_TMP" "$BRIX" "$1" || fail "fake kubelet did not sync"
}

k8s_ready_ips() {
    "${K[@]}" get pods -l "model.aibrix.ai/name=$1,ray.io/node-type!=worker" -o json |
        jq -r '.items[] | select(.metadata.deletionTimestamp == null)
               | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))
               | .status.podIP' | sort
}

k8s_wait_ready_pods() {
    local i
    for ((i = 0; i < 300; i++)); do
        [ "$(k8s_ready_ips "$1" | wc -l)" = "$2" ] && return 0
        sleep 0.1
    done
    fail "want $2 Ready $1 pods: $("${K[@]}" get pods -o wide 2>&1)"
}

k8s_start_controller() {
    local id=$1
    shift
    CTL_HP=$(bx_free_port)
    CTL_MP=$(bx_free_port)
    POD_NAME="ctl-$id" POD_NAMESPACE=default "$BRIX" controller --kubeconfig "$KUBECONFIG_FAKE" \
        --leader-elect --leader-elect-lease-duration 3 --leader-elect-renew-deadline 2 \
        --leader-elect-retry-period 0.5 --bind-host 127.0.0.1 --health-port "$CTL_HP" \
        --metrics-port "$CTL_MP" --log-level debug "$@" >"$E2E_TMP/ctl-$id.log" 2>&1 &
    CTL_PID=$!
    E2E_PIDS+=("$CTL_PID")
    E2E_LOGS+=("$E2E_TMP/ctl-$id.log")
}
