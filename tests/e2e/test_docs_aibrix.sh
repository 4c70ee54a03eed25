#!/usr/bin/env bash
# docs/aibrix.md stays true (tests/docs/check_aibrix.py):
#  1. every field of the CRDs in deploy/crds has a verdict row;
#  2. the gateway_* metric families a real gateway exports after traffic
#     (a whole answer, a streamed one with usage, a 404) are the rows marked
#     same or better in its "Gateway metrics" table.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
root="$(cd "$(dirname "$0")/../.." && pwd)"

python3 "$root/tests/docs/check_aibrix.py" "$root" || fail "CRD tables"

start_engine e1 --model m --time-scale 50 --jitter 0
wait_health "$ENGINE_PORT"
port=$(free_port) || fail "no free port"
"$BRIX" gateway --host 127.0.0.1 --port "$port" --backend "http://127.0.0.1:$ENGINE_PORT" \
    --models-interval-ms 200 >"$E2E_TMP/gw.log" 2>&1 &
E2E_PIDS+=("$!")
E2E_LOGS+=("$E2E_TMP/gw.log")
BASE="http://127.0.0.1:$port"
wait_ready "$BASE/readyz" "$!"

code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/completions" -H 'content-type: application/json' \
    -d '{"model":"m","prompt":"hello there","max_tokens":4}')
[ "$code" = 200 ] || fail "completion: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/chat/completions" -H 'content-type: application/json' \
    -d '{"model":"m","stream":true,"stream_options":{"include_usage":true},"max_tokens":6,"messages":[{"role":"user","content":"hi"}]}')
[ "$code" = 200 ] || fail "streamed chat: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/completions" -H 'content-type: application/json' \
    -d '{"model":"nope","prompt":"x","max_tokens":1}')
[ "$code" = 404 ] || fail "unknown model: $code"

curl -sf "$BASE/metrics" >"$E2E_TMP/metrics.txt" || fail "scrape"
python3 "$root/tests/docs/check_aibrix.py" "$root" --metrics "$E2E_TMP/metrics.txt" ||
    fail "docs/aibrix.md and the gateway's metrics differ"
log "ok"
