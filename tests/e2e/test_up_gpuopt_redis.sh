#!/usr/bin/env bash
# The GPU optimizer reading Redis in AIBrix's keys (docs/hetero.md, "Redis"),
# as AIBrix's gpu-optimizer does beside AIBrix's gateway and profiling tools:
# a throwaway redis-server; a brix engine behind a standalone `brix gateway
# --load-trace` that writes aibrix:llm_request_trace_<end>; `brix up
# --gpu-optimizer-redis` with two Deployments of model llm (no load source
# but Redis) and a profile directory.
#  - profiles: llm-a100's file (created 1.7e9) loses to its Redis key
#    aibrix:profile_llm_llm-a100 (created 1.8e9, written with redis-cli);
#    llm-h100's profile is only in Redis, under AIBrix's ns/name key form;
#    a newer file wins back; a newer key read on GET /update_profile/llm
#    wins again. /status names where each came from;
#  - load: a window written before brix up started (the first read SCANs
#    the history) and a decoy key of model "llm_request_trace_x" (matched by
#    the SCAN pattern, not llm's: AIBrix splits on the last
#    "_request_trace_") with a huge count that must not count; then real
#    requests through the gateway, whose windows the optimizer reads next;
#  - /metrics/default/<dep> gives units for the load read from Redis.
source "$(dirname "$0")/lib.sh"
# shellcheck source=gpuopt_lib.sh
source "$(dirname "$0")/gpuopt_lib.sh"
e2e_init "$@"
command -v redis-server >/dev/null || fail "redis-server missing (bash scripts/deps.sh)"
command -v redis-cli >/dev/null || fail "redis-cli missing (bash scripts/deps.sh)"

start_redis
RP=$REDIS_PORT
rcli() { redis-cli -p "$RP" "$@"; }

start_engine e1 --model llm --time-scale 100 --jitter 0
EP=$ENGINE_PORT
wait_health "$EP"
GWP=$(free_port)
"$BRIX" gateway --host 127.0.0.1 --port "$GWP" --backend "http://127.0.0.1:$EP" \
    --redis "127.0.0.1:$RP" --load-trace --models-interval-ms 200 >"$E2E_TMP/gw.log" 2>&1 &
E2E_PIDS+=($!)
E2E_LOGS+=("$E2E_TMP/gw.log")
wait_ready "http://127.0.0.1:$GWP/readyz" "${E2E_PIDS[-1]}"

GP=$(free_port)
AP=$(free_port)
OP=$(free_port)
export BRIX_SERVER="http://127.0.0.1:$AP"
unset BRIX_API_KEYS
OPT="http://127.0.0.1:$OP"

# grid: out 16, 64 x in 64, 256
mkdir -p "$E2E_TMP/profiles"
cat >"$E2E_TMP/profiles/a100.json" <<'JSON'
{"gpu": "llm-a100", "cost": 2.0, "created": 1700000000,
 "tputs": [[4.0, 0.0], [2.0, 0.0]], "indexes": [[16, 64], [64, 256]]}
JSON
rcli set aibrix:profile_llm_llm-a100 \
    '{"gpu":"llm-a100","cost":3.0,"created":1800000000.5,"tputs":[[4.0,0.0],[2.0,0.0]],"indexes":[[16,64],[64,256]]}' >/dev/null
rcli set aibrix:profile_llm_default/llm-h100 \
    '{"gpu":"default/llm-h100","cost":4.0,"created":1800000000,"tputs":[[6.0,4.0],[3.0,2.0]],"indexes":[[16,64],[64,256]]}' >/dev/null
# another model's profile of a Deployment named like ours: not llm's
rcli set aibrix:profile_llm_x_llm-a100 \
    '{"gpu":"llm-a100","cost":0.01,"created":1990000000,"tputs":[[9.0,9.0],[9.0,9.0]],"indexes":[[16,64],[64,256]]}' >/dev/null

# history: a window of 40 short requests that ended 20 s ago, and a decoy
now=$(date +%s)
H=$((now - now % 10 - 20))
rcli set "aibrix:llm_request_trace_$H" \
    '{"60:40":40,"meta_v":4,"meta_interval_sec":10,"meta_precision":10,"meta_total_reqs":40,"meta_pending_reqs":0,"meta_queueing_reqs":0}' \
    EX 600 >/dev/null
rcli set "aibrix:llm_request_trace_x_request_trace_$H" \
    '{"80:60":100000,"meta_v":4,"meta_interval_sec":10,"meta_precision":10,"meta_total_reqs":100000,"meta_pending_reqs":0,"meta_queueing_reqs":0}' \
    EX 600 >/dev/null

{
    up_dep_yaml llm-a100 llama3-8b-a100-80g 0 0
    up_dep_yaml llm-h100 llama3-8b-h100 0 0
} >"$E2E_TMP/stack.yaml"

log "brix up with the optimizer reading redis 127.0.0.1:$RP"
up_start up "$E2E_TMP/state" -f "$E2E_TMP/stack.yaml" --gpu-profiles "$E2E_TMP/profiles" \
    --gpu-optimizer-redis "127.0.0.1:$RP" --gpu-optimizer-port "$OP" --gpu-optimizer-period 1 \
    --gpu-optimizer-window 120 --gpu-optimizer-scale-down-delay 0
grep -q "gpu optimizer http://127.0.0.1:$OP (profiles .* and redis 127.0.0.1:$RP)" "$E2E_TMP/up.log" ||
    fail "no optimizer line: $(grep 'gpu optimizer' "$E2E_TMP/up.log")"

