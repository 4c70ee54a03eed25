#!/usr/bin/env bash
# PodAutoscaler spec.schedules under `brix up`, with real engines: a schedule
# active now (its window computed from `date -u`, in a time zone 5:30 ahead
# of UTC, on today's weekday there) raises the floor from the Deployment's 1
# replica to the schedule's minReplicas 2, and status.scheduledBounds (get
# -o yaml, describe) names it; a schedule with an unknown time zone is
# refused at apply, naming the field; a window that ends at the next minute
# boundary stops being active by itself (the 1 s tick re-evaluates it), and
# status.scheduledBounds falls back to the base bounds. Then spec.scheduledBounds
# (cron + duration, AIBrix's second shape): an entry whose cron matches now in
# America/Los_Angeles (today's weekday by name, a lifetime around now) raises
# the floor to 3 and status.scheduledBounds names it; a bad cron is refused
# at apply, naming the field.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
bx_need date

GP=$(free_port)
AP=$(free_port)
export BRIX_SERVER="http://127.0.0.1:$AP"
TZNAME=Asia/Kolkata # +05:30 all year (no DST)
OFF=$((5 * 3600 + 30 * 60))

# local_now: "MINUTE_OF_DAY WEEKDAY" in $TZNAME, from date -u
local_now() {
    local t=$(($(date -u +%s) + OFF))
    echo "$((10#$(date -u -d "@$t" +%H) * 60 + 10#$(date -u -d "@$t" +%M))) $(date -u -d "@$t" +%a)"
}
hhmm() { printf '%02d:%02d' $(($1 / 60)) $(($1 % 60)); }
# wait_day_room MINUTES: until at least MINUTES are left before local midnight (windows cannot
# cross it)
wait_day_room() {
    local m
    read -r m _ < <(local_now)
    while ((m + $1 > 1439)); do
        log "waiting for local midnight to pass"
        sleep 10
        read -r m _ < <(local_now)
    done
}

# pa_yaml NAME START END DAY: the autoscaler with a schedule "warm" (min 2) in [START, END) on
# DAY, and one "other-day" (max 1) on another weekday at the same hours
pa_yaml() {
    local other=Mon
    [ "$4" = Mon ] && other=Tue
    cat <<YAML
apiVersion: autoscaling.aibrix.ai/v1alpha1
kind: PodAutoscaler
metadata:
  name: $1
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: sched
  minReplicas: 1
  maxReplicas: 3
  schedules:
    - name: other-day
      timezone: $TZNAME
      daysOfWeek: [$other]
      startTime: "$2"
      endTime: "$3"
      maxReplicas: 1
    - name: warm
      timezone: $TZNAME
      daysOfWeek: [$(echo "$4" | tr '[:lower:]' '[:upper:]')]
      startTime: "$2"
      endTime: "$3"
      minReplicas: 2
  scalingStrategy: APA
  metricsSources:
    - metricSourceType: pod
      protocolType: http
      port: "8000"
      path: metrics
      targetMetric: num_requests_running
      targetValue: "4"
YAML
}

cat >"$E2E_TMP/dep.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sched
  labels:
    model.aibrix.ai/name: sched
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: engine
          args: ["--port", "{port}", "--model", "{model}"]
YAML

