/* ctl_cli: brix apply/get/describe/delete (see ctl_cli.h). Three layers:
 * argument parsing and commands (ctl_cli_run), the libcurl request
 * (ctl_cli_request), and printers that only turn the API's JSON into text
 * (tables, describe, YAML). */
#include "ctl/ctl_cli.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <yaml.h>

#include "common/bx_json.h"
#include "common/bx_yaml.h"
#include "ctl/ctl_api.h"
#include "ctl/ctl_obj.h"

#define CLI_ERR_MAX 1024
#define CLI_CELL_MAX 512

/* ------------------------------------------------------------ time */

void ctl_cli_format_age(int64_t ms, char *buf, size_t len)
{
    int64_t s = ms < 0 ? 0 : ms / 1000;
    if (s < 60)
        snprintf(buf, len, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(buf, len, "%lldm", (long long)(s / 60));
    else if (s < 86400)
        snprintf(buf, len, "%lldh", (long long)(s / 3600));
    else if (s < 86400LL * 365)
        snprintf(buf, len, "%lldd", (long long)(s / 86400));
    else
        snprintf(buf, len, "%lldy", (long long)(s / (86400LL * 365)));
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int64_t ctl_cli_parse_time(const char *s)
{
    int y, mo, d, h, mi, se;
    if (!s || strlen(s) < 19) return -1;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &se))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return -1;
    const char *p = s + 19;
    int64_t frac_ms = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (isdigit((unsigned char)*p)) {
            if (nd < 3) frac_ms = frac_ms * 10 + (*p - '0');
            nd++;
            p++;
        }
        if (nd == 0) return -1;
        for (; nd < 3; nd++)
            frac_ms *= 10;
    }
    int64_t off_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om)) return -1;
        off_s = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p) return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return -1;
    return ((int64_t)t - off_s) * 1000 + frac_ms;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Age of an RFC 3339 time, or "<unknown>". */
static void age_of(const json_t *ts, int64_t now_ms, char *buf, size_t len)
{
    int64_t t = ctl_cli_parse_time(json_string_value(ts));
    if (t < 0)
        snprintf(buf, len, "<unknown>");
    else
        ctl_cli_format_age(now_ms - t, buf, len);
}

/* ------------------------------------------------------------ JSON access */

/* obj[k1][k2]... (NULL-terminated keys); NULL when any step is missing. */
static const json_t *jget(const json_t *j, ...)
{
    va_list ap;
    va_start(ap, j);
    const char *k;
    while (j && (k = va_arg(ap, const char *)) != NULL)
        j = json_object_get(j, k);
    va_end(ap);
    return j;
}

static const char *jstr(const json_t *j, const char *def)
{
    const char *s = json_string_value(j);
    return s ? s : def;
}

/* Integers (and integral strings, as AIBrix writes some) into buf; def
 * when absent. */
static const char *jnum(const json_t *j, const char *def, char *buf, size_t len)
{
    if (json_is_integer(j)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(j));
        return buf;
    }
    if (json_is_real(j)) {
        snprintf(buf, len, "%g", json_real_value(j));
        return buf;
    }
    if (json_is_string(j)) return json_string_value(j);
    return def;
}

static const char *kind_lower(const char *kind)
{
    return ctl_kind_lower(ctl_kind_parse(kind));
}

static const char *deployment_model(const json_t *o)
{
    const char *m = jstr(jget(o, "metadata", "labels", CTL_LABEL_MODEL, NULL), NULL);
    if (!m)
        m = jstr(jget(o, "spec", "template", "metadata", "labels", CTL_LABEL_MODEL, NULL), NULL);
    return m ? m : "<none>";
}

/* ------------------------------------------------------------ tables */

typedef struct tbl {
    size_t ncol, nrow, cap; /* rows include the header */
    char **cells;           /* nrow * ncol, malloc'd strings */
    int oom;
} tbl;

static void tbl_row(tbl *t, const char *const *cells)
{
    if (t->oom) return;
    if (t->nrow == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, cap * t->ncol * sizeof(*c));
        if (!c) {
            t->oom = 1;
            return;
        }
        t->cells = c;
        t->cap = cap;
    }
    char **row = t->cells + t->nrow * t->ncol;
    for (size_t i = 0; i < t->ncol; i++) {
        /* One line per cell: tabs and newlines would break the columns. */
        char *s = strdup(cells[i] ? cells[i] : "");
        if (!s) {
            for (size_t j = 0; j < i; j++)
                free(row[j]);
            t->oom = 1;
            return;
        }
        for (char *p = s; *p; p++)
            if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
        row[i] = s;
    }
    t->nrow++;
}

/* Prints with columns padded to the widest cell plus 3 spaces (kubectl's
 * tabwriter), the last column unpadded; frees the table. */
static int tbl_print(tbl *t, FILE *out, const char *indent)
{
    int rc = t->oom ? -1 : 0;
    if (!t->oom) {
        size_t w[16] = {0};
        for (size_t r = 0; r < t->nrow; r++)
            for (size_t c = 0; c < t->ncol && c < 16; c++) {
                size_t l = strlen(t->cells[r * t->ncol + c]);
                if (l > w[c]) w[c] = l;
            }
        for (size_t r = 0; r < t->nrow; r++) {
            fputs(indent, out);
            for (size_t c = 0; c < t->ncol; c++) {
                const char *s = t->cells[r * t->ncol + c];
                if (c + 1 < t->ncol)
                    fprintf(out, "%-*s   ", (int)w[c < 16 ? c : 15], s);
                else
                    fputs(s, out);
            }
            fputc('\n', out);
        }
    }
    for (size_t i = 0; i < t->nrow * t->ncol; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
    return rc;
}

static void join_strings(const json_t *arr, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        if (!s) s = jstr(json_object_get(v, "name"), jstr(json_object_get(v, "pod"), NULL));
        if (!s) continue;
        int n = snprintf(buf + o, len - o, "%s%s", o ? "," : "", s);
        if (n < 0 || (size_t)n >= len - o) {
            if (len > 4) snprintf(buf + len - 4, 4, "...");
            return;
        }
        o += (size_t)n;
    }
    if (!o) snprintf(buf, len, "<none>");
}

static void row_deployment(tbl *t, const json_t *o, int models, int wide, int64_t now)
{
    char ready[48], upd[24], avail[24], age[24];
    const json_t *st = json_object_get(o, "status");
    const json_t *rep = jget(o, "spec", "replicas", NULL);
    long long desired = json_is_integer(rep) ? (long long)json_integer_value(rep) : 1;
    char r[24];
    snprintf(ready, sizeof(ready), "%s/%lld",
             jnum(json_object_get(st, "readyReplicas"), "0", r, sizeof(r)), desired);
    const char *u = jnum(json_object_get(st, "updatedReplicas"), "0", upd, sizeof(upd));
    const char *a = jnum(json_object_get(st, "availableReplicas"), "0", avail, sizeof(avail));
    age_of(jget(o, "metadata", "creationTimestamp", NULL), now, age, sizeof(age));
    const char *name = jstr(jget(o, "metadata", "name", NULL), "");
    const char *engine = jstr(jget(o, "metadata", "labels", CTL_LABEL_ENGINE, NULL), "vllm");
    const char *strat =
        jstr(jget(o, "metadata", "annotations", CTL_ANN_ROUTING_STRATEGY, NULL), "<default>");
    const char *model = deployment_model(o);
    if (models) {
        const char *c[] = {name, model, ready, u, a, age, engine, strat};
        tbl_row(t, c);
    } else if (wide) {
        const char *c[] = {name, ready, u, a, age, model, engine, strat};
        tbl_row(t, c);
    } else {
        const char *c[] = {name, ready, u, a, age};
        tbl_row(t, c);
    }
}

