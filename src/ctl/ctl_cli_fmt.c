/* ctl_cli_fmt: the pieces every printer of the CLI shares (ctl_cli_int.h):
 * RFC 3339 times and kubectl's short ages, JSON field access that tolerates
 * any shape the admin API might answer, and the aligned text table of
 * `get` and `describe`. Pure functions of their arguments but for
 * ctl_cli_wall_ms. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_time.h"

#include "ctl/ctl_cli.h"
#include "ctl/ctl_cli_int.h"
#include "ctl/ctl_obj.h"

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

int64_t ctl_cli_parse_time(const char *s)
{
    char buf[64];
    int64_t ms;
    /* RFC 3339 also allows a space between the date and the time */
    if (!s || strlen(s) >= sizeof(buf)) return -1;
    snprintf(buf, sizeof(buf), "%s", s);
    if (strlen(buf) > 10 && buf[10] == ' ') buf[10] = 'T';
    return bx_time_parse_rfc3339(buf, &ms) == 0 ? ms : -1;
}

int64_t ctl_cli_wall_ms(void)
{
    return bx_time_unix_ms();
}

/* Age of an RFC 3339 time, or "<unknown>". */
void ctl_cli_age_of(const json_t *ts, int64_t now_ms, char *buf, size_t len)
{
    int64_t t = ctl_cli_parse_time(json_string_value(ts));
    if (t < 0)
        snprintf(buf, len, "<unknown>");
    else
        ctl_cli_format_age(now_ms - t, buf, len);
}

/* ------------------------------------------------------------ JSON access */

/* obj[k1][k2]... (NULL-terminated keys); NULL when any step is missing. */
const json_t *ctl_cli_jget(const json_t *j, ...)
{
    va_list ap;
    va_start(ap, j);
    const char *k;
    while (j && (k = va_arg(ap, const char *)) != NULL)
        j = json_object_get(j, k);
    va_end(ap);
    return j;
}

const char *ctl_cli_jstr(const json_t *j, const char *def)
{
    const char *s = json_string_value(j);
    return s ? s : def;
}

/* Integers (and integral strings, as AIBrix writes some) into buf; def
 * when absent. */
const char *ctl_cli_jnum(const json_t *j, const char *def, char *buf, size_t len)
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

const char *ctl_cli_kind_lower(const char *kind)
{
    return ctl_kind_lower(ctl_kind_parse(kind));
}

const char *ctl_cli_deployment_model(const json_t *o)
{
    const char *m =
        ctl_cli_jstr(ctl_cli_jget(o, "metadata", "labels", CTL_LABEL_MODEL, NULL), NULL);
    if (!m)
        m = ctl_cli_jstr(
            ctl_cli_jget(o, "spec", "template", "metadata", "labels", CTL_LABEL_MODEL, NULL), NULL);
    return m ? m : "<none>";
}

const char *ctl_cli_ray_model(const json_t *o)
{
    const char *own =
        ctl_cli_jstr(ctl_cli_jget(o, "metadata", "labels", CTL_LABEL_MODEL, NULL), NULL);
    const char *m = NULL;
    if (!strcmp(ctl_cli_jstr(json_object_get(o, "kind"), ""), "RayCluster"))
        m = own ? own
                : ctl_cli_jstr(ctl_cli_jget(o, "spec", "headGroupSpec", "template", "metadata",
                                            "labels", CTL_LABEL_MODEL, NULL),
                               NULL);
    else
        m = ctl_cli_jstr(
            ctl_cli_jget(o, "spec", "template", "metadata", "labels", CTL_LABEL_MODEL, NULL), own);
    return m ? m : "<none>";
}

void ctl_cli_pod_row_fill(ctl_cli_pod_row *r, const json_t *p, const char *def, int64_t now)
{
    const json_t *since = json_object_get(p, "startedAt");
    if (!json_is_string(since)) since = json_object_get(p, "readySince");
    ctl_cli_age_of(since, now, r->age_buf, sizeof(r->age_buf));
    const json_t *pidj = json_object_get(p, "pid");
    r->name = ctl_cli_jstr(json_object_get(p, "name"), "");
    r->phase = ctl_cli_jstr(json_object_get(p, "phase"), def);
    r->ready = json_is_true(json_object_get(p, "ready")) ? "1/1" : "0/1";
    r->restarts =
        ctl_cli_jnum(json_object_get(p, "restarts"), "0", r->restarts_buf, sizeof(r->restarts_buf));
    r->port = ctl_cli_jnum(json_object_get(p, "port"), def, r->port_buf, sizeof(r->port_buf));
    r->pid = json_integer_value(pidj) > 0 ? ctl_cli_jnum(pidj, "", r->pid_buf, sizeof(r->pid_buf))
                                          : "<none>";
    r->age = r->age_buf;
}

/* ------------------------------------------------------------ tables */

void ctl_cli_tbl_row(ctl_cli_tbl *t, const char *const *cells)
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
int ctl_cli_tbl_print(ctl_cli_tbl *t, FILE *out, const char *indent)
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

void ctl_cli_join_strings(const json_t *arr, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        if (!s)
            s = ctl_cli_jstr(json_object_get(v, "name"),
                             ctl_cli_jstr(json_object_get(v, "pod"), NULL));
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
