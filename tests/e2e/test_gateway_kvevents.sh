#!/usr/bin/env bash
# Precise prefix routing from KV events (docs/gateway.md "KV events"): three
# `brix engine` processes publishing vLLM's KV events (ZMQ PUB + replay
# ROUTER at their HTTP port + O and + O + 1), a gateway following them
# (--kv-events-port-offset O) with prefix-cache, and a fourth engine that
# publishes nothing. Checks: every publishing engine's confidence turns
# exact in /metrics, the silent one degraded (never exact); a prompt an engine cached behind the
# gateway's back (sent to the engine directly) is routed to that engine
# (the approximate index never saw it: only the events tell); the gateway's
# own routing decisions are confirmed by BlockStored; an engine SIGKILLed
# goes back to approximate, and once restarted on the same ports (its
# stream from seq 0 again, its cache empty) is exact again and followed:
# a prompt cached on it after the restart is routed there.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
bx_need python3

O=700
# a port P with P + O and P + O + 1 free too
kv_port() {
    local p i
    for ((i = 0; i < 50; i++)); do
        p=$(free_port) || continue
        python3 - "$((p + O))" "$((p + O + 1))" <<'PY' && { echo "$p"; return 0; }
import socket, sys
for port in sys.argv[1:]:
    s = socket.socket()
    try:
        s.bind(("0.0.0.0", int(port)))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
PY
    done
    return 1
}

ENG_ARGS=(--model m --time-scale 50 --jitter 0 --prefix-caching-hash-algo xxhash_cbor)
start_kv_engine() { # NAME PORT: sets ENGINE_PID
    local logf="$E2E_TMP/$1.log"
    bx_start_engine "$logf" "$2" "${ENG_ARGS[@]}" --kv-events "tcp://*:$(($2 + O))" \
        --kv-events-replay "tcp://*:$(($2 + O + 1))"
    ENGINE_PID=$BX_LAST
    E2E_LOGS+=("$logf")
    log "engine $1 pid $ENGINE_PID port $2 (KV events on $(($2 + O)), replay $(($2 + O + 1)))"
}

declare -a EP EPID
for i in 0 1 2; do
    EP[i]=$(kv_port) || fail "no free port triple"
    start_kv_engine "e$i" "${EP[i]}"
    EPID[i]=$ENGINE_PID
done
for i in 0 1 2; do wait_health "${EP[i]}" 20 "${EPID[i]}"; done
# a fourth engine that publishes nothing: followed, never heard from: degraded
EP[3]=$(kv_port) || fail "no free port triple"
bx_start_engine "$E2E_TMP/e3.log" "${EP[3]}" "${ENG_ARGS[@]}"
EPID[3]=$BX_LAST
E2E_LOGS+=("$E2E_TMP/e3.log")
wait_health "${EP[3]}" 20 "${EPID[3]}"

GW_PORT=$(free_port) || fail "no free port"
"$BRIX" gateway --host 127.0.0.1 --port "$GW_PORT" --strategy prefix-cache \
    --backend "http://127.0.0.1:${EP[0]}" --backend "http://127.0.0.1:${EP[1]}" \
    --backend "http://127.0.0.1:${EP[2]}" --backend "http://127.0.0.1:${EP[3]}" \
    --kv-events-port-offset "$O" \
    --scrape-interval-ms 200 --models-interval-ms 300 --log-level debug \
    >"$E2E_TMP/gateway.log" 2>&1 &
GW_PID=$!
E2E_PIDS+=("$GW_PID")
E2E_LOGS+=("$E2E_TMP/gateway.log")
BASE="http://127.0.0.1:$GW_PORT"
wait_ready "$BASE/readyz" "$GW_PID"

conf() { metric "$GW_PORT" brix_gateway_kv_engine_confidence "engine=127.0.0.1:$1"; }
is_conf() { [ "$(conf "$1")" = "$2" ]; }
for i in 0 1 2; do
    wait_for 20 "engine ${EP[i]} never became exact ($(conf "${EP[i]}"))" is_conf "${EP[i]}" 1.0
