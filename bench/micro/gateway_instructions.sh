#!/usr/bin/env bash
# The proxy's own work per request, counted rather than timed, so that it
# means the same on a busy two-core machine as on a quiet server: brix
# gateway against nginx as a plain round-robin proxy, same backend (two
# `brix engine` at time scale 1000), same wrk load.
#   - user-space instructions per request: callgrind, counted only while
#     wrk runs (after a warm-up), divided by the requests wrk completed;
#   - system calls per request: strace -c over the same kind of run.
# Prints both for each proxy and the ratios nginx/brix (> 1: brix does less).
#
#   bash bench/micro/gateway_instructions.sh [path/to/brix] [seconds]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../scripts/lib.sh
source "$HERE/../../scripts/lib.sh"
# shellcheck source=../nginx_peer.sh
source "$HERE/../nginx_peer.sh"
# shellcheck source=counting.sh
source "$HERE/counting.sh"
BRIX=$(realpath "${1:-build/brix}")
SECS=${2:-6}
bx_need wrk nginx curl valgrind callgrind_control callgrind_annotate strace python3
bx_workdir
work=$BX_WORK
E1=$(bx_free_port)
E2=$(bx_free_port)
GP=$(bx_free_port)
NP=$(bx_free_port)
for p in "$E1" "$E2"; do
    bx_start_engine "$work/engine-$p.log" "$p" --model m --time-scale 1000 --log-level warn
done
for p in "$E1" "$E2"; do bx_wait_http "http://127.0.0.1:$p/health" 10 || true; done
peer_access_logs "$BRIX" # sets alog=(...) and nginx's NGX_ACCESS_LOG
nginx_proxy_conf "$work" 1 "$NP" "server 127.0.0.1:$E1; server 127.0.0.1:$E2;" "master_process off;"
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"m","prompt":"the cat sat on the mat and then the dog ran","max_tokens":16,"ignore_eos":true}'
wrk.headers["Content-Type"] = "application/json"
LUA
brix_cmd=("$BRIX" gateway --host 127.0.0.1 --port "$GP" --backend "http://127.0.0.1:$E1"
    --backend "http://127.0.0.1:$E2" --strategy least-request --log-level warn "${alog[@]}")
nginx_cmd=(nginx -c "$work/nginx.conf" -p "$work")
wrk_run() { # SECONDS URL
    wrk -t1 -c8 -d"$1s" -s "$work/post.lua" "$2"
}
wait_up() { # URL
    for _ in $(seq 200); do
        curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
            -d '{"model":"m","prompt":"x","max_tokens":1}' -w '%{http_code}' "$1" | grep -q 200 && return 0
        sleep 0.1
    done
    echo "no answer from $1" >&2
    exit 1
}
bi=$(count_instr brix "http://127.0.0.1:$GP/v1/completions" "${brix_cmd[@]}")
ni=$(count_instr nginx "http://127.0.0.1:$NP/v1/completions" "${nginx_cmd[@]}")
bs=$(count_syscalls brix "http://127.0.0.1:$GP/v1/completions" "${brix_cmd[@]}")
ns=$(count_syscalls nginx "http://127.0.0.1:$NP/v1/completions" "${nginx_cmd[@]}")
printf '%-20s %28s %22s\n' "proxy" "user instructions/request" "syscalls/request"
printf '%-20s %28s %22s\n' "brix gateway" "$bi" "$bs"
printf '%-20s %28s %22s\n' "nginx round-robin" "$ni" "$ns"
awk -v bi="$bi" -v ni="$ni" -v bs="$bs" -v ns="$ns" 'BEGIN {
    printf "ratio nginx/brix: instructions %.2f, syscalls %.2f (> 1: brix does less per request)\n", ni / bi, ns / bs }'
