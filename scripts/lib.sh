# shellcheck shell=bash
# scripts/lib.sh: the shell helpers every script of brix shares (sourced, not run): the e2e
# tests (through tests/e2e/lib.sh), the benchmark scenarios (through bench/scenarios/lib.sh),
# the benchmarks under bench/ and bench/micro/.
#
# Why here: scripts/ holds the repository's own tooling (test.sh, deps.sh); tests/ and bench/
# both use these helpers and neither owns them. What only the tests need (assertions, curl
# wrappers, the sanitizer check) stays in tests/e2e/lib.sh, what only the scenarios need
# (results folders, plots, invariants) in bench/scenarios/lib.sh.
#
# Owns: the processes a script starts. bx_spawn runs one in the background and records its
# pid in BX_PIDS; bx_stop and bx_stop_all stop them by pid (never by name), newest first;
# the caller's EXIT trap calls bx_stop_all (bx_workdir installs such a trap). Also: free
# ports, tool checks, the brix binary's path, waiting for an HTTP 200, and starting
# `brix engine`, `brix gateway` and a throwaway redis-server.
#
# Errors: a function that cannot do its job prints "$BX_NAME: what happened" on stderr and
# returns 1; the caller decides whether that ends the script. bx_need and bx_brix exit 2
# (a missing tool or binary: nothing can run).
#
#   bx_need TOOL...                    exit 2 naming the first tool not on PATH
#   bx_brix PATH                       BRIX=PATH made absolute; exit 2 if not executable
#   bx_free_port                       a TCP port of 127.0.0.1 nobody listens on
#   bx_workdir                         BX_WORK=a new temporary folder; EXIT trap: bx_cleanup
#   bx_spawn LOG CMD...                CMD in the background, output in LOG; pid in BX_LAST
#   bx_stop PID [SECS]                 SIGTERM, SIGKILL after SECS (5); forgets the pid
#   bx_reap PID [SECS]                 wait for PID without signalling it, SIGKILL after SECS
#   bx_stop_all                        SIGTERM every recorded pid, newest first, then reap each
#   bx_wait_http URL [SECS] [PID]      until URL answers 200 (20 s); 1 if PID exits first
#   bx_start_engine LOG PORT ARGS...   $BRIX engine --host 127.0.0.1 --port PORT ARGS
#   bx_start_gateway LOG PORT ARGS...  $BRIX gateway --host 127.0.0.1 --port PORT ARGS
#   bx_start_redis LOG [PORT]          a redis-server without persistence on PORT (default a
#                                      free one), waits for PING; its port in BX_REDIS_PORT,
#                                      pid in BX_LAST
# (bx_start_engine and bx_start_gateway do not wait: bx_wait_http PORT's /health or /readyz.)

BX_NAME=${BX_NAME:-$(basename "${0%.sh}")}
BX_PIDS=()
BX_LAST=''

bx_need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || {
            echo "$BX_NAME: $t is missing (bash scripts/deps.sh)" >&2
            exit 2
        }
    done
}

bx_brix() {
    BRIX=$1
    if [ -z "$BRIX" ] || [ ! -x "$BRIX" ]; then
        echo "$BX_NAME: no brix binary at '$BRIX' (build it, or pass its path)" >&2
        exit 2
    fi
    BRIX=$(cd "$(dirname "$BRIX")" && pwd)/$(basename "$BRIX")
}

# A port bound and released at once: the kernel does not hand the same ephemeral port out
# again right away.
bx_free_port() {
    if command -v python3 >/dev/null; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
    else
        node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
    fi
}

bx_spawn() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 &
    BX_LAST=$!
    BX_PIDS+=("$BX_LAST")
}

bx_stop() {
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null || true
    bx_reap "$1" "${2:-5}"
}