static void row_adapter(tbl *t, const json_t *o, int wide, int64_t now)
{
    char inst[CLI_CELL_MAX], age[24], rep[24];
    const json_t *st = json_object_get(o, "status");
    join_strings(json_object_get(st, "instances"), inst, sizeof(inst));
    age_of(jget(o, "metadata", "creationTimestamp", NULL), now, age, sizeof(age));
    const char *c[] = {
        jstr(jget(o, "metadata", "name", NULL), ""),
        jstr(jget(o, "spec", "baseModel", NULL), "<none>"),
        jstr(json_object_get(st, "phase"), "<none>"),
        inst,
        age,
        jstr(jget(o, "spec", "artifactURL", NULL), "<none>"),
        jnum(jget(o, "spec", "replicas", NULL), "all", rep, sizeof(rep)),
        jstr(jget(o, "spec", "schedulerName", NULL), "default"),
    };
    (void)wide;
    tbl_row(t, c);
}

static void first_metric(const json_t *o, char *buf, size_t len)
{
    const json_t *m = json_array_get(jget(o, "spec", "metricsSources", NULL), 0);
    char v[32];
    if (!m) {
        snprintf(buf, len, "<none>");
        return;
    }
    snprintf(buf, len, "%s=%s", jstr(json_object_get(m, "targetMetric"), "?"),
             jnum(json_object_get(m, "targetValue"), "?", v, sizeof(v)));
}

static void row_autoscaler(tbl *t, const json_t *o, int wide, int64_t now)
{
    char mn[24], mx[24], des[24], act[24], age[24], target[CLI_CELL_MAX], metric[CLI_CELL_MAX],
        last[24];
    const json_t *st = json_object_get(o, "status");
    age_of(jget(o, "metadata", "creationTimestamp", NULL), now, age, sizeof(age));
    snprintf(target, sizeof(target), "%s/%s",
             jstr(jget(o, "spec", "scaleTargetRef", "kind", NULL), "?"),
             jstr(jget(o, "spec", "scaleTargetRef", "name", NULL), "?"));
    first_metric(o, metric, sizeof(metric));
    if (json_object_get(st, "lastScaleTime"))
        age_of(json_object_get(st, "lastScaleTime"), now, last, sizeof(last));
    else
        snprintf(last, sizeof(last), "<none>");
    const char *c[] = {
        jstr(jget(o, "metadata", "name", NULL), ""),
        jstr(jget(o, "spec", "scalingStrategy", NULL), "<none>"),
        jnum(jget(o, "spec", "minReplicas", NULL), "1", mn, sizeof(mn)),
        jnum(jget(o, "spec", "maxReplicas", NULL), "<none>", mx, sizeof(mx)),
        jnum(json_object_get(st, "desiredScale"), "<none>", des, sizeof(des)),
        jnum(json_object_get(st, "actualScale"), "<none>", act, sizeof(act)),
        age,
        target,
        metric,
        last,
    };
    (void)wide;
    tbl_row(t, c);
}

static void row_pod(tbl *t, const json_t *p, int64_t now)
{
    char restarts[24], port[24], pid[24], age[24];
    const json_t *since = json_object_get(p, "startedAt");
    if (!json_is_string(since)) since = json_object_get(p, "readySince");
    age_of(since, now, age, sizeof(age));
    const json_t *pidj = json_object_get(p, "pid");
    const char *c[] = {
        jstr(json_object_get(p, "name"), ""),
        jstr(json_object_get(p, "deployment"), "<none>"),
        jstr(json_object_get(p, "phase"), "<none>"),
        json_is_true(json_object_get(p, "ready")) ? "1/1" : "0/1",
        jnum(json_object_get(p, "restarts"), "0", restarts, sizeof(restarts)),
        jnum(json_object_get(p, "port"), "<none>", port, sizeof(port)),
        json_integer_value(pidj) > 0 ? jnum(pidj, "", pid, sizeof(pid)) : "<none>",
        age,
        jstr(json_object_get(p, "model"), "<none>"),
        jstr(json_object_get(p, "url"), "<none>"),
    };
    tbl_row(t, c);
}

static void row_event(tbl *t, const json_t *e, int64_t now)
{
    char last[24], count[24], obj[CLI_CELL_MAX];
    age_of(json_object_get(e, "lastTimestamp"), now, last, sizeof(last));
    snprintf(obj, sizeof(obj), "%s/%s",
             kind_lower(jstr(jget(e, "involvedObject", "kind", NULL), "")),
             jstr(jget(e, "involvedObject", "name", NULL), ""));
    const char *c[] = {
        last,
        jstr(json_object_get(e, "type"), ""),
        jstr(json_object_get(e, "reason"), ""),
        obj,
        jnum(json_object_get(e, "count"), "1", count, sizeof(count)),
        jstr(json_object_get(e, "message"), ""),
    };
    tbl_row(t, c);
}

int ctl_cli_print_table(FILE *out, ctl_cli_table kind, const json_t *items, int wide,
                        int64_t now_ms)
{
    tbl t = {0};
    switch (kind) {
    case CTL_CLI_TABLE_DEPLOYMENTS: {
        static const char *h[] = {"NAME", "READY", "UP-TO-DATE", "AVAILABLE",
                                  "AGE",  "MODEL", "ENGINE",     "ROUTING"};
        t.ncol = wide ? 8 : 5;
        tbl_row(&t, h);
        break;
    }
    case CTL_CLI_TABLE_MODELS: {
        static const char *h[] = {"NAME",      "MODEL", "READY",  "UP-TO-DATE",
                                  "AVAILABLE", "AGE",   "ENGINE", "ROUTING"};
        t.ncol = wide ? 8 : 6;
        tbl_row(&t, h);
        break;
    }
    case CTL_CLI_TABLE_ADAPTERS: {
        static const char *h[] = {"NAME", "BASE",     "PHASE",    "INSTANCES",
                                  "AGE",  "ARTIFACT", "REPLICAS", "SCHEDULER"};
        t.ncol = wide ? 8 : 5;
        tbl_row(&t, h);
        break;
    }
    case CTL_CLI_TABLE_AUTOSCALERS: {
        static const char *h[] = {"NAME",   "STRATEGY", "MIN",    "MAX",    "DESIRED",
                                  "ACTUAL", "AGE",      "TARGET", "METRIC", "LAST-SCALE"};
        t.ncol = wide ? 10 : 7;
        tbl_row(&t, h);
        break;
    }
    case CTL_CLI_TABLE_PODS: {
        static const char *h[] = {"NAME", "DEPLOYMENT", "PHASE", "READY", "RESTARTS",
                                  "PORT", "PID",        "AGE",   "MODEL", "URL"};
        t.ncol = wide ? 10 : 8;
        tbl_row(&t, h);
        break;
    }
    case CTL_CLI_TABLE_EVENTS: {
        static const char *h[] = {"LAST SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"};
        t.ncol = 6;
        tbl_row(&t, h);
        break;
    }
    default:
        return -1;
    }
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it)
    {
        switch (kind) {
        case CTL_CLI_TABLE_DEPLOYMENTS:
        case CTL_CLI_TABLE_MODELS:
            row_deployment(&t, it, kind == CTL_CLI_TABLE_MODELS, wide, now_ms);
            break;
        case CTL_CLI_TABLE_ADAPTERS:
            row_adapter(&t, it, wide, now_ms);
            break;
        case CTL_CLI_TABLE_AUTOSCALERS:
            row_autoscaler(&t, it, wide, now_ms);
            break;
        case CTL_CLI_TABLE_PODS:
            row_pod(&t, it, now_ms);
            break;
        case CTL_CLI_TABLE_EVENTS:
            row_event(&t, it, now_ms);
            break;
        }
    }
    return tbl_print(&t, out, "");
}

