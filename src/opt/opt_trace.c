/* opt_trace: see opt_trace.h. */
#include "opt/opt_trace.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "opt/opt_bucket.h"

void opt_trace_init(opt_trace *t, int64_t ts)
{
    t->ts = ts;
    t->version = OPT_TRACE_VERSION;
    t->interval_s = OPT_TRACE_INTERVAL_S;
    t->precision = OPT_BUCKET_PRECISION;
    t->total_reqs = 0;
    t->pending_reqs = 0;
    t->queueing_reqs = 0;
    t->ncells = 0;
    t->dropped = 0;
}

void opt_trace_add(opt_trace *t, int32_t in_tick, int32_t out_tick, int64_t n)
{
    for (int32_t i = 0; i < t->ncells; i++)
        if (t->cells[i].in_tick == in_tick && t->cells[i].out_tick == out_tick) {
            t->cells[i].count += n;
            return;
        }
    if (t->ncells >= OPT_TRACE_MAX_CELLS) {
        t->dropped += n;
        return;
    }
    t->cells[t->ncells++] = (opt_trace_cell){in_tick, out_tick, n};
}

int64_t opt_trace_count(const opt_trace *t)
{
    int64_t n = 0;
    for (int32_t i = 0; i < t->ncells; i++)
        n += t->cells[i].count;
    return n;
}

char *opt_trace_to_json(const opt_trace *t)
{
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = 0;
    char key[OPT_BUCKET_KEY_MAX];
    for (int32_t i = 0; i < t->ncells; i++) {
        snprintf(key, sizeof(key), "%d:%d", (int)t->cells[i].in_tick, (int)t->cells[i].out_tick);
        bad |= json_object_set_new(o, key, json_integer(t->cells[i].count));
    }
    bad |= json_object_set_new(o, "meta_v", json_integer(t->version));
    bad |= json_object_set_new(o, "meta_interval_sec", json_integer(t->interval_s));
    bad |= json_object_set_new(o, "meta_precision", json_integer(t->precision));
    if (t->total_reqs >= 0)
        bad |= json_object_set_new(o, "meta_total_reqs", json_integer(t->total_reqs));
    bad |= json_object_set_new(o, "meta_pending_reqs", json_integer(t->pending_reqs));
    bad |= json_object_set_new(o, "meta_queueing_reqs", json_integer(t->queueing_reqs));
    char *s = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

static int opt_trace_meta(const char *key, json_t *v, opt_trace *out, char *err, size_t errlen)
{
    static const char *const names[] = {
        "meta_v",          "meta_interval_sec", "meta_precision",
        "meta_total_reqs", "meta_pending_reqs", "meta_queueing_reqs"};
    int which = -1;
    for (int i = 0; i < 6; i++)
        if (!strcmp(key, names[i])) which = i;
    if (which < 0) return 0; /* a later version's meta: ignored */
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > (which < 3 ? 1000000 : INT64_MAX / 4)) {
        snprintf(err, errlen, "%s: must be a non-negative integer", key);
        return -1;
    }
    int64_t x = json_integer_value(v);
    switch (which) {
    case 0:
        out->version = (int32_t)x;
        break;
    case 1:
        out->interval_s = (int32_t)x;
        break;
    case 2:
        out->precision = (int32_t)x;
        break;
    case 3:
        out->total_reqs = x;
        break;
    case 4:
        out->pending_reqs = x;
        break;
    default:
        out->queueing_reqs = x;
        break;
    }
    return 0;
}

int opt_trace_parse(const char *json, size_t len, int64_t ts, opt_trace *out, char *err,
                    size_t errlen)
{
    json_error_t je;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        snprintf(err, errlen, "trace: invalid JSON: %s", je.text);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(o)) {
        snprintf(err, errlen, "trace: must be a JSON object");
        goto done;
    }
    opt_trace_init(out, ts);
    out->version = 1;
    out->total_reqs = -1;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (!strncmp(key, "meta_", 5)) {
            if (opt_trace_meta(key, v, out, err, errlen)) goto done;
            continue;
        }
        int64_t a, b;
        if (opt_bucket_parse_key(key, strlen(key), &a, &b)) {
            snprintf(err, errlen, "trace: key \"%.40s\" is neither meta_* nor \"I:O\"", key);
            goto done;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > INT64_MAX / 4) {
            snprintf(err, errlen, "trace: count of \"%.40s\" must be a non-negative integer", key);
            goto done;
        }
        opt_trace_add(out, (int32_t)a, (int32_t)b, json_integer_value(v));
    }
    if (out->interval_s <= 0 || out->precision <= 0) {
        snprintf(err, errlen, "trace: meta_interval_sec and meta_precision must be positive");
        goto done;
    }
    rc = 0;
done:
    json_decref(o);
    return rc;
}
