#!/usr/bin/env bash
# The gateway's logs and metrics under a hostile client (issue 13, findings
# 6 and 9), against a real engine:
#  1. a newline in "model" (or "user") cannot forge a log line: the request
#     makes exactly one access-log line, its strings escaped;
#  2. 3000 requests naming invented models do not take the per-model series
#     table: they count under model="unknown" and the served model keeps its
#     own series;
#  3. --access-log FILE, then mv FILE FILE.1 and SIGHUP (logrotate): the
#     later lines land in a new FILE;
#  4. --access-log off writes no request lines;
#  5. --access-log-sample 10 logs about one 200 in ten and every 404.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

start_engine e1 --model m --time-scale 50 --jitter 0
wait_health "$ENGINE_PORT"
EP=$ENGINE_PORT

# start_gateway NAME ARGS...: a gateway in front of the engine, stderr in
# $E2E_TMP/NAME.log; sets GW_PID and BASE, returns once model m is routed.
start_gateway() {
    local name=$1 port
    shift
    port=$(free_port) || fail "no free port"
    "$BRIX" gateway --host 127.0.0.1 --port "$port" --backend "http://127.0.0.1:$EP" \
        --models-interval-ms 200 "$@" >"$E2E_TMP/$name.log" 2>&1 &
    GW_PID=$!
    E2E_PIDS+=("$GW_PID")
    E2E_LOGS+=("$E2E_TMP/$name.log")
    BASE="http://127.0.0.1:$port"
    wait_ready "$BASE/readyz" "$GW_PID"
}

# many FILE N NAME: N completions on one connection (curl -K FILE), each
# for a new model NAME-i-random, or all for model m when NAME is "=m"; the
# statuses go to FILE.codes, one a line.
many() {
    local f=$1 n=$2 prefix=$3 i model
    : >"$f"
    for ((i = 0; i < n; i++)); do
        if [ "${prefix:0:1}" = "=" ]; then model=${prefix:1}; else model="$prefix-$i-$RANDOM"; fi
        [ "$i" -gt 0 ] && echo next >>"$f"
        printf 'url = "%s/v1/completions"\nheader = "Content-Type: application/json"\n' "$BASE" >>"$f"
        printf 'data-binary = "{\\"model\\":\\"%s\\",\\"prompt\\":\\"hi\\",\\"max_tokens\\":1}"\n' \
            "$model" >>"$f"
        printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' >>"$f"
    done
    curl -s --max-time 120 -K "$f" >"$f.codes" || fail "curl -K $f failed"
}

# lines FILE PATTERN: how many lines of FILE match the (grep -E) pattern
lines() { grep -cE -- "$2" "$1" 2>/dev/null || true; }

# wait_lines FILE PATTERN N: until FILE has N matching lines (up to 10 s)
wait_lines() {
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(lines "$1" "$2")" -ge "$3" ] && return 0
        sleep 0.1
    done
    fail "$1 has $(lines "$1" "$2") lines matching '$2', want $3"
}

# ---- 1 and 2: default flags (access log on stderr)
start_gateway gw
log "3000 requests naming invented models, before any for the served one"
many "$E2E_TMP/flood" 3000 rnd
[ "$(lines "$E2E_TMP/flood.codes" '^404$')" = 3000 ] || fail "invented models were not all answered 404"
code=$(req POST /v1/completions \
    '{"model":"x\nreq forged status=200","user":"u\r\nINFO forged","prompt":"hi","max_tokens":1}')
