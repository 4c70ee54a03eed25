#!/usr/bin/env bash
# brix gateway with --redis while Redis is hung (SIGSTOP) and then dead
# (SIGKILL): per-user limits fail open (every request 200) and the outage
# is visible: brix_gateway_redis_up 0 and brix_gateway_ratelimit_fail_open_total
# counting each request admitted unchecked (it counted nothing before: the
# error counter only saw fail-closed answers). Once Redis runs again the
# gauge returns to 1 and the limits apply again. With --ratelimit-fail-closed
# the same outage answers 503 + Retry-After, counted in
# brix_gateway_ratelimit_fail_closed_total.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
command -v redis-server >/dev/null || fail "redis-server missing (bash scripts/deps.sh)"
command -v redis-cli >/dev/null || fail "redis-cli missing (bash scripts/deps.sh)"

start_engine e1 --model m --time-scale 100 --jitter 0
EP=$ENGINE_PORT
wait_health "$EP"

start_redis
RP=$REDIS_PORT
redis-cli -p "$RP" set aibrix-users/alice '{"name":"alice","rpm":1000,"tpm":0}' >/dev/null ||
    fail "cannot write the user record"

# start_gateway NAME ARGS...: sets GWP (its port)
start_gateway() {
    local name=$1
    shift
    GWP=$(free_port) || fail "no free port"
    "$BRIX" gateway --host 127.0.0.1 --port "$GWP" --backend "http://127.0.0.1:$EP" \
        --redis "127.0.0.1:$RP" --models-interval-ms 200 "$@" >"$E2E_TMP/$name.log" 2>&1 &
    E2E_PIDS+=($!)
    E2E_LOGS+=("$E2E_TMP/$name.log")
    wait_ready "http://127.0.0.1:$GWP/readyz" "${E2E_PIDS[-1]}"
}

# ask PORT: one completion as user alice (AIBrix's `user` header); prints the status
ask() {
    curl -s -o "$E2E_TMP/body" -D "$E2E_TMP/headers" -w '%{http_code}' --max-time 10 \
        -H 'Content-Type: application/json' -H 'user: alice' "http://127.0.0.1:$1/v1/completions" \
        -d '{"model":"m","prompt":"hi","max_tokens":2}' || echo -n 000
}

rpm_count() { # alice's RPM counters in Redis, summed over the window bins
    local k sum=0 v
    for k in $(redis-cli -p "$RP" --scan --pattern 'aibrix:alice_RPM_CURRENT:*'); do
        v=$(redis-cli -p "$RP" get "$k")
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}

start_gateway gw --workers 2
GW=$GWP
wait_metric "$GW" 10 == 1 brix_gateway_redis_up
for i in 1 2; do expect_status "$(ask "$GW")" 200 "request $i with Redis up"; done
[ "$(rpm_count)" = 2 ] || fail "alice's RPM counter is '$(rpm_count)', want 2 (limits not applied)"
num_cmp "$(metric "$GW" brix_gateway_ratelimit_fail_open_total)" == 0 ||
    fail "fail-open counted with Redis up"

# 1. Redis hung: every request admitted, each counted, the gauge says 0
kill -STOP "$REDIS_PID"
N=20
for ((i = 1; i <= N; i++)); do
    expect_status "$(ask "$GW")" 200 "request $i with Redis stopped (fail open)"
done
wait_metric "$GW" 10 == 0 brix_gateway_redis_up
fo=$(metric "$GW" brix_gateway_ratelimit_fail_open_total)
num_cmp "$fo" ">=" "$N" || fail "fail_open_total '$fo' after $N requests with Redis stopped"
num_cmp "$(metric "$GW" brix_gateway_ratelimit_errors_total)" ">=" "$N" ||
    fail "ratelimit_errors_total does not count the fail-open answers"
curl -s "http://127.0.0.1:$GW/metrics" >"$E2E_TMP/metrics.txt"
check_exposition "$E2E_TMP/metrics.txt"
log "Redis stopped: $N requests 200, fail_open_total $fo, redis_up 0"

kill -CONT "$REDIS_PID"
wait_metric "$GW" 10 == 1 brix_gateway_redis_up
before=$(rpm_count)
expect_status "$(ask "$GW")" 200 "request after Redis resumed"
[ "$(rpm_count)" = $((before + 1)) ] || fail "limits not applied again after Redis resumed"
log "Redis resumed: redis_up 1, counted in Redis again"

# 2. Redis killed: the same, and it comes back on the same port
kill -KILL "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
for ((i = 1; i <= N; i++)); do
    expect_status "$(ask "$GW")" 200 "request $i with Redis dead (fail open)"
done
wait_metric "$GW" 10 == 0 brix_gateway_redis_up
fo2=$(metric "$GW" brix_gateway_ratelimit_fail_open_total)
num_cmp "$fo2" ">=" "$(awk -v a="$fo" -v n="$N" 'BEGIN { print a + n }')" ||
    fail "fail_open_total '$fo2' did not count the $N requests with Redis dead (was $fo)"
start_redis "$RP"
redis-cli -p "$RP" set aibrix-users/alice '{"name":"alice","rpm":1000,"tpm":0}' >/dev/null
wait_metric "$GW" 15 == 1 brix_gateway_redis_up
expect_status "$(ask "$GW")" 200 "request after Redis restarted"
[ "$(rpm_count)" = 1 ] || fail "limits not applied after Redis restarted (count '$(rpm_count)')"
log "Redis killed: $N requests 200, fail_open_total $fo2, redis_up 0, then 1 after restart"

# 3. fail closed: 503 + Retry-After, counted
start_gateway gwc --ratelimit-fail-closed
GWC=$GWP
wait_metric "$GWC" 10 == 1 brix_gateway_redis_up
expect_status "$(ask "$GWC")" 200 "fail-closed gateway with Redis up"
kill -STOP "$REDIS_PID"
for i in 1 2 3 4 5; do
    expect_status "$(ask "$GWC")" 503 "request $i with Redis stopped (fail closed)"
    grep -qi '^retry-after: [0-9]' "$E2E_TMP/headers" || fail "503 without Retry-After"
    grep -qi '^x-error-incr-rpm: ' "$E2E_TMP/headers" || fail "503 without x-error-incr-rpm"
done
num_cmp "$(metric "$GWC" brix_gateway_ratelimit_fail_closed_total)" == 5 ||
    fail "fail_closed_total '$(metric "$GWC" brix_gateway_ratelimit_fail_closed_total)', want 5"
num_cmp "$(metric "$GWC" brix_gateway_ratelimit_fail_open_total)" == 0 ||
    fail "a fail-closed gateway counted fail-open answers"
num_cmp "$(metric "$GWC" brix_gateway_redis_up)" == 0 || fail "redis_up not 0 while Redis stopped"
kill -CONT "$REDIS_PID"
wait_metric "$GWC" 10 == 1 brix_gateway_redis_up
expect_status "$(ask "$GWC")" 200 "fail-closed gateway after Redis resumed"
log "fail closed: 503 + Retry-After, fail_closed_total 5, back to 200 after resume"
