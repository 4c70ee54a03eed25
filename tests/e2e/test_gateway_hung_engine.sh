#!/usr/bin/env bash
# A hung engine behind brix gateway (issue 13, finding 5: an engine stopped
# with SIGSTOP left the streams in flight on it silent for as long as it was
# stopped, up to the 300 s stream idle timeout, although the gateway had
# marked it not ready after 10.5 s).
#
# 1. Engine down: eight streams and one non-streamed request pinned to a slow
#    engine (session affinity), which is then SIGSTOPped; the gateway runs
#    two workers on SO_REUSEPORT (the scraper's loop declares the engine
#    down, each worker ends its own calls). Every stream must end with an
#    SSE error event well before the old 45 s+ (here < 20 s), the
#    non-streamed one (nothing sent to its client yet) is retried on the
#    other engine, the gateway keeps serving, and the engine is back in
#    rotation after SIGCONT.
# 2. Silence: with discovery and scraping too slow to declare the stopped
#    engine down, a stream's own pace bound (--stream-silence-min-ms 1000 and
#    10x its longest gap) ends it.
# Usage: bash tests/e2e/test_gateway_hung_engine.sh /path/to/brix
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

# A: ~65 ms per token, so a 2000-token stream lasts minutes; B: fast.
start_engine slow --model m --time-scale 0.1 --jitter 0
A_PORT=$ENGINE_PORT
A_PID=$ENGINE_PID
start_engine fast --model m --time-scale 20 --jitter 0
B_PORT=$ENGINE_PORT
B_PID=$ENGINE_PID
wait_health "$A_PORT" 20 "$A_PID"
wait_health "$B_PORT" 20 "$B_PID"
A="127.0.0.1:$A_PORT"
B="127.0.0.1:$B_PORT"
SID=$(printf '%s' "$A" | base64)

# A failure while A is stopped resumes it first (so cleanup can stop it).
hfail() {
    kill -CONT "$A_PID" 2>/dev/null
    fail "$@"
}

now_ms() { date +%s%3N; }

# start_gateway NAME ARGS...: sets GW, GW_PORT, GW_PID; waits until every
# backend is ready in the gateway's eyes.
start_gateway() {
    local name=$1 want=$2 n=0 i
    shift 2
    GW_PORT=$(free_port) || fail "no free port"
    "$BRIX" gateway --host 127.0.0.1 --port "$GW_PORT" "$@" >"$E2E_TMP/$name.log" 2>&1 &
    GW_PID=$!
    E2E_PIDS+=("$GW_PID")
    E2E_LOGS+=("$E2E_TMP/$name.log")
    GW="http://127.0.0.1:$GW_PORT"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$GW_PID" 2>/dev/null || fail "gateway '$name' exited: $(tail -n 3 "$E2E_TMP/$name.log")"
        n=$(curl -s --max-time 2 "$GW/metrics" | grep -c '^brix_gateway_engine_ready{.*} 1')
        [ "$n" = "$want" ] && return 0
        sleep 0.1
    done
    fail "gateway '$name' sees $n ready engines, want $want"
}

# stream N: a 2000-token SSE stream pinned to A, in the background.
stream() {
    local n=$1
    curl -sN --max-time 40 -o "$E2E_TMP/s$n.sse" -D "$E2E_TMP/s$n.h" \
        -H 'routing-strategy: session-affinity' -H "x-session-id: $SID" \
        -H 'Content-Type: application/json' "$GW/v1/completions" \
        -d '{"model":"m","prompt":"stream '"$n"'","max_tokens":2000,"ignore_eos":true,"stream":true}' &
    SPIDS+=($!)
}

# wait_chunks N MIN: until stream N has MIN data lines.
wait_chunks() {
    local n=$1 min=$2 i got=0
    for ((i = 0; i < 100; i++)); do
        got=$(grep -c '^data: ' "$E2E_TMP/s$n.sse" 2>/dev/null)
        [ "${got:-0}" -ge "$min" ] && return 0
        sleep 0.1
    done
    hfail "stream $n has $got data lines after 10 s, want $min"
}

# wait_pids SECS PID...: until every process exited; prints nothing, fails after SECS.
wait_pids() {
    local secs=$1 i p alive
    shift
    for ((i = 0; i < secs * 10; i++)); do
        alive=0
        for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && return 0
        sleep 0.1
    done
    return 1
}

# check_error_end N: stream N ended with an SSE error event and no [DONE].
check_error_end() {
    local n=$1 last
    [ "$(header_of "$E2E_TMP/s$n.h" target-pod)" = "$A" ] || hfail "stream $n was not routed to $A"
    grep -q '\[DONE\]' "$E2E_TMP/s$n.sse" && hfail "stream $n completed: the engine was stopped"
    last=$(grep '^data: ' "$E2E_TMP/s$n.sse" | tail -n 1)
    printf '%s' "${last#data: }" >"$E2E_TMP/last.json"
    jq -e '.error.code == 502 and .error.type == "BadGatewayError" and (.error.message | type) == "string"' \
        "$E2E_TMP/last.json" >/dev/null || hfail "stream $n did not end with an SSE error event (last: ${last:0:200})"
}

header_of() { grep -i "^$2:" "$1" | head -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }

# ---- 1. the engine is declared down: its streams end, the rest goes on
# --migrate-attempts 0: the streams end (with migration, they would go on on
# B: tests/e2e/test_gateway_migrate.sh)
start_gateway down 2 --backend "http://$A" --backend "http://$B" --migrate-attempts 0 \
    --scrape-interval-ms 200 --models-interval-ms 500 --workers 2 --accept reuseport
SPIDS=()
for i in 1 2 3 4 5 6 7 8; do stream "$i"; done
curl -s --max-time 40 -o "$E2E_TMP/whole.json" -D "$E2E_TMP/whole.h" -w '%{http_code}' \
    -H 'routing-strategy: session-affinity' -H "x-session-id: $SID" \
    -H 'Content-Type: application/json' "$GW/v1/completions" \
    -d '{"model":"m","prompt":"whole","max_tokens":300,"ignore_eos":true}' >"$E2E_TMP/whole.code" &
WHOLE_PID=$!
for i in 1 2 3 4 5 6 7 8; do wait_chunks "$i" 3; done
t0=$(now_ms)
kill -STOP "$A_PID"
log "engine $A stopped with 8 streams and a non-streamed request on it"
wait_pids 25 "${SPIDS[@]}" || hfail "streams on the stopped engine still open after 25 s"
t1=$(now_ms)
elapsed=$((t1 - t0))
log "every stream ended ${elapsed} ms after the stop"
[ "$elapsed" -lt 20000 ] || hfail "streams ended ${elapsed} ms after the stop, want < 20 s"
for i in 1 2 3 4 5 6 7 8; do check_error_end "$i"; done
wait_pids 20 "$WHOLE_PID" || hfail "the non-streamed request is still waiting on the stopped engine"
[ "$(cat "$E2E_TMP/whole.code")" = 200 ] ||
    hfail "non-streamed request: status $(cat "$E2E_TMP/whole.code"), want 200 from the other engine"
[ "$(header_of "$E2E_TMP/whole.h" target-pod)" = "$B" ] ||
    hfail "non-streamed request answered by $(header_of "$E2E_TMP/whole.h" target-pod), want $B (retried)"
jq -e '.usage.completion_tokens == 300' "$E2E_TMP/whole.json" >/dev/null ||
    hfail "non-streamed answer is not whole"
# the gateway stays up and serves from the other engine
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$GW/healthz")
[ "$code" = 200 ] || hfail "gateway /healthz answered $code"
code=$(curl -s -o "$E2E_TMP/after.json" -D "$E2E_TMP/after.h" -w '%{http_code}' --max-time 10 \
    -H 'Content-Type: application/json' "$GW/v1/completions" -d '{"model":"m","prompt":"after","max_tokens":4}')
[ "$code" = 200 ] || hfail "a new request while $A is stopped: status $code"
[ "$(header_of "$E2E_TMP/after.h" target-pod)" = "$B" ] || hfail "a new request went to the stopped engine"
num_cmp "$(metric "$GW_PORT" brix_gateway_engine_ready engine="$A")" == 0 ||
    hfail "the stopped engine is still ready in the gateway's eyes"
ended=$(metric "$GW_PORT" brix_gateway_streams_ended_total reason=engine_down)
num_cmp "$ended" ">=" 9 || hfail "brix_gateway_streams_ended_total{reason=\"engine_down\"} = '$ended', want >= 9"
kill -CONT "$A_PID"
# back in rotation once it answers again
for ((i = 0; i < 100; i++)); do
    num_cmp "$(metric "$GW_PORT" brix_gateway_engine_ready engine="$A")" == 1 && break
    sleep 0.1
done
num_cmp "$(metric "$GW_PORT" brix_gateway_engine_ready engine="$A")" == 1 ||
    fail "engine $A not ready again 10 s after SIGCONT"
log "the engine is back in rotation after SIGCONT"
stop_pid "$GW_PID"

# ---- 2. silent but not declared down: the stream's own pace bound ends it
start_gateway silence 1 --backend "http://$A" --scrape-interval-ms 60000 \
    --models-interval-ms 60000 --stream-silence-min-ms 1000
SPIDS=()
stream 9
wait_chunks 9 10
t0=$(now_ms)
kill -STOP "$A_PID"
wait_pids 15 "${SPIDS[@]}" || hfail "a silent stream still open 15 s after its engine stopped"
t1=$(now_ms)
kill -CONT "$A_PID"
log "the silent stream ended $((t1 - t0)) ms after the stop"
check_error_end 9
grep -q 'silence bound' "$E2E_TMP/last.json" || fail "the error does not name the silence bound"
ended=$(metric "$GW_PORT" brix_gateway_streams_ended_total reason=silence)
num_cmp "$ended" "==" 1 || fail "brix_gateway_streams_ended_total{reason=\"silence\"} = '$ended', want 1"
ended=$(metric "$GW_PORT" brix_gateway_streams_ended_total reason=engine_down)
num_cmp "$ended" "==" 0 || fail "engine_down = '$ended': the engine should not have been declared down"
curl -s "$GW/metrics" >"$E2E_TMP/metrics.txt"
check_exposition "$E2E_TMP/metrics.txt"
stop_pid "$GW_PID"
