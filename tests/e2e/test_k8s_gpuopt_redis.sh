#!/usr/bin/env bash
# The GPU optimizer in `brix controller` reading Redis as AIBrix's does (docs/hetero.md,
# "Redis"), configured as AIBrix's optimizer Deployment is: REDIS_HOST, REDIS_PORT and
# REDIS_PASSWORD (a redis-server with requirepass), no --gpu-optimizer-redis flag and no
# profile directory. On the fake API server: two Deployments of model llm (replicas 0);
# their profiles only in Redis (aibrix:profile_llm_llm-a, AIBrix's ns/name form
# aibrix:profile_llm_default/llm-b); the load only in Redis: a writer sets
# aibrix:llm_request_trace_<end> for every window, 140 requests of 64 prompt and 16
# completion tokens (14 rps), as a gateway with the tracing flag does. As in
# test_k8s_gpuopt.sh: llm-b's floor replica takes 6 rps, two llm-a replicas (200 units) the
# other 8; /status says the profiles and the load came from Redis.
# Skipped when kubectl, jq or python3 is absent.
# Usage: bash tests/e2e/test_k8s_gpuopt_redis.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
# shellcheck source=gpuopt_lib.sh
source "$(dirname "$0")/gpuopt_lib.sh"
e2e_init "$@"
source "$E2E_DIR/../k8s/lib.sh"
k8s_e2e_start 30
command -v redis-server >/dev/null || fail "redis-server missing (bash scripts/deps.sh)"
command -v redis-cli >/dev/null || fail "redis-cli missing (bash scripts/deps.sh)"

start_redis
RP=$REDIS_PORT
PW=opt-redis-secret
redis-cli -p "$RP" config set requirepass "$PW" >/dev/null || fail "requirepass"
rcli() { REDISCLI_AUTH=$PW redis-cli -p "$RP" "$@"; }
rcli set aibrix:profile_llm_llm-a \
    '{"gpu":"llm-a","cost":2.0,"created":1700000000,"tputs":[[4.0,1.0],[2.0,0.5]],"indexes":[[16,64],[64,256]]}' >/dev/null
rcli set aibrix:profile_llm_default/llm-b \
    '{"gpu":"default/llm-b","cost":4.0,"created":1700000000,"tputs":[[6.0,4.0],[3.0,2.0]],"indexes":[[16,64],[64,256]]}' >/dev/null
TR='{"60:40":140,"meta_v":4,"meta_interval_sec":10,"meta_precision":10,"meta_total_reqs":140,"meta_pending_reqs":0,"meta_queueing_reqs":0}'
(
    while :; do
        n=$(date +%s)
        e=$((n - n % 10))
        for x in $((e - 20)) $((e - 10)) $e; do
            REDISCLI_AUTH=$PW redis-cli -p "$RP" set "aibrix:llm_request_trace_$x" "$TR" EX 600 >/dev/null 2>&1
        done
        sleep 1
    done
) &
E2E_PIDS+=("$!")

{
    k8s_dep_yaml llm-a 0
    k8s_dep_yaml llm-b 1
} >"$E2E_TMP/deps.yaml"
"${K[@]}" apply -f "$E2E_TMP/deps.yaml" >/dev/null || fail "apply deployments"

OP=$(free_port)
MP=$(free_port)
HP=$(free_port)
REDIS_HOST=127.0.0.1 REDIS_PORT=$RP REDIS_PASSWORD=$PW POD_NAMESPACE=default \
    "$BRIX" controller --kubeconfig "$KUBECONFIG_FAKE" --bind-host 127.0.0.1 --health-port "$HP" \
    --metrics-port "$MP" --gpu-optimizer-port "$OP" >"$E2E_TMP/ctl.log" 2>&1 &
E2E_PIDS+=("$!")
E2E_LOGS+=("$E2E_TMP/ctl.log")
OPT="http://127.0.0.1:$OP"
wait_ready "$OPT/healthz" "$!"
grep -q "profiles and load from redis 127.0.0.1:$RP" "$E2E_TMP/ctl.log" ||
    fail "REDIS_HOST/REDIS_PORT not taken: $(grep 'gpu optimizer' "$E2E_TMP/ctl.log")"

log "14 rps from Redis: llm-b's floor replica takes 6, llm-a 2 replicas the other 8"
wait_for 25 "llm-a at 200 units" units_is llm-a 200
units_is llm-b 100 || fail "llm-b not at its floor: $(cat "$E2E_TMP/body")"
[ "$(code "$OPT/status")" = 200 ] || fail "/status: $(cat "$E2E_TMP/body")"
check "$E2E_TMP/body" '.models[0].loadError == null and .models[0].rps > 13.9 and .models[0].rps < 14.1' \
    "/status: 14 rps read from Redis, no load error"
check "$E2E_TMP/body" '.models[0].redis.addr == "127.0.0.1:'"$RP"'" and .models[0].redis.error == null and .models[0].redis.traceKeys >= 2' \
    "/status: the trace keys read (AUTH with REDIS_PASSWORD)"
check "$E2E_TMP/body" '[.models[0].deployments[] | .profileFrom] | sort == ["redis:aibrix:profile_llm_default/llm-b", "redis:aibrix:profile_llm_llm-a"]' \
    "/status: both profiles from Redis"
log "$(jq -c '.models[0] | {rps, reason, redis}' "$E2E_TMP/body")"
log "ok"
