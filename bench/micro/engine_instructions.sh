#!/usr/bin/env bash
# The engine simulator's own work per request, counted rather than timed, so
# that it means the same on a busy two-core machine as on a quiet server: one
# `brix engine` (time scale 1000: the simulated GPU costs nothing, the HTTP,
# JSON and scheduling path is what is counted) against nginx answering the
# same completion body from a file, same wrk load.
#   - user-space instructions per request: callgrind, counted only while wrk
#     runs (after a warm-up), divided by the requests wrk completed;
#   - system calls per request: strace -c over the same kind of run.
# Prints both for each and the ratios nginx/engine (the engine does far more
# than a static file, so the ratio is a reference point, not a goal: compare
# the engine's own numbers between two builds, as bench/engine_rps.sh does
# for requests/s).
#
#   bash bench/micro/engine_instructions.sh [path/to/brix] [seconds]
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
bx_need wrk nginx curl valgrind callgrind_control callgrind_annotate strace
bx_workdir
work=$BX_WORK
EP=$(bx_free_port)
NP=$(bx_free_port)
body='{"model":"m","prompt":"the cat sat on the mat and then the dog ran","max_tokens":16,"ignore_eos":true}'
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA
engine_cmd=("$BRIX" engine --host 127.0.0.1 --port "$EP" --model m --time-scale 1000
    --log-level warn --seed 1)
nginx_static_conf "$work" "$NP" "master_process off;"
nginx_cmd=(nginx -c "$work/nginx.conf" -p "$work")

# The engine is POSTed the completion request; nginx is asked with GET for
# the file that holds the engine's answer (a static file takes no POST).
req_args() { # URL -> post (the engine) or get (the file)
    case $1 in */v1/completions) echo post ;; *) echo get ;; esac
}
wait_up() { # URL
    for _ in $(seq 300); do
        if [ "$(req_args "$1")" = post ]; then
            curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d "$body" \
                -w '%{http_code}' "$1"
        else
            curl -s -o /dev/null -w '%{http_code}' "$1"
        fi | grep -q 200 && return 0
        sleep 0.1
    done
    echo "no answer from $1" >&2
    exit 1
}
# nginx serves the engine's own answer: take one from a plain engine run.
"${engine_cmd[@]}" >/dev/null 2>&1 &
pid=$!
wait_up "http://127.0.0.1:$EP/v1/completions"
curl -sf -H 'Content-Type: application/json' -d "$body" \
    "http://127.0.0.1:$EP/v1/completions" >"$work/www/index.json"
kill "$pid"
wait "$pid" 2>/dev/null || true

wrk_run() { # SECONDS URL
    if [ "$(req_args "$2")" = post ]; then
        wrk -t1 -c8 -d"$1s" -s "$work/post.lua" "$2"
    else
        wrk -t1 -c8 -d"$1s" "$2"
    fi
}
ei=$(count_instr engine "http://127.0.0.1:$EP/v1/completions" "${engine_cmd[@]}")
ni=$(count_instr nginx "http://127.0.0.1:$NP/" "${nginx_cmd[@]}")
es=$(count_syscalls engine "http://127.0.0.1:$EP/v1/completions" "${engine_cmd[@]}")
ns=$(count_syscalls nginx "http://127.0.0.1:$NP/" "${nginx_cmd[@]}")
printf '%-28s %28s %22s\n' "server" "user instructions/request" "syscalls/request"
printf '%-28s %28s %22s\n' "brix engine (16 tokens)" "$ei" "$es"
printf '%-28s %28s %22s\n' "nginx static (same body)" "$ni" "$ns"
awk -v ei="$ei" -v ni="$ni" -v es="$es" -v ns="$ns" 'BEGIN {
    printf "ratio nginx/engine: instructions %.2f, syscalls %.2f\n", ni / ei, ns / es }'
