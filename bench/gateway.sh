#!/usr/bin/env bash
# brix gateway against nginx as a plain round-robin proxy and against calling
# the backend directly: same backend (two `brix engine` processes at time
# scale 1000, so a 16-token completion costs microseconds of simulated GPU),
# same wrk load, same machine. Prints requests/s and p50/p99 latency of each,
# the latency each proxy adds over direct, and the ratios brix/nginx.
#
#   bash bench/gateway.sh [path/to/brix] [seconds] [connections] [strategy]
#
# Environment (for a machine with spare cores; unset = share all cores):
#   WORKERS=N        event loops of each proxy: brix --workers N, nginx
#                    worker_processes N (default 1)
#   ACCEPT=MODE      brix --accept shared|reuseport with WORKERS > 1 (default shared)
#   BUSY_POLL_US=N   brix --busy-poll-us N (default 0: off; nginx has no such mode)
#   ENGINES=N        backend engines (default 2)
#   WRK_THREADS=N    wrk threads (default 1)
#   LAT_CONNS=N      connections of the light-load latency runs (default 1:
#                    no queueing, so the difference is the proxy's own cost)
#   RUNS=N           measure the loaded pair N times, nginx and brix in turn
#                    (the order alternates), and print the median ratios too
#                    (default 1; on a shared or small machine one run is noise)
#   CPUS_ENGINES, CPUS_PROXY, CPUS_WRK   taskset CPU lists, e.g. 0-3
#   TIME_SCALE=N     the engines' --time-scale (default 1000: a 16-token answer costs
#                    microseconds, so on shared cores the engines spin; 100 lets them sleep)
#   GW_FLAGS="..."   more brix gateway flags
#   NGINX_LB=least_conn  nginx's balancing (default round-robin); least_conn is
#                    nginx's least-request, to compare brix's least-request like with like
#   ACCESS_LOG=DIR   both proxies write an access log there (default: both off)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../scripts/lib.sh
source "$HERE/../scripts/lib.sh"
# shellcheck source=nginx_peer.sh
source "$HERE/nginx_peer.sh"
BRIX=${1:-build/brix}
SECS=${2:-5}
CONNS=${3:-32}
STRATEGY=${4:-least-request}
bx_need wrk nginx curl python3
bx_workdir
work=$BX_WORK
WORKERS=${WORKERS:-1}
RUNS=${RUNS:-1}
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a positive number"; exit 2; }
ENGINES=${ENGINES:-2}
WRK_THREADS=${WRK_THREADS:-1}
pin() { # pin CPULIST cmd...: exec cmd, under taskset when a list is given
    local cpus=$1
    shift
    if [ -n "$cpus" ]; then exec taskset -c "$cpus" "$@"; else exec "$@"; fi
}
EPORTS=()
for _ in $(seq "$ENGINES"); do EPORTS+=("$(bx_free_port)"); done
E1=${EPORTS[0]}
GP=$(bx_free_port)
NP=$(bx_free_port)

backs=()
ups=""
[ -n "${NGINX_LB:-}" ] && ups="$NGINX_LB;" # e.g. least_conn: nginx balances as least-request does
for p in "${EPORTS[@]}"; do
    bx_spawn "$work/engine-$p.log" pin "${CPUS_ENGINES:-}" "$BRIX" engine --host 127.0.0.1 \
        --port "$p" --model m --time-scale "${TIME_SCALE:-1000}" --log-level warn
    backs+=(--backend "http://127.0.0.1:$p")
    ups="$ups server 127.0.0.1:$p;"
done
for p in "${EPORTS[@]}"; do bx_wait_http "http://127.0.0.1:$p/health" 10 || true; done
wflag=()
[ "$WORKERS" -gt 1 ] && wflag=(--workers "$WORKERS" --accept "${ACCEPT:-shared}")
[ "${BUSY_POLL_US:-0}" -gt 0 ] && wflag+=(--busy-poll-us "$BUSY_POLL_US")
peer_access_logs "$BRIX" # sets alog=(...) and nginx's NGX_ACCESS_LOG
# shellcheck disable=SC2086 # GW_FLAGS: one word per flag
bx_spawn "$work/gateway.log" pin "${CPUS_PROXY:-}" "$BRIX" gateway --host 127.0.0.1 \
    --port "$GP" "${backs[@]}" "${wflag[@]}" --strategy "$STRATEGY" --log-level warn "${alog[@]}" \
    ${GW_FLAGS:-}
