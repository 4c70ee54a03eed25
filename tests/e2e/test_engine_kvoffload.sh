#!/usr/bin/env bash
# brix engine --kv-offload: a prompt evicted from the (tiny) simulated GPU
# memory is found in L1 on its next request (cached_tokens, hit counters,
# the same answer). Then the L2 tier on a real redis-server (skipped with
# BRIX_E2E_KV_L2=0): two engines share blocks, Redis killed mid-run (200s,
# dropped writes counted), restarted (hits again), values corrupted (counted,
# read as misses, answers unchanged).
# Usage: bash tests/e2e/test_engine_kvoffload.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

B="$E2E_TMP/body"
# 20 GPU blocks of 16 tokens: one 200-token prompt (13 blocks) at a time
ENG_ARGS=(--kv-offload --num-gpu-blocks 20 --max-model-len 256 --kv-block-bytes 4096
    --enable-prompt-tokens-details --time-scale 50 --seed 3)

# ids BASE: a 200-token prompt as a JSON array of token ids BASE..BASE+199
ids() { seq -s, "$1" $(($1 + 199)) | sed 's/^/[/;s/$/]/'; }

# complete PORT BASE: a completion of prompt BASE on the engine at PORT; its
# status must be 200; the body is left in $B.
complete() {
    local code
    code=$(BASE="http://127.0.0.1:$1" req POST /v1/completions \
        '{"prompt":'"$(ids "$2")"',"max_tokens":4,"ignore_eos":true}')
    expect_status "$code" 200 "completion of prompt $2 on port $1"
}

hits() { metric "$1" brix:kv_offload_hit_blocks_total "tier=$2"; }

# --- L1: one engine
start_engine l1 "${ENG_ARGS[@]}"
P=$ENGINE_PORT
wait_health "$P"
complete "$P" 1000
check "$B" '.usage.prompt_tokens == 200 and .usage.prompt_tokens_details.cached_tokens == 0' \
    "first request: nothing cached"
text1=$(jq -r '.choices[0].text' "$B")
complete "$P" 5000 # evicts prompt 1000 from the GPU (to L1)
complete "$P" 9000 # evicts prompt 5000
stored=$(metric "$P" brix:kv_offload_stored_blocks_total)
num_cmp "$stored" ">=" 24 || fail "stored blocks $stored, want >= 24 (two evicted prompts)"
num_cmp "$(hits "$P" l1)" == 0 || fail "L1 hits before any repeat"
complete "$P" 1000
# 12 full blocks before the last token: all loaded from L1, none on the GPU
check "$B" '.usage.prompt_tokens_details.cached_tokens == 192' "repeat: 192 tokens from L1"
[ "$(jq -r '.choices[0].text' "$B")" = "$text1" ] || fail "repeat: answer differs from the first"
num_cmp "$(hits "$P" l1)" == 12 || fail "L1 hit blocks $(hits "$P" l1), want 12"
num_cmp "$(hits "$P" l2)" == 0 || fail "L2 hits without an L2"
num_cmp "$(metric "$P" vllm:prefix_cache_hits_total)" == 0.0 || fail "GPU prefix hits, want none"
num_cmp "$(metric "$P" brix:kv_offload_bad_blocks_total)" == 0.0 || fail "bad blocks on a clean L1"
num_cmp "$(metric "$P" brix:kv_offload_lookup_blocks_total)" ">=" 48 ||
    fail "lookup blocks $(metric "$P" brix:kv_offload_lookup_blocks_total), want >= 48"
# loaded blocks are GPU blocks now: the next repeat hits the GPU, not L1
complete "$P" 1000
check "$B" '.usage.prompt_tokens_details.cached_tokens == 192' "second repeat: 192 cached"
num_cmp "$(hits "$P" l1)" == 12 || fail "second repeat went to L1 again ($(hits "$P" l1))"
num_cmp "$(metric "$P" vllm:prefix_cache_hits_total)" == 192.0 || fail "second repeat: no GPU hit"
curl -s "http://127.0.0.1:$P/metrics" >"$E2E_TMP/metrics.txt"
check_exposition "$E2E_TMP/metrics.txt"
# off (the default): no offload families, no hits across evictions
start_engine off --num-gpu-blocks 20 --max-model-len 256 --enable-prompt-tokens-details --time-scale 50
wait_health "$ENGINE_PORT"
for p in 1000 5000 9000 1000; do complete "$ENGINE_PORT" $p; done
check "$B" '.usage.prompt_tokens_details.cached_tokens == 0' "without --kv-offload: recomputed"
[ -z "$(metric "$ENGINE_PORT" brix:kv_offload_stored_blocks_total)" ] ||
    fail "offload metrics without --kv-offload"
# bad flags are refused
"$BRIX" engine --kv-offload --kv-l1-policy MRU >"$E2E_TMP/bad.log" 2>&1 && fail "--kv-l1-policy MRU accepted"
grep -q "kv-l1-policy" "$E2E_TMP/bad.log" || fail "no message for a bad --kv-l1-policy"

