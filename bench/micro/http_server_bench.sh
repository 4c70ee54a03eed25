#!/usr/bin/env bash
# Compares a trivial bx_http responder ("hello world", keep-alive) with nginx
# serving the same answer, using wrk. Needs wrk and nginx on PATH and a built
# brixcommon library (a Release build gives meaningful numbers):
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel --target brixcommon
#   bench/micro/http_server_bench.sh build-rel [seconds] [connections]
set -euo pipefail

BUILD=${1:-build}
SECS=${2:-5}
CONNS=${3:-64}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LIB="$ROOT/$BUILD/libbrixcommon.a"
[ -f "$LIB" ] || LIB="$BUILD/libbrixcommon.a"
[ -f "$LIB" ] || { echo "no libbrixcommon.a in $BUILD" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk not found" >&2; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx not found" >&2; exit 1; }

# shellcheck source=../../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
bx_workdir
TMP=$BX_WORK
BRIX_PORT=$(bx_free_port)
NG_PORT=$(bx_free_port)

cat > "$TMP/responder.c" <<'C'
#include "common/bx_http.h"
#include <stdio.h>
#include <stdlib.h>
static void handler(bx_http_req *req, bx_http_res *res, void *ud)
{
    bx_http_res_send(res, 200, "text/plain", "hello world", 11);
}
int main(int argc, char **argv)
{
    uv_loop_t *loop = uv_default_loop();
    bx_http_server *srv;
    if (bx_http_server_init(&srv, loop, NULL, handler, NULL) != 0) return 1;
    int port = bx_http_server_listen(srv, "127.0.0.1", atoi(argv[1]), 1);
    if (port < 0) return 1;
    return uv_run(loop, UV_RUN_DEFAULT);
}
C
cc -O2 -I"$ROOT/src" "$TMP/responder.c" "$LIB" -luv -lhttp_parser -o "$TMP/responder"

cat > "$TMP/nginx.conf" <<NG
worker_processes 1;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP;
    proxy_temp_path $TMP;
    fastcgi_temp_path $TMP;
    uwsgi_temp_path $TMP;
    scgi_temp_path $TMP;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NG_PORT;
        location / { default_type text/plain; return 200 "hello world"; }
    }
}
NG

bx_spawn "$TMP/responder.log" "$TMP/responder" "$BRIX_PORT"
bx_spawn "$TMP/nginx.log" "$NGINX" -c "$TMP/nginx.conf" -p "$TMP"
bx_wait_http "http://127.0.0.1:$BRIX_PORT/" 5
bx_wait_http "http://127.0.0.1:$NG_PORT/" 5

for target in "brix:$BRIX_PORT" "nginx:$NG_PORT"; do
    name=${target%%:*}
    port=${target##*:}
    rps=$(wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$port/" | awk '/Requests\/sec/ {print $2}')
    printf '%-6s %s req/s (1 worker, %s connections, %ss)\n' "$name" "$rps" "$CONNS" "$SECS"
done
