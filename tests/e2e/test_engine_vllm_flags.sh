#!/usr/bin/env bash
# `brix engine` takes a `vllm serve` command line as written: vLLM's options it does not act on
# (--gpu-memory-utilization 0.9, --trust-remote-code, --data-parallel-size=2, a negative
# value) are accepted and named in one warning, the engine serves; its own options still apply;
# a bad value of its own options is still refused, as is a word that is not an option; and
# --scheduler vllm-v0 --num-scheduler-steps (issue 20) serves whole and streamed answers.
# Usage: bash tests/e2e/test_engine_vllm_flags.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

start_engine eng --model m --gpu-memory-utilization 0.9 --trust-remote-code \
    --data-parallel-size=2 --swap-space -1 --max-num-seqs 4 --enable-prefix-caching
wait_health "$ENGINE_PORT"
grep -q "accepted and not acted on.*--gpu-memory-utilization 0.9, --trust-remote-code, --data-parallel-size=2, --swap-space -1, --enable-prefix-caching" \
    "$E2E_TMP/eng.log" || fail "no warning naming the ignored options: $(head -3 "$E2E_TMP/eng.log")"
[ "$(grep -c 'accepted and not acted on' "$E2E_TMP/eng.log")" = 1 ] || fail "not one warning"
BASE="http://127.0.0.1:$ENGINE_PORT"
code=$(req GET /v1/models)
expect_status "$code" 200 "models"
jq -e '.data[0].id == "m"' "$E2E_TMP/body" >/dev/null || fail "model: $(cat "$E2E_TMP/body")"
log "vLLM options accepted with one warning; the engine serves"

out=$("$BRIX" engine --port 1 --max-num-seqs x --trust-remote-code 2>&1) && fail "bad value accepted"
grep -q -- "--max-num-seqs" <<<"$out" || fail "bad value error: $out"
out=$("$BRIX" engine --port 1 serve 2>&1) && fail "a word accepted"
grep -q "unknown option 'serve'" <<<"$out" || fail "word error: $out"
log "own options still checked; a word that is no option refused"

# --scheduler vllm-v0 with multi-step bursts (issue 20): serves whole answers and streams,
# its flags are checked
start_engine v0 --model m --scheduler vllm-v0 --num-scheduler-steps 8 --time-scale 10
wait_health "$ENGINE_PORT"
BASE="http://127.0.0.1:$ENGINE_PORT"
code=$(req POST /v1/completions '{"model":"m","prompt":"one two three four","max_tokens":21}')
expect_status "$code" 200 "vllm-v0 completion"
jq -e '.usage.completion_tokens == 21' "$E2E_TMP/body" >/dev/null ||
    fail "vllm-v0 completion: $(cat "$E2E_TMP/body")"
n=$(curl -sN "$BASE/v1/completions" -H 'Content-Type: application/json' \
    -d '{"model":"m","prompt":"one two","max_tokens":13,"stream":true}' | grep -c '"text":"')
[ "$n" = 13 ] || fail "vllm-v0 stream: $n text chunks, want 13"
out=$("$BRIX" engine --port 1 --scheduler vllm-v2 2>&1) && fail "--scheduler vllm-v2 accepted"
grep -q -- "--scheduler must be vllm-v1 or vllm-v0" <<<"$out" || fail "scheduler error: $out"
out=$("$BRIX" engine --port 1 --scheduler vllm-v0 --num-scheduler-steps 0 2>&1) &&
    fail "--num-scheduler-steps 0 accepted"
log "--scheduler vllm-v0 --num-scheduler-steps 8 serves; bad values refused"