if [ "${BRIX_E2E_KV_L2:-1}" = 0 ]; then
    log "L2 part skipped (BRIX_E2E_KV_L2=0)"
    exit 0
fi

# --- L2: two engines on one redis-server
command -v redis-server >/dev/null || fail "redis-server missing (bash scripts/deps.sh)"
# wait_keys N: until Redis holds at least N keys (the writes are queued)
wait_keys() {
    for _ in $(seq 100); do
        num_cmp "$(dbsize)" ">=" "$1" && return 0
        sleep 0.1
    done
    fail "Redis holds $(dbsize) keys, want >= $1"
}
start_redis
RP=$REDIS_PORT
start_engine e1 "${ENG_ARGS[@]}" --kv-redis "127.0.0.1:$RP"
E1=$ENGINE_PORT
start_engine e2 "${ENG_ARGS[@]}" --kv-redis "127.0.0.1:$RP"
E2=$ENGINE_PORT
wait_health "$E1"
wait_health "$E2"

dbsize() { redis-cli -p "$RP" dbsize 2>/dev/null; }
# evict3 BASE: prompts BASE, BASE+300, BASE+600 on e1; the first two are
# evicted from its GPU (12 full blocks each, to L1 and L2): waits until
# Redis holds their 24 new keys
evict3() {
    local n0
    n0=$(dbsize)
    complete "$E1" "$1"
    SHARED_TEXT=$(jq -r '.choices[0].text' "$B")
    complete "$E1" $(($1 + 300))
    complete "$E1" $(($1 + 600))
    wait_keys $((n0 + 24))
}
# shared BASE: evict3 BASE, then BASE on e2, which has never seen it: its
# blocks come from L2
shared() {
    evict3 "$1"
    complete "$E2" "$1"
    [ "$(jq -r '.choices[0].text' "$B")" = "$SHARED_TEXT" ] || fail "e2's answer to $1 differs from e1's"
}
shared 20000
check "$B" '.usage.prompt_tokens_details.cached_tokens == 192' "e2: 192 tokens from L2"
num_cmp "$(hits "$E2" l2)" == 12 || fail "e2 L2 hit blocks $(hits "$E2" l2), want 12"
num_cmp "$(hits "$E2" l1)" == 0 || fail "e2 L1 hits for a prompt it never saw"

# Redis killed: both engines keep answering; e1's writes are dropped
stop_pid "$REDIS_PID"
dropped0=$(metric "$E1" brix:kv_offload_l2_dropped_total)
for p in 30000 30300 30600 30900; do complete "$E1" $p; done
complete "$E2" 30000
num_cmp "$(metric "$E1" brix:kv_offload_l2_dropped_total)" ">" "$dropped0" ||
    fail "l2_dropped stayed at $dropped0 with Redis down"

# restarted (empty): blocks flow through L2 again
start_redis "$RP"
# the connectors reconnect by themselves once their backoff (100 ms doubling,
# at most 5 s) ends: e1 writes blocks again, e2 reads again
back=0
for k in $(seq 40); do
    for d in 0 300 600; do complete "$E1" $((35000 + k * 1000 + d)); done
    num_cmp "$(dbsize)" ">" 0 && { back=1; break; }
    sleep 0.25
done
[ "$back" = 1 ] || fail "e1 wrote nothing to the restarted Redis"
h0=$(hits "$E2" l2)
for _ in $(seq 40); do # a read in e2's backoff window is a miss; probe until it reads
    complete "$E2" $((35000 + k * 1000))
    num_cmp "$(hits "$E2" l2)" ">" "$h0" && break
    sleep 0.25
done
hits0=$(hits "$E2" l2)
shared 40000
check "$B" '.usage.prompt_tokens_details.cached_tokens == 192' "after restart: 192 tokens from L2"
num_cmp "$(hits "$E2" l2)" ">=" "$(awk -v h="$hits0" 'BEGIN { print h + 12 }')" || fail "no L2 hits after Redis restarted"

# every value overwritten with garbage: read as corrupt misses, recomputed
evict3 50000
redis-cli -p "$RP" --scan | while read -r k; do redis-cli -p "$RP" set "$k" garbage >/dev/null; done
corrupt0=$(metric "$E2" brix:kv_offload_l2_corrupt_total)
hits0=$(hits "$E2" l2)
complete "$E2" 50000
check "$B" '.usage.prompt_tokens_details.cached_tokens == 0' "corrupt L2: recomputed"
[ "$(jq -r '.choices[0].text' "$B")" = "$SHARED_TEXT" ] || fail "corrupt L2: e2's answer differs from e1's"
num_cmp "$(metric "$E2" brix:kv_offload_l2_corrupt_total)" ">" "$corrupt0" ||
    fail "l2_corrupt stayed at $corrupt0 after the values were overwritten"
num_cmp "$(hits "$E2" l2)" == "$hits0" || fail "corrupt values counted as L2 hits"
num_cmp "$(metric "$E2" brix:kv_offload_bad_blocks_total)" == 0.0 ||
    fail "a corrupt value reached the engine as bytes"
redis-cli -p "$RP" shutdown nosave >/dev/null 2>&1 || true
