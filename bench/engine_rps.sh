#!/usr/bin/env bash
# How many requests per second one `brix engine` process sustains, against
# nginx serving a same-sized completion body as a static file (the peer: a
# plain HTTP server doing no work). Both are driven by wrk on loopback with the
# same connections and duration; the script prints both rates and the ratio.
#
#   bash bench/engine_rps.sh [path/to/brix] [seconds] [connections]
set -euo pipefail
BRIX=${1:-build/brix}
SECS=${2:-5}
CONNS=${3:-64}
# shellcheck source=../scripts/lib.sh
source "$(dirname "$0")/../scripts/lib.sh"
# shellcheck source=nginx_peer.sh
source "$(dirname "$0")/nginx_peer.sh"
bx_need wrk nginx curl python3
bx_workdir
work=$BX_WORK
EP=$(bx_free_port)
NP=$(bx_free_port)

# 1. the engine, with simulated time 1000x faster than wall time so the GPU
#    model costs nothing and the HTTP + scheduling path is what is measured
bx_start_engine "$work/engine.log" "$EP" --time-scale 1000 --log-level warn
bx_wait_http "http://127.0.0.1:$EP/health" 10
body='{"model":"brix-sim-llama3-8b","prompt":"the cat sat on the mat and then the dog ran","max_tokens":16,"ignore_eos":true}'
curl -sf "http://127.0.0.1:$EP/v1/completions" -d "$body" > "$work/answer.json"
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA

# 2. nginx answering the same bytes from a file
nginx_static_conf "$work" "$NP"
cp "$work/answer.json" "$work/www/index.json"
bx_spawn "$work/nginx.out" nginx -c "$work/nginx.conf" -p "$work"
bx_wait_http "http://127.0.0.1:$NP/" 5 || true

rate() { wrk -t1 -c"$CONNS" -d"${SECS}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
eng=$(rate -s "$work/post.lua" "http://127.0.0.1:$EP/v1/completions")
ngx=$(rate "http://127.0.0.1:$NP/")
echo "brix engine: $eng requests/s (16 generated tokens each, one worker thread)"
echo "nginx static: $ngx requests/s (same body, one worker process)"
awk -v a="$eng" -v b="$ngx" 'BEGIN { printf "ratio engine/nginx: %.2f\n", a / b }'