/* ------------------------------------------------------------ describe */

#define FIELD_W 20

static void field(FILE *out, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void field(FILE *out, const char *label, const char *fmt, ...)
{
    char l[64];
    snprintf(l, sizeof(l), "%s:", label);
    fprintf(out, "%-*s", FIELD_W, l);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
}

/* A string map as "k=v" lines, the first after the label. */
static void field_map(FILE *out, const char *label, const json_t *m)
{
    if (!json_is_object(m) || json_object_size(m) == 0) {
        field(out, label, "<none>");
        return;
    }
    const char **keys = malloc(json_object_size(m) * sizeof(*keys));
    if (!keys) return;
    size_t n = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)m, k, v) keys[n++] = k;
    /* sorted, as kubectl prints them */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *x = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = x;
        }
    for (size_t i = 0; i < n; i++) {
        char val[32];
        const char *s = jnum(json_object_get(m, keys[i]), "", val, sizeof(val));
        if (i == 0)
            field(out, label, "%s=%s", keys[i], s);
        else
            fprintf(out, "%-*s%s=%s\n", FIELD_W, "", keys[i], s);
    }
    free(keys);
}

static void describe_command(FILE *out, const json_t *o)
{
    const json_t *c0 = json_array_get(jget(o, "spec", "template", "spec", "containers", NULL), 0);
    const json_t *cmd = json_object_get(c0, "command");
    const json_t *args = json_object_get(c0, "args");
    char line[2048];
    size_t n = 0;
    line[0] = 0;
    if (!json_array_size(cmd) && !json_array_size(args)) {
        field(out, "Command", "{brix} engine --port {port} --model {model} (default)");
        return;
    }
    if (!json_array_size(cmd)) n += (size_t)snprintf(line, sizeof(line), "{brix} engine");
    const json_t *parts[2] = {cmd, args};
    for (int p = 0; p < 2; p++) {
        size_t i;
        const json_t *v;
        json_array_foreach(parts[p], i, v)
        {
            const char *s = jstr(v, "");
            int quote = strchr(s, ' ') != NULL || !*s;
            if (n < sizeof(line))
                n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s%s%s", n ? " " : "",
                                      quote ? "\"" : "", s, quote ? "\"" : "");
        }
    }
    field(out, "Command", "%s", line);
}

static void describe_conditions(FILE *out, const json_t *conds, int64_t now)
{
    if (!json_array_size(conds)) {
        fprintf(out, "Conditions:         <none>\n");
        return;
    }
    fprintf(out, "Conditions:\n");
    tbl t = {.ncol = 5};
    const char *h[] = {"Type", "Status", "Reason", "Age", "Message"};
    const char *u[] = {"----", "------", "------", "---", "-------"};
    tbl_row(&t, h);
    tbl_row(&t, u);
    size_t i;
    const json_t *c;
    json_array_foreach(conds, i, c)
    {
        char age[24];
        age_of(json_object_get(c, "lastTransitionTime"), now, age, sizeof(age));
        const char *r[] = {
            jstr(json_object_get(c, "type"), ""), jstr(json_object_get(c, "status"), ""),
            jstr(json_object_get(c, "reason"), ""), age, jstr(json_object_get(c, "message"), "")};
        tbl_row(&t, r);
    }
    tbl_print(&t, out, "  ");
}

static void describe_events(FILE *out, const json_t *events, int64_t now)
{
    if (!json_array_size(events)) {
        fprintf(out, "Events:             <none>\n");
        return;
    }
    fprintf(out, "Events:\n");
    tbl t = {.ncol = 5};
    const char *h[] = {"Type", "Reason", "Age", "Count", "Message"};
    const char *u[] = {"----", "------", "---", "-----", "-------"};
    tbl_row(&t, h);
    tbl_row(&t, u);
    size_t i;
    const json_t *e;
    json_array_foreach(events, i, e)
    {
        char age[96], first[24], last[24], count[24];
        age_of(json_object_get(e, "lastTimestamp"), now, last, sizeof(last));
        age_of(json_object_get(e, "firstTimestamp"), now, first, sizeof(first));
        long long cnt = (long long)json_integer_value(json_object_get(e, "count"));
        if (cnt > 1 && strcmp(first, last) != 0)
            snprintf(age, sizeof(age), "%s (x%lld over %s)", last, cnt, first);
        else
            snprintf(age, sizeof(age), "%s", last);
        const char *r[] = {jstr(json_object_get(e, "type"), ""),
                           jstr(json_object_get(e, "reason"), ""), age,
                           jnum(json_object_get(e, "count"), "1", count, sizeof(count)),
                           jstr(json_object_get(e, "message"), "")};
        tbl_row(&t, r);
    }
    tbl_print(&t, out, "  ");
}

