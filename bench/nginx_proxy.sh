# Sourced by the gateway benchmarks: the nginx they compare against, a plain
# round-robin HTTP/1.1 proxy with keep-alive upstreams and no buffering.
#
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
  access_log off;
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
