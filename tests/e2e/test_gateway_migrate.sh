#!/usr/bin/env bash
# Streams that survive an engine's death (issue 19, docs/gateway.md "Streams
# that survive an engine's death"): four engines behind brix gateway, eight
# concurrent streams of max_tokens 200 (four chat, four completions, with
# include_usage). When every stream has sent a few tokens, one engine is
# SIGKILLed and another SIGSTOPped. Every stream must still end with [DONE]
# and exactly 200 tokens, one id in every chunk, one usage chunk counting
# the original prompt and 200 completion tokens, and no error event; a chat
# stream's text must be the very text an unbroken answer has (the engines
# share --seed and continue_final_message continues the same words). Two
# non-streamed requests running alongside get whole answers (a whole answer
# is held, so one under a dead engine is retried from scratch). Then a
# gateway with one engine, killed mid-stream: a clean SSE error event, no
# [DONE]. An engine group that loses a worker mid-stream (its leader sends an
# error event): continued elsewhere. (The gap a client sees at a migration is
# measured by bench/scenarios/migrate.sh, not here.)
# Usage: bash tests/e2e/test_gateway_migrate.sh /path/to/brix
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
bx_need python3
CLIENT="$E2E_DIR/sse_stamp.py"
MAX=200

ports=()
pids=()
for i in 1 2 3 4; do
    start_engine "e$i" --model m --time-scale 0.25 --jitter 0
    ports+=("$ENGINE_PORT")
    pids+=("$ENGINE_PID")
done
# the references' engine: fast, same --seed (the default), so the same words
start_engine ref --model m --time-scale 100 --jitter 0
REF_PORT=$ENGINE_PORT
for p in "${ports[@]}" "$REF_PORT"; do wait_health "$p" 20 ""; done
STOPPED=""
mfail() { # resume a stopped engine first (so cleanup can stop it)
    [ -n "$STOPPED" ] && kill -CONT "$STOPPED" 2>/dev/null
    fail "$@"
}

GW_PORT=$(free_port) || fail "no free port"
backends=()
for p in "${ports[@]}"; do backends+=(--backend "http://127.0.0.1:$p"); done
# stalls: a stream silent for 1 s (10x its pace is less) is continued elsewhere;
# a continuation sent to the stopped engine goes on once the scraper declares it down
"$BRIX" gateway --host 127.0.0.1 --port "$GW_PORT" "${backends[@]}" --workers 2 \
    --scrape-interval-ms 200 --models-interval-ms 500 --stream-silence-min-ms 1000 \
    >"$E2E_TMP/gateway.log" 2>&1 &
GW_PID=$!
E2E_PIDS+=("$GW_PID")
E2E_LOGS+=("$E2E_TMP/gateway.log")
GW="http://127.0.0.1:$GW_PORT"
wait_ready "$GW/readyz" "$GW_PID"
ready4() { [ "$(curl -s "$GW/metrics" | grep -c '^brix_gateway_engine_ready{.*} 1')" = 4 ]; }
wait_for 10 "the gateway does not see 4 ready engines" ready4

# body N: request N's JSON (odd: chat, even: completions)
body() {
    local n=$1
    if ((n % 2)); then
        printf '{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"tell story %d"}],"max_tokens":%d,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}' "$n" "$MAX"
    else
        printf '{"model":"m","prompt":"Once upon a time, story %d","max_tokens":%d,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}' "$n" "$MAX"
    fi
}
path_of() { if (($1 % 2)); then echo /v1/chat/completions; else echo /v1/completions; fi; }
summary() { python3 "$CLIENT" summary "$@"; }
pod_of() { grep -i '^target-pod:' "$1" | head -n 1 | tr -d '\r' | awk '{print $2}'; }
# sse NAME URL BODY_FILE: a streamed request in the background (NAME.sse, NAME.h); pid in $!
sse() {
    curl -sN --max-time 60 -D "$E2E_TMP/$1.h" -o "$E2E_TMP/$1.sse" -H 'Content-Type: application/json' \
        "$2" -d @"$3" &
}

# references: each chat answer unbroken, straight from an engine
for n in 1 2 3 4 5 6 7 8; do body "$n" >"$E2E_TMP/b$n.json"; done
rpids=()
for n in 1 3 5 7; do
    sse "ref$n" "http://127.0.0.1:$REF_PORT$(path_of "$n")" "$E2E_TMP/b$n.json"
    rpids+=($!)
done
for p in "${rpids[@]}"; do wait "$p" || fail "a reference request failed"; done
python3 "$CLIENT" summary-each "$E2E_TMP"/ref[1357].sse || fail "summaries"
for n in 1 3 5 7; do
    check "$E2E_TMP/ref$n.sse.json" ".tokens == $MAX and .done" "reference $n is not a whole answer"
done

# 1. eight streams; kill one engine and stop another in the middle
cpids=()
for n in 1 2 3 4 5 6 7 8; do
    sse "s$n" "$GW$(path_of "$n")" "$E2E_TMP/b$n.json"
    cpids+=($!)