static void describe_deployment(FILE *out, const json_t *o, const json_t *pods, int64_t now)
{
    const json_t *st = json_object_get(o, "status");
    char a[24], b[24], c[24], d[24];
    const json_t *rep = jget(o, "spec", "replicas", NULL);
    field(out, "Model", "%s", deployment_model(o));
    field(out, "Engine", "%s", jstr(jget(o, "metadata", "labels", CTL_LABEL_ENGINE, NULL), "vllm"));
    field(out, "Routing Strategy", "%s",
          jstr(jget(o, "metadata", "annotations", CTL_ANN_ROUTING_STRATEGY, NULL),
               "<gateway default>"));
    field(out, "Replicas", "%lld desired | %s updated | %s total | %s available | %s ready",
          json_is_integer(rep) ? (long long)json_integer_value(rep) : 1LL,
          jnum(json_object_get(st, "updatedReplicas"), "0", a, sizeof(a)),
          jnum(json_object_get(st, "replicas"), "0", b, sizeof(b)),
          jnum(json_object_get(st, "availableReplicas"), "0", c, sizeof(c)),
          jnum(json_object_get(st, "readyReplicas"), "0", d, sizeof(d)));
    describe_command(out, o);
    const json_t *c0 = json_array_get(jget(o, "spec", "template", "spec", "containers", NULL), 0);
    const json_t *probe = json_object_get(c0, "readinessProbe");
    char per[24];
    field(out, "Readiness Probe", "GET %s every %ss",
          jstr(jget(probe, "httpGet", "path", NULL), "/health"),
          jnum(json_object_get(probe, "periodSeconds"), "1", per, sizeof(per)));
    field_map(out, "Pod Labels", jget(o, "spec", "template", "metadata", "labels", NULL));
    if (pods) {
        if (!json_array_size(pods)) {
            fprintf(out, "Pods:               <none>\n");
        } else {
            fprintf(out, "Pods:\n");
            tbl t = {.ncol = 7};
            const char *h[] = {"Name", "Phase", "Ready", "Restarts", "Port", "PID", "Age"};
            tbl_row(&t, h);
            size_t i;
            const json_t *p;
            json_array_foreach(pods, i, p)
            {
                char rs[24], port[24], pid[24], age[24];
                const json_t *since = json_object_get(p, "startedAt");
                if (!json_is_string(since)) since = json_object_get(p, "readySince");
                age_of(since, now, age, sizeof(age));
                const json_t *pidj = json_object_get(p, "pid");
                const char *r[] = {jstr(json_object_get(p, "name"), ""),
                                   jstr(json_object_get(p, "phase"), ""),
                                   json_is_true(json_object_get(p, "ready")) ? "1/1" : "0/1",
                                   jnum(json_object_get(p, "restarts"), "0", rs, sizeof(rs)),
                                   jnum(json_object_get(p, "port"), "", port, sizeof(port)),
                                   json_integer_value(pidj) > 0 ? jnum(pidj, "", pid, sizeof(pid))
                                                                : "<none>",
                                   age};
                tbl_row(&t, r);
            }
            tbl_print(&t, out, "  ");
        }
    }
}

static void describe_adapter(FILE *out, const json_t *o)
{
    const json_t *st = json_object_get(o, "status");
    char rep[24], inst[CLI_CELL_MAX], a[24], b[24];
    field(out, "Base Model", "%s", jstr(jget(o, "spec", "baseModel", NULL), "<none>"));
    field(out, "Artifact URL", "%s", jstr(jget(o, "spec", "artifactURL", NULL), "<none>"));
    field(out, "Replicas", "%s",
          jnum(jget(o, "spec", "replicas", NULL), "every matching pod", rep, sizeof(rep)));
    field(out, "Scheduler", "%s", jstr(jget(o, "spec", "schedulerName", NULL), "default"));
    field_map(out, "Pod Selector", jget(o, "spec", "podSelector", "matchLabels", NULL));
    field(out, "Phase", "%s", jstr(json_object_get(st, "phase"), "<none>"));
    join_strings(json_object_get(st, "instances"), inst, sizeof(inst));
    field(out, "Instances", "%s", inst);
    if (json_object_get(st, "readyReplicas") || json_object_get(st, "desiredReplicas"))
        field(out, "Ready", "%s/%s", jnum(json_object_get(st, "readyReplicas"), "0", a, sizeof(a)),
              jnum(json_object_get(st, "desiredReplicas"), "?", b, sizeof(b)));
}

static void describe_autoscaler(FILE *out, const json_t *o, int64_t now)
{
    const json_t *st = json_object_get(o, "status");
    char a[24], b[24], c[24], d[24], last[24];
    field(out, "Target", "%s/%s", jstr(jget(o, "spec", "scaleTargetRef", "kind", NULL), "?"),
          jstr(jget(o, "spec", "scaleTargetRef", "name", NULL), "?"));
    field(out, "Strategy", "%s", jstr(jget(o, "spec", "scalingStrategy", NULL), "<none>"));
    field(out, "Min Replicas", "%s", jnum(jget(o, "spec", "minReplicas", NULL), "1", a, sizeof(a)));
    field(out, "Max Replicas", "%s",
          jnum(jget(o, "spec", "maxReplicas", NULL), "<none>", b, sizeof(b)));
    const json_t *ms = jget(o, "spec", "metricsSources", NULL);
    if (!json_array_size(ms)) {
        field(out, "Metrics", "<none>");
    } else {
        fprintf(out, "Metrics:\n");
        size_t i;
        const json_t *m;
        json_array_foreach(ms, i, m)
        {
            char v[32];
            fprintf(out, "  %s target %s (%s)\n", jstr(json_object_get(m, "targetMetric"), "?"),
                    jnum(json_object_get(m, "targetValue"), "?", v, sizeof(v)),
                    jstr(json_object_get(m, "metricSourceType"), "pod"));
        }
    }
    field(out, "Desired Scale", "%s",
          jnum(json_object_get(st, "desiredScale"), "<none>", c, sizeof(c)));
    field(out, "Actual Scale", "%s",
          jnum(json_object_get(st, "actualScale"), "<none>", d, sizeof(d)));
    const json_t *lst = json_object_get(st, "lastScaleTime");
    if (json_is_string(lst)) {
        age_of(lst, now, last, sizeof(last));
        field(out, "Last Scale Time", "%s (%s ago)", json_string_value(lst), last);
    } else {
        field(out, "Last Scale Time", "<none>");
    }
}

int ctl_cli_print_describe(FILE *out, const json_t *o, const json_t *events, const json_t *pods,
                           int64_t now_ms)
{
    if (!json_is_object(o)) return -1;
    const char *kind = jstr(json_object_get(o, "kind"), "");
    const json_t *created = jget(o, "metadata", "creationTimestamp", NULL);
    char age[24], gen[24];
    field(out, "Name", "%s", jstr(jget(o, "metadata", "name", NULL), ""));
    field(out, "Kind", "%s", kind);
    field(out, "API Version", "%s", jstr(json_object_get(o, "apiVersion"), ""));
    if (json_is_string(created)) {
        age_of(created, now_ms, age, sizeof(age));
        field(out, "Created", "%s (%s ago)", json_string_value(created), age);
    }
    field(out, "Generation", "%s",
          jnum(jget(o, "metadata", "generation", NULL), "<none>", gen, sizeof(gen)));
    field_map(out, "Labels", jget(o, "metadata", "labels", NULL));
    field_map(out, "Annotations", jget(o, "metadata", "annotations", NULL));
    switch (ctl_kind_parse(kind)) {
    case CTL_KIND_DEPLOYMENT:
        describe_deployment(out, o, pods, now_ms);
        break;
    case CTL_KIND_MODEL_ADAPTER:
        describe_adapter(out, o);
        break;
    case CTL_KIND_POD_AUTOSCALER:
        describe_autoscaler(out, o, now_ms);
        break;
    default:
        break;
    }
    describe_conditions(out, jget(o, "status", "conditions", NULL), now_ms);
    describe_events(out, events, now_ms);
    return ferror(out) ? -1 : 0;
}

