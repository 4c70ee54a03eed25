#!/usr/bin/env bash
# AIBrix's Grafana dashboards on brix (issue 16, metrics): a real Prometheus
# (Debian's) scrapes a running gateway and two engines while curl sends
# traffic (streamed and whole answers, a client that leaves, 400s and a
# 404); then every PromQL expression of AIBrix's two dashboards about the
# gateway and the engines is evaluated through Prometheus's HTTP API
# (/api/v1/query), each must return data.
#
# The expressions below were written down from reading AIBrix's
# observability/grafana/AIBrix_Envoy_Gateway_Plugins_Dashboard.json ("AIBrix
# gateway") and AIBrix_vLLM_Engine_Dashboard.json ("AIBrix Engine Dashboard
# (vLLM)"), with the Grafana variables filled in: $model_name = the served
# model, ${job} = the engines' scrape job, $__range = 5m, $__rate_interval =
# 1m. Lines are "want|expression": want "data" must return a sample with a
# number; "none: REASON" names an expression brix cannot serve and why
# (evaluated too: it must be valid PromQL and, so the list stays true, still
# return nothing). Panels whose target has no expression (OpenTSDB leftovers
# in the gateway dashboard) are not listed.
#
# Then every expression of brix's own dashboards (deploy/grafana/*.json)
# must return data too.
#
# Also: the status label is the status sent. A client that leaves counts
# 499 (it was 502), a bad body 400, an unknown model 404, and no series says
# 502.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
bx_need prometheus

