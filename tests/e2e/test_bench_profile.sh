#!/usr/bin/env bash
# brix bench profile against a real `brix engine` at a high --time-scale: a
# 2x2 grid (inputs 64 and 6144 tokens, outputs 16 and 32), rates 1..16, few
# prompts. Checks AIBrix's benchmark rows (JSONL), the profile JSON (AIBrix's
# GPUProfile: shape, positive tputs, the long input's tput not above the
# short one's), resuming (a second run measures nothing new and writes the
# same tputs), --from-results with a tighter SLO (lower or zero tputs) and
# usage errors.
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

SCALE=20
start_engine eng --time-scale $SCALE --jitter 0
wait_health "$ENGINE_PORT"
URL="http://127.0.0.1:$ENGINE_PORT"
R="$E2E_TMP/rows.jsonl"
GRID=(--input-lens 6144,64 --output-lens 16,32 --rates 1,2,4,8,16 --num-prompts 30)

# profile NAME ARGS...: brix bench profile; profile in NAME.json, stderr in NAME.log.
profile() {
    local name=$1
    shift
    E2E_LOGS+=("$E2E_TMP/$name.log")
    timeout 120 "$BRIX" bench profile --gpu sim-h100 --cost 2.5 --no-progress \
        --profile-out "$E2E_TMP/$name.json" "$@" >"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.log"
}

# check_all JSONL FILTER MSG: FILTER holds for every line.
check_all() {
    jq -s -e "length > 0 and all(.[]; $2)" "$1" >/dev/null 2>"$E2E_TMP/jq.err" ||
        fail "$3 (not every line of $1 has $2) $(head -c 300 "$E2E_TMP/jq.err")"
}

log "sweep: 2x2 grid, rates 1..16, 30 prompts, time scale $SCALE"
profile first --url "$URL" "${GRID[@]}" --time-scale $SCALE --results "$R" --slo-e2e 10 ||
    fail "profile exited $?: $(tail -5 "$E2E_TMP/first.log")"
grep -q "measured" "$E2E_TMP/first.log" || fail "no summary line on stderr"

log "rows: AIBrix's benchmark JSONL"
n=$(wc -l <"$R")
[ $((n % 5)) -eq 0 ] && [ "$n" -ge 20 ] || fail "$n rows: want 5 per measurement, >= 4 measurements"
check_all "$R" '(.metric | IN("TPUT","TT","E2E","TTFT","TPOT")) and
    (.input_tokens | IN(64,6144)) and (.output_tokens | IN(16,32)) and
    (.request_rate | IN(1,2,4,8,16)) and .samples == 30 and .seed == 0 and
    .model == "brix-sim-llama3-8b" and (.mean | type == "number") and .mean >= 0' \
    "rows: fields"
check_all "$R" 'if (.metric | IN("TPUT","TT")) then (has("P50") | not)
    else .P50 <= .P90 and .P90 <= .P99 and .P50 > 0 end' "rows: percentiles"
# every measurement has its five rows; every cell was measured at rate 1
jq -s -e 'group_by([.input_tokens, .output_tokens, .request_rate]) |
    all(.[]; ([.[].metric] | sort) == ["E2E","TPOT","TPUT","TT","TTFT"])' "$R" >/dev/null ||
    fail "rows: a measurement lacks a metric"
jq -s -e '[.[] | select(.request_rate == 1 and .metric == "TPUT")] | length == 4' "$R" \
    >/dev/null || fail "rows: not every cell measured at rate 1"
# simulated time: at rate 1 a request takes well under a second of wall
# time here, but TPUT is about 1 req/s only in simulated seconds
jq -s -e '[.[] | select(.request_rate == 1 and .metric == "TPUT") | .mean] |
    all(.[]; . > 0.8 and . <= 1.0001)' "$R" >/dev/null ||
    fail "rows: TPUT at rate 1 is not ~1 req/s of simulated time"

log "profile: AIBrix's GPUProfile JSON"
P="$E2E_TMP/first.json"
check "$P" '.gpu == "sim-h100" and .cost == 2.5 and .model == "brix-sim-llama3-8b"' "profile: gpu/cost/model"
check "$P" '.indexes == [[16,32],[64,6144]] and (.tputs | length) == 2 and
    all(.tputs[]; length == 2) and (.e2e | length) == 2 and .created > 1700000000' "profile: shape"
