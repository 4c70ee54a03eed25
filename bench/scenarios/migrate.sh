#!/usr/bin/env bash
# Stream migration (docs/gateway.md, "Streams that survive an engine's death"): the gap a client
# sees when the engine of its stream dies (SIGKILL) or stalls (SIGSTOP) and brix gateway continues
# the stream on another engine (--migrate-attempts 3, the default), against the peer run with
# --migrate-attempts 0, where such a stream ends with an SSE error event.
#
#   bash bench/scenarios/migrate.sh [path/to/brix] [--quick] [--out DIR] [--publish]
#
# Per round: three engines at time scale 1 (the llama3-8b-h100 profile's pace), a fresh gateway
# (--scrape-interval-ms 1000, the default; --stream-silence-min-ms 2000), six chat streams of
# 1000 tokens; once each has sent 30 tokens the engine of stream 1 is killed (or stopped).
# Three rounds per kind (one with --quick). Writes (results/migrate/<stamp>/): gaps.csv (one row
# per stream that was on the victim and not done yet: kind, round, stream, tokens before, the
# longest wait for a token arriving after the signal, the stream's median inter-token gap,
# tokens received, completed),
# summary.csv (per kind: streams moved, completed, gap p50 and max, gap / ITL) and tokens.png
# (token arrival of one moved stream per kind and of one undisturbed stream).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bs_init migrate "$@"
CLIENT="$BS_ROOT/tests/e2e/sse_stamp.py"
MAX=1000
ROUNDS=3
[ "$BS_QUICK" = 1 ] && ROUNDS=1
echo "3 engines --time-scale 1 --jitter 0; 6 chat streams x $MAX tokens; signal after 30 tokens;" \
    "gateway --stream-silence-min-ms 2000; $ROUNDS round(s) per kind" >"$BS_RES/settings.txt"
GAPS="$BS_RES/gaps.csv"
echo "kind,round,stream,tokens_before,gap_ms,itl_p50_ms,tokens,completed" >"$GAPS"

ntok() {
    local k
    k=$(grep -c '"content":"[^"]' "$1" 2>/dev/null || true)
    echo "${k:-0}"
}

# round KIND R ATTEMPTS: one round; rows into gaps.csv
round() {
    local kind=$1 r=$2 attempts=$3 n i ok victim vpid="" t0 d
    d="$BS_RES/$kind-$r"
    mkdir -p "$d"
    bs_engines 3 "$kind-$r" --model m --time-scale 1 --jitter 0
    bs_gateway "$kind-$r" "${BS_BACKENDS[@]}" --stream-silence-min-ms 2000 \
        --migrate-attempts "$attempts"
    local cpids=()
    for n in 1 2 3 4 5 6; do
        printf '{"model":"m","messages":[{"role":"user","content":"tell story %d of round %d"}],"max_tokens":%d,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}' \
            "$n" "$r" "$MAX" >"$d/b$n.json"
        python3 "$CLIENT" "$BS_GW/v1/chat/completions" "$d/b$n.json" "$d/s$n.out" 120 &
        cpids+=($!)
    done
    for ((i = 0; i < 300; i++)); do
        ok=1
        for n in 1 2 3 4 5 6; do [ "$(ntok "$d/s$n.out")" -ge 30 ] || ok=0; done
        [ "$ok" = 1 ] && break
        sleep 0.1
    done
    victim=$(sed -n 's/^# header target-pod: //p' "$d/s1.out" | head -n 1)
    for i in 0 1 2; do [ "${BS_URLS[$i]}" = "http://$victim" ] && vpid=${BS_EPIDS[$i]}; done
    [ -n "$vpid" ] || {
        echo "migrate: stream 1 of $kind-$r has no engine: $(head -n 3 "$d/s1.out")" >&2
        exit 1
    }
    t0=$(date +%s%3N)
    if [ "${kind#peer-}" = stop ]; then kill -STOP "$vpid"; else kill -KILL "$vpid"; fi
    for i in "${cpids[@]}"; do wait "$i" || true; done
    [ "${kind#peer-}" = stop ] && kill -CONT "$vpid"
    for n in 1 2 3 4 5 6; do
        [ "$(sed -n 's/^# header target-pod: //p' "$d/s$n.out" | head -n 1)" = "$victim" ] || continue
        [ "$(jq .tokens_before <(python3 "$CLIENT" summary "$d/s$n.out" "$t0"))" -lt "$MAX" ] || continue
        python3 "$CLIENT" summary "$d/s$n.out" "$t0" >"$d/s$n.json"
        local row
        row=$(jq -r --argjson max "$MAX" '[.tokens_before, (.gap_at_ms // -1), .itl_p50_ms, .tokens,
            (if .done and .tokens == $max and (.ids | length) == 1 then 1 else 0 end)] | join(",")' \
            "$d/s$n.json")
        bs_csv "$GAPS" "$kind" "$r" "$n" "$row"
        # token arrival (s since the signal, token index) of the first moved stream
        [ -f "$BS_RES/$kind.dat" ] ||
            awk -F'\t' -v t0="$t0" '/"content":"[^"]/ { k++; printf "%.3f %d\n", ($1 - t0) / 1000, k }' \
                "$d/s$n.out" >"$BS_RES/$kind.dat"
    done
    if [ ! -f "$BS_RES/undisturbed.dat" ]; then
        for n in 2 3 4 5 6; do
            [ "$(sed -n 's/^# header target-pod: //p' "$d/s$n.out" | head -n 1)" != "$victim" ] || continue
            awk -F'\t' -v t0="$t0" '/"content":"[^"]/ { k++; printf "%.3f %d\n", ($1 - t0) / 1000, k }' \
                "$d/s$n.out" >"$BS_RES/undisturbed.dat"
            break
        done
    fi
    bx_stop "$BS_GWPID" 3
    bs_stop_engines
}

