#!/usr/bin/env bash
# brix bench run against the engine simulator: random, shared-prefix and
# multi-turn workloads over streaming chat and completions (and one
# non-streamed run); every request must succeed with a positive TTFT and
# exactly the requested output tokens; a run against a closed port must
# report its failures and end; bad flags exit 2.
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

start_engine eng --time-scale 10
wait_health "$ENGINE_PORT"
URL="http://127.0.0.1:$ENGINE_PORT"

# bench NAME ARGS...: runs brix bench run; JSONL in $E2E_TMP/NAME.jsonl,
# summary JSON in $E2E_TMP/NAME.json, stdout in NAME.out, stderr in NAME.log.
bench() {
    local name=$1
    shift
    E2E_LOGS+=("$E2E_TMP/$name.log")
    timeout 120 "$BRIX" bench run --output "$E2E_TMP/$name.jsonl" \
        --summary-json "$E2E_TMP/$name.json" "$@" >"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.log"
}

# check_all JSONL FILTER MSG: FILTER holds for every line (jq -e alone would
# only look at the last one).
check_all() {
    jq -s -e "length > 0 and all(.[]; $2)" "$1" >/dev/null 2>"$E2E_TMP/jq.err" ||
        fail "$3 (not every line of $1 has $2) $(head -c 300 "$E2E_TMP/jq.err")"
}

# check_ok NAME N: N JSONL lines, all successful, TTFT > 0, usage reported
# with completion tokens == max_tokens sent; the summary agrees.
check_ok() {
    local name=$1 n=$2 j="$E2E_TMP/$1.jsonl" s="$E2E_TMP/$1.json"
    [ "$(wc -l <"$j")" -eq "$n" ] || fail "$name: $(wc -l <"$j") JSONL lines, want $n"
    check_all "$j" '.ok and .status == 200 and .error == null' "$name: a request failed"
    check_all "$j" '.ttft_ms > 0 and .e2e_ms >= .ttft_ms' "$name: TTFT not positive"
    check_all "$j" '.usage_reported and .completion_tokens == .output_len' \
        "$name: usage completion_tokens != requested output length"
    check_all "$j" '.prompt_tokens > 0' "$name: no prompt tokens in usage"
    check "$s" ".requests == $n and .successful == $n and .failed == 0" "$name: summary counts"
    check "$s" '.ttft_ms.samples > 0 and .ttft_ms.p50 > 0 and .e2e_ms.max >= .e2e_ms.p99' \
        "$name: summary latencies"
    check "$s" '.output_throughput > 0 and .duration_s > 0' "$name: summary throughput"
    for k in TTFT TPOT ITL E2E successful 'output token throughput'; do
        grep -q "$k" "$E2E_TMP/$name.out" || fail "$name: summary table lacks '$k'"
    done
}

log "random, streaming chat (model from /v1/models)"
bench random --url "$URL" --endpoint chat --rate 100 --num-requests 50 \
    --input-len 64 --output-len 16 --seed 1 || fail "random run exited $?"
check_ok random 50
check_all "$E2E_TMP/random.jsonl" '.tpot_ms > 0 and (.itl_ms | length) == 15' \
    "random: want 15 inter-token gaps and a TPOT per request"
check "$E2E_TMP/random.json" '.config.model == "brix-sim-llama3-8b"' "random: model not discovered"

log "shared-prefix, streaming completions"
bench prefix --url "$URL" --endpoint completions --workload shared-prefix \
    --num-prefix-groups 3 --prefix-len 48 --rate 50 --num-requests 15 \
    --input-len 16 --output-len 8 --seed 2 || fail "shared-prefix run exited $?"
check_ok prefix 15
# Completions count the prompt as sent: prefix + suffix, one token per word.
check_all "$E2E_TMP/prefix.jsonl" '.prompt_tokens == 64 and .input_len == 64' \
    "prefix: prompt_tokens != prefix-len + input-len"

log "multi-turn, streaming chat"
bench multi --url "$URL" --endpoint chat --workload multi-turn --num-sessions 5 --turns 3 \
    --rate 20 --input-len 20 --output-len 10 --seed 3 || fail "multi-turn run exited $?"
check_ok multi 15
# Each turn resends the whole conversation: prompts grow turn by turn.
jq -s -e 'group_by(.session) | length == 5 and all(.[]; (sort_by(.turn) |
        [.[].turn] == [0,1,2] and .[0].prompt_tokens < .[1].prompt_tokens and
        .[1].prompt_tokens < .[2].prompt_tokens and
        (.[1].prompt_tokens - .[0].prompt_tokens) >= 30))' "$E2E_TMP/multi.jsonl" >/dev/null ||
    fail "multi-turn: prompts do not grow by the previous answer and a new message"

log "no streaming, capped concurrency"
bench whole --url "$URL" --endpoint completions --no-stream --max-concurrency 2 \
    --num-requests 4 --input-len 10 --output-len 5 || fail "no-stream run exited $?"
check_ok whole 4

log "closed port: failures reported, no hang"
closed=$(free_port)
bench closed --url "http://127.0.0.1:$closed" --model m --rate 100 --num-requests 6 \
    --timeout 10 || fail "closed-port run exited $? (want 0 and failures in the summary)"
[ "$(wc -l <"$E2E_TMP/closed.jsonl")" -eq 6 ] || fail "closed: want 6 JSONL lines"
check_all "$E2E_TMP/closed.jsonl" '(.ok | not) and .status == 0 and (.error | length) > 0' \
    "closed: a request did not fail cleanly"
check "$E2E_TMP/closed.json" '.failed == 6 and .successful == 0 and
    .failed_by_status["no response"] == 6' "closed: summary"
grep -Eq 'failed +6' "$E2E_TMP/closed.out" || fail "closed: summary table lacks 'failed 6'"

log "usage errors exit 2"
for args in "--rate nope" "--bogus" "--endpoint foo" "--num-requests" "--header nocolon"; do
    # shellcheck disable=SC2086
    "$BRIX" bench run --url "$URL" $args >"$E2E_TMP/usage.out" 2>"$E2E_TMP/usage.err"
    rc=$?
    [ "$rc" -eq 2 ] || fail "brix bench run $args exited $rc, want 2"
    [ -s "$E2E_TMP/usage.err" ] || fail "brix bench run $args printed no error"
done
"$BRIX" bench run --help | grep -q -- '--max-concurrency' || fail "--help lacks --max-concurrency"
"$BRIX" bench frobnicate 2>/dev/null
[ $? -eq 2 ] || fail "unknown bench command should exit 2"