done
# and two non-streamed requests: held whole by the gateway, so an engine that dies under one
# is retried from scratch (--max-retries) and the client still gets one whole answer
wpids=()
for n in 1 2; do
    printf '{"model":"m","prompt":"whole %d","max_tokens":%d,"ignore_eos":true}' "$n" "$MAX" >"$E2E_TMP/w$n.json"
    curl -s --max-time 60 -o "$E2E_TMP/w$n.out" -w '%{http_code}' -H 'Content-Type: application/json' \
        "$GW/v1/completions" -d @"$E2E_TMP/w$n.json" >"$E2E_TMP/w$n.code" &
    wpids+=($!)
done
# tokens_of FILE: content chunks recorded so far
tokens_of() {
    local k
    k=$(grep -cE '"(content|text)":"[^"]' "$1" 2>/dev/null)
    echo "${k:-0}"
}
all_started() {
    local n
    for n in 1 2 3 4 5 6 7 8; do [ "$(tokens_of "$E2E_TMP/s$n.sse")" -ge 5 ] || return 1; done
}
wait_for 20 "the streams did not all start" all_started
# the victims: the engines of stream 1 (killed) and of a stream on another one (stopped)
declare -A on
for n in 1 2 3 4 5 6 7 8; do on[$n]=$(pod_of "$E2E_TMP/s$n.h"); done
kpod=${on[1]}
spod=""
for n in 2 3 4 5 6 7 8; do [ "${on[$n]}" != "$kpod" ] && spod=${on[$n]} && break; done
[ -n "$spod" ] || fail "every stream went to $kpod"
for i in 0 1 2 3; do
    [ "127.0.0.1:${ports[$i]}" = "$kpod" ] && kpid=${pids[$i]}
    [ "127.0.0.1:${ports[$i]}" = "$spod" ] && spid=${pids[$i]}
done
kill -9 "$kpid"
kill -STOP "$spid"
STOPPED=$spid
log "killed $kpod, stopped $spod"
for p in "${cpids[@]}"; do wait "$p" || mfail "a client failed"; done
for p in "${wpids[@]}"; do wait "$p" || mfail "a non-streamed client failed"; done
kill -CONT "$spid"
STOPPED=""

moved=0
python3 "$CLIENT" summary-each "$E2E_TMP"/s[1-8].sse || fail "summaries"
for n in 1 2 3 4 5 6 7 8; do
    f="$E2E_TMP/s$n.sse.json"
    grep -q '^HTTP/1.1 200' "$E2E_TMP/s$n.h" || fail "stream $n: $(head -n 1 "$E2E_TMP/s$n.h")"
    jq -e '.done and (.errors | length) == 0 and .bad == 0' "$f" >/dev/null ||
        fail "stream $n (on ${on[$n]}) did not complete: $(jq -c 'del(.text)' "$f")"
    jq -e ".tokens == $MAX" "$f" >/dev/null ||
        fail "stream $n (on ${on[$n]}) sent $(jq .tokens "$f") tokens, want exactly $MAX"
    jq -e '(.ids | length) == 1' "$f" >/dev/null || fail "stream $n has ids $(jq -c .ids "$f")"
    jq -e "(.usage | length) == 1 and .usage[0].completion_tokens == $MAX and
           .usage[0].total_tokens == .usage[0].prompt_tokens + $MAX" "$f" >/dev/null ||
        fail "stream $n's usage: $(jq -c .usage "$f")"
    if ((n % 2)); then
        jq -e --slurpfile r "$E2E_TMP/ref$n.sse.json" \
            '.text == $r[0].text and .usage[0].prompt_tokens == $r[0].usage[0].prompt_tokens' \
            "$f" >/dev/null || fail "stream $n's text or prompt tokens differ from the unbroken answer's"
    fi
    if [ "${on[$n]}" = "$kpod" ] || [ "${on[$n]}" = "$spod" ]; then
        moved=$((moved + 1))
        why=killed
        [ "${on[$n]}" = "$spod" ] && why=stopped
        log "stream $n (on the $why engine): $MAX tokens"
    fi
done
[ "$moved" -ge 2 ] || fail "only $moved streams were on the victims"
for n in 1 2; do
    [ "$(cat "$E2E_TMP/w$n.code")" = 200 ] && jq -e ".usage.completion_tokens == $MAX" "$E2E_TMP/w$n.out" >/dev/null ||
        fail "non-streamed request $n: $(cat "$E2E_TMP/w$n.code") $(head -c 300 "$E2E_TMP/w$n.out")"
done
log "non-streamed requests whole ($(grep -c 'retrying elsewhere' "$E2E_TMP/gateway.log") retried)"
n=$(curl -s "$GW/metrics" | sed -n 's/^brix_gateway_stream_migrations_total //p')
num_cmp "${n:-0}" ">=" "$moved" || fail "brix_gateway_stream_migrations_total is '$n', want >= $moved"
log "$moved streams on a killed or stopped engine completed elsewhere: $MAX tokens, one id, usage once"