read -r -d '' EXPRS <<'EOF'
data|sum by (model, code) (rate(gateway_request_total[5m]))
data|rate(num_requests_running[5m])
data|rate(num_requests_waiting[5m])
none: pods named sglang-* under Kubernetes service discovery|up{pod=~"sglang-.*"}
none: P/D disaggregation (brix has none)|pd_queue_exceeds_threshold
none: an SGLang engine metric|rate(sglang:prompt_tokens_total[5m])
data|rate(gateway_completion_token_bucket_total[1m])
none: P/D disaggregation|pd_selected_prefill_pod_total
none: P/D disaggregation|pd_selected_decode_pod_total
data|gateway_routing_time_bucket_total
none: P/D disaggregation (AIBrix counts it for pd only)|rate(gateway_prefill_time_bucket_total[5m])
none: P/D disaggregation (AIBrix counts it for pd only)|rate(gateway_decode_time_bucket_total[5m])
none: an SGLang engine metric|sglang:kv_transfer_latency_ms
data|time_to_first_token_seconds_p99
data|time_to_first_token_seconds_p90
data|time_to_first_token_seconds_p50
data|time_per_output_token_seconds_p99
data|time_per_output_token_seconds_p90
data|time_per_output_token_seconds_p50
data|gateway_total_time_bucket_total
data|e2e_request_latency_seconds_p99
data|e2e_request_latency_seconds_p90
data|e2e_request_latency_seconds_p50
none: prefill pods of P/D under Kubernetes service discovery|sum(up{pod=~".*prefill.*"})
none: decode pods of P/D under Kubernetes service discovery|sum(up{pod=~".*decode.*"})
data|request_inference_time_seconds_p50
data|request_inference_time_seconds_p90
data|request_inference_time_seconds_p99
none: an SGLang engine metric|histogram_quantile(0.50, sum(rate(sglang:queue_time_seconds_bucket[5m])) by (le, model_name))
none: an SGLang engine metric|histogram_quantile(0.90, sum(rate(sglang:queue_time_seconds_bucket[5m])) by (le, model_name))
none: an SGLang engine metric|histogram_quantile(0.99, sum(rate(sglang:queue_time_seconds_bucket[5m])) by (le, model_name))
none: vLLM's HTTP-server histogram (prometheus-fastapi-instrumentator); brix engine does not export it|http_request_duration_seconds_p50
none: vLLM's HTTP-server histogram; brix engine does not export it|http_request_duration_seconds_p90
none: vLLM's HTTP-server histogram; brix engine does not export it|http_request_duration_seconds_p99
none: vLLM's HTTP-server histogram; brix engine does not export it|http_request_duration_highr_seconds_p50
none: vLLM's HTTP-server histogram; brix engine does not export it|http_request_duration_highr_seconds_p90
none: vLLM's HTTP-server histogram; brix engine does not export it|http_request_duration_highr_seconds_p99
data|request_prefill_time_seconds_p50
data|request_prefill_time_seconds_p90
data|request_prefill_time_seconds_p99
data|rate(gateway_prompt_token_bucket_total[5m])
data|avg_generation_throughput_toks_per_s
data|iteration_tokens_total_p50
data|iteration_tokens_total_p90
data|iteration_tokens_total_p99
data|kv_cache_usage_perc
none: the dashboard's typo (a metric named kv exists nowhere)|kv
none: cAdvisor and kube-state-metrics (the cluster's, not AIBrix's)|sum by (pod) (rate(container_cpu_usage_seconds_total{pod=~".*aibrix.*", container!="", container!="POD"}[5m])) / sum by (pod) (kube_pod_container_resource_limits{pod=~".*aibrix.*", resource="cpu", unit="core"})
none: cAdvisor and kube-state-metrics|sum by (pod) (container_memory_working_set_bytes{pod=~".*aibrix.*", container!="", container!="POD"}) / sum by (pod) (kube_pod_container_resource_limits{pod=~".*aibrix.*", resource="memory", unit="byte"})
none: cAdvisor|sum by (pod) (container_memory_working_set_bytes{pod=~".*aibrix.*", container!="", container!="POD"})
none: cAdvisor|sum by (pod) (rate(container_network_receive_bytes_total{pod=~".*aibrix.*"}[5m]))
none: cAdvisor|sum by (pod) (rate(container_network_transmit_bytes_total{pod=~".*aibrix.*"}[5m]))
data|sum(increase(vllm:request_success_total{finished_reason="stop", model_name="$model_name", job="${job}"}[$__range]))
data|sum by(finished_reason) (increase(vllm:request_success_total{model_name="$model_name"}[$__range]))
data|sum by(le) (increase(vllm:request_prompt_tokens_bucket{model_name="$model_name", job="${job}"}[$__rate_interval]))
data|sum by(le) (increase(vllm:request_generation_tokens_bucket{model_name="$model_name", job="${job}"}[$__rate_interval]))
data|histogram_quantile(0.99, sum by(le) (rate(vllm:request_prompt_tokens_bucket{model_name="$model_name", job="${job}"}[$__rate_interval])))
data|histogram_quantile(0.9, sum by(le) (rate(vllm:request_prompt_tokens_bucket{model_name="$model_name", job="${job}"}[$__rate_interval])))
data|histogram_quantile(0.5, sum by(le) (rate(vllm:request_prompt_tokens_bucket{model_name="$model_name", job="${job}"}[$__rate_interval])))
data|histogram_quantile(0.99, sum by(le) (rate(vllm:request_generation_tokens_bucket{model_name="$model_name", job="${job}"}[$__rate_interval])))
data|histogram_quantile(0.90, sum by(le) (rate(vllm:request_generation_tokens_bucket{model_name="$model_name", job="${job}"}[$__rate_interval])))
data|histogram_quantile(0.50, sum by(le) (rate(vllm:request_generation_tokens_bucket{model_name="$model_name", job="${job}"}[$__rate_interval])))
data|histogram_quantile(0.99, sum by(le) (rate(vllm:e2e_request_latency_seconds_bucket{model_name="$model_name", job="${job}"}[$__rate_interval])))
data|histogram_quantile(0.95, sum by(le) (rate(vllm:e2e_request_latency_seconds_bucket{model_name="$model_name",job="${job}"}[$__rate_interval])))
data|histogram_quantile(0.9, sum by(le) (rate(vllm:e2e_request_latency_seconds_bucket{model_name="$model_name",job="${job}"}[$__rate_interval])))
data|histogram_quantile(0.5, sum by(le) (rate(vllm:e2e_request_latency_seconds_bucket{model_name="$model_name",job="${job}"}[$__rate_interval])))
data|avg(rate(vllm:e2e_request_latency_seconds_sum{model_name="$model_name", job="${job}"}[$__rate_interval]) / rate(vllm:e2e_request_latency_seconds_count{model_name="$model_name", job="${job}"}[$__rate_interval]))
data|histogram_quantile(0.99, sum by(le) (rate(vllm:time_to_first_token_seconds_bucket{model_name="$model_name", job="${job}"}[$__rate_interval])))
data|histogram_quantile(0.95, sum by(le) (rate(vllm:time_to_first_token_seconds_bucket{model_name="$model_name", job="${job}"}[$__rate_interval])))
data|histogram_quantile(0.9, sum by(le) (rate(vllm:time_to_first_token_seconds_bucket{model_name="$model_name", job="${job}"}[$__rate_interval])))
data|histogram_quantile(0.5, sum by(le) (rate(vllm:time_to_first_token_seconds_bucket{model_name="$model_name", job="${job}"}[$__rate_interval])))
data|avg(rate(vllm:time_to_first_token_seconds_sum{model_name="$model_name",job="${job}"}[$__rate_interval]) / rate(vllm:time_to_first_token_seconds_count{model_name="$model_name",job="${job}"}[$__rate_interval]))
data|rate(vllm:time_to_first_token_seconds_sum{model_name="$model_name",job="${job}"}[$__rate_interval]) / rate(vllm:time_to_first_token_seconds_count{model_name="$model_name",job="${job}"}[$__rate_interval])
data|histogram_quantile(0.99, sum by(le) (rate(vllm:time_per_output_token_seconds_bucket{model_name="$model_name",job="${job}"}[$__rate_interval])))
data|histogram_quantile(0.95, sum by(le) (rate(vllm:time_per_output_token_seconds_bucket{model_name="$model_name",job="${job}"}[$__rate_interval])))
data|histogram_quantile(0.9, sum by(le) (rate(vllm:time_per_output_token_seconds_bucket{model_name="$model_name",job="${job}"}[$__rate_interval])))
data|histogram_quantile(0.5, sum by(le) (rate(vllm:time_per_output_token_seconds_bucket{model_name="$model_name",job="${job}"}[$__rate_interval])))
data|avg(rate(vllm:time_per_output_token_seconds_sum{model_name="$model_name",job="${job}"}[$__rate_interval]) / rate(vllm:time_per_output_token_seconds_count{model_name="$model_name",job="${job}"}[$__rate_interval]))
data|rate(vllm:time_per_output_token_seconds_sum{model_name="$model_name",job="${job}"}[$__rate_interval]) / rate(vllm:time_per_output_token_seconds_count{model_name="$model_name",job="${job}"}[$__rate_interval])
data|sum(rate(vllm:prompt_tokens_total{model_name="$model_name",job="${job}"}[$__rate_interval]))
data|sum(rate(vllm:generation_tokens_total{model_name="$model_name",job="${job}"}[$__rate_interval]))
data|sum(vllm:num_requests_running{model_name="$model_name",job="${job}"})
data|sum(vllm:num_requests_swapped{model_name="$model_name",job="${job}"})
data|sum(vllm:num_requests_waiting{model_name="$model_name"})
none: vLLM V0 gauge, gone from vLLM V1 (brix's engine follows V1)|avg(vllm:gpu_prefix_cache_hit_rate{model_name="$model_name",job="${job}"})
none: vLLM V0 gauge, gone from vLLM V1|avg(vllm:cpu_prefix_cache_hit_rate{model_name="$model_name",job="${job}"})
data|avg(vllm:kv_cache_usage_perc{model_name="$model_name",job="${job}"})
none: vLLM V0 gauge, gone from vLLM V1|avg(vllm:cpu_cache_usage_perc{model_name="$model_name",job="${job}"})
data|sum by(finished_reason) (increase(vllm:request_success_total{model_name="$model_name",job="${job}"}[$__rate_interval]))
EOF

MODEL=m
JOB=brix-engines

start_engine e1 --model "$MODEL" --time-scale 20 --jitter 0
E1=$ENGINE_PORT
wait_health "$E1"
start_engine e2 --model "$MODEL" --time-scale 20 --jitter 0
E2=$ENGINE_PORT
wait_health "$E2"
GP=$(free_port) || fail "no free port"
"$BRIX" gateway --host 127.0.0.1 --port "$GP" --backend "http://127.0.0.1:$E1" \
    --backend "http://127.0.0.1:$E2" --models-interval-ms 200 --scrape-interval-ms 250 \
    >"$E2E_TMP/gw.log" 2>&1 &
E2E_PIDS+=("$!")
E2E_LOGS+=("$E2E_TMP/gw.log")
BASE="http://127.0.0.1:$GP"
wait_ready "$BASE/readyz" "$!"

PP=$(free_port) || fail "no free port"
cat >"$E2E_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: brix-gateway
    static_configs:
      - targets: ["127.0.0.1:$GP"]
  - job_name: $JOB
    static_configs:
      - targets: ["127.0.0.1:$E1", "127.0.0.1:$E2"]
EOF
prometheus --config.file="$E2E_TMP/prometheus.yml" --storage.tsdb.path="$E2E_TMP/tsdb" \
    --web.listen-address="127.0.0.1:$PP" >"$E2E_TMP/prometheus.log" 2>&1 &
E2E_PIDS+=("$!")
E2E_LOGS+=("$E2E_TMP/prometheus.log")
PROM="http://127.0.0.1:$PP"
wait_ready "$PROM/-/ready" "$!"

# promql EXPR: runs the instant query (JSON in $E2E_TMP/q.json) and sets
# NDATA to how many samples it returned whose value is a number; fails when
# Prometheus rejects the expression
promql() {
    curl -sS --max-time 10 -G --data-urlencode "query=$1" "$PROM/api/v1/query" \
        >"$E2E_TMP/q.json" 2>"$E2E_TMP/curl.err" || fail "query failed: $1"
    NDATA=$(jq -r 'if .status == "success" then
        [.data.result[] | .value[1] | select(. != "NaN")] | length else "error" end' \
        "$E2E_TMP/q.json")
    [ "$NDATA" != error ] || fail "Prometheus rejects '$1': $(head -c 300 "$E2E_TMP/q.json")"
}
has_data() { [ "$NDATA" -gt 0 ]; }

# ---- traffic, spread over several scrapes (rates need two samples with
# traffic between them)
chat='{"model":"m","messages":[{"role":"user","content":"tell me a story"}]'
prompt=$(words 300)
traffic() {
    local i
    for ((i = 0; i < 15; i++)); do
        curl -s -o /dev/null -H 'Content-Type: application/json' \
            -d "$chat,\"max_tokens\":24,\"stream\":true,\"stream_options\":{\"include_usage\":true}}" \
            "$BASE/v1/chat/completions"
        curl -s -o /dev/null -H 'Content-Type: application/json' \
            -d "{\"model\":\"m\",\"prompt\":\"$prompt\",\"max_tokens\":8}" "$BASE/v1/completions"
        sleep 0.1
    done
}
# every target scraped once before the traffic, so that each series has a
# sample from before it (a rate needs an increase between two samples; on a
# loaded machine the first scrape of an engine can come after the traffic)
for ((i = 0; i < 100; i++)); do
    promql 'up == 1'
    [ "$NDATA" -ge 3 ] && break
    sleep 0.2
done
[ "$NDATA" -ge 3 ] || fail "Prometheus has not scraped all 3 targets"
log "traffic for a few seconds while Prometheus scrapes every second"
traffic &
T1=$!
traffic &
T2=$!
# a client that leaves mid-answer, a bad body, an unknown model
timeout 1 curl -s -o /dev/null -H 'Content-Type: application/json' \
    -d "$chat,\"max_tokens\":4000,\"stream\":true}" "$BASE/v1/chat/completions"
code=$(req POST /v1/completions '{bad json')
expect_status "$code" 400 "bad body"
code=$(req POST /v1/completions '{"model":"nope","prompt":"hi"}')
expect_status "$code" 404 "unknown model"
wait "$T1" "$T2"
curl -s "$BASE/metrics" >"$E2E_TMP/gw.metrics"
check_exposition "$E2E_TMP/gw.metrics"
grep -q 'status="499"' "$E2E_TMP/gw.metrics" || fail "the client that left is not counted 499"

# until Prometheus has scraped the gateway after the traffic, then one
# more scrape interval so every target has a sample after it
want=$(metric_in gateway_request_total <"$E2E_TMP/gw.metrics")
for ((i = 0; i < 50; i++)); do
    promql 'sum(gateway_request_total)'
    got=$(jq -r '.data.result[0].value[1] // 0' "$E2E_TMP/q.json")
    num_cmp "$got" ">=" "$want" && break
    sleep 0.2
done
num_cmp "$got" ">=" "$want" || fail "Prometheus has gateway_request_total $got, want $want"
# and the engines after the traffic: their request counts as the engines say
want=0
for ep in "$E1" "$E2"; do
    n=$(curl -s "http://127.0.0.1:$ep/metrics" | metric_in vllm:e2e_request_latency_seconds_count)
    want=$(awk -v a="$want" -v b="${n:-0}" 'BEGIN { print a + b }')
done
for ((i = 0; i < 50; i++)); do
    promql "sum(vllm:e2e_request_latency_seconds_count{job=\"$JOB\"})"
    got=$(jq -r '.data.result[0].value[1] // 0' "$E2E_TMP/q.json")
    num_cmp "$got" ">=" "$want" && break
    sleep 0.2
done
num_cmp "$got" ">=" "$want" || fail "Prometheus has the engines' request count $got, want $want"
sleep 1.5
log "Prometheus has the traffic"

# ---- the dashboards' variables
promql 'count by (model_name) (vllm:generation_tokens_total)' # label_values(..., model_name)
check "$E2E_TMP/q.json" "[.data.result[].metric.model_name] == [\"$MODEL\"]" "\$model_name values"
promql 'count by (job) (vllm:generation_tokens_total)' # label_values(..., job)
check "$E2E_TMP/q.json" "[.data.result[].metric.job] == [\"$JOB\"]" "\$job values"

# ---- every expression (one python3 process: a query each, no jq per query)
cat >"$E2E_TMP/eval.py" <<'PY'
import json, sys, urllib.parse, urllib.request
prom, model, job, path = sys.argv[1:5]
bad = ndata = nnone = 0
for line in open(path):
    line = line.rstrip("\n")
    if not line:
        continue
    want, expr = line.split("|", 1)
    expr = (expr.replace("${job}", job).replace("$job", job).replace("$model_name", model)
            .replace("$__rate_interval", "1m").replace("$__range", "5m"))
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        r = json.load(urllib.request.urlopen(url, timeout=10))
    except Exception as e:  # a 400 from Prometheus: the expression does not parse
        print("ERROR %s: %s" % (expr, e))
        bad += 1
        continue
    n = len([s for s in r["data"]["result"] if s["value"][1] != "NaN"])
    if want == "data" and n == 0:
        print("NO DATA: %s" % expr)
        bad += 1
    elif want != "data" and n > 0:
        print("DATA NOW (update its line, %s): %s" % (want, expr))
        bad += 1
    if want == "data":
        ndata += 1
    else:
        nnone += 1
print("%d %d %d" % (bad, ndata, nnone))
PY
# evaluate FILE: every "want|expression" line of FILE; sets NGOOD and NNONE
evaluate() {
    local bad
    python3 "$E2E_TMP/eval.py" "$PROM" "$MODEL" "$JOB" "$1" >"$1.out" || fail "eval.py failed"
    read -r bad NGOOD NNONE < <(tail -n 1 "$1.out")
    [ "${bad:-1}" = 0 ] || { head -n -1 "$1.out" >&2; fail "$bad expression(s) of $1 wrong"; }
}
printf '%s\n' "$EXPRS" >"$E2E_TMP/aibrix"
evaluate "$E2E_TMP/aibrix"
log "AIBrix's dashboards: $NGOOD expressions return data, $NNONE cannot on brix (reasons in the list)"
# brix's own versions (deploy/grafana): every panel's every target
jq -r '.panels[].targets[]?.expr | "data|" + gsub("\n"; " ")' \
    "$E2E_DIR/../../deploy/grafana/"*.json >"$E2E_TMP/brix" || fail "deploy/grafana unreadable"
evaluate "$E2E_TMP/brix"
[ "$NGOOD" -ge 60 ] || fail "only $NGOOD expressions in deploy/grafana"
log "deploy/grafana: all $NGOOD expressions return data"

# ---- the status label is the status sent
for sc in 200 400 404 499; do
    promql "sum(gateway_request_model_fail_total{status_code=\"$sc\"}) or sum(gateway_request_model_success_total{status_code=\"$sc\"})"
    has_data || fail "no gateway_request_model_*_total with status_code=$sc"
done
promql 'gateway_request_model_fail_total{status="context_cancelled",status_code="499",model="m"}'
has_data || fail "the client that left is not counted as context_cancelled/499"
promql 'brix_gateway_requests_total{status="499",model="m"}'
has_data || fail "brix_gateway_requests_total has no status=499 for the client that left"
promql 'count(brix_gateway_requests_total{status="502"}) or count(gateway_request_model_fail_total{status_code="502"})'
has_data && fail "a 502 series though no engine failed: $(head -c 300 "$E2E_TMP/q.json")"
promql 'sum(gateway_request_model_success_total) + sum(gateway_request_model_fail_total) - sum(gateway_request_total)'
check "$E2E_TMP/q.json" '.data.result[0].value[1] == "0"' "success + fail != gateway_request_total"
promql 'sum(gateway_in_flight_requests) + sum(gateway_model_in_flight_requests)'
check "$E2E_TMP/q.json" '.data.result[0].value[1] == "0"' "requests still in flight after the traffic"
log "ok"
