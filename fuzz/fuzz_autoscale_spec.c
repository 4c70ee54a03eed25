/* Fuzzes PodAutoscaler YAML: bx_yaml_load then as_spec_parse, and on a
 * valid spec one as_decide with inputs (and a local time for its
 * schedules, and for its scheduledBounds a UTC instant) drawn from the
 * same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "autoscale/as_policy.h"
#include "autoscale/as_sched.h"
#include "autoscale/as_spec.h"
#include "common/bx_tz.h"
#include "common/bx_yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = NULL;
    char err[256];
    bx_yaml_limits lim;
    bx_yaml_limits_default(&lim);
    lim.max_nodes = 20000;
    if (bx_yaml_load((const char *)data, size, &lim, &j, err, sizeof(err)) != 0) return 0;
    as_spec s;
    if (as_spec_parse(j, &s, err, sizeof(err)) == 0) {
        as_state st;
        as_state_init(&st);
        as_input in;
        memset(&in, 0, sizeof(in));
        uint8_t b[8] = {0};
        memcpy(b, data, size < sizeof(b) ? size : sizeof(b));
        in.now_ms = 1000;
        in.current = b[0] % 16;
        in.ready = b[1] % 16;
        in.waiting = b[2];
        in.local_valid = b[7] & 1; /* spec.schedules: a local weekday and minute */
        in.local_wday = b[7] % 7;
        in.local_minute = (b[6] * 7 + b[4]) % 1440;
        /* spec.scheduledBounds: which entries are active, from the cron in UTC */
        bx_tz *utc = NULL;
        if (s.n_bounds && bx_tz_posix("UTC0", &utc, err, sizeof(err)) == 0) {
            const bx_tz *zs[AS_MAX_BOUNDS];
            for (size_t i = 0; i < AS_MAX_BOUNDS; i++)
                zs[i] = utc;
            in.bounds_active = as_sched_bounds_mask(&s, zs, 1700000000 + (int64_t)b[6] * 3607);
            bx_tz_free(utc);
        }
        in.n_metrics = s.n_metrics;
        for (size_t i = 0; i < s.n_metrics; i++) {
            in.m[i].valid = (b[3] >> (i % 8)) & 1;
            in.m[i].stable_total = (double)b[4] * (double)(i + 1);
            in.m[i].stable_pods = b[5] % 16;
            in.m[i].panic_valid = true;
            in.m[i].panic_total = (double)b[6] * 3.5;
            in.m[i].panic_pods = b[5] % 16;
        }
        as_decision d;
        for (int k = 0; k < 3; k++) {
            if (as_decide(&s, &st, &in, &d) != 0) __builtin_trap(); /* a valid spec decides */
            if (d.desired < 0 ||
                d.desired > (in.current > d.bounds.max ? in.current : d.bounds.max))
                __builtin_trap();
            if (d.bounds.active < -1 || d.bounds.active >= (int)s.n_schedules) __builtin_trap();
            in.current = d.desired;
            in.now_ms += 10000;
        }
    }
    json_decref(j);
    return 0;
}