# 2. no engine left: a clean SSE error event
start_engine lone --model m --time-scale 0.25 --jitter 0
LPORT=$ENGINE_PORT
LPID=$ENGINE_PID
wait_health "$LPORT"
G2=$(free_port) || fail "no free port"
"$BRIX" gateway --host 127.0.0.1 --port "$G2" --backend "http://127.0.0.1:$LPORT" \
    --scrape-interval-ms 200 --models-interval-ms 500 >"$E2E_TMP/gateway2.log" 2>&1 &
E2E_PIDS+=($!)
E2E_LOGS+=("$E2E_TMP/gateway2.log")
wait_ready "http://127.0.0.1:$G2/readyz"
sse lone "http://127.0.0.1:$G2/v1/chat/completions" "$E2E_TMP/b1.json"
cpid=$!
lone_started() { [ "$(tokens_of "$E2E_TMP/lone.sse")" -ge 5 ]; }
wait_for 20 "the lone stream did not start" lone_started
kill -9 "$LPID"
wait "$cpid" || fail "the lone client failed"
summary "$E2E_TMP/lone.sse" >"$E2E_TMP/lone.json"
jq -e '(.done | not) and (.errors | length) == 1 and .errors[0].code == 502 and
       (.errors[0].message | type) == "string" and .tokens < '"$MAX" "$E2E_TMP/lone.json" >/dev/null ||
    fail "no engine left: $(jq -c 'del(.text)' "$E2E_TMP/lone.json")"
log "no engine left: the stream ended with an SSE error event"

# 3. an engine that ends the stream with its own error event (an engine group that lost a
# worker: brix engine, like vLLM, sends {"error":...} then [DONE]): continued on another engine
start_engine leader --model m --time-scale 0.25 --jitter 0 --group-size 2 --group-timeout 1
GLPORT=$ENGINE_PORT
start_engine w1 --model m --group-leader "http://127.0.0.1:$GLPORT" --group-rank 1 --group-timeout 1
W1PID=$ENGINE_PID
start_engine spare --model m --time-scale 0.25 --jitter 0
SPPORT=$ENGINE_PORT
wait_health "$GLPORT" 20 ""
wait_health "$SPPORT" 20 ""
G3=$(free_port) || fail "no free port"
"$BRIX" gateway --host 127.0.0.1 --port "$G3" --backend "http://127.0.0.1:$GLPORT" \
    --backend "http://127.0.0.1:$SPPORT" --scrape-interval-ms 200 --models-interval-ms 500 \
    >"$E2E_TMP/gateway3.log" 2>&1 &
E2E_PIDS+=($!)
E2E_LOGS+=("$E2E_TMP/gateway3.log")
wait_ready "http://127.0.0.1:$G3/readyz"
ready2() { [ "$(curl -s "http://127.0.0.1:$G3/metrics" | grep -c '^brix_gateway_engine_ready{.*} 1')" = 2 ]; }
wait_for 10 "the third gateway does not see 2 ready engines" ready2
SID=$(printf '127.0.0.1:%s' "$GLPORT" | base64)
curl -sN --max-time 60 -o "$E2E_TMP/g.sse" -D "$E2E_TMP/g.h" -H 'routing-strategy: session-affinity' \
    -H "x-session-id: $SID" -H 'Content-Type: application/json' \
    "http://127.0.0.1:$G3/v1/chat/completions" -d @"$E2E_TMP/b3.json" &
cpid=$!
g_started() { [ "$(grep -cE '"content":"[^"]' "$E2E_TMP/g.sse" 2>/dev/null)" -ge 5 ]; }
wait_for 20 "the group's stream did not start" g_started
grep -qi "^target-pod: 127.0.0.1:$GLPORT" "$E2E_TMP/g.h" || fail "the stream did not go to the group"
kill -9 "$W1PID"
wait "$cpid" || fail "the group's client failed"
summary "$E2E_TMP/g.sse" >"$E2E_TMP/g.json.sum"
jq -e ".done and (.errors | length) == 0 and .tokens == $MAX and (.ids | length) == 1 and
       (.usage | length) == 1 and .usage[0].completion_tokens == $MAX" "$E2E_TMP/g.json.sum" >/dev/null ||
    fail "the group's stream: $(jq -c 'del(.text)' "$E2E_TMP/g.json.sum")"
jq -e --slurpfile r "$E2E_TMP/ref3.sse.json" '.text == $r[0].text' "$E2E_TMP/g.json.sum" >/dev/null ||
    fail "the group's stream's text differs from the unbroken answer's"
grep -q 'sent an error event after' "$E2E_TMP/gateway3.log" || fail "no migration after the error event"
log "an engine's error event mid-stream: continued on another engine, $MAX tokens"
