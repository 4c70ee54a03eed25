#!/usr/bin/env bash
# bench/fidelity/run.sh: replays published real-vLLM runs on `brix engine` and prints, for
# every published figure, brix's value and the ratio (docs/engine.md, "Fidelity").
#
#   bench/fidelity/run.sh [--quick] [--only ID[,ID]] [--json OUT] [BRIX]
#
# BRIX defaults to build/brix. The cases, their sources and the figures are in
# bench/fidelity/cases.json, per-request lengths in sharegpt320_lengths.json; the driver is
# fidelity.py (it starts and stops its engines by pid). --quick runs two shortened cases
# faster than real time: CI checks that the benchmark runs, not its ratios. Exit 1 when a
# case could not run, whatever the ratios; 2 on bad usage or a missing tool.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/lib.sh"
bx_need python3
args=()
brix=$here/../../build/brix
while [ $# -gt 0 ]; do
    case $1 in
    --quick) args+=("$1") ;;
    --only | --json)
        [ $# -ge 2 ] || { echo "$BX_NAME: $1 needs a value" >&2; exit 2; }
        args+=("$1" "$2")
        shift
        ;;
    -h | --help)
        sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*) echo "$BX_NAME: unknown option $1" >&2; exit 2 ;;
    *) brix=$1 ;;
    esac
    shift
done
bx_brix "$brix"
exec python3 "$here/fidelity.py" "$BRIX" "${args[@]}"
