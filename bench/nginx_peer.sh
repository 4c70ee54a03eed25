# shellcheck shell=bash
# bench/nginx_peer.sh: the nginx that the gateway and engine benchmarks (bench/gateway.sh,
# bench/micro/*_instructions.sh, bench/engine_rps.sh) compare brix against (sourced, not run).
# Processes, ports and the scratch folder come from scripts/lib.sh.
#   peer_access_logs BRIX   sets alog=(brix gateway flags) and NGX_ACCESS_LOG: both
#                           proxies' access logs off, or with ACCESS_LOG=DIR both on
#   nginx_proxy_conf ...    the nginx peer's configuration (below)
#   nginx_static_conf ...   nginx serving one file, the engine benchmarks' peer (below)

# Access logs: both proxies off (ACCESS_LOG unset) or both writing one
# (ACCESS_LOG=DIR: brix to DIR/brix.log, nginx to DIR/nginx.log); the flag
# only for a brix that has --access-log (an older build, for "before" runs).
peer_access_logs() {
    alog=()
    grep -q -- '--access-log ' <<<"$("$1" gateway --help 2>&1 || true)" || return 0
    if [ -n "${ACCESS_LOG:-}" ]; then
        alog=(--access-log "$ACCESS_LOG/brix.log")
        export NGX_ACCESS_LOG="$ACCESS_LOG/nginx.log"
    else
        alog=(--access-log off)
    fi
}

# The nginx the gateway benchmarks compare against: a plain round-robin
# HTTP/1.1 proxy with keep-alive upstreams and no buffering. Its access log is
# off unless NGX_ACCESS_LOG names a file (the gateway benchmarks set it from
# ACCESS_LOG, so both proxies log or neither does).
#   nginx_proxy_conf DIR WORKERS PORT "server h:p; server h:p;" [MAIN_DIRECTIVES]
# writes DIR/nginx.conf (pid and logs under DIR too); run it with
# `nginx -c DIR/nginx.conf -p DIR`.
nginx_proxy_conf() {
    local dir=$1 workers=$2 port=$3 ups=$4 extra=${5:-}
    mkdir -p "$dir/logs"
    cat >"$dir/nginx.conf" <<NGX
worker_processes $workers;
$extra
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 4096; }
http {
  access_log ${NGX_ACCESS_LOG:-off};
  upstream engines {$ups keepalive 128; }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://engines;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGX
}

# The nginx the engine benchmarks (bench/engine_rps.sh,
# bench/micro/engine_instructions.sh) compare against: one worker answering
# every GET with the file DIR/www/index.json (the engine's own answer, put
# there by the caller), no access log.
#   nginx_static_conf DIR PORT [MAIN_DIRECTIVES]
# writes DIR/nginx.conf; run it with `nginx -c DIR/nginx.conf -p DIR`.
nginx_static_conf() {
    local dir=$1 port=$2 extra=${3:-}
    mkdir -p "$dir/logs" "$dir/www"
    cat >"$dir/nginx.conf" <<NGX
worker_processes 1;
$extra
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$port;
    location / { root $dir/www; default_type application/json; try_files /index.json =404; }
  }
}
NGX
}