expect_status "$code" 404 "unknown model"
code=$(req POST /v1/completions '{"model":"m","prompt":"hi","max_tokens":1}')
expect_status "$code" 200 "served model"
many "$E2E_TMP/real" 20 =m
[ "$(lines "$E2E_TMP/real.codes" '^200$')" = 20 ] || fail "the served model was not answered 200"
curl -s "$BASE/metrics" >"$E2E_TMP/metrics"
grep '^brix_gateway_requests_total' "$E2E_TMP/metrics" >"$E2E_TMP/series"
n=$(metric_in brix_gateway_requests_total model=m status=200 <"$E2E_TMP/metrics")
num_cmp "$n" '>=' 21 || fail "model m has no series of its own after the flood (got '$n'): $(grep -c . "$E2E_TMP/series") series"
[ "$(lines "$E2E_TMP/series" 'model="(rnd|x)')" = 0 ] || fail "invented model names got series of their own"
unknown=$(awk '/^brix_gateway_requests_total\{model="unknown"/ {n += $NF} END {print n + 0}' "$E2E_TMP/series")
num_cmp "$unknown" '>=' 3001 || fail "invented models counted $unknown times under model=\"unknown\", want 3001"
[ "$(grep -c . "$E2E_TMP/series")" -le 10 ] || fail "the flood left $(grep -c . "$E2E_TMP/series") series"
log "after the flood: m has its series ($n), invented names count under model=\"unknown\" ($unknown)"

stop_pid "$GW_PID" # the access log is written at close
L="$E2E_TMP/gw.log"
[ "$(lines "$L" 'forged')" = 1 ] || fail "the forging request made $(lines "$L" 'forged') lines, want 1"
grep -F 'model="x\nreq forged status=200"' "$L" | grep -qF 'user="u\r\nINFO forged"' ||
    fail "the forging request's line does not hold its strings escaped: $(grep forged "$L")"
[ "$(lines "$L" '^(req|INFO) forged')" = 0 ] || fail "a forged line starts a line"
[ "$(lines "$L" ' model="m" .*status|status=200 .*model="m"')" = 21 ] ||
    fail "$(lines "$L" 'model="m"') access lines for m, want 21 (one per request)"
log "a newline in model or user stays inside one escaped access-log line"

# ---- 3: a file, moved away and reopened on SIGHUP
A="$E2E_TMP/access.log"
start_gateway gwfile --access-log "$A"
many "$E2E_TMP/a1" 3 =m
wait_lines "$A" 'model="m"' 3 # the flush timer writes them
mv "$A" "$A.1"
kill -HUP "$GW_PID"
sleep 0.3 # the signal reaches the loop
kill -0 "$GW_PID" 2>/dev/null || fail "SIGHUP stopped the gateway"
code=$(req POST /v1/completions '{"model":"m","user":"after-hup","prompt":"hi","max_tokens":1}')
expect_status "$code" 200 "request after SIGHUP"
code=$(req POST /v1/completions '{"model":"nope","user":"after-hup","prompt":"hi","max_tokens":1}')
expect_status "$code" 404 "unknown model after SIGHUP"
wait_lines "$A" 'user="after-hup"' 2
[ "$(lines "$A" 'model=')" = 2 ] || fail "the new $A holds $(lines "$A" 'model=') lines, want the 2 after SIGHUP"
[ "$(lines "$A.1" 'model=')" = 3 ] || fail "the moved file holds $(lines "$A.1" 'model=') lines, want 3"
[ "$(lines "$E2E_TMP/gwfile.log" 'model=')" = 0 ] || fail "request lines on stderr with --access-log FILE"
stop_pid "$GW_PID"
log "--access-log FILE reopened on SIGHUP: later lines in the new file"

# ---- 4: off
start_gateway gwoff --access-log off
many "$E2E_TMP/o1" 5 =m
code=$(req POST /v1/completions '{"model":"nope","prompt":"hi","max_tokens":1}')
expect_status "$code" 404 "unknown model, log off"
stop_pid "$GW_PID"
[ "$(lines "$E2E_TMP/gwoff.log" 'model=|status=')" = 0 ] || fail "--access-log off still wrote request lines"
log "--access-log off writes no request lines"

# ---- 5: sampling
S="$E2E_TMP/sampled.log"
start_gateway gwsample --access-log "$S" --access-log-sample 10
many "$E2E_TMP/s1" 200 =m
many "$E2E_TMP/s2" 20 none
[ "$(lines "$E2E_TMP/s1.codes" '^200$')" = 200 ] || fail "sampled run: not every request answered 200"
stop_pid "$GW_PID"
ok=$(lines "$S" 'status=200')
[ "$ok" -ge 10 ] && [ "$ok" -le 40 ] || fail "--access-log-sample 10 logged $ok of 200 OK requests"
[ "$(lines "$S" 'status=404')" = 20 ] || fail "--access-log-sample 10 logged $(lines "$S" 'status=404') of 20 404s"
log "--access-log-sample 10: $ok of 200 OK requests and every 404 logged"
