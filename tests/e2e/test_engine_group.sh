#!/usr/bin/env bash
# A multi-node replica (brix engine --group-size / --group-leader, docs/engine.md "Engine
# groups"): the leader is unready until every worker joined; a bad or duplicate rank is
# refused; a worker SIGKILLed fails the requests in flight cleanly (503 JSON; an SSE error
# event and [DONE]) and leaves the leader unready for good; a worker exits with status 1
# when the leader stops; a SIGSTOPped worker is detected by the heartbeat timeout; a
# SIGSTOPped leader makes its worker exit 1; a tensor x pipeline layout needing more nodes
# than the group has is refused.
# Usage: bash tests/e2e/test_engine_group.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

MODEL=grp
TO=1 # --group-timeout (s)

# wait_exit PID SECS: waits for PID to exit; its status in EXIT_STATUS
wait_exit() {
    local p=$1 secs=$2 i
    for ((i = 0; i < secs * 20; i++)); do
        if ! kill -0 "$p" 2>/dev/null; then
            wait "$p"
            EXIT_STATUS=$?
            return 0
        fi
        sleep 0.05
    done
    fail "process $p still running after ${secs}s"
}
# health_is PORT CODE SECS: waits until PORT's /health answers CODE
health_is() {
    local port=$1 want=$2 secs=$3 i got=""
    for ((i = 0; i < secs * 20; i++)); do
        got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/health" || true)
        [ "$got" = "$want" ] && return 0
        sleep 0.05
    done
    fail "/health on port $port answered '$got', want $want within ${secs}s"
}
join() { # join RANK: the leader's answer to a join of RANK (a refusal is immediate)
    curl -s -o "$E2E_TMP/join" -w '%{http_code}' --max-time 2 -H "X-Brix-Group-Rank: $1" \
        -H 'X-Brix-Group-Nonce: 00ff' "$BASE/brix/group/join" || true
}

# --- the leader waits for its two workers
start_engine leader --model "$MODEL" --group-size 3 --group-timeout $TO
LPORT=$ENGINE_PORT LPID=$ENGINE_PID
BASE="http://127.0.0.1:$LPORT"
health_is "$LPORT" 503 10
code=$(req POST /v1/completions '{"model":"'$MODEL'","prompt":"hi","max_tokens":2}')
expect_status "$code" 503 "a request before the workers joined"
[ -n "$(header Retry-After)" ] || fail "no Retry-After on the 503"
check "$E2E_TMP/body" '.error.message | test("0 of 2 joined")' "503 says who is missing"
code=$(join 3)
expect_status "$code" 400 "rank 3 of a group of 3"
check "$E2E_TMP/join" '.error.message | test("1..2")' "out-of-range refusal names the ranks"
code=$(join x)
expect_status "$code" 400 "a rank that is no number"
log "leader unready with 0 of 2 workers; bad ranks refused"

start_engine w1 --model "$MODEL" --group-leader "http://127.0.0.1:$LPORT" --group-rank 1 \
    --group-timeout $TO
W1PORT=$ENGINE_PORT W1PID=$ENGINE_PID
health_is "$W1PORT" 200 10
code=$(join 1)
expect_status "$code" 409 "a second join of rank 1"
start_engine w1dup --model "$MODEL" --group-leader "http://127.0.0.1:$LPORT" --group-rank 1 \
    --group-timeout $TO
wait_exit "$ENGINE_PID" 10
[ "$EXIT_STATUS" = 1 ] || fail "a worker with a taken rank exited with $EXIT_STATUS, want 1"
grep -q "refused the join: 409.*already joined" "$E2E_TMP/w1dup.log" ||
    fail "no clear refusal in the duplicate's log: $(tail -3 "$E2E_TMP/w1dup.log")"
code=$(req GET /health)
expect_status "$code" 503 "leader with 1 of 2 workers"
[ "$(metric "$LPORT" brix_engine_group_workers_joined)" = 1 ] || fail "joined gauge not 1"
log "rank 1 joined; a duplicate rank 1 refused and exited 1"

W2PORT=$(free_port) # rank 2 takes its group from the environment
E2E_LOGS+=("$E2E_TMP/w2.log")
BRIX_GROUP_LEADER="http://127.0.0.1:$LPORT" BRIX_GROUP_RANK=2 \
    bx_start_engine "$E2E_TMP/w2.log" "$W2PORT" --model "$MODEL" --group-timeout $TO
