#!/usr/bin/env bash
# The one command that installs, builds and runs every test of brix:
#   1. scripts/deps.sh (Debian packages, the e2e tests' npm packages)
#   2. Release build in build/ and its ctest (unit + e2e)
#   3. bench/scenarios/run_all.sh --quick and bench/reliability.sh --quick on
#      the Release build (invariants)
#   4. ThreadSanitizer build in build-tsan/: libbrixkv's threaded tests and the
#      multi-worker gateway's e2e test
#   5. ASan+UBSan build in build-asan/ and its ctest
#   6. clang libFuzzer build in build-fuzz/, each fuzz/fuzz_*.c run for a while
# Ends with a plain "N passed, N failed" line over all of it and exits non-zero
# on any failure.
#
# Environment: BRIX_JOBS (default 2) build parallelism; BRIX_CTEST_JOBS
# (default 4) tests run at once (at most one e2e test of each of its four
# groups, CMakeLists.txt: Kubernetes, heterogeneous-GPU, gateway and the
# rest; they mostly wait on simulated engines); BRIX_FUZZ_SECONDS (default
# 2) per fuzz target (46 targets; their seed corpora under fuzz/corpus); BRIX_OUT (default the repo
# root) where the build*/ folders go.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
JOBS=${BRIX_JOBS:-2}
CTEST_JOBS=${BRIX_CTEST_JOBS:-4}
FUZZ_SECONDS=${BRIX_FUZZ_SECONDS:-2}
OUT=${BRIX_OUT:-$ROOT}
mkdir -p "$OUT"

PASSED=0
FAILED=0
FAILURES=()
T0=$SECONDS

stage() { echo; echo "== $* ($((SECONDS - T0))s)"; }
failed() { FAILED=$((FAILED + 1)); FAILURES+=("$1"); }