check "$P" '.slos == {"percentile": 0, "e2e": 10}' "profile: slos"
check "$P" 'all(.tputs[][]; . > 0)' "profile: a tput is not positive"
# tputs[out][in]: the 6144-token input saturates prefill far below the 64-token
# one (within 5 %: both may land on the same rate, where only noise separates them)
check "$P" 'all(.tputs[]; .[1] <= .[0] * 1.05)' "profile: the long input's tput above the short one's"
check "$P" '.tputs[0][0] > 1.5' "profile: the short cell serves under 1.5 req/s"

log "resume: the same command measures nothing new"
cp "$R" "$E2E_TMP/rows.before"
profile again --url "$URL" "${GRID[@]}" --time-scale $SCALE --results "$R" --slo-e2e 10 ||
    fail "second profile exited $?"
cmp -s "$R" "$E2E_TMP/rows.before" || fail "resume: the results file changed"
grep -q "0 measured" "$E2E_TMP/again.log" || fail "resume: measured again: $(tail -3 "$E2E_TMP/again.log")"
grep -q "not measured again" "$E2E_TMP/again.log" || fail "resume: does not say so"
jq -e --slurpfile a "$P" '.tputs == $a[0].tputs and .e2e == $a[0].e2e' "$E2E_TMP/again.json" \
    >/dev/null || fail "resume: a different profile from the same rows"
# resuming needs no server when every measurement is there
profile noserver --url "http://127.0.0.1:$(free_port)" "${GRID[@]}" --time-scale $SCALE \
    --results "$R" --slo-e2e 10 --model brix-sim-llama3-8b || fail "resume without a server failed"

log "--from-results: the same SLO gives the same profile, a tighter one lower tputs"
profile same --from-results "$R" --slo-e2e 10 || fail "--from-results exited $?"
jq -e --slurpfile a "$P" '.tputs == $a[0].tputs and .model == "brix-sim-llama3-8b"' \
    "$E2E_TMP/same.json" >/dev/null || fail "--from-results: not the sweep's profile"
# the E2E of the long input's chosen rate (out 16) as the SLO: that rate now
# fails it (latency SLOs are strict), so that cell drops to a lower rate or 0
tight=$(jq -s --slurpfile a "$P" '($a[0].tputs[0][1]) as $t |
    [.[] | select(.input_tokens == 6144 and .output_tokens == 16)] |
    (map(select(.metric == "TPUT" and .mean == $t)) | .[0].request_rate) as $r |
    map(select(.metric == "E2E" and .request_rate == $r)) | .[0].mean' "$R")
[ -n "$tight" ] && [ "$tight" != null ] || fail "cannot find the chosen rate's E2E"
profile tight --from-results "$R" --slo-e2e "$tight" || fail "--from-results (tight) exited $?"
jq -e --slurpfile a "$P" '[.tputs, $a[0].tputs] | transpose |
    all(.[]; transpose | all(.[]; .[0] <= .[1]))' "$E2E_TMP/tight.json" >/dev/null ||
    fail "tighter SLO: a tput went up: $(jq -c .tputs "$E2E_TMP/tight.json") vs $(jq -c .tputs "$P")"
jq -e --slurpfile a "$P" '.tputs[0][1] < $a[0].tputs[0][1]' "$E2E_TMP/tight.json" >/dev/null ||
    fail "tighter SLO: the long input's cell did not drop"
profile none --from-results "$R" --slo-ttft 0.000001 --percentile 99 ||
    fail "--from-results (impossible SLO) exited $?"
check "$E2E_TMP/none.json" 'all(.tputs[][]; . == 0) and .slos.ttft == 0.000001 and
    .slos.percentile == 99 and (.ttft | length) == 2' "an impossible SLO still leaves a tput"

log "usage errors"
"$BRIX" bench profile --help | grep -q -- "--from-results" || fail "--help lacks --from-results"
for bad in "--input-lens 64,x" "--rates 0" "--percentile 95" "--input-lens 64,64" \
    "--time-scale 0" "--from-results $R --rates 1"; do
    # shellcheck disable=SC2086
    "$BRIX" bench profile --gpu g $bad >/dev/null 2>&1
    [ $? -eq 2 ] || fail "bench profile --gpu g $bad: want exit 2"
done
"$BRIX" bench profile --from-results "$R" >/dev/null 2>&1
[ $? -eq 2 ] || fail "no --gpu: want exit 2"
"$BRIX" bench profile --gpu g --url "http://127.0.0.1:$(free_port)" --results "$E2E_TMP/x.jsonl" \
    --model m --input-lens 64 --output-lens 16 --rates 1 --num-prompts 2 >/dev/null \
    2>"$E2E_TMP/down.log"
[ $? -eq 1 ] || fail "an unreachable server: want exit 1"
[ ! -s "$E2E_TMP/x.jsonl" ] || fail "an unreachable server left rows behind"
log "ok"
