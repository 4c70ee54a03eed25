#!/usr/bin/env bash
# The gateway's load monitor (docs/hetero.md "Load monitor"): a gateway with
# an API key, two workers, a brix engine and a throwaway redis-server, with
# AIBRIX_GPU_OPTIMIZER_TRACING_FLAG=true. Requests of three shapes (plain,
# streamed with include_usage, streamed without: the gateway's estimate) are
# sent within one 10 s window; once it closed:
#   - GET /brix/load?model=m has that window: meta_total_reqs = the requests,
#     and the buckets are AIBrix's keys (its Go arithmetic, recomputed here in
#     Python) of the usage the engine answered (of the estimate for the third
#     shape); since= leaves it out;
#   - Redis holds aibrix:m_request_trace_<end of the window> = the same value,
#     with a TTL of at most 600 s;
#   - /metrics has brix_gateway_load_requests, _rps and the buckets' series;
#   - /brix/load needs the key like /metrics (401 without), /healthz does not.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
command -v redis-server >/dev/null || fail "redis-server missing (bash scripts/deps.sh)"
command -v redis-cli >/dev/null || fail "redis-cli missing (bash scripts/deps.sh)"
command -v python3 >/dev/null || fail "python3 missing"

start_engine e1 --model m --time-scale 100 --jitter 0
EP=$ENGINE_PORT
wait_health "$EP"
start_redis
RP=$REDIS_PORT

KEY=sk-loadmon-test
GWP=$(free_port) || fail "no free port"
AIBRIX_GPU_OPTIMIZER_TRACING_FLAG=true "$BRIX" gateway --host 127.0.0.1 --port "$GWP" \
    --backend "http://127.0.0.1:$EP" --redis "127.0.0.1:$RP" --models-interval-ms 200 \
    --workers 2 --api-key "$KEY" >"$E2E_TMP/gw.log" 2>&1 &
E2E_PIDS+=($!)
E2E_LOGS+=("$E2E_TMP/gw.log")
wait_ready "http://127.0.0.1:$GWP/readyz" "${E2E_PIDS[-1]}"
BASE="http://127.0.0.1:$GWP"
AUTH=(-H "Authorization: Bearer $KEY")
for ((i = 0; i < 50; i++)); do # the engine's model is known
    st=$(req GET /v1/models "" "${AUTH[@]}")
    [ "$st" = 200 ] && jq -e '.data | length > 0' "$E2E_TMP/body" >/dev/null && break
    sleep 0.2
done

# the key: /brix/load is keyed like /metrics, /healthz is open
expect_status "$(req GET '/brix/load?model=m')" 401 "/brix/load without a key"
expect_status "$(req GET /healthz)" 200 "/healthz without a key"
expect_status "$(req GET '/brix/load?model=%zz' "" "${AUTH[@]}")" 400 "a bad escape"
expect_status "$(req POST '/brix/load' '{}' "${AUTH[@]}")" 405 "POST /brix/load"

# wait for the start of a window (2 s in at most), so the requests stay in one
wait_for 15 "a window start" bash -c "[ \$((\$(date +%s) % 10)) -le 2 ]"
T0=$(date +%s)
W=$((T0 - T0 % 10))

# shape A: a short prompt, 4 tokens out; shape B: a long one, 40 tokens out (streamed)
LONG=$(words 300)
: >"$E2E_TMP/usage"
for i in 1 2 3; do
    st=$(req POST /v1/completions \
        '{"model":"m","prompt":"hello there","max_tokens":4,"ignore_eos":true}' "${AUTH[@]}")
    expect_status "$st" 200 "shape A request $i"
    jq -r '"\(.usage.prompt_tokens) \(.usage.completion_tokens)"' "$E2E_TMP/body" \
        >>"$E2E_TMP/usage"
done
for i in 1 2; do
    st=$(req POST /v1/chat/completions \
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"$LONG\"}],\"max_tokens\":40,\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}" \
        "${AUTH[@]}")
    expect_status "$st" 200 "shape B request $i"
    grep '^data: {' "$E2E_TMP/body" | sed 's/^data: //' | jq -r 'select(.usage != null) |
        "\(.usage.prompt_tokens) \(.usage.completion_tokens)"' | tail -n 1 >>"$E2E_TMP/usage"
done
# shape C: streamed without include_usage: no usage, the gateway's estimate
# (a quarter of the body's bytes in, the stream's data events out)
BODY_C='{"model":"m","messages":[{"role":"user","content":"a short question"}],"max_tokens":100,"ignore_eos":true,"stream":true}'
st=$(req POST /v1/chat/completions "$BODY_C" "${AUTH[@]}")
expect_status "$st" 200 "shape C request"
grep -q '"usage"' "$E2E_TMP/body" && fail "shape C's stream carries usage: no estimate to test"
echo "$((${#BODY_C} / 4)) $(grep -c '^data: {' "$E2E_TMP/body")" >>"$E2E_TMP/usage"
T1=$(date +%s)
[ $((T1 - T1 % 10)) = "$W" ] || fail "the requests took from $T0 to $T1: not one window"
[ "$(wc -l <"$E2E_TMP/usage")" = 6 ] || fail "usage missing: $(cat "$E2E_TMP/usage")"
log "window $W; usage (prompt completion): $(tr '\n' ',' <"$E2E_TMP/usage")"