summary() {
    echo
    if ((${#FAILURES[@]})); then
        echo "failures:"
        printf '  %s\n' "${FAILURES[@]}"
    fi
    echo "total time $((SECONDS - T0))s"
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}

# build DIR NAME CMAKE_ARGS...: configure and build, keeping going past a
# target that fails so the others still get tested. A failure counts once.
# Returns 0 when all built, 2 when some target failed, 1 when nothing can run.
build() {
    local dir=$1 name=$2 keep=-k
    shift 2
    local logf="$dir.log"
    if ! cmake -S "$ROOT" -B "$dir" "$@" >"$logf" 2>&1; then
        tail -n 30 "$logf"
        echo "$name: cmake configure failed (full log: $logf)"
        failed "$name configure"
        return 1
    fi
    grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja' "$dir/CMakeCache.txt" 2>/dev/null && keep="-k0"
    if cmake --build "$dir" -j"$JOBS" -- "$keep" >>"$logf" 2>&1; then
        return 0
    fi
    grep -E 'error:|Error [0-9]|undefined reference' "$logf" | head -n 40
    echo "$name: build failed (full log: $logf); running what did build"
    failed "$name build"
    return 2
}

# run_ctest DIR NAME [CTEST_ARGS...]: runs ctest, adds its counts.
run_ctest() {
    local dir=$1 name=$2 logf="$1/ctest.log" line total nfail
    shift 2
    (cd "$dir" && ctest --output-on-failure -j"$CTEST_JOBS" --timeout 300 "$@") 2>&1 | tee "$logf"
    line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$logf" | tail -n 1)
    if [ -z "$line" ]; then
        echo "$name: ctest printed no summary"
        failed "$name ctest (no tests ran)"
        return
    fi
    nfail=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
    if [ "$total" -eq 0 ]; then
        failed "$name ctest (no tests)"
        return
    fi
    PASSED=$((PASSED + total - nfail))
    FAILED=$((FAILED + nfail))
    while read -r t; do FAILURES+=("$name: $t"); done < <(sed -n '/The following tests FAILED:/,$p' "$logf" | grep -E '^\s+[0-9]+ - ' | sed -E 's/^\s+[0-9]+ - //')
}

stage "dependencies"
if ! bash "$ROOT/scripts/deps.sh"; then
    failed "scripts/deps.sh"
    summary
    exit 1
fi

# Sanitizer runtime settings for every process the tests start.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

stage "Release build ($OUT/build)"
build "$OUT/build" release -DCMAKE_BUILD_TYPE=Release -DBRIX_SANITIZE=OFF -DBRIX_FUZZ=OFF -DBRIX_TESTS=ON
[ $? -eq 1 ] || { stage "Release ctest"; run_ctest "$OUT/build" release; }

stage "benchmark scenarios, --quick (invariants only)"
if [ -x "$OUT/build/brix" ] && bash "$ROOT/bench/scenarios/run_all.sh" --quick "$OUT/build/brix"; then
    PASSED=$((PASSED + 1))
else
    failed "bench/scenarios/run_all.sh --quick"
fi

stage "bench/reliability.sh --quick (hostile clients: deadlines, caps, budget, hung engine)"
if [ -x "$OUT/build/brix" ] && bash "$ROOT/bench/reliability.sh" --quick "$OUT/build/brix"; then
    PASSED=$((PASSED + 1))
else
    failed "bench/reliability.sh --quick"
fi

# ThreadSanitizer: libbrixkv's threaded tests and the gateway's workers
# (test_gateway.sh runs three event loops on threads).
stage "TSan build ($OUT/build-tsan, clang)"
TSAN_TARGETS=(brix test_brixkv test_brixkv_l2 test_kv_l1 test_kv_l2_redis test_gw_embed)
if cmake -S "$ROOT" -B "$OUT/build-tsan" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBRIX_TSAN=ON -DBRIX_TESTS=ON >"$OUT/build-tsan.log" 2>&1 &&
    cmake --build "$OUT/build-tsan" -j"$JOBS" --target "${TSAN_TARGETS[@]}" >>"$OUT/build-tsan.log" 2>&1; then
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
    for t in "${TSAN_TARGETS[@]:1}"; do
        if "$OUT/build-tsan/$t" >"$OUT/build-tsan/$t.log" 2>&1; then
            PASSED=$((PASSED + 1))
        else
            tail -n 40 "$OUT/build-tsan/$t.log"
            failed "tsan $t"
        fi
    done
    if bash "$ROOT/tests/e2e/test_gateway.sh" "$OUT/build-tsan/brix" >"$OUT/build-tsan/e2e_gateway.log" 2>&1; then
        PASSED=$((PASSED + 1))
    else
        tail -n 40 "$OUT/build-tsan/e2e_gateway.log"
        failed "tsan e2e test_gateway"
    fi
else
    tail -n 30 "$OUT/build-tsan.log"
    failed "tsan build"
fi

# Under the sanitizers, all but the e2e tests whose time goes to waiting on
# something other than brix (Prometheus' scrapes, a schedule's wall-clock
# minute, a Python check of the docs) and the RayCluster tests whose code paths
# test_up_fleet and test_engine_group already run under them (the runner, the
# fleet controllers, the engine group; the fake KubeRay is Python), and the
# heterogeneous-GPU tests whose brix code the shorter ones already run under
# them (test_up_gpuopt, test_gateway_slo, test_gateway_loadmon, test_k8s_gpuopt
# and the unit tests: the three types' load shift, the profile sweep and the
# Redis reader's waits are wall-clock bound); the Release ctest runs them all.
ASAN_SKIP='^e2e_test_(gateway_prometheus|up_schedule|docs_aibrix|up_raycluster|k8s_raycluster|k8s_fleet|up_hetero|bench_profile|up_gpuopt_redis|k8s_gpuopt_redis)$'
stage "ASan+UBSan build ($OUT/build-asan)"
build "$OUT/build-asan" asan -DCMAKE_BUILD_TYPE=Debug -DBRIX_SANITIZE=ON -DBRIX_FUZZ=OFF -DBRIX_TESTS=ON
[ $? -eq 1 ] || { stage "ASan+UBSan ctest"; run_ctest "$OUT/build-asan" asan -E "$ASAN_SKIP"; }

stage "fuzz build ($OUT/build-fuzz, clang)"
shopt -s nullglob
fuzzers=("$ROOT"/fuzz/fuzz_*.c)
if ((${#fuzzers[@]} == 0)); then
    echo "no fuzz targets"
else
    build "$OUT/build-fuzz" fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DBRIX_FUZZ=ON -DBRIX_TESTS=OFF -DBRIX_SANITIZE=OFF
    for src in "${fuzzers[@]}"; do
        name=$(basename "$src" .c)
        bin="$OUT/build-fuzz/$name"
        corpus="$OUT/build-fuzz/corpus/$name"
        art="$OUT/build-fuzz/artifacts/$name"
        mkdir -p "$corpus" "$art"
        seeds=()
        [ -d "$ROOT/fuzz/corpus/$name" ] && seeds+=("$ROOT/fuzz/corpus/$name")
        stage "fuzz $name (${FUZZ_SECONDS}s)"
        if [ ! -x "$bin" ]; then
            echo "$name: no binary $bin"
            failed "fuzz $name (not built)"
            continue
        fi
        if "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$art/" "$corpus" "${seeds[@]}" >"$art/fuzz.log" 2>&1; then
            grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$art/fuzz.log" | tr '\n' ' '
            echo "corpus $(find "$corpus" -type f | wc -l) files: ok"
            PASSED=$((PASSED + 1))
        else
            grep -E -A 40 'ERROR: |==[0-9]+==|runtime error|deadly signal|timeout' "$art/fuzz.log" | head -n 60
            echo "$name: crash, artifacts in $art (log $art/fuzz.log)"
            failed "fuzz $name"
        fi
    done
fi

summary
