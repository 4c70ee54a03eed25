#!/usr/bin/env bash
# The gateway's front door under hostile clients: real `brix gateway` and `brix engine`
# processes, attacked by bench/reliability_clients.py (raw sockets) while wrk plays the
# legitimate clients. Prints one figure line per case:
#
#   slow headers   connections that trickle a request head, held vs closed by the deadline
#   body trickle   peak RSS of the gateway while connections announce big bodies and send half
#   flood          requests/s of legitimate keep-alive clients alone and during a connection flood
#   hung engine    seconds from SIGSTOP of an engine until each stream on it got its error
#
#   bash bench/reliability.sh [--quick] [path/to/brix]
#
# --quick: small, with short deadlines (about a minute on a 2-core machine); checks invariants
# (every slow connection closed, RSS within the body budget plus a fixed overhead, no
# legitimate request failed, every stream on the hung engine ended with an error), never the
# timings; exits 1 when one fails. Without --quick: the sizes of issue 13's findings (500 slow
# connections, 200 bodies of 8 MB, a flood past the connection cap, 8 streams) with the
# gateway's default deadlines; figures only. Flags the binary lacks (an older brix) are left
# out and their case prints what happened anyway, so a run against an old build gives the
# "before" figures.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../scripts/lib.sh
source "$HERE/../scripts/lib.sh"
QUICK=0
BRIX=''
for a in "$@"; do
    case $a in
    --quick) QUICK=1 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "reliability: unknown flag $a" >&2; exit 2 ;;
    *) BRIX=$a ;;
    esac
done
BRIX=${BRIX:-build/brix}
bx_need wrk curl python3
bx_workdir
work=$BX_WORK
CL="python3 $HERE/reliability_clients.py"
FAIL=0
invariant() { # invariant COND_TEXT RESULT(0 ok)
    if [ "$2" != 0 ]; then
        echo "INVARIANT reliability: $1"
        FAIL=1
    fi
}
GW_HELP=$("$BRIX" gateway --help 2>&1 || true)
has_flag() { grep -q -- "^ *$1 " <<<"$GW_HELP"; }
flag() { # flag NAME VALUE: prints "NAME VALUE" when the binary knows NAME
    if has_flag "$1"; then echo "$1 $2"; else echo "reliability: this brix has no $1" >&2; fi
}
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
kb() { awk '/^'"$2"':/ {print $2}' "/proc/$1/status"; }

if [ "$QUICK" = 1 ]; then
    SH_N=50 SH_GAP=0.5 SH_SECS=6 HEAD_MS=1000
    SB_N=40 SB_DECL=4000000 SB_SEND=2000000 SB_HOLD=4 BUDGET=$((32 << 20)) BODY_MS=2000
    FL_N=300 FL_SECS=3 CAP=100 WRK_C=8
    ST_N=4 ST_TOKENS=4000 ST_TIMEOUT=40
else
    SH_N=500 SH_GAP=2 SH_SECS=30 HEAD_MS=''
    SB_N=200 SB_DECL=8000000 SB_SEND=4000000 SB_HOLD=15 BUDGET='' BODY_MS=''
    FL_N=3000 FL_SECS=10 CAP=1000 WRK_C=32
    ST_N=8 ST_TOKENS=20000 ST_TIMEOUT=120
fi

start_engine() { # start_engine PORT ARGS...: sets E_PID
    bx_start_engine "$work/engine-$1.log" "$1" --model m --log-level warn "${@:2}"
    E_PID=$BX_LAST
    bx_wait_http "http://127.0.0.1:$1/health" 10 "$E_PID" || true
}
start_gateway() { # start_gateway PORT ARGS...: sets GW_PID
    bx_start_gateway "$work/gateway-$1.log" "$1" --log-level warn "${@:2}"
    GW_PID=$BX_LAST
    bx_wait_http "http://127.0.0.1:$1/readyz" 10 "$GW_PID" || exit 1
}

E1=$(bx_free_port)
E2=$(bx_free_port)
start_engine "$E1" --time-scale 1000
start_engine "$E2" --time-scale 1000
GP=$(bx_free_port)
# shellcheck disable=SC2207
GW_FLAGS=($(flag --max-connections "$CAP"))
[ -n "$HEAD_MS" ] && GW_FLAGS+=($(flag --header-timeout-ms "$HEAD_MS"))
[ -n "$BODY_MS" ] && GW_FLAGS+=($(flag --body-timeout-ms "$BODY_MS"))
[ -n "$BUDGET" ] && GW_FLAGS+=($(flag --max-body-buffer-bytes "$BUDGET"))
start_gateway "$GP" --backend "127.0.0.1:$E1" --backend "127.0.0.1:$E2" "${GW_FLAGS[@]}"
echo "gateway flags: ${GW_FLAGS[*]:-(none of the reliability flags)}"

# ---- slow headers ----
r=$($CL slowheader 127.0.0.1 "$GP" "$SH_N" "$SH_GAP" "$SH_SECS")
echo "slow headers: $SH_N connections, 1 byte every ${SH_GAP}s for ${SH_SECS}s: held $(field held "$r")," \
    "closed by the gateway $(field closed "$r") (answered 408: $(field got408 "$r")), refused $(field refused "$r")"
