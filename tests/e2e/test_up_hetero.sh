#!/usr/bin/env bash
# Heterogeneous GPUs end to end under `brix up` (docs/hetero.md, "Optimizer
# service", "End to end"): one model (llm) on three Deployments, each a
# different simulated GPU type (brix engine --profile llama3-8b-a10g,
# llama3-8b-a100-80g, llama3-8b-h100), each with an AIBrix optimizer-KPA
# PodAutoscaler (samples/autoscaling/optimizer-kpa.yaml's shape, applied
# unchanged but for short KPA windows in annotations), the optimizer fed by
# the gateway's load monitor, the gateway routing with the `slo` strategy.
#
# Profiles: tests/e2e/data/hetero/llm-*.json, measured once from the
# simulator's own types (grid in 64, 3000 x out 16, 200; E2E p99 < 8 s;
# costs: the engine profiles' $/h):
#   brix engine --profile llama3-8b-<t> --time-scale 5 --port P --model llm &
#   brix bench profile --url http://127.0.0.1:P --time-scale 5 \
#       --input-lens 64,3000 --output-lens 16,200 --rates 1,2,4,8,16,32 \
#       --num-prompts 100 --slo-e2e 8 --percentile 99 --gpu llm-<t> \
#       --cost <$/h> --results <t>.jsonl --profile-out llm-<t>.json
# (t: a10g, a100 for llama3-8b-a100-80g, h100; written again from the rows with
# brix bench profile --from-results <t>.jsonl, same --gpu, --cost and SLO flags)
# Their tputs are requests per simulated second; the engines here run at
# --time-scale $TS, so the test multiplies them by $TS (a replica serves TS
# times as many requests per wall second).
#
# What the profiles say: short chats (64 in / 16 out) are cheapest per
# request on the A10G ($1.006/h); long documents (3000 in / 200 out) only
# the A100 80GB and the H100 serve within 8 s, and at the rate sent here one
# A100 ($5.121/h) costs less than one H100 ($12.29/h).
#  - phase 1, short chats from `brix bench run` through the gateway at 1.3
#    A10G replicas' worth: the optimizer asks 2 A10G replicas (floor 1, the
#    label model.aibrix.ai/min_replicas: with no replica nothing completes
#    and the optimizer sees no shapes), none of the others; the KPA runs
#    them; short requests are answered by llm-a10g (x-brix-gpu-group);
#  - phase 2, long documents join the chats: the A100 is asked for at once
#    while the A10G is still held at 2, the KPA starts the A100, long
#    requests are answered by llm-a100 (the short ones may take the A100's
#    spare capacity: printed);
#  - phase 3, the chats stop: the A10G, held for the scale-down delay (the
#    /status reason says "held"), is back at its floor; the H100 never runs.
# Figures printed: replicas per type per phase, the optimizer's reason, the
# engines' vllm:request_success_total per Deployment, the probes' groups.
source "$(dirname "$0")/lib.sh"
# shellcheck source=gpuopt_lib.sh
source "$(dirname "$0")/gpuopt_lib.sh"
e2e_init "$@"

GP=$(free_port)
AP=$(free_port)
OP=$(free_port)
export BRIX_SERVER="http://127.0.0.1:$AP"
KEY=hetero-test-key
export BRIX_API_KEYS=$KEY
OPT="http://127.0.0.1:$OP"
GW="http://127.0.0.1:$GP"
TS=1 # the engines' --time-scale (2 cores: higher scales need rates they cannot serve)

mkdir -p "$E2E_TMP/profiles"
for t in a10g a100 h100; do
    jq --argjson s "$TS" '.tputs |= map(map(. * $s))' "$E2E_DIR/data/hetero/llm-$t.json" \
        >"$E2E_TMP/profiles/llm-$t.json" || fail "profile llm-$t"
done
tput() { jq -r --argjson o "$2" --argjson i "$3" \
    '.tputs[.indexes[0] | index($o)][.indexes[1] | index($i)]' "$E2E_TMP/profiles/llm-$1.json"; }
SHORT_A10G=$(tput a10g 16 64)
LONG_A100=$(tput a100 200 3000)
log "profiles at time scale $TS (wall rps per replica): short a10g $SHORT_A10G a100 $(tput a100 16 64)" \
    "h100 $(tput h100 16 64); long a10g $(tput a10g 200 3000) a100 $LONG_A100 h100 $(tput h100 200 3000)"
# phase 1: 1.3 A10G replicas' worth of chats; phase 2: 0.3 of an A100's documents (with the
# probes' and the draw's noise the load must stay under 2 A100s: 3 cost more than one H100)
R1=$(awk -v t="$SHORT_A10G" 'BEGIN { printf "%.1f", t * 1.3 }')
R2=$(awk -v t="$LONG_A100" 'BEGIN { printf "%.2f", t * 0.3 }')

