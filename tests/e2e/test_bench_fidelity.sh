#!/usr/bin/env bash
# bench/fidelity --quick (issue 20): the fidelity benchmark runs end to end (engines started
# with each case's profile and scheduler flags, brix bench run, the table printed with a row
# per published figure) and exits 0. Its ratios are not checked: a shortened run faster than
# real time says nothing of them.
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

out=$E2E_TMP/fidelity.out
timeout 120 bash "$(dirname "$0")/../../bench/fidelity/run.sh" --quick --json "$E2E_TMP/f.json" \
    "$BRIX" >"$out" 2>"$E2E_TMP/fidelity.log" ||
    fail "run.sh --quick exited $?: $(tail -5 "$out") $(tail -5 "$E2E_TMP/fidelity.log")"
grep -q '^| case | GPU | figure | published | brix | ratio |' "$out" || fail "no table header"
grep -q 'did not run' "$out" && fail "a case did not run: $(grep 'did not run' "$out")"
# one row per figure of the quick cases, each with a positive brix value
want=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["cases"]
print(sum(len(x["figures"]) for x in c if "quick" in x))' "$(dirname "$0")/../../bench/fidelity/cases.json")
check "$E2E_TMP/f.json" "(.rows | length) == $want and all(.rows[]; .brix > 0 and .ratio > 0)" \
    "fidelity rows"
grep -q 'sharegpt320-h100-v0 .*TPOT median' "$out" || fail "no vllm-v0 replay row"
echo "ok: bench/fidelity --quick ($want figures)"
