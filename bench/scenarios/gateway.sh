#!/usr/bin/env bash
# Gateway overhead: brix gateway against nginx (plain round-robin proxy) against calling an
# engine directly. Runs bench/gateway.sh (wrk, two `brix engine` at time scale 1000, 16-token
# completions) and records its table.
#
#   bash bench/scenarios/gateway.sh [path/to/brix] [--quick] [--out DIR] [--publish]
#
# Prints and writes (results/gateway/<stamp>/): gateway.txt (bench/gateway.sh's output as is),
# summary.csv (target, requests/s, p50 and p99 in microseconds, non-2xx) and throughput.png.
# wrk gives no per-request records, so this scenario has no JSONL. Environment: SECS (default 5),
# CONNS (default 32), and bench/gateway.sh's own (WORKERS, ENGINES, CPUS_*).
# --quick: 1 s per target, 8 connections; checks that every target answered and none with a
# non-2xx status, never the rates. --publish copies to docs/results/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bs_init gateway "$@"

for t in wrk nginx; do
    command -v "$t" >/dev/null || { echo "gateway: $t is missing (bash scripts/deps.sh)" >&2; exit 2; }
done
if [ "$BS_QUICK" = 1 ]; then SECS=1 CONNS=8; else SECS=${SECS:-5} CONNS=${CONNS:-32}; fi
echo "wrk ${SECS}s per target, $CONNS connections, 16-token completions, two brix engines at time scale 1000" \
    >"$BS_RES/settings.txt"
bash "$BS_ROOT/bench/gateway.sh" "$BRIX" "$SECS" "$CONNS" least-request >"$BS_RES/gateway.txt" 2>&1 || {
    echo "gateway: bench/gateway.sh failed:" >&2
    tail -n 5 "$BS_RES/gateway.txt" >&2
    BS_FAIL=1
}
CSV="$BS_RES/summary.csv"
echo "target,requests_per_s,p50_us,p99_us,non_2xx" >"$CSV"
# Rows of the main table (with a non-2xx column); bench/gateway.sh may add a light-load table
# after a "light load" line (no non-2xx column): its rows are recorded as light-<target>.
awk '/^light load/ { pre = "light-" }
     /^direct \(one engine\)|^nginx round-robin|^brix gateway/ {
        t = ($1 == "direct") ? "direct" : ($1 == "nginx") ? "nginx" : "brix"
        if (pre == "") print t "," $(NF-3) "," $(NF-2) "," $(NF-1) "," $NF
        else print pre t "," $(NF-2) "," $(NF-1) "," $NF ",n/a" }' \
    "$BS_RES/gateway.txt" >>"$CSV"
cat "$BS_RES/gateway.txt"
echo
bs_table "$CSV"
# Invariants: three targets measured, each answered something, none with a non-2xx status.
python3 - "$CSV" <<'PY' || BS_FAIL=1
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
bad = []
main = [r for r in rows if not r["target"].startswith("light-")]
if len(main) != 3:
    bad.append("%d targets measured, 3 expected" % len(main))
for r in rows:
    try:
        if float(r["requests_per_s"]) <= 0:
            bad.append("%s answered nothing" % r["target"])
        if r["non_2xx"] != "n/a" and int(float(r["non_2xx"])) != 0:
            bad.append("%s: %s non-2xx answers" % (r["target"], r["non_2xx"]))
    except ValueError:
        bad.append("%s: unreadable row %s" % (r["target"], r))
for b in bad:
    print("INVARIANT gateway: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
sed 1d "$CSV" | grep -v '^light-' | tr , ' ' >"$BS_RES/summary.dat"
bs_plot "$BS_RES/throughput.png" "
set title 'gateway overhead: wrk ${SECS}s, $CONNS connections, 16-token completions'
set style data histograms
set style fill solid 0.6 border -1
set boxwidth 0.8
set ylabel 'requests/s'
set y2label 'latency (us)'
set y2tics
set ytics nomirror
set yrange [0:*]
set y2range [0:*]
set key left top inside
plot '$BS_RES/summary.dat' using 2:xtic(1) title 'requests/s' axes x1y1, \
     '' using 3 title 'p50 (us)' axes x1y2, '' using 4 title 'p99 (us)' axes x1y2"
bs_publish "$CSV" "$BS_RES/gateway.txt" "$BS_RES/throughput.png"
bs_finish