{
    up_dep_yaml llm-a10g llama3-8b-a10g 1 1 --time-scale "$TS"
    up_dep_yaml llm-a100 llama3-8b-a100-80g 0 1 --time-scale "$TS"
    up_dep_yaml llm-h100 llama3-8b-h100 0 1 --time-scale "$TS"
} >"$E2E_TMP/stack.yaml"

log "brix up: slo routing, optimizer period 1 s, window 20 s, scale-down delay 10 s"
up_start up "$E2E_TMP/state" -f "$E2E_TMP/stack.yaml" --strategy slo \
    --gpu-profiles "$E2E_TMP/profiles" --gpu-optimizer-port "$OP" --gpu-optimizer-period 1 \
    --gpu-optimizer-window 20 --gpu-optimizer-scale-down-delay 10

auth=(-H "Authorization: Bearer $KEY")
units() { # units DEP: the optimizer's vllm:deployment_replicas for it (-1 before its first result)
    curl -s --max-time 5 "$OPT/metrics/default/$1" 2>/dev/null |
        awk '/^vllm:deployment_replicas\{/ { v = $NF } END { print (v == "" ? -1 : v) }'
}
status() { curl -s --max-time 5 "${auth[@]}" "$OPT/status" 2>/dev/null || echo '{}'; }
reason() { status | jq -r '.models[0].reason // ""'; }
units_cmp() { num_cmp "$(units "$1")" "$2" "$3"; }
ready_ge() { [ "$(ready_pods "$1")" -ge "$2" ]; }
pods_are() { [ "$(all_pods "$1")" = "$2" ] && [ "$(ready_pods "$1")" = "$2" ]; }
shares() { # the optimizer's assignment: in x out -> shares, per grid cell
    curl -s --max-time 5 "$OPT/assignment/llm" 2>/dev/null |
        jq -r '[.cells[] | "\(.in)x\(.out) \(.share | to_entries | map("\(.key) \(.value * 100 | round)%") | join(" "))"] | join("; ")' 2>/dev/null
}
mix() { echo "a10g $(ready_pods llm-a10g)/$(units llm-a10g) a100 $(ready_pods llm-a100)/$(units llm-a100) h100 $(ready_pods llm-h100)/$(units llm-h100)"; }
# the engines' own finished requests, per Deployment (pods now running)
served() {
    local dep url sum
    for dep in llm-a10g llm-a100 llm-h100; do
        sum=0
        for url in $(pods_json | jq -r --arg d "$dep" '.items[] | select(.deployment == $d and .url) | .url'); do
            sum=$((sum + $(curl -s --max-time 5 "$url/metrics" |
                awk '/^vllm:request_success_total[{ ]/ { s += $NF } END { printf "%d", s }')))
        done
        printf '%s %s  ' "$dep" "$sum"
    done
    echo
}

# routed LO HI: answered requests with LO..HI prompt tokens per Deployment, from
# the gateway's access log (engine=IP:PORT) and the pods' ports (Started lines)
routed() {
    awk -v lo="$1" -v hi="$2" '
        / Started [^:]*: pod [^:]*: pid [0-9]+ on port [0-9]+$/ {
            d = $0; sub(/.* Started /, "", d); sub(/:.*/, "", d); dep[$NF] = d }
        / status=200 path=\/v1\/(chat\/)?completions / && match($0, /engine=[^ ]*:[0-9]+ /) {
            e = substr($0, RSTART + 7, RLENGTH - 8); sub(/.*:/, "", e)
            t = $NF; sub(/tokens=/, "", t); split(t, a, "+")
            if (a[1] + 0 >= lo && a[1] + 0 <= hi) n[(e in dep) ? dep[e] : "?"]++ }
        END { for (k in n) printf "%s %d  ", k, n[k] }' "$E2E_TMP/up.log"
}

log "no load: the floor, llm-a10g 1 replica"
wait_for 20 "floor units on llm-a10g" units_cmp llm-a10g == 100
wait_for 30 "llm-a10g Ready x1" ready_ge llm-a10g 1
[ "$(all_pods llm-a100)" = 0 ] && [ "$(all_pods llm-h100)" = 0 ] || fail "other types run: $(pods_json)"
log "replicas ready/asked (units): $(mix)"

words() { printf 'doc %.0s' $(seq "$1"); } # one token per word, plus BOS
SHORT=$(jq -cn --arg p "$(words 63)" '{model:"llm", prompt:$p, max_tokens:16}')
LONG=$(jq -cn --arg p "$(words 2999)" '{model:"llm", prompt:$p, max_tokens:200}')
# probe N BODY: N requests at once, the groups that answered them ("group count ...")
probe() {
    local i pids=()
    for i in $(seq "$1"); do
        curl -sS -o "$E2E_TMP/probe.$i.body" -D "$E2E_TMP/probe.$i.h" -w '%{http_code}' --max-time 60 \
            -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' --data-binary "$2" \
            "$GW/v1/completions" >"$E2E_TMP/probe.$i.code" 2>&1 &
        pids+=("$!")
    done
    wait "${pids[@]}"
    : >"$E2E_TMP/groups"
    for i in $(seq "$1"); do
        [ "$(cat "$E2E_TMP/probe.$i.code")" = 200 ] ||
            fail "probe $i: $(cat "$E2E_TMP/probe.$i.code") $(head -c 300 "$E2E_TMP/probe.$i.body")"
        sed -n 's/^x-brix-gpu-group: *\([^[:space:]]*\).*/\1/Ip' "$E2E_TMP/probe.$i.h" >>"$E2E_TMP/groups"
        if grep -qi '^x-brix-routing-fallback' "$E2E_TMP/probe.$i.h"; then echo fallback >>"$E2E_TMP/groups"; fi
    done
    sort "$E2E_TMP/groups" | uniq -c | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }'
}