# AIBrix's keys for those counts (pkg/cache/trace.go: Go float64, math.Round
# half away from zero, int64() truncation), counted
python3 - "$E2E_TMP/usage" >"$E2E_TMP/want.json" <<'EOF'
import json, math, sys
def b(x):
    if x <= 0:
        return 0.0
    v = math.log2(x) / 0.1
    return math.copysign(math.floor(abs(v) + 0.5), v) * 0.1
want = {}
for line in open(sys.argv[1]):
    i, o = (int(t) for t in line.split())
    k = "%d:%d" % (int(b(i) / 0.1), int(b(o) / 0.1))
    want[k] = want.get(k, 0) + 1
print(json.dumps(want, sort_keys=True))
EOF
jq -e 'length == 3' "$E2E_TMP/want.json" >/dev/null ||
    fail "the three shapes should give three buckets: $(cat "$E2E_TMP/want.json")"

# the window closes at W + 10
wait_for 15 "window $W closed" bash -c "[ \$(date +%s) -ge $((W + 10)) ]"
sleep 0.7 # the tick writes within 500 ms of the boundary
expect_status "$(req GET "/brix/load?model=m&since=$((W - 1))" "" "${AUTH[@]}")" 200 "/brix/load"
cp "$E2E_TMP/body" "$E2E_TMP/load.json"
check "$E2E_TMP/load.json" ".model == \"m\" and (.windows | length) == 1" "one window since W-1"
check "$E2E_TMP/load.json" ".windows[0].ts == $W" "the window's ts is its start"
jq -S '.windows[0].trace | with_entries(select(.key | startswith("meta_") | not))' \
    "$E2E_TMP/load.json" >"$E2E_TMP/got_buckets.json"
jq -S . "$E2E_TMP/want.json" >"$E2E_TMP/want_s.json"
cmp -s "$E2E_TMP/got_buckets.json" "$E2E_TMP/want_s.json" ||
    fail "buckets $(jq -c . "$E2E_TMP/got_buckets.json"), AIBrix's keys give $(jq -c . "$E2E_TMP/want.json")"
check "$E2E_TMP/load.json" '.windows[0].trace | .meta_total_reqs == 6 and .meta_v == 4 and
    .meta_interval_sec == 10 and .meta_precision == 10 and .meta_pending_reqs == 0 and
    .meta_queueing_reqs == 0' "the window's meta"
expect_status "$(req GET "/brix/load?model=m&since=$W" "" "${AUTH[@]}")" 200 "/brix/load since"
check "$E2E_TMP/body" '.windows | length == 0' "since=W leaves window W out"
expect_status "$(req GET "/brix/load" "" "${AUTH[@]}")" 200 "/brix/load, all models"
check "$E2E_TMP/body" '.models | map(.model) | index("m") != null' "all models lists m"

# Redis: AIBrix's key, its end as the suffix (AIBrix's roundT), the same value
RKEY="aibrix:m_request_trace_$((W + 10))"
wait_for 5 "$RKEY in Redis" bash -c "[ -n \"\$(redis-cli -p $RP get $RKEY)\" ]"
redis-cli -p "$RP" get "$RKEY" | jq -S . >"$E2E_TMP/redis.json"
jq -S '.windows[0].trace' "$E2E_TMP/load.json" >"$E2E_TMP/load_trace.json"
cmp -s "$E2E_TMP/redis.json" "$E2E_TMP/load_trace.json" ||
    fail "Redis has $(jq -c . "$E2E_TMP/redis.json"), /brix/load $(jq -c . "$E2E_TMP/load_trace.json")"
# written after W + 10 with EX 600: at least 600 - (now - (W + 10)) left, rounding aside
ttl=$(redis-cli -p "$RP" ttl "$RKEY")
least=$((600 - ($(date +%s) - W - 10) - 1))
if ! num_cmp "$ttl" ">=" "$least" || ! num_cmp "$ttl" "<=" 600; then
    fail "TTL of $RKEY is $ttl, want $least..600 (EX 600)"
fi

# /metrics (keyed): the last complete window, still W's
curl -s "${AUTH[@]}" "$BASE/metrics" >"$E2E_TMP/metrics.txt"
check_exposition "$E2E_TMP/metrics.txt"
v=$(metric_in brix_gateway_load_requests model=m <"$E2E_TMP/metrics.txt")
num_cmp "$v" == 6 || fail "brix_gateway_load_requests{model=m} is '$v', want 6"
v=$(metric_in brix_gateway_load_rps model=m <"$E2E_TMP/metrics.txt")
num_cmp "$v" == 0.6 || fail "brix_gateway_load_rps{model=m} is '$v', want 0.6"
for k in $(jq -r 'keys[]' "$E2E_TMP/want.json"); do
    v=$(metric_in brix_gateway_load_bucket_requests model=m "bucket=$k" <"$E2E_TMP/metrics.txt")
    num_cmp "$v" == "$(jq -r ".[\"$k\"]" "$E2E_TMP/want.json")" ||
        fail "bucket $k in /metrics is '$v'"
done
v=$(metric_in brix_gateway_load_bucket_requests model=m bucket=other <"$E2E_TMP/metrics.txt")
num_cmp "$v" == 0 || fail "bucket other is '$v', want 0"
log "window $W: $(jq -c '.windows[0].trace' "$E2E_TMP/load.json"); Redis $RKEY TTL $ttl"
log "PASS"