wait_for() { # wait_for SECS MSG CMD...
    local secs=$1 msg=$2 i
    shift 2
    for ((i = 0; i < secs * 5; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    fail "timed out after ${secs}s: $msg (scheduledBounds now: $(bounds_json sched-apa))"
}
ready_is() {
    [ "$("$BRIX" get pods -o json 2>/dev/null | jq '[.items[] | select(.deployment == "sched" and .phase == "Ready")] | length')" = "$1" ]
}
bounds_json() { "$BRIX" get pa "$1" -o json 2>/dev/null | jq -cS '.status.scheduledBounds'; }
bounds_are() { [ "$(bounds_json "$1")" = "$2" ]; }

wait_day_room 5
read -r M DAY < <(local_now)
START=$(hhmm $((M >= 30 ? M - 30 : 0)))
END=$(hhmm $((M + 60 > 1439 ? 1439 : M + 60)))
log "schedule warm: $START-$END $TZNAME on $DAY (local now $(hhmm "$M"))"
pa_yaml sched-apa "$START" "$END" "$DAY" >"$E2E_TMP/pa.yaml"

log "starting brix up with one replica and the scheduled autoscaler"
"$BRIX" up --state "$E2E_TMP/state" --host 127.0.0.1 --port "$GP" --admin-port "$AP" \
    -f "$E2E_TMP/dep.yaml" -f "$E2E_TMP/pa.yaml" >"$E2E_TMP/up.log" 2>&1 &
E2E_PIDS+=($!)
E2E_LOGS+=("$E2E_TMP/up.log")
wait_ready "$BRIX_SERVER/healthz" "${E2E_PIDS[-1]}"

log "the active schedule's minReplicas holds the target at 2"
wait_for 30 "two Ready engines" ready_is 2
want='{"activeSchedule":"warm","effectiveMaxReplicas":3,"effectiveMinReplicas":2}'
wait_for 10 "status.scheduledBounds $want" bounds_are sched-apa "$want"
"$BRIX" get pa sched-apa -o yaml >"$E2E_TMP/pa-out.yaml" || fail "brix get pa -o yaml failed"
grep -q '^  scheduledBounds:' "$E2E_TMP/pa-out.yaml" || fail "no scheduledBounds: $(cat "$E2E_TMP/pa-out.yaml")"
grep -q '^    activeSchedule: warm$' "$E2E_TMP/pa-out.yaml" || fail "no activeSchedule: $(cat "$E2E_TMP/pa-out.yaml")"
grep -q '^    effectiveMinReplicas: 2$' "$E2E_TMP/pa-out.yaml" || fail "effectiveMinReplicas: $(cat "$E2E_TMP/pa-out.yaml")"
"$BRIX" describe pa sched-apa >"$E2E_TMP/describe.txt" || fail "brix describe pa failed"
grep -q 'Scheduled Bounds: *min 2, max 3 (schedule warm)' "$E2E_TMP/describe.txt" ||
    fail "describe: $(cat "$E2E_TMP/describe.txt")"
grep -q "warm: $START-$END $TZNAME" "$E2E_TMP/describe.txt" || fail "describe: $(cat "$E2E_TMP/describe.txt")"
grep -q 'below minReplicas 2 (schedule warm)' "$E2E_TMP/up.log" || fail "no scale reason in the log"

log "an unknown time zone is refused at apply, naming the field"
sed "s|$TZNAME|Mars/Olympus_Mons|" "$E2E_TMP/pa.yaml" >"$E2E_TMP/bad.yaml"
"$BRIX" apply -f "$E2E_TMP/bad.yaml" >"$E2E_TMP/bad.out" 2>&1 && fail "an unknown time zone was accepted"
grep -q 'spec.schedules\[0\].timezone: unknown time zone "Mars/Olympus_Mons"' "$E2E_TMP/bad.out" ||
    fail "error does not name the field: $(cat "$E2E_TMP/bad.out")"

log "a window ending at the next minute stops by itself"
wait_day_room 3
read -r M DAY < <(local_now)
pa_yaml sched-apa "$(hhmm $((M >= 30 ? M - 30 : 0)))" "$(hhmm $((M + 1)))" "$DAY" >"$E2E_TMP/pa2.yaml"
"$BRIX" apply -f "$E2E_TMP/pa2.yaml" >/dev/null || fail "apply of the short window failed"
wait_for 10 "the short window active" bounds_are sched-apa "$want"
wait_for 75 "status.scheduledBounds back to the base" bounds_are sched-apa \
    '{"effectiveMaxReplicas":3,"effectiveMinReplicas":1}'
grep -q 'sched-apa: no schedule active: replicas in \[1, 3\]' "$E2E_TMP/up.log" ||
    fail "the end of the window was not logged"

log "spec.scheduledBounds: a cron entry active now raises the floor to 3"
LA_DAY=$(TZ=America/Los_Angeles date +%a | tr '[:lower:]' '[:upper:]')
FROM=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
UNTIL=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%S.5+00:00)
bounds_yaml() { # bounds_yaml CRON
    cat <<YAML
apiVersion: autoscaling.aibrix.ai/v1alpha1
kind: PodAutoscaler
metadata:
  name: sched-apa
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: sched}
  minReplicas: 1
  maxReplicas: 3
  scheduledBounds:
    - name: peak
      timezone: America/Los_Angeles
      startTime: "$FROM"
      endTime: "$UNTIL"
      cron: "$1"
      duration: 1h
      minReplicas: 3
  scalingStrategy: APA
  metricsSources:
    - {metricSourceType: pod, protocolType: http, port: "8000", path: metrics,
       targetMetric: num_requests_running, targetValue: "4"}
YAML
}
bounds_yaml "* 0-23 * * SUN,$LA_DAY" >"$E2E_TMP/pa3.yaml"
"$BRIX" apply -f "$E2E_TMP/pa3.yaml" >"$E2E_TMP/pa3.out" 2>&1 || fail "apply scheduledBounds: $(cat "$E2E_TMP/pa3.out")"
wait_for 10 "scheduledBounds entry peak active" bounds_are sched-apa \
    '{"activeSchedule":"peak","effectiveMaxReplicas":3,"effectiveMinReplicas":3}'
wait_for 30 "three Ready engines" ready_is 3
grep -q 'below minReplicas 3 (schedule peak)' "$E2E_TMP/up.log" || fail "no scale reason for peak in the log"
"$BRIX" describe pa sched-apa >"$E2E_TMP/describe3.txt" || fail "brix describe pa failed"
grep -q "peak: \"\* 0-23 \* \* SUN,$LA_DAY\" for 1h America/Los_Angeles from $FROM until $UNTIL, min 3, max (base)" \
    "$E2E_TMP/describe3.txt" || fail "describe: $(cat "$E2E_TMP/describe3.txt")"
grep -q 'Scheduled Bounds: *min 3, max 3 (schedule peak)' "$E2E_TMP/describe3.txt" ||
    fail "describe: $(cat "$E2E_TMP/describe3.txt")"
bounds_yaml "0 24 * * *" >"$E2E_TMP/bad3.yaml"
"$BRIX" apply -f "$E2E_TMP/bad3.yaml" >"$E2E_TMP/bad3.out" 2>&1 && fail "a bad cron was accepted"
grep -q 'spec.scheduledBounds\[0\].cron: "0 24 \* \* \*": hour: 24 is out of range 0-23' "$E2E_TMP/bad3.out" ||
    fail "error does not name the field: $(cat "$E2E_TMP/bad3.out")"
log "ok"
