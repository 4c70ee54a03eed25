# Counting, not timing: the work one server does per request, the same on a
# busy machine as on a quiet one. Sourced by gateway_instructions.sh and
# engine_instructions.sh after scripts/lib.sh (bx_workdir set BX_WORK).
#
# The caller defines:
#   wait_up URL          returns once URL answers 200 (exits otherwise)
#   wrk_run SECONDS URL  runs wrk against URL for that long, printing wrk's report
# and sets SECS (the measured run's length).
#
#   count_instr NAME URL CMD...     user-space instructions per request:
#       CMD runs under callgrind with instrumentation off, is warmed up for
#       2 s, then counted only while wrk runs, divided by the requests wrk
#       completed.
#   count_syscalls NAME URL CMD...  system calls per request: strace -c -f
#       attached over the same kind of run.

count_wrk_n() { # URL -> requests wrk completed
    wrk_run "$SECS" "$1" | awk '/ requests in /{print $1}'
}

count_instr() { # NAME URL CMD...
    local name=$1 url=$2
    shift 2
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$BX_WORK/cg.$name" "$@" \
        >/dev/null 2>&1 &
    local pid=$!
    BX_PIDS+=("$pid")
    wait_up "$url"
    wrk_run 2 "$url" >/dev/null # warm-up: pools, first scrapes
    callgrind_control -i on "$pid" >/dev/null 2>&1
    local n
    n=$(count_wrk_n "$url")
    callgrind_control -i off "$pid" >/dev/null 2>&1
    kill -INT "$pid" 2>/dev/null || true
    sleep 1
    kill -QUIT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local total
    total=$(callgrind_annotate "$BX_WORK/cg.$name" 2>/dev/null |
        awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')
    echo $((total / n))
}

count_syscalls() { # NAME URL CMD...
    local name=$1 url=$2
    shift 2
    "$@" >/dev/null 2>&1 &
    local pid=$!
    BX_PIDS+=("$pid")
    wait_up "$url"
    wrk_run 1 "$url" >/dev/null
    strace -c -f -p "$pid" -o "$BX_WORK/st.$name" 2>/dev/null &
    local sp=$!
    sleep 0.5
    local n
    n=$(count_wrk_n "$url")
    sleep 0.2
    kill -INT "$sp"
    wait "$sp" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    # the total line: % time, seconds, usecs/call, calls, [errors], "total"
    awk -v n="$n" '/ total$/{printf "%.2f\n", $4 / n}' "$BX_WORK/st.$name"
}