W2PID=$BX_LAST
health_is "$W2PORT" 200 10
health_is "$LPORT" 200 10
[ "$(metric "$LPORT" brix_engine_group_workers_joined)" = 2 ] || fail "joined gauge not 2"
code=$(curl -s -o "$E2E_TMP/wbody" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$W2PORT/v1/models")
expect_status "$code" 503 "/v1/models on a worker"
curl -s --max-time 5 "http://127.0.0.1:$W2PORT/metrics" | grep -q '^brix_engine_group_joined 1' ||
    fail "worker metrics lack brix_engine_group_joined 1"
log "both workers joined (rank 2 from BRIX_GROUP_*): the leader is ready; a worker serves no API"

# --- a worker dies with a streamed and a non-streamed request in flight
sse="$E2E_TMP/stream.sse"
curl -sN --max-time 30 -o "$sse" -H 'Content-Type: application/json' "$BASE/v1/completions" \
    -d '{"model":"'$MODEL'","prompt":"long one","max_tokens":3000,"ignore_eos":true,"stream":true}' &
SPID=$!
curl -s --max-time 30 -o "$E2E_TMP/whole" -w '%{http_code}' -H 'Content-Type: application/json' \
    "$BASE/v1/completions" -d '{"model":"'$MODEL'","prompt":"long two","max_tokens":3000,"ignore_eos":true}' \
    >"$E2E_TMP/whole.code" &
WPID=$!
wait_for 10 "the stream's first token" grep -qs '"text"' "$sse"
exec 3>&2 2>/dev/null # no "Killed" job notice from bash
kill -KILL "$W1PID"
wait "$W1PID" 2>/dev/null
exec 2>&3 3>&-
wait "$SPID" || fail "the streamed request did not end cleanly (curl status $?)"
wait "$WPID" || true
[ "$(cat "$E2E_TMP/whole.code")" = 503 ] || fail "non-streamed request: $(cat "$E2E_TMP/whole.code"), want 503"
check "$E2E_TMP/whole" '.error.code == 503 and (.error.message | test("group failed"))' \
    "non-streamed: a 503 OpenAI error naming the group"
grep '^data: {"error"' "$sse" | head -1 | sed 's/^data: //' >"$E2E_TMP/sse_err.json"
check "$E2E_TMP/sse_err.json" '.error.code == 503 and (.error.message | test("rank 1"))' \
    "streamed: an SSE error event naming the lost rank"
[ "$(tail -c 100 "$sse" | grep -c '\[DONE\]')" = 1 ] || fail "the stream did not end with [DONE]"
health_is "$LPORT" 503 5
code=$(req POST /v1/completions '{"model":"'$MODEL'","prompt":"hi","max_tokens":2}')
expect_status "$code" 503 "a new request after the loss"
[ "$(header Retry-After)" = 1 ] || fail "no Retry-After after the loss"
[ "$(metric "$LPORT" brix_engine_group_failed)" = 1 ] || fail "brix_engine_group_failed not 1"
sleep 0.5
code=$(req GET /health)
expect_status "$code" 503 "/health stays 503"
log "worker 1 killed: both requests failed cleanly; the leader is unready for good"

# --- the leader stops: the remaining worker exits with status 1
kill -TERM "$LPID"
wait_exit "$W2PID" 10
[ "$EXIT_STATUS" = 1 ] || fail "worker 2 exited with $EXIT_STATUS after the leader stopped, want 1"
grep -q "lost the leader" "$E2E_TMP/w2.log" || fail "worker 2 did not log why: $(tail -3 "$E2E_TMP/w2.log")"
bx_reap "$LPID" 5
log "leader stopped: worker 2 exited 1"

# --- a hung (SIGSTOPped) worker is detected by the heartbeat timeout
start_engine leader2 --model "$MODEL" --group-size 2 --group-timeout $TO
L2PORT=$ENGINE_PORT
BASE="http://127.0.0.1:$L2PORT"
start_engine w3 --model "$MODEL" --group-leader "http://127.0.0.1:$L2PORT" --group-rank 1 \
    --group-timeout $TO
W3PID=$ENGINE_PID
health_is "$L2PORT" 200 10
kill -STOP "$W3PID"
health_is "$L2PORT" 503 10
grep -q "worker rank 1 sent no heartbeat" "$E2E_TMP/leader2.log" ||
    fail "the leader did not log the hung worker: $(tail -3 "$E2E_TMP/leader2.log")"
kill -CONT "$W3PID"
wait_exit "$W3PID" 10
[ "$EXIT_STATUS" = 1 ] || fail "the resumed worker exited with $EXIT_STATUS, want 1"
log "a SIGSTOPped worker was detected; resumed, it exits 1"

# --- a hung (SIGSTOPped) leader: its worker exits 1 on the heartbeat timeout
start_engine leader3 --model "$MODEL" --group-size 2 --group-timeout $TO
L3PORT=$ENGINE_PORT L3PID=$ENGINE_PID
start_engine w4 --model "$MODEL" --group-leader "http://127.0.0.1:$L3PORT" --group-rank 1 \
    --group-timeout $TO
W4PID=$ENGINE_PID
health_is "$L3PORT" 200 10
kill -STOP "$L3PID"
wait_exit "$W4PID" 10
kill -CONT "$L3PID"
[ "$EXIT_STATUS" = 1 ] || fail "the worker of a hung leader exited with $EXIT_STATUS, want 1"
grep -q "no heartbeat from the leader in time" "$E2E_TMP/w4.log" ||
    fail "the worker did not log the hung leader: $(tail -3 "$E2E_TMP/w4.log")"
log "a SIGSTOPped leader was detected by its worker, which exits 1"

# --- a layout needing more nodes than the group has is refused
out=$("$BRIX" engine --port 1 --profile llama3.1-405b-tp8pp2-h100 --group-size 1 2>&1) &&
    fail "16 GPUs in a group of 1 accepted"
grep -q "need 2 nodes of 8 GPUs, and this replica has 1" <<<"$out" || fail "refusal: $out"
out=$("$BRIX" engine --port 1 --tensor-parallel-size 16 --group-size 2 --gpus-per-node 4 2>&1) &&
    fail "tp 16 over 2 nodes of 4 accepted"
grep -q "need 4 nodes" <<<"$out" || fail "refusal: $out"
log "all engine group checks passed"