static void describe_pod(FILE *out, const json_t *p, int64_t now)
{
    char a[24], b[24], c[24], d[24], age[24];
    field(out, "Name", "%s", jstr(json_object_get(p, "name"), ""));
    field(out, "Deployment", "%s", jstr(json_object_get(p, "deployment"), "<none>"));
    field(out, "Model", "%s", jstr(json_object_get(p, "model"), "<none>"));
    field(out, "Replica", "%s", jnum(json_object_get(p, "replica"), "<none>", a, sizeof(a)));
    field(out, "Phase", "%s", jstr(json_object_get(p, "phase"), "<none>"));
    field(out, "Ready", "%s", json_is_true(json_object_get(p, "ready")) ? "True" : "False");
    field(out, "Restarts", "%s", jnum(json_object_get(p, "restarts"), "0", b, sizeof(b)));
    field(out, "URL", "%s", jstr(json_object_get(p, "url"), "<none>"));
    field(out, "Port", "%s", jnum(json_object_get(p, "port"), "<none>", c, sizeof(c)));
    field(out, "PID", "%s",
          json_integer_value(json_object_get(p, "pid")) > 0
              ? jnum(json_object_get(p, "pid"), "", d, sizeof(d))
              : "<none>");
    const json_t *st = json_object_get(p, "startedAt");
    if (json_is_string(st)) {
        age_of(st, now, age, sizeof(age));
        field(out, "Started", "%s (%s ago)", json_string_value(st), age);
    }
    const json_t *rs = json_object_get(p, "readySince");
    if (json_is_string(rs)) {
        age_of(rs, now, age, sizeof(age));
        field(out, "Ready Since", "%s (%s ago)", json_string_value(rs), age);
    }
    field_map(out, "Labels", json_object_get(p, "labels"));
}

/* ------------------------------------------------------------ YAML */

static int yaml_write(void *data, unsigned char *buf, size_t size)
{
    return fwrite(buf, 1, size, (FILE *)data) == size;
}

/* Would a plain scalar read back as something other than this string (YAML
 * 1.2 core schema, and 1.1's yes/no that other tools still honour)? */
static int needs_quotes(const char *s)
{
    static const char *const words[] = {"null", "~", "true", "false", "yes",   "no",    "on",
                                        "off",  "y", "n",    ".inf",  "-.inf", "+.inf", ".nan"};
    if (!*s) return 1;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcasecmp(s, words[i]) == 0) return 1;
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (*p == '.') p++;
    return isdigit((unsigned char)*p) != 0;
}

static int yaml_scalar(yaml_emitter_t *e, const char *s, int quote)
{
    yaml_event_t ev;
    yaml_scalar_style_t style = quote ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                      style))
        return -1;
    return yaml_emitter_emit(e, &ev) ? 0 : -1;
}

static int yaml_value(yaml_emitter_t *e, const json_t *v, int depth)
{
    yaml_event_t ev;
    char buf[64];
    if (depth > 128) return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_ANY_MAPPING_STYLE) ||
            !yaml_emitter_emit(e, &ev))
            return -1;
        const char *k;
        const json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            if (yaml_scalar(e, k, needs_quotes(k)) < 0 || yaml_value(e, x, depth + 1) < 0)
                return -1;
        }
        if (!yaml_mapping_end_event_initialize(&ev) || !yaml_emitter_emit(e, &ev)) return -1;
        return 0;
    }
    case JSON_ARRAY: {
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_ANY_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(e, &ev))
            return -1;
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x)
        {
            if (yaml_value(e, x, depth + 1) < 0) return -1;
        }
        if (!yaml_sequence_end_event_initialize(&ev) || !yaml_emitter_emit(e, &ev)) return -1;
        return 0;
    }
    case JSON_STRING:
        return yaml_scalar(e, json_string_value(v), needs_quotes(json_string_value(v)));
    case JSON_INTEGER:
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
        return yaml_scalar(e, buf, 0);
    case JSON_REAL:
        snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
        if (!strpbrk(buf, ".eEn")) strcat(buf, ".0");
        return yaml_scalar(e, buf, 0);
    case JSON_TRUE:
        return yaml_scalar(e, "true", 0);
    case JSON_FALSE:
        return yaml_scalar(e, "false", 0);
    default:
        return yaml_scalar(e, "null", 0);
    }
}

int ctl_cli_print_yaml(FILE *out, const json_t *v)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&e)) return -1;
    yaml_emitter_set_output(&e, yaml_write, out);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1);
    int rc = -1;
    if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) || !yaml_emitter_emit(&e, &ev))
        goto done;
    if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) ||
        !yaml_emitter_emit(&e, &ev))
        goto done;
    if (yaml_value(&e, v, 0) < 0) goto done;
    if (!yaml_document_end_event_initialize(&ev, 1) || !yaml_emitter_emit(&e, &ev)) goto done;
    if (!yaml_stream_end_event_initialize(&ev) || !yaml_emitter_emit(&e, &ev)) goto done;
    if (!yaml_emitter_flush(&e)) goto done;
    rc = 0;
done:
    yaml_emitter_delete(&e);
    return rc;
}

/* ------------------------------------------------------------ HTTP */

typedef struct rbuf {
    char *p;
    size_t len, cap;
    int too_big;
} rbuf;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    rbuf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > CTL_CLI_MAX_RESPONSE) {
        b->too_big = 1;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
    return n;
}

int ctl_cli_request(const char *server, const char *method, const char *path,
                    const char *content_type, const char *body, size_t body_len, long *status,
                    char **resp, size_t *resp_len, char *err, size_t errlen)
{
    *resp = NULL;
    *resp_len = 0;
    *status = 0;
    char url[2048];
    size_t sl = strlen(server);
    while (sl && server[sl - 1] == '/')
        sl--;
    if ((size_t)snprintf(url, sizeof(url), "%.*s%s", (int)sl, server, path) >= sizeof(url)) {
        snprintf(err, errlen, "URL too long");
        return -1;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return -1;
    }
    rbuf b = {0};
    struct curl_slist *hdrs = NULL, *h2;
    char ct[128];
    int rc = -1;
    if (content_type) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        if (!(h2 = curl_slist_append(hdrs, ct))) goto oom;
        hdrs = h2;
    }
    if (!(h2 = curl_slist_append(hdrs, "Expect:"))) goto oom;
    hdrs = h2;
    if (!(h2 = curl_slist_append(hdrs, "Accept: application/json"))) goto oom;
    hdrs = h2;
    CURLcode cc = CURLE_OK;
#define SETOPT(o, v)                                                                               \
    if (cc == CURLE_OK) cc = curl_easy_setopt(c, o, v)
    SETOPT(CURLOPT_URL, url);
    SETOPT(CURLOPT_CUSTOMREQUEST, method);
    SETOPT(CURLOPT_HTTPHEADER, hdrs);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    SETOPT(CURLOPT_TIMEOUT_MS, 60000L);
    SETOPT(CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, &b);
    if (body) {
        SETOPT(CURLOPT_POSTFIELDS, body);
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
#undef SETOPT
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "libcurl: %s", curl_easy_strerror(cc));
        goto done;
    }
    cc = curl_easy_perform(c);
    if (b.too_big) {
        snprintf(err, errlen, "answer from %s larger than %u bytes", url,
                 (unsigned)CTL_CLI_MAX_RESPONSE);
        goto done;
    }
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "cannot reach the brix admin API at %.*s: %s (is `brix up` running?)",
                 (int)sl, server, curl_easy_strerror(cc));
        goto done;
    }
    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status) != CURLE_OK) {
        snprintf(err, errlen, "no HTTP status");
        goto done;
    }
    if (!b.p && !(b.p = calloc(1, 1))) goto oom;
    *resp = b.p;
    *resp_len = b.len;
    b.p = NULL;
    rc = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    free(b.p);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return rc;
}

