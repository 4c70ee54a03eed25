/* gw_strategy: the router's defaults and the helpers strategies share. */
#include "gateway/gw_strategy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_rand.h"

void gw_strategy_cfg_default(gw_strategy_cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->prefix_max_bytes = 64u << 20;
    c->block_size = 16;
}

int gw_rand_index(const gw_route_req *r, uint64_t salt, int n)
{
    if (n <= 0) return -1;
    return (int)(bx_mix64(r->rnd ^ bx_mix64(salt)) % (uint64_t)n);
}

int gw_queue_verdict(int held, uint64_t until_ms, uint64_t now_ms, int queued, int max_queue)
{
    if (held) return now_ms >= until_ms ? GW_QUEUE_TIMEOUT : GW_QUEUE_WAIT;
    return queued >= max_queue ? GW_QUEUE_FULL : GW_QUEUE_WAIT;
}

int gw_pick_min(const gw_route_req *r, const double *score, int n)
{
    double best = INFINITY;
    int nbest = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(score[i])) continue;
        if (score[i] < best) {
            best = score[i];
            nbest = 1;
        } else if (score[i] == best) {
            nbest++;
        }
    }
    if (nbest == 0) return -1;
    int k = gw_rand_index(r, 0x7469652dULL, nbest); /* k-th tied minimum */
    for (int i = 0; i < n; i++)
        if (!isnan(score[i]) && score[i] == best && k-- == 0) return i;
    return -1;
}

int gw_pick_max(const gw_route_req *r, const double *score, int n)
{
    double best = -INFINITY;
    int nbest = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(score[i]) && score[i] > best) best = score[i];
    for (int i = 0; i < n; i++)
        if (!isnan(score[i]) && score[i] >= best - 1e-9) nbest++;
    if (nbest == 0) return -1;
    int k = gw_rand_index(r, 0x6d61782dULL, nbest); /* k-th tied maximum */
    for (int i = 0; i < n; i++)
        if (!isnan(score[i]) && score[i] >= best - 1e-9 && k-- == 0) return i;
    return -1;
}

const gw_strategy *gw_strategy_resolve(const char *name)
{
    const gw_strategy *s = gw_strategy_find(name);
    if (s) return s;
    for (const gw_strategy_alias *a = gw_strategy_alias_all(); a->name; a++)
        if (!strcmp(a->name, name)) return gw_strategy_find(a->target);
    return NULL;
}

/* One list entry, [b, e) trimmed of blanks, into name (its own copy) and w. */
static int gw_plan_item(const char *b, const char *e, char *name, size_t namecap, uint32_t *w)
{
    while (b < e && (*b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    const char *colon = memchr(b, ':', (size_t)(e - b));
    const char *ne = colon ? colon : e;
    while (ne > b && (ne[-1] == ' ' || ne[-1] == '\t'))
        ne--;
    if (ne == b || (size_t)(ne - b) >= namecap) return -1;
    memcpy(name, b, (size_t)(ne - b));
    name[ne - b] = '\0';
    *w = 1;
    if (!colon) return 0;
    const char *p = colon + 1;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    if (p == e) return -1;
    uint64_t v = 0;
    for (; p < e; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > 1000000) return -1;
    }
    *w = (uint32_t)v;
    return 0;
}

int gw_strategy_plan_parse(const char *spec, gw_strategy_plan *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    if (!spec || !*spec || strlen(spec) >= GW_PLAN_SPEC_MAX) {
        snprintf(err, errlen, "incorrect routing strategy %.64s", spec ? spec : "");
        return -1;
    }
    const char *names[GW_PLAN_MAX];
    char buf[GW_PLAN_MAX][64];
    const char *b = spec;
    int excl = -1; /* pd / slo*: the first one wins alone */
    for (;;) {
        const char *e = strchr(b, ',');
        if (!e) e = b + strlen(b);
        char name[64];
        uint32_t w;
        const gw_strategy *s = NULL;
        if (gw_plan_item(b, e, name, sizeof(name), &w) != 0 || !(s = gw_strategy_resolve(name))) {
            snprintf(err, errlen, "incorrect routing strategy %.64s", spec);
            return -1;
        }
        int isexcl = !strcmp(name, "pd") || !strncmp(name, "slo", 3);
        int dup = -1;
        for (int i = 0; i < p->n; i++)
            if (p->s[i] == s) dup = i;
        if (w > 0 && dup >= 0) {
            p->w[dup] += w; /* the same implementation twice: one entry */
        } else if (w > 0) {
            if (p->n == GW_PLAN_MAX) {
                snprintf(err, errlen, "incorrect routing strategy %.64s (more than %d entries)",
                         spec, GW_PLAN_MAX);
                return -1;
            }
            snprintf(buf[p->n], sizeof(buf[p->n]), "%s", name);
            names[p->n] = buf[p->n];
            p->s[p->n] = s;
            p->w[p->n] = w;
            if (isexcl && excl < 0) excl = p->n;
            p->n++;
        }
        if (!*e) break;
        b = e + 1;
    }
    if (p->n == 0) {
        snprintf(err, errlen, "incorrect routing strategy %.64s (every weight is 0)", spec);
        return -1;
    }
    if (excl >= 0) { /* AIBrix: pd and slo* take the request alone */
        p->s[0] = p->s[excl];
        p->w[0] = 1;
        names[0] = names[excl];
        p->n = 1;
    }
    if (p->n > 1)
        for (int i = 0; i < p->n; i++)
            if (!p->s[i]->score) {
                snprintf(err, errlen,
                         "incorrect routing strategy %.64s (%s cannot be combined: it has no "
                         "scores)",
                         spec, names[i]);
                return -1;
            }
    size_t off = 0;
    for (int i = 0; i < p->n; i++) {
        const gw_strategy *s = p->s[i];
        p->needs_tokens |= s->needs_tokens || s->needs_blocks;
        p->needs_blocks |= s->needs_blocks;
        p->sets_session_id |= s->sets_session_id;
        int k = p->n > 1 && p->w[i] != 1 ? snprintf(p->spec + off, sizeof(p->spec) - off, "%s%s:%u",
                                                    i ? "," : "", names[i], p->w[i])
                                         : snprintf(p->spec + off, sizeof(p->spec) - off, "%s%s",
                                                    i ? "," : "", names[i]);
        if (k < 0 || (size_t)k >= sizeof(p->spec) - off)
            break; /* cannot happen: spec was shorter */
        off += (size_t)k;
    }
    return 0;
}

const gw_strategy *gw_strategy_find(const char *name)
{
    for (const gw_strategy *const *s = gw_strategy_all(); *s; s++)
        if (!strcmp((*s)->name, name)) return *s;
    return NULL;
}

int gw_strategy_number(const char *strategy, const char *key, const char *value, double lo,
                       double hi, double *out, char *err, size_t errlen)
{
    char *end = NULL;
    double v = value && *value ? strtod(value, &end) : NAN;
    if (!end || *end || !isfinite(v) || v < lo || v > hi) {
        snprintf(err, errlen, "%s: %s must be a number in [%g, %g]", strategy, key, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int gw_strategy_unknown_setting(const char *strategy, const char *key, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: unknown setting '%s'", strategy, key);
    return -1;
}