for ((r = 1; r <= ROUNDS; r++)); do
    round kill "$r" 3
    round stop "$r" 3
done
round peer-kill 1 0
round peer-stop 1 0

SUM="$BS_RES/summary.csv"
python3 - "$GAPS" "$MAX" >"$SUM" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
mx = int(sys.argv[2])
print("kind,streams_moved,completed,tokens_received_of_%d,gap_p50_ms,gap_max_ms,gap_over_itl_p50" % mx)
for kind in ("kill", "stop", "peer-kill", "peer-stop"):
    rs = [r for r in rows if r["kind"] == kind]
    if not rs:
        continue
    gaps = sorted(int(r["gap_ms"]) for r in rs if int(r["gap_ms"]) >= 0)
    itl = sorted(int(r["itl_p50_ms"]) for r in rs)
    p50 = gaps[len(gaps) // 2] if gaps else -1
    i50 = itl[len(itl) // 2] if itl else 0
    got = sum(int(r["tokens"]) for r in rs)
    print("%s,%d,%d,%.1f,%s,%s,%s" % (kind, len(rs), sum(int(r["completed"]) for r in rs),
          got / len(rs), p50 if gaps else "-", gaps[-1] if gaps else "-",
          "%.0f" % (p50 / i50) if gaps and i50 else "-"))
PY
bs_table "$SUM"
awk -F, 'NR > 1 && ($1 == "kill" || $1 == "stop") && $2 != $3 { bad = 1 } END { exit bad }' "$SUM" || {
    echo "migrate: INVARIANT a moved stream did not complete with $MAX tokens and one id" >&2
    # shellcheck disable=SC2034 # read by bs_finish
    BS_FAIL=1
}
bs_plot "$BS_RES/tokens.png" "
set title 'Token arrival of a stream whose engine was killed or stopped at t = 0 (continued elsewhere)'
set xlabel 'seconds since the signal'
set ylabel 'tokens received'
plot '$BS_RES/undisturbed.dat' using 1:2 with lines lw 2 title 'undisturbed', \
     '$BS_RES/kill.dat' using 1:2 with lines lw 2 title 'engine SIGKILLed', \
     '$BS_RES/stop.dat' using 1:2 with lines lw 2 title 'engine SIGSTOPped', \
     '$BS_RES/peer-kill.dat' using 1:2 with lines lw 2 dt 2 title 'SIGKILL, --migrate-attempts 0'"
bs_publish "$SUM" "$BS_RES/tokens.png"
bs_finish