/* ------------------------------------------------------------ commands */

typedef struct cli {
    FILE *out, *err;
    const char *server;
    const char *output; /* -o */
    const char *files[16];
    size_t nfiles;
    int ignore_not_found;
    char *pos[64]; /* positional arguments after the subcommand */
    size_t npos;
    int help;
    int64_t now;
} cli;

static const char *status_reason(long st)
{
    switch (st) {
    case 400:
        return "BadRequest";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 405:
        return "MethodNotAllowed";
    case 409:
        return "Conflict";
    case 413:
        return "RequestEntityTooLarge";
    case 415:
        return "UnsupportedMediaType";
    case 500:
        return "InternalError";
    case 503:
        return "ServiceUnavailable";
    default:
        return "Unknown";
    }
}

/* Prints the server's error message; always returns 1. */
static int server_error(cli *c, long st, const char *body, size_t len)
{
    char e[256];
    json_t *j = bx_json_parse(body, len, 0, e, sizeof(e));
    const char *msg = jstr(jget(j, "error", "message", NULL), NULL);
    if (msg)
        fprintf(c->err, "Error from server (%s): %s\n", status_reason(st), msg);
    else
        fprintf(c->err, "Error from server (%s): HTTP %ld: %.200s\n", status_reason(st), st,
                len ? body : "(no body)");
    json_decref(j);
    return 1;
}

/* GET/POST/DELETE returning parsed JSON on 2xx. Returns 0 with *out (new
 * reference), 1 after printing an error; *st gets the HTTP status (0 when
 * unreachable). quiet404: a 404 prints nothing. */
static int call(cli *c, const char *method, const char *path, const char *ctype, const char *body,
                size_t blen, json_t **out, long *st, int quiet404)
{
    char err[CLI_ERR_MAX];
    char *resp = NULL;
    size_t rlen = 0;
    long status = 0;
    *out = NULL;
    if (st) *st = 0;
    if (ctl_cli_request(c->server, method, path, ctype, body, blen, &status, &resp, &rlen, err,
                        sizeof(err)) < 0) {
        fprintf(c->err, "error: %s\n", err);
        return 1;
    }
    if (st) *st = status;
    if (status < 200 || status >= 300) {
        int r = quiet404 && status == 404 ? 1 : server_error(c, status, resp, rlen);
        free(resp);
        return r;
    }
    *out = bx_json_parse(resp, rlen, CTL_CLI_MAX_RESPONSE, err, sizeof(err));
    free(resp);
    if (!*out) {
        fprintf(c->err, "error: bad answer from the server: %s\n", err);
        return 1;
    }
    return 0;
}