done
[ "$(metric "$GW_PORT" brix_gateway_kv_engines confidence=exact)" = "3.0" ] ||
    fail "brix_gateway_kv_engines{confidence=\"exact\"} is not 3"
# its replay request at connect times out (5 s): degraded, not exact
wait_for 20 "engine ${EP[3]} without events is $(conf "${EP[3]}"), want degraded" \
    is_conf "${EP[3]}" 2.0

prompt() { # GROUP: a long prompt (many blocks) of its own
    printf '{"model":"m","prompt":"%s","max_tokens":4}' \
        "$(printf "group $1 shares this long context sentence number %s. " $(seq 80))"
}
direct() { # PORT BODY: a request to an engine, not through the gateway
    curl -sf --max-time 10 -H 'Content-Type: application/json' --data-binary "$2" \
        "http://127.0.0.1:$1/v1/completions" -o /dev/null || fail "engine $1 did not answer"
}
routed_to() { # BODY: the engine the gateway sent it to (target-pod)
    req POST /v1/completions "$1" | grep -qx 200 || fail "request failed: $(cat "$E2E_TMP/body")"
    header target-pod
}
stored() { metric "$GW_PORT" brix_gateway_kv_blocks_stored_total; }

# 1. a prompt cached on engine 2 behind the gateway's back: only the events tell
before=$(stored)
direct "${EP[2]}" "$(prompt hidden)"
more_stored() { num_cmp "$(stored)" ">" "$before"; }
wait_for 10 "no BlockStored reached the gateway" more_stored
for k in 1 2 3; do
    t=$(routed_to "$(prompt hidden)")
    [ "$t" = "127.0.0.1:${EP[2]}" ] || fail "prompt cached on ${EP[2]} was routed to $t (try $k)"
done
log "a prompt cached behind the gateway's back follows the events to ${EP[2]}"

# 2. the gateway's own choices are confirmed by the engines' BlockStored
# (a prompt routed to the silent engine is never confirmed: take one that was not)
for OWN in own1 own2 own3 own4 own5 own6; do
    first=$(routed_to "$(prompt $OWN)")
    [ "$first" != "127.0.0.1:${EP[3]}" ] && break
done
[ "$first" != "127.0.0.1:${EP[3]}" ] || fail "every prompt went to the silent engine"
for k in 1 2 3; do
    t=$(routed_to "$(prompt $OWN)")
    [ "$t" = "$first" ] || fail "a repeated prompt moved from $first to $t"
done
confirmed() { num_cmp "$(metric "$GW_PORT" brix_gateway_kv_spec_confirmed_total)" ">" 0; }
wait_for 10 "no speculative entry was confirmed" confirmed

# 3. SIGKILL engine 0: back to approximate; restarted on the same ports: exact again
kill -KILL "${EPID[0]}"
wait_for 20 "killed engine ${EP[0]} still $(conf "${EP[0]}")" is_conf "${EP[0]}" 0.0
start_kv_engine e0b "${EP[0]}"
EPID[0]=$ENGINE_PID
wait_health "${EP[0]}" 20 "${EPID[0]}"
wait_for 20 "restarted engine ${EP[0]} never became exact again ($(conf "${EP[0]}"))" \
    is_conf "${EP[0]}" 1.0
before=$(stored)
direct "${EP[0]}" "$(prompt after-restart)"
wait_for 10 "no BlockStored from the restarted engine" more_stored
t=$(routed_to "$(prompt after-restart)")
[ "$t" = "127.0.0.1:${EP[0]}" ] || fail "prompt cached on the restarted engine went to $t"
log "the restarted engine is followed again"

curl -s "http://127.0.0.1:$GW_PORT/metrics" >"$E2E_TMP/metrics.txt"
check_exposition "$E2E_TMP/metrics.txt"
n=$(metric_in brix_gateway_kv_bad_messages_total <"$E2E_TMP/metrics.txt")
[ "$n" = "0.0" ] || fail "bad KV messages: $n"
log "ok"