GW_PID=$BX_LAST
nginx_proxy_conf "$work" "$WORKERS" "$NP" "$ups"
bx_spawn "$work/nginx.out" pin "${CPUS_PROXY:-}" nginx -c "$work/nginx.conf" -p "$work"
NGX_PID=$BX_LAST
bx_wait_http "http://127.0.0.1:$GP/readyz" 10 || true
sleep 1 # let the gateway's first scrape land
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"m","prompt":"the cat sat on the mat and then the dog ran","max_tokens":16,"ignore_eos":true}'
wrk.headers["Content-Type"] = "application/json"
LUA
run() { # run URL [connections] [threads] -> "rps p50_us p99_us non2xx"
    local c=${2:-$CONNS} t=${3:-$WRK_THREADS}
    (pin "${CPUS_WRK:-}" wrk -t"$t" -c"$c" -d"${SECS}s" --latency -s "$work/post.lua" "$1") >"$work/out" 2>&1
    awk '
      function us(v) { if (v ~ /us$/) return v+0; if (v ~ /ms$/) return v*1000; if (v ~ /s$/) return v*1e6; return v }
      /Requests\/sec/ {rps=$2}
      /^ +50%/ {p50=us($2)}
      /^ +99%/ {p99=us($2)}
      /Non-2xx/ {bad=$NF}
      / requests in / {n=$1}
      END {printf "%s %s %s %s %s\n", rps, p50, p99, bad+0, n+0}' "$work/out"
}
# CPU time (clock ticks, all threads) of a process and its children: the
# proxy's own cost per request, independent of who else shares the cores.
ticks() {
    local t=0 p
    for p in "$@" $(pgrep -P "$1" 2>/dev/null); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
HZ=$(getconf CLK_TCK)
read -r d_rps d_p50 d_p99 d_bad _ < <(run "http://127.0.0.1:$E1/v1/completions")
measure_nginx() {
    local t0
    t0=$(ticks "$NGX_PID")
    read -r n_rps n_p50 n_p99 n_bad n_n < <(run "http://127.0.0.1:$NP/v1/completions")
    n_cpu=$(($(ticks "$NGX_PID") - t0))
}
measure_brix() {
    local t0
    t0=$(ticks "$GW_PID")
    read -r g_rps g_p50 g_p99 g_bad g_n < <(run "http://127.0.0.1:$GP/v1/completions")
    g_cpu=$(($(ticks "$GW_PID") - t0))
}
rps_ratios=()
cpu_ratios=()
for i in $(seq "$RUNS"); do
    if [ $((i % 2)) = 1 ]; then
        measure_nginx
        measure_brix
    else
        measure_brix
        measure_nginx
    fi
    [ "$RUNS" -gt 1 ] && echo "run $i of $RUNS:"
    printf '%-22s %12s %10s %10s %8s\n' "target" "requests/s" "p50 us" "p99 us" "non-2xx"
    printf '%-22s %12s %10s %10s %8s\n' "direct (one engine)" "$d_rps" "$d_p50" "$d_p99" "$d_bad"
    printf '%-22s %12s %10s %10s %8s\n' "nginx ${NGINX_LB:-round-robin}" "$n_rps" "$n_p50" "$n_p99" "$n_bad"
    printf '%-22s %12s %10s %10s %8s\n' "brix gateway ($STRATEGY)" "$g_rps" "$g_p50" "$g_p99" "$g_bad"
    awk -v gr="$g_rps" -v nr="$n_rps" -v g50="$g_p50" -v n50="$n_p50" -v d50="$d_p50" \
        -v g99="$g_p99" -v n99="$n_p99" -v d99="$d_p99" 'BEGIN {
        printf "added latency over direct: brix p50 %+.0f us, p99 %+.0f us; nginx p50 %+.0f us, p99 %+.0f us\n", g50-d50, g99-d99, n50-d50, n99-d99
        printf "ratio brix/nginx requests/s: %.2f\n", gr/nr }'
    awk -v gc="$g_cpu" -v gn="$g_n" -v nc="$n_cpu" -v nn="$n_n" -v hz="$HZ" 'BEGIN {
        g = gc * 1e6 / hz / gn; n = nc * 1e6 / hz / nn
        printf "proxy CPU per request: brix %.1f us, nginx %.1f us (ratio nginx/brix %.2f: > 1 means brix does the same work with less CPU)\n", g, n, n / g }'
    rps_ratios+=("$(awk -v gr="$g_rps" -v nr="$n_rps" 'BEGIN { printf "%.3f", gr / nr }')")
    cpu_ratios+=("$(awk -v gc="$g_cpu" -v gn="$g_n" -v nc="$n_cpu" -v nn="$n_n" \
        'BEGIN { printf "%.3f", (nc / nn) / (gc / gn) }')")