/* Reads a file ("-" = stdin) into a malloc'd NUL-terminated buffer. */
static char *read_input(cli *c, const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(c->err, "error: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            if (cap > CTL_CLI_MAX_FILE) {
                fprintf(c->err, "error: %s: larger than %u bytes\n", path,
                        (unsigned)CTL_CLI_MAX_FILE);
                free(buf);
                buf = NULL;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - 1 - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                fprintf(c->err, "error: %s: read failed\n", path);
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    if (f != stdin) fclose(f);
    if (!buf) return NULL;
    if (n > CTL_CLI_MAX_FILE) {
        fprintf(c->err, "error: %s: larger than %u bytes\n", path, (unsigned)CTL_CLI_MAX_FILE);
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static int cmd_apply(cli *c)
{
    if (!c->nfiles || c->npos) {
        fprintf(c->err, "error: usage: brix apply -f FILE|- [-f FILE...]\n");
        return 1;
    }
    int rc = 0;
    for (size_t f = 0; f < c->nfiles; f++) {
        size_t len = 0;
        char *buf = read_input(c, c->files[f], &len);
        if (!buf) return 1;
        json_t *ans = NULL;
        int r = call(c, "POST", "/v1/apply", "application/yaml", buf, len, &ans, NULL, 0);
        free(buf);
        if (r) return 1;
        size_t i;
        const json_t *it;
        json_array_foreach(json_object_get(ans, "items"), i, it)
        {
            const char *kind = kind_lower(jstr(json_object_get(it, "kind"), ""));
            const char *name = jstr(json_object_get(it, "name"), "");
            const char *notes = jstr(json_object_get(it, "notes"), "");
            if (c->output && strcmp(c->output, "name") == 0)
                fprintf(c->out, "%s/%s\n", kind, name);
            else
                fprintf(c->out, "%s/%s %s\n", kind, name,
                        jstr(json_object_get(it, "result"), "applied"));
            if (*notes) fprintf(c->err, "Warning: %s/%s: %s\n", kind, name, notes);
        }
        json_decref(ans);
    }
    return rc;
}

typedef enum what { W_OBJECT, W_PODS, W_EVENTS } what;

typedef struct target {
    what w;
    ctl_kind kind;
    ctl_cli_table table;
} target;

static int parse_target(cli *c, const char *word, target *t)
{
    static const char *const pods[] = {"pods", "pod", "po"};
    static const char *const events[] = {"events", "event", "ev"};
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(word, pods[i]) == 0) {
            t->w = W_PODS;
            t->table = CTL_CLI_TABLE_PODS;
            return 0;
        }
        if (strcasecmp(word, events[i]) == 0) {
            t->w = W_EVENTS;
            t->table = CTL_CLI_TABLE_EVENTS;
            return 0;
        }
    }
    t->w = W_OBJECT;
    t->kind = ctl_api_kind_parse(word);
    switch (t->kind) {
    case CTL_KIND_DEPLOYMENT:
        t->table =
            strncasecmp(word, "model", 5) == 0 ? CTL_CLI_TABLE_MODELS : CTL_CLI_TABLE_DEPLOYMENTS;
        return 0;
    case CTL_KIND_MODEL_ADAPTER:
        t->table = CTL_CLI_TABLE_ADAPTERS;
        return 0;
    case CTL_KIND_POD_AUTOSCALER:
        t->table = CTL_CLI_TABLE_AUTOSCALERS;
        return 0;
    default:
        fprintf(c->err,
                "error: the server doesn't have a resource type \"%s\" (try models, "
                "deployments, adapters, autoscalers, pods, events)\n",
                word);
        return 1;
    }
}

static int check_name(cli *c, const char *name)
{
    if (ctl_name_valid(name)) return 0;
    fprintf(c->err, "error: invalid name \"%s\": must be a DNS-1123 label\n", name);
    return 1;
}

/* Prints a collection in the chosen format. single: one named object. */
static int print_items(cli *c, const target *t, json_t *items, int single)
{
    const char *o = c->output ? c->output : "";
    if (!strcmp(o, "json") || !strcmp(o, "yaml")) {
        json_t *doc = single ? json_incref(json_array_get(items, 0))
                             : json_pack("{s:s, s:s, s:O}", "apiVersion", "v1", "kind", "List",
                                         "items", items);
        if (!doc) return 1;
        int r = 0;
        if (!strcmp(o, "json")) {
            r = json_dumpf(doc, c->out, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
            fputc('\n', c->out);
        } else {
            r = ctl_cli_print_yaml(c->out, doc);
        }
        json_decref(doc);
        return r < 0 ? 1 : 0;
    }
    if (!strcmp(o, "name")) {
        size_t i;
        const json_t *it;
        json_array_foreach(items, i, it)
        {
            if (t->w == W_PODS)
                fprintf(c->out, "pod/%s\n", jstr(json_object_get(it, "name"), ""));
            else
                fprintf(c->out, "%s/%s\n", kind_lower(jstr(json_object_get(it, "kind"), "")),
                        jstr(jget(it, "metadata", "name", NULL), ""));
        }
        return 0;
    }
    if (json_array_size(items) == 0) {
        fprintf(c->err, "No resources found.\n");
        return 0;
    }
    return ctl_cli_print_table(c->out, t->table, items, !strcmp(o, "wide"), c->now) < 0 ? 1 : 0;
}

static int get_pods(cli *c, const char *deployment, json_t **items)
{
    char path[128];
    if (deployment)
        snprintf(path, sizeof(path), "/v1/pods?deployment=%s", deployment);
    else
        snprintf(path, sizeof(path), "/v1/pods");
    json_t *ans = NULL;
    *items = NULL;
    if (call(c, "GET", path, NULL, NULL, 0, &ans, NULL, 0)) return 1;
    *items = json_incref(json_object_get(ans, "items"));
    json_decref(ans);
    if (!json_is_array(*items)) {
        json_decref(*items);
        *items = NULL;
        fprintf(c->err, "error: bad answer from the server\n");
        return 1;
    }
    return 0;
}

/* Keeps only the pods named in names; prints the missing ones. */
static int pick_pods(cli *c, json_t *all, char **names, size_t n, json_t *picked)
{
    int rc = 0;
    for (size_t k = 0; k < n; k++) {
        int found = 0;
        size_t i;
        json_t *p;
        json_array_foreach(all, i, p)
        {
            if (strcmp(jstr(json_object_get(p, "name"), ""), names[k]) == 0) {
                json_array_append(picked, p);
                found = 1;
                break;
            }
        }
        if (!found) {
            fprintf(c->err, "Error from server (NotFound): pod \"%s\" not found\n", names[k]);
            rc = 1;
        }
    }
    return rc;
}

static int cmd_get(cli *c)
{
    if (c->npos < 1 || c->nfiles) {
        fprintf(c->err, "error: usage: brix get KIND [NAME...] [-o wide|json|yaml|name]\n");
        return 1;
    }
    if (c->output && strcmp(c->output, "wide") && strcmp(c->output, "json") &&
        strcmp(c->output, "yaml") && strcmp(c->output, "name")) {
        fprintf(c->err, "error: unknown output format \"%s\" (wide, json, yaml, name)\n",
                c->output);
        return 1;
    }
    target t;
    if (parse_target(c, c->pos[0], &t)) return 1;
    char **names = c->pos + 1;
    size_t nn = c->npos - 1;
    json_t *items = NULL;
    int rc = 0;
    if (t.w == W_PODS) {
        json_t *all;
        if (get_pods(c, NULL, &all)) return 1;
        if (nn) {
            items = json_array();
            rc = pick_pods(c, all, names, nn, items);
            json_decref(all);
        } else {
            items = all;
        }
    } else if (t.w == W_EVENTS) {
        json_t *ans;
        if (call(c, "GET", "/v1/events", NULL, NULL, 0, &ans, NULL, 0)) return 1;
        items = json_incref(json_object_get(ans, "items"));
        json_decref(ans);
    } else if (nn == 0) {
        char path[128];
        snprintf(path, sizeof(path), "/v1/objects/%s", ctl_kind_name(t.kind));
        json_t *ans;
        if (call(c, "GET", path, NULL, NULL, 0, &ans, NULL, 0)) return 1;
        items = json_incref(json_object_get(ans, "items"));
        json_decref(ans);
    } else {
        items = json_array();
        for (size_t i = 0; items && i < nn; i++) {
            if (check_name(c, names[i])) {
                rc = 1;
                continue;
            }
            char path[160];
            snprintf(path, sizeof(path), "/v1/objects/%s/%s", ctl_kind_name(t.kind), names[i]);
            json_t *ans;
            if (call(c, "GET", path, NULL, NULL, 0, &ans, NULL, 0)) {
                rc = 1;
                continue;
            }
            json_array_append(items, json_object_get(ans, "object"));
            json_decref(ans);
        }
    }
    if (!json_is_array(items)) {
        json_decref(items);
        fprintf(c->err, "error: bad answer from the server\n");
        return 1;
    }
    if (json_array_size(items) || !rc) {
        if (print_items(c, &t, items, nn == 1)) rc = 1;
    }
    json_decref(items);
    return rc;
}

static int describe_one(cli *c, const target *t, const char *name, int first)
{
    if (check_name(c, name)) return 1;
    char path[160];
    snprintf(path, sizeof(path), "/v1/objects/%s/%s", ctl_kind_name(t->kind), name);
    json_t *ans;
    if (call(c, "GET", path, NULL, NULL, 0, &ans, NULL, 0)) return 1;
    json_t *pods = NULL;
    int rc = 0;
    if (t->kind == CTL_KIND_DEPLOYMENT && get_pods(c, name, &pods)) rc = 1;
    if (!first) fputc('\n', c->out);
    if (ctl_cli_print_describe(c->out, json_object_get(ans, "object"),
                               json_object_get(ans, "events"), pods, c->now) < 0)
        rc = 1;
    json_decref(pods);
    json_decref(ans);
    return rc;
}

static int cmd_describe(cli *c)
{
    if (c->npos < 1 || c->nfiles || c->output) {
        fprintf(c->err, "error: usage: brix describe KIND [NAME...]\n");
        return 1;
    }
    target t;
    if (parse_target(c, c->pos[0], &t)) return 1;
    if (t.w == W_EVENTS) {
        fprintf(c->err, "error: events cannot be described; use brix get events\n");
        return 1;
    }
    int rc = 0;
    if (t.w == W_PODS) {
        json_t *all, *items;
        if (get_pods(c, NULL, &all)) return 1;
        if (c->npos > 1) {
            items = json_array();
            rc = pick_pods(c, all, c->pos + 1, c->npos - 1, items);
            json_decref(all);
        } else {
            items = all;
        }
        size_t i;
        const json_t *p;
        json_array_foreach(items, i, p)
        {
            if (i) fputc('\n', c->out);
            describe_pod(c->out, p, c->now);
        }
        if (!json_array_size(items) && !rc) fprintf(c->err, "No resources found.\n");
        json_decref(items);
        return rc;
    }
    if (c->npos > 1) {
        for (size_t i = 1; i < c->npos; i++)
            rc |= describe_one(c, &t, c->pos[i], i == 1);
        return rc;
    }
    /* No name: every object of the kind, as kubectl does. */
    char path[128];
    snprintf(path, sizeof(path), "/v1/objects/%s", ctl_kind_name(t.kind));
    json_t *ans;
    if (call(c, "GET", path, NULL, NULL, 0, &ans, NULL, 0)) return 1;
    const json_t *items = json_object_get(ans, "items");
    if (!json_array_size(items)) fprintf(c->err, "No resources found.\n");
    size_t i;
    const json_t *o;
    json_array_foreach(items, i, o) rc |=
        describe_one(c, &t, jstr(jget(o, "metadata", "name", NULL), ""), i == 0);
    json_decref(ans);
    return rc;
}

static int delete_one(cli *c, ctl_kind kind, const char *name)
{
    if (check_name(c, name)) return 1;
    char path[160];
    snprintf(path, sizeof(path), "/v1/objects/%s/%s", ctl_kind_name(kind), name);
    json_t *ans;
    long st = 0;
    if (call(c, "DELETE", path, NULL, NULL, 0, &ans, &st, c->ignore_not_found)) {
        return st == 404 && c->ignore_not_found ? 0 : 1;
    }
    json_decref(ans);
    const char *kl = kind_lower(ctl_kind_name(kind));
    fprintf(c->out, "%s \"%s\" deleted\n", kl, name);
    return 0;
}

static int delete_files(cli *c)
{
    int rc = 0;
    for (size_t f = 0; f < c->nfiles; f++) {
        size_t len = 0;
        char *buf = read_input(c, c->files[f], &len);
        if (!buf) return 1;
        json_t *docs = NULL;
        char err[CLI_ERR_MAX];
        int r = bx_yaml_load_all(buf, len, NULL, &docs, err, sizeof(err));
        free(buf);
        if (r < 0) {
            fprintf(c->err, "error: %s: %s\n", c->files[f], err);
            return 1;
        }
        size_t i;
        const json_t *d;
        json_array_foreach(docs, i, d)
        {
            if (json_is_null(d)) continue;
            const char *kind = jstr(json_object_get(d, "kind"), NULL);
            const char *name = jstr(jget(d, "metadata", "name", NULL), NULL);
            ctl_kind k = kind ? ctl_kind_parse(kind) : CTL_KIND_NONE;
            if (k == CTL_KIND_NONE || !name) {
                fprintf(c->err, "error: %s: document %zu: needs a known kind and metadata.name\n",
                        c->files[f], i + 1);
                rc = 1;
                continue;
            }
            rc |= delete_one(c, k, name);
        }
        json_decref(docs);
    }
    return rc;
}

static int cmd_delete(cli *c)
{
    if (c->nfiles) {
        if (c->npos) {
            fprintf(c->err, "error: give either -f FILE or KIND NAME, not both\n");
            return 1;
        }
        return delete_files(c);
    }
    if (c->npos < 2) {
        fprintf(c->err, "error: usage: brix delete -f FILE | brix delete KIND NAME...\n");
        return 1;
    }
    target t;
    if (parse_target(c, c->pos[0], &t)) return 1;
    if (t.w != W_OBJECT) {
        fprintf(c->err, "error: %s cannot be deleted (scale or delete their deployment)\n",
                c->pos[0]);
        return 1;
    }
    int rc = 0;
    for (size_t i = 1; i < c->npos; i++)
        rc |= delete_one(c, t.kind, c->pos[i]);
    return rc;
}

static void usage(FILE *f, const char *cmd)
{
    fprintf(f,
            "usage:\n"
            "  brix apply -f FILE|-                       create or update objects\n"
            "  brix get KIND [NAME...] [-o wide|json|yaml|name]\n"
            "  brix describe KIND [NAME...]               details, conditions, events\n"
            "  brix delete -f FILE|- | KIND NAME...       [--ignore-not-found]\n"
            "\n"
            "KIND: models, deployments (deploy), adapters (ma), autoscalers (pa), pods, events\n"
            "--server URL, -s URL   admin API of `brix up` (env BRIX_SERVER; default %s)\n",
            CTL_CLI_DEFAULT_SERVER);
    (void)cmd;
}

/* Option value: "--opt=v", "-oV" or the next argument. NULL when missing. */
static const char *optval(int argc, char **argv, int *i, const char *arg, size_t optlen)
{
    if (arg[optlen] == '=') return arg + optlen + 1;
    if (arg[optlen]) return arg + optlen; /* -ojson */
    if (*i + 1 < argc) return argv[++*i];
    return NULL;
}

static int parse_args(cli *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        const char *v = NULL;
        size_t ol = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            c->help = 1;
            continue;
        }
        if (!strcmp(a, "--ignore-not-found")) {
            c->ignore_not_found = 1;
            continue;
        }
        if (!strcmp(a, "-") || a[0] != '-') {
            if (c->npos == sizeof(c->pos) / sizeof(c->pos[0])) {
                fprintf(c->err, "error: too many arguments\n");
                return 1;
            }
            c->pos[c->npos++] = argv[i];
            continue;
        }
        if (!strncmp(a, "--server", 8) && (a[8] == 0 || a[8] == '=')) {
            dst = &c->server, ol = 8;
        } else if (!strncmp(a, "-s", 2) && strncmp(a, "--", 2)) {
            dst = &c->server, ol = 2;
        } else if (!strncmp(a, "--output", 8) && (a[8] == 0 || a[8] == '=')) {
            dst = &c->output, ol = 8;
        } else if (!strncmp(a, "-o", 2)) {
            dst = &c->output, ol = 2;
        } else if (!strncmp(a, "--filename", 10) && (a[10] == 0 || a[10] == '=')) {
            ol = 10;
        } else if (!strncmp(a, "-f", 2)) {
            ol = 2;
        } else {
            fprintf(c->err, "error: unknown flag %s\n", a);
            return 1;
        }
        v = optval(argc, argv, &i, a, ol);
        if (!v || !*v) {
            fprintf(c->err, "error: flag %.*s needs a value\n", (int)ol, a);
            return 1;
        }
        if (dst) {
            *dst = v;
        } else {
            if (c->nfiles == sizeof(c->files) / sizeof(c->files[0])) {
                fprintf(c->err, "error: too many -f files\n");
                return 1;
            }
            c->files[c->nfiles++] = v;
        }
    }
    return 0;
}

