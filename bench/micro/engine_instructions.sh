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
mkdir -p "$work/www" "$work/logs"
cat >"$work/nginx.conf" <<NGX
worker_processes 1;
master_process off;
daemon off;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NP;
    location / { root $work/www; default_type application/json; try_files /index.json =404; }
  }
}
NGX
nginx_cmd=(nginx -c "$work/nginx.conf" -p "$work")

# The engine is POSTed the completion request; nginx is asked with GET for
# the file that holds the engine's answer (a static file takes no POST).
req_args() { # URL -> wrk/curl arguments for it
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
wrk_n() { # URL -> completed requests
    wrk_run "$SECS" "$1" | awk '/ requests in /{print $1}'
}
instr() { # name url cmd... -> instructions per request
    local name=$1 url=$2
    shift 2
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/cg.$name" "$@" \
        >/dev/null 2>&1 &
    local pid=$!
    BX_PIDS+=("$pid")
    wait_up "$url"
    wrk_run 2 "$url" >/dev/null # warm-up
    callgrind_control -i on "$pid" >/dev/null 2>&1
    local n
    n=$(wrk_n "$url")
    callgrind_control -i off "$pid" >/dev/null 2>&1
    kill -INT "$pid" 2>/dev/null || true
    sleep 1
    kill -QUIT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local total
    total=$(callgrind_annotate "$work/cg.$name" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')
    echo $((total / n))
}
sys() { # name url cmd... -> system calls per request
    local name=$1 url=$2
    shift 2
    "$@" >/dev/null 2>&1 &
    local pid=$!
    BX_PIDS+=("$pid")
    wait_up "$url"
    wrk_run 1 "$url" >/dev/null
    strace -c -f -p "$pid" -o "$work/st.$name" 2>/dev/null &
    local sp=$!
    sleep 0.5
    local n
    n=$(wrk_n "$url")
    sleep 0.2
    kill -INT "$sp"
    wait "$sp" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    awk -v n="$n" '/ total$/{printf "%.2f\n", $4 / n}' "$work/st.$name"
}
ei=$(instr engine "http://127.0.0.1:$EP/v1/completions" "${engine_cmd[@]}")
ni=$(instr nginx "http://127.0.0.1:$NP/" "${nginx_cmd[@]}")
es=$(sys engine "http://127.0.0.1:$EP/v1/completions" "${engine_cmd[@]}")
ns=$(sys nginx "http://127.0.0.1:$NP/" "${nginx_cmd[@]}")
printf '%-28s %28s %22s\n' "server" "user instructions/request" "syscalls/request"
printf '%-28s %28s %22s\n' "brix engine (16 tokens)" "$ei" "$es"
printf '%-28s %28s %22s\n' "nginx static (same body)" "$ni" "$ns"
awk -v ei="$ei" -v ni="$ni" -v es="$es" -v ns="$ns" 'BEGIN {
    printf "ratio nginx/engine: instructions %.2f, syscalls %.2f\n", ni / ei, ns / es }'
