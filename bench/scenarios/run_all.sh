#!/usr/bin/env bash
# Runs every benchmark scenario one after another and prints one verdict line each.
#
#   bash bench/scenarios/run_all.sh [--quick] [--publish] [path/to/brix]
#
# --quick: the CI smoke run (about three minutes on a 2-core machine, hetero about 45 s of it):
# every scenario small (migrate and kvrouting skipped: their paths are e2e tests'), its
# invariants checked (all requests answered, no errors, non-empty answers, plots produced),
# never its timings. Without --quick: the full runs (about 55 minutes in all, hetero about 20,
# kvrouting 13, pd 10, migrate 4), whose figures docs/benchmarks.md quotes; --publish copies
# their CSVs and plots into docs/results/.
# Each scenario's output goes to bench/scenarios/results/<scenario>/<stamp>/ and its log to
# that folder's parent as run_all.log. Exits 1 when any scenario failed.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
flags=()
BRIX=''
for a in "$@"; do
    case $a in
    --quick | --publish) flags+=("$a") ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "run_all: unknown flag $a" >&2; exit 2 ;;
    *) BRIX=$a ;;
    esac
done
BRIX=${BRIX:-$HERE/../../build/brix}
[ -x "$BRIX" ] || { echo "run_all: no brix binary at $BRIX" >&2; exit 2; }
fail=0
t_all=$SECONDS
quick=0
for f in "${flags[@]}"; do [ "$f" = --quick ] && quick=1; done
for s in routing fairness autoscaling kvoffload lora gateway multinode hetero pd migrate kvrouting; do
    t0=$SECONDS
    # their --quick runs take 1-2 min and their paths are the e2e tests'
    # (test_gateway_migrate, test_gateway_kvevents): CI runs them there
    if ((quick)) && [[ $s == migrate || $s == kvrouting ]]; then
        printf 'run_all: %-12s skipped with --quick (run it alone: bash %s --quick)\n' "$s" "bench/scenarios/$s.sh"
        continue
    fi
    mkdir -p "$HERE/results/$s"
    if bash "$HERE/$s.sh" "$BRIX" "${flags[@]}" >"$HERE/results/$s/run_all.log" 2>&1; then
        printf 'run_all: %-12s ok     %4ds\n' "$s" $((SECONDS - t0))
    else
        printf 'run_all: %-12s FAILED %4ds (see %s)\n' "$s" $((SECONDS - t0)) "$HERE/results/$s/run_all.log"
        grep -h 'INVARIANT\|failed\|FAILED' "$HERE/results/$s/run_all.log" | head -n 5 | sed 's/^/    /'
        fail=1
    fi
done
printf 'run_all: %ds in all\n' $((SECONDS - t_all))
exit "$fail"