int ctl_cli_run(int argc, char **argv, FILE *out, FILE *err)
{
    cli c = {.out = out, .err = err};
    if (argc < 1 || !argv[0]) {
        usage(err, "");
        return 1;
    }
    if (parse_args(&c, argc, argv)) return 1;
    if (c.help) {
        usage(out, argv[0]);
        return 0;
    }
    if (!c.server) c.server = getenv("BRIX_SERVER");
    if (!c.server || !*c.server) c.server = CTL_CLI_DEFAULT_SERVER;
    c.now = wall_ms();
    int (*fn)(cli *) = NULL;
    if (!strcmp(argv[0], "apply"))
        fn = cmd_apply;
    else if (!strcmp(argv[0], "get"))
        fn = cmd_get;
    else if (!strcmp(argv[0], "describe"))
        fn = cmd_describe;
    else if (!strcmp(argv[0], "delete"))
        fn = cmd_delete;
    if (!fn) {
        fprintf(err, "error: unknown command \"%s\"\n", argv[0]);
        usage(err, argv[0]);
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(err, "error: cannot initialise libcurl\n");
        return 1;
    }
    int rc = fn(&c);
    curl_global_cleanup();
    fflush(out);
    fflush(err);
    return rc;
}

int ctl_cli_main(int argc, char **argv)
{
    return ctl_cli_run(argc, argv, stdout, stderr);
}