done
median() { printf '%s\n' "$@" | LC_ALL=C sort -g | awk '{ v[NR] = $1 } END {
    printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
diff_us() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", a - b }'; }
if [ "$RUNS" -gt 1 ]; then
    echo "over $RUNS runs: brix/nginx requests/s median $(median "${rps_ratios[@]}") (${rps_ratios[*]});" \
        "proxy CPU per request nginx/brix median $(median "${cpu_ratios[@]}") (${cpu_ratios[*]})"
fi
# Light load: the latency a proxy adds when nothing queues (RUNS times:
# direct, nginx, brix in each run; each proxy against that run's direct).
LAT_CONNS=${LAT_CONNS:-1}
add_g50=()
add_g99=()
add_n50=()
add_n99=()
for i in $(seq "$RUNS"); do
    read -r ld_rps ld_p50 ld_p99 _ < <(run "http://127.0.0.1:$E1/v1/completions" "$LAT_CONNS" 1)
    read -r ln_rps ln_p50 ln_p99 _ < <(run "http://127.0.0.1:$NP/v1/completions" "$LAT_CONNS" 1)
    read -r lg_rps lg_p50 lg_p99 _ < <(run "http://127.0.0.1:$GP/v1/completions" "$LAT_CONNS" 1)
    if [ "$RUNS" -gt 1 ]; then
        echo "light load ($LAT_CONNS connection(s)), run $i of $RUNS:"
    else
        echo "light load ($LAT_CONNS connection(s)):"
    fi
    printf '%-22s %12s %10s %10s\n' "target" "requests/s" "p50 us" "p99 us"
    printf '%-22s %12s %10s %10s\n' "direct (one engine)" "$ld_rps" "$ld_p50" "$ld_p99"
    printf '%-22s %12s %10s %10s\n' "nginx ${NGINX_LB:-round-robin}" "$ln_rps" "$ln_p50" "$ln_p99"
    printf '%-22s %12s %10s %10s\n' "brix gateway" "$lg_rps" "$lg_p50" "$lg_p99"
    awk -v g50="$lg_p50" -v n50="$ln_p50" -v d50="$ld_p50" -v g99="$lg_p99" -v n99="$ln_p99" \
        -v d99="$ld_p99" 'BEGIN {
        printf "added latency at light load: brix p50 %+.0f us, p99 %+.0f us; nginx p50 %+.0f us, p99 %+.0f us\n", g50-d50, g99-d99, n50-d50, n99-d99 }'
    add_g50+=("$(diff_us "$lg_p50" "$ld_p50")")
    add_g99+=("$(diff_us "$lg_p99" "$ld_p99")")
    add_n50+=("$(diff_us "$ln_p50" "$ld_p50")")
    add_n99+=("$(diff_us "$ln_p99" "$ld_p99")")
done
if [ "$RUNS" -gt 1 ]; then
    echo "over $RUNS runs, added at light load (median): brix p50 $(median "${add_g50[@]}") us" \
        "(${add_g50[*]}), p99 $(median "${add_g99[@]}") us (${add_g99[*]});" \
        "nginx p50 $(median "${add_n50[@]}") us (${add_n50[*]}), p99 $(median "${add_n99[@]}") us (${add_n99[*]})"
fi