status() { curl -sf --max-time 5 "$OPT/status" >"$E2E_TMP/status.json"; }
dep_is() { # dep_is NAME JQ-EXPR (on the deployment object)
    status && jq -e --arg d "$1" ".models[0].deployments[] | select(.name == \$d) | $2" \
        "$E2E_TMP/status.json" >/dev/null
}

log "profiles: the Redis keys (newer) win over the file; h100's from its ns/name key"
wait_for 15 "llm-a100's profile from Redis" dep_is llm-a100 \
    '.profileFrom == "redis:aibrix:profile_llm_llm-a100" and .profileCreated == 1800000000'
dep_is llm-h100 '.profileFrom == "redis:aibrix:profile_llm_default/llm-h100"' ||
    fail "llm-h100's profile: $(jq -c . "$E2E_TMP/status.json")"
check "$E2E_TMP/status.json" '.models[0].redis.profiles == 2 and .models[0].redis.error == null' \
    "two profiles read for llm (llm_x's key left out)"

log "load: the window written before brix up (the first SCAN), not the decoy's"
wait_for 15 "the history window read" bash -c \
    "curl -sf '$OPT/status' | jq -e '.models[0].redis.traceKeys >= 1' >/dev/null"
status
check "$E2E_TMP/status.json" '.models[0].rps > 0 and .models[0].rps < 100' \
    "a rate from the 40 requests, not the decoy's 100000"
check "$E2E_TMP/status.json" '.models[0].loadError == null' "no load error"
units_sum() {
    local a h
    a=$(curl -sf --max-time 5 "$OPT/metrics/default/llm-a100" | metric_in vllm:deployment_replicas model_name=llm)
    h=$(curl -sf --max-time 5 "$OPT/metrics/default/llm-h100" | metric_in vllm:deployment_replicas model_name=llm)
    [ -n "$a" ] && [ -n "$h" ] && echo $((a + h))
}
has_units() { local s; s=$(units_sum) && [ "$s" -gt 0 ]; }
wait_for 10 "units on /metrics for the load from Redis" has_units
log "units a100+h100: $(units_sum)"

log "a newer file wins back; a newer key read on GET /update_profile wins again"
sed -i 's/1700000000/1900000000/' "$E2E_TMP/profiles/a100.json"
wait_for 10 "the file's profile" dep_is llm-a100 '.profileFrom == "a100.json"'
rcli set aibrix:profile_llm_llm-a100 \
    '{"gpu":"llm-a100","cost":3.0,"created":2000000000,"tputs":[[4.0,0.0],[2.0,0.0]],"indexes":[[16,64],[64,256]]}' >/dev/null
[ "$(curl -s -o "$E2E_TMP/body" -w '%{http_code}' "$OPT/update_profile/llm")" = 200 ] ||
    fail "/update_profile/llm: $(cat "$E2E_TMP/body")"
wait_for 10 "the newer key's profile" dep_is llm-a100 '.profileCreated == 2000000000'

log "requests through the gateway: its windows are read next"
k0=$(jq '.models[0].redis.traceKeys' "$E2E_TMP/status.json")
"$BRIX" bench run --url "http://127.0.0.1:$GWP" --model llm --no-stream \
    --rate 5 --duration 6 --input-len 60 --output-len 14 >"$E2E_TMP/bench.txt" 2>&1 ||
    fail "brix bench run: $(tail -5 "$E2E_TMP/bench.txt")"
more_keys() { status && jq -e --argjson k "$k0" '.models[0].redis.traceKeys > $k' "$E2E_TMP/status.json" >/dev/null; }
wait_for 25 "a window the gateway wrote, read by the optimizer" more_keys
rcli --scan --pattern 'aibrix:llm_request_trace_*' >"$E2E_TMP/keys.txt"
[ "$(wc -l <"$E2E_TMP/keys.txt")" -ge 2 ] || fail "the gateway wrote no trace key: $(cat "$E2E_TMP/keys.txt")"
check "$E2E_TMP/status.json" '.models[0].redis.lastEnd % 10 == 0 and .models[0].rps > 0' \
    "windows aligned to 10 s; load seen"
wait_for 10 "units for the gateway's load" has_units
log "status: $(jq -c ".models[0] | {rps, reason, redis}" "$E2E_TMP/status.json")"

redis_err() {
    status && jq -e '.models[0].redis.error != null and (.models[0].loadError // "" | test("redis"))' \
        "$E2E_TMP/status.json" >/dev/null
}
redis_ok() {
    status && jq -e '.models[0].redis.error == null' \
        "$E2E_TMP/status.json" >/dev/null
}
log "Redis hung (SIGSTOP): the reads time out (5 s), /status says so; SIGCONT: they go on"
kill -STOP "$REDIS_PID"
wait_for 20 "a Redis timeout in /status" redis_err
log "error: $(jq -c '.models[0].redis.error' "$E2E_TMP/status.json")"
curl -sf --max-time 5 "$OPT/healthz" >/dev/null || fail "the optimizer does not answer while Redis hangs"
kill -CONT "$REDIS_PID"
wait_for 25 "Redis answers again" redis_ok
log "Redis dead, then back on its port"
kill "$REDIS_PID"
wait_for 20 "a Redis error in /status" redis_err
start_redis "$RP"
wait_for 25 "Redis answers again" redis_ok
log "ok"
