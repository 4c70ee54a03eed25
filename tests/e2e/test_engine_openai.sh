#!/usr/bin/env bash
# brix engine works with the official `openai` npm client (chat, streaming,
# completions, models, embeddings, typed errors): see openai_client.mjs.
# Usage: bash tests/e2e/test_engine_openai.sh /path/to/brix
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

command -v node >/dev/null || fail "node not installed (bash scripts/deps.sh)"
[ -f "$E2E_DIR/node_modules/openai/package.json" ] ||
    fail "the openai npm package is not installed in tests/e2e (bash scripts/deps.sh)"

MODEL=demo-llama
start_engine openai --model "$MODEL" --max-model-len 512 --time-scale 20
wait_health "$ENGINE_PORT"

BRIX_BASE_URL="http://127.0.0.1:$ENGINE_PORT/v1" BRIX_MODEL="$MODEL" \
    timeout 120 node --test --test-reporter=spec "$E2E_DIR/openai_client.mjs" >"$E2E_TMP/node.out" 2>&1
rc=$?
cat "$E2E_TMP/node.out"
[ "$rc" -eq 0 ] || fail "openai client tests failed (node exit $rc)"