# bx_reap PID [SECS]: waits for PID to exit (SIGKILL after SECS) without signalling it
# first; forgets the pid. A second SIGTERM would tell brix up to exit at once and leave
# its engines behind.
bx_reap() {
    local p=$1 secs=${2:-5} i q keep=()
    [ -n "$p" ] || return 0
    if kill -0 "$p" 2>/dev/null; then
        for ((i = 0; i < secs * 20; i++)); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$p" 2>/dev/null || true
    fi
    wait "$p" 2>/dev/null || true
    for q in "${BX_PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
    BX_PIDS=("${keep[@]}")
    return 0
}

# Every recorded process gets SIGTERM first, so that they stop together, then each is
# waited for (5 s, then SIGKILL).
bx_stop_all() {
    local i all=("${BX_PIDS[@]}")
    for ((i = ${#all[@]} - 1; i >= 0; i--)); do kill -TERM "${all[$i]}" 2>/dev/null || true; done
    for ((i = ${#all[@]} - 1; i >= 0; i--)); do bx_reap "${all[$i]}" 5; done
    BX_PIDS=()
}

bx_cleanup() {
    local rc=$?
    bx_stop_all
    if [ -n "${BX_KEEP:-}" ] && [ -n "${BX_WORK:-}" ]; then
        echo "$BX_NAME: kept $BX_WORK (BX_KEEP)" >&2
    elif [ -n "${BX_WORK:-}" ]; then
        rm -rf "$BX_WORK"
    fi
    exit "$rc"
}

bx_workdir() {
    BX_WORK=$(mktemp -d "${TMPDIR:-/tmp}/brix-$BX_NAME.XXXXXX")
    trap bx_cleanup EXIT
    trap 'exit 130' INT TERM
}

# bx_cc_gateway BUILD SRC OUT: compiles SRC (a micro benchmark of the
# gateway's modules) against BUILD's libbrixgateway.a and libbrixcommon.a
# into OUT; exits 1 when a library is missing.
bx_cc_gateway() {
    local build=$1 src=$2 out=$3 lib root
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    for lib in libbrixgateway.a libbrixcommon.a; do
        [ -f "$build/$lib" ] || { echo "no $lib in $build" >&2; exit 1; }
    done
    # shellcheck disable=SC2046
    cc -std=c17 -O2 -Wall -Wextra -Werror -I"$root/src" "$src" \
        "$build/libbrixgateway.a" "$build/libbrixcommon.a" \
        $(pkg-config --libs libuv jansson yaml-0.1 libzmq msgpack libcbor libcrypto libcurl hiredis) \
        -lhttp_parser -lxxhash -lm -lpthread -o "$out"
}

bx_wait_http() {
    local url=$1 secs=${2:-20} pid=${3:-} i
    for ((i = 0; i < secs * 20; i++)); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)" = 200 ] && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            echo "$BX_NAME: process $pid exited before $url answered" >&2
            return 1
        fi
        sleep 0.05
    done
    echo "$BX_NAME: $url did not answer 200 in ${secs}s" >&2
    return 1
}

bx_start_engine() {
    local log=$1 port=$2
    shift 2
    bx_spawn "$log" "$BRIX" engine --host 127.0.0.1 --port "$port" "$@"
}

bx_start_gateway() {
    local log=$1 port=$2
    shift 2
    bx_spawn "$log" "$BRIX" gateway --host 127.0.0.1 --port "$port" "$@"
}

bx_start_redis() {
    local log=$1 i
    command -v redis-server >/dev/null || {
        echo "$BX_NAME: redis-server is missing (bash scripts/deps.sh)" >&2
        return 1
    }
    BX_REDIS_PORT=${2:-$(bx_free_port)}
    bx_spawn "$log" redis-server --port "$BX_REDIS_PORT" --bind 127.0.0.1 --save '' \
        --appendonly no --daemonize no
    for ((i = 0; i < 100; i++)); do
        redis-cli -p "$BX_REDIS_PORT" ping >/dev/null 2>&1 && return 0
        kill -0 "$BX_LAST" 2>/dev/null || break
        sleep 0.05
    done
    echo "$BX_NAME: redis-server on port $BX_REDIS_PORT did not start" >&2
    return 1
}