[ "$QUICK" = 1 ] && invariant "slow-header connections still held: $r" "$([ "$(field held "$r")" = 0 ] && echo 0 || echo 1)"

# ---- body trickle ----
# the peak from here on: 5 > clear_refs resets VmHWM to the RSS now (Linux >= 4.0)
echo 5 >"/proc/$GW_PID/clear_refs" 2>/dev/null || echo "reliability: VmHWM not reset (peak since start)" >&2
rss0=$(kb "$GW_PID" VmRSS)
r=$($CL slowbody 127.0.0.1 "$GP" "$SB_N" "$SB_DECL" "$SB_SEND" "$SB_HOLD")
hwm1=$(kb "$GW_PID" VmHWM)
peak_mb=$(((hwm1 - rss0) / 1024))
echo "body trickle: $SB_N connections announcing $SB_DECL bytes, sending $SB_SEND: peak RSS $((hwm1 / 1024)) MiB" \
    "(+$peak_mb MiB over the $((rss0 / 1024)) MiB before; budget ${BUDGET:-default}); $r"
if [ "$QUICK" = 1 ]; then
    invariant "peak RSS grew $peak_mb MiB, over the $((BUDGET >> 20)) MiB budget + 64 MiB" \
        "$([ "$peak_mb" -le $(((BUDGET >> 20) + 64)) ] && echo 0 || echo 1)"
    invariant "no body was refused with 503 ($r)" "$([ "$(field got503 "$r")" -gt 0 ] && echo 0 || echo 1)"
fi

# ---- connection flood ----
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"m","prompt":"the cat sat on the mat","max_tokens":16,"ignore_eos":true}'
wrk.headers["Content-Type"] = "application/json"
LUA
wrk_run() { # wrk_run SECS -> "rps non2xx errors"
    wrk -t1 -c"$WRK_C" -d"${1}s" -s "$work/post.lua" "http://127.0.0.1:$GP/v1/completions" >"$work/wrk.out" 2>&1
    awk '/Requests\/sec/ {rps=$2} /Non-2xx/ {bad=$NF} /Socket errors/ {e=$4+$6+$8+$10}
         END {printf "%s %d %d\n", rps, bad+0, e+0}' "$work/wrk.out"
}
read -r base_rps base_bad base_err < <(wrk_run "$FL_SECS")
(sleep 1 && $CL flood 127.0.0.1 "$GP" "$FL_N" "$FL_SECS" >"$work/flood.out") &
fl_pid=$!
read -r fl_rps fl_bad fl_err < <(wrk_run $((FL_SECS + 1)))
wait "$fl_pid" || true
r=$(cat "$work/flood.out")
echo "flood: $WRK_C legitimate keep-alive clients: $base_rps requests/s alone, $fl_rps during a flood of" \
    "$FL_N idle connections (ratio $(awk -v a="$fl_rps" -v b="$base_rps" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'))," \
    "non-2xx $fl_bad, socket errors $fl_err; flood: $r"
if [ "$QUICK" = 1 ]; then
    invariant "legitimate requests failed during the flood (non-2xx $fl_bad, errors $fl_err)" \
        "$([ "$fl_bad" = 0 ] && [ "$fl_err" = 0 ] && echo 0 || echo 1)"
    invariant "no legitimate request answered during the flood" \
        "$(awk -v a="$fl_rps" 'BEGIN {print (a > 0) ? 0 : 1}')"
    invariant "the cap closed no flood connection ($r)" \
        "$([ "$(field closed_at_once "$r")" -gt 0 ] && echo 0 || echo 1)"
fi
curl -s "http://127.0.0.1:$GP/metrics" | grep -E '^brix_gateway_(connections|request_timeouts|body_budget)' |
    sed 's/^/  metric: /' || true

# ---- hung engine ----
E3=$(bx_free_port)
start_engine "$E3" --max-model-len 100000
E3_PID=$E_PID
GP2=$(bx_free_port)
start_gateway "$GP2" --backend "127.0.0.1:$E3"
mark="$work/stopped"
$CL streams 127.0.0.1 "$GP2" "$ST_N" m "$ST_TOKENS" "$mark" "$ST_TIMEOUT" >"$work/streams.out" &
st_pid=$!
sleep 2
kill -STOP "$E3_PID"
date +%s.%N >"$mark"
wait "$st_pid" || true
kill -CONT "$E3_PID" 2>/dev/null || true
r=$(cat "$work/streams.out")
echo "hung engine: $ST_N streams on an engine stopped with SIGSTOP: error after median $(field median_s "$r") s," \
    "max $(field max_s "$r") s (client gave up after ${ST_TIMEOUT}s); $r"
if [ "$QUICK" = 1 ]; then
    invariant "a stream on the hung engine did not end with an error ($r)" \
        "$([ "$(field ended_with_error "$r")" = "$ST_N" ] && echo 0 || echo 1)"
fi
[ "$QUICK" = 1 ] && { [ "$FAIL" = 0 ] && echo "reliability --quick: ok" || echo "reliability --quick: FAILED"; }
exit "$FAIL"