start_load() { # start_load NAME ARGS...: brix bench run through the gateway, in the background
    local name=$1
    shift
    "$BRIX" bench run --url "$GW" --api-key "$KEY" --model llm --no-stream --no-progress \
        --duration 120 "$@" >"$E2E_TMP/$name.txt" 2>&1 &
    LOAD_PID=$!
    E2E_PIDS+=("$LOAD_PID")
}

log "phase 1: short chats, $R1 rps of 64 in / 16 out"
start_load bench1 --rate "$R1" --input-len 64 --output-len 16
wait_for 40 "the optimizer asks 2+ llm-a10g for the chats" units_cmp llm-a10g ">=" 200
log "optimizer: $(reason)"
wait_for 30 "the KPA runs 2+ llm-a10g" ready_ge llm-a10g 2
[ "$(units llm-a100)" = 0 ] && [ "$(units llm-h100)" = 0 ] ||
    fail "phase 1 asks for other types: $(mix); $(reason)"
[ "$(all_pods llm-a100)" = 0 ] && [ "$(all_pods llm-h100)" = 0 ] || fail "phase 1 runs other types: $(mix)"
groups=$(probe 10 "$SHORT")
log "phase 1: replicas ready/asked (units): $(mix)"
log "phase 1: assignment: $(shares)"
log "phase 1: short probes answered by: $groups"
[ "$groups" = "llm-a10g 10" ] || fail "short chats not all on llm-a10g: $groups"
SHORT_PID=$LOAD_PID
log "phase 1: engines' finished requests: $(served)"
log "phase 1: short requests answered, per Deployment (access log): $(routed 32 128)"

log "phase 2: the mix shifts: long documents ($R2 rps of 3000 in / 200 out) join the chats"
start_load bench2 --rate "$R2" --seed 1 --input-len 3000 --output-len 200
held=0
watch_held() { if reason | grep -q 'held: .*llm-a10g'; then held=1; fi; }
a100_asked() { watch_held; units_cmp llm-a100 ">=" 100; }
wait_for 40 "the optimizer asks llm-a100 for the documents" a100_asked
log "optimizer: $(reason)"
log "phase 2 (A100 asked): replicas ready/asked (units): $(mix)"
units_cmp llm-a10g ">=" 200 || fail "llm-a10g was not held when llm-a100 came: $(mix); $(reason)"
a100_ready() { watch_held; ready_ge llm-a100 1; }
wait_for 30 "the KPA runs llm-a100" a100_ready
log "phase 2 (A100 up): replicas ready/asked (units): $(mix)"
log "phase 2: assignment: $(shares)"
groups=$(probe 4 "$LONG")
log "phase 2: long probes answered by: $groups"
[ "$groups" = "llm-a100 4" ] || fail "long documents not all on llm-a100: $groups"
log "phase 2: short probes (the A100's spare capacity may take a share) answered by: $(probe 10 "$SHORT")"

log "phase 3: the chats stop, only documents"
bx_stop "$SHORT_PID" 5
# the A10G back at its floor once the delay has passed, the KPA following
back_to_floor() { watch_held; units_cmp llm-a10g == 100 && pods_are llm-a10g 1; }
wait_for 60 "llm-a10g back to its floor" back_to_floor
[ "$held" = 1 ] || fail "the reason never said llm-a10g was held for the scale-down delay"
log "phase 3: llm-a10g was held for the scale-down delay, then scaled in"
[ "$(units llm-h100)" = 0 ] && [ "$(all_pods llm-h100)" = 0 ] || fail "llm-h100 runs: $(mix)"
ready_ge llm-a100 1 || fail "llm-a100 went away: $(mix)"
log "phase 3: replicas ready/asked (units): $(mix)"
log "optimizer: $(reason)"
bx_stop "$LOAD_PID" 5
log "end: engines' finished requests: $(served)"
log "end: long requests answered, per Deployment (access log; before llm-a100 ran they fell back to llm-a10g): $(routed 2048 4096)"
log "end: short requests answered, per Deployment (access log): $(routed 32 128)"
"$BRIX" get deployments >"$E2E_TMP/get.txt" 2>&1 || fail "brix get deployments"
cat "$E2E_TMP/get.txt"
log "ok"
