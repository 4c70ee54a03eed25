/* bx_prom_parse: see bx_prom_parse.h. The input is copied once into an arena
 * and tokenised in place (names and values are NUL-terminated where they
 * end, label values unescaped in place since escapes only shrink). Families
 * are found through an open-addressing table, so a document with many
 * families stays linear. */
#include "common/bx_prom_parse.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

void bx_prom_limits_default(bx_prom_limits *l)
{
    l->max_bytes = 16u << 20;
    l->max_samples = 100000;
    l->max_labels = 32;
    l->max_name_len = 256;
    l->max_value_len = 4096;
}

typedef struct pp {
    const bx_prom_limits *lim;
    bx_prom_doc *doc;
    size_t fam_cap, lab_cap, lab_n, sam_cap;
    int32_t *tab; /* family index + 1, 0 = empty */
    size_t tab_cap;
    size_t line;
    char *err;
    size_t errlen;
} pp;

static int pp_fail(pp *p, int code, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(p->err, p->errlen, "line %zu: ", p->line);
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < p->errlen) vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

static int pp_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static int pp_name_char(char c)
{
    return pp_name_start(c) || (c >= '0' && c <= '9');
}

static int pp_family_find(const pp *p, const char *name, size_t len)
{
    if (!p->tab_cap) return -1;
    size_t mask = p->tab_cap - 1, i = XXH64(name, len, 0) & mask;
    while (p->tab[i]) {
        const char *fn = p->doc->families[p->tab[i] - 1].name;
        if (strlen(fn) == len && memcmp(fn, name, len) == 0) return p->tab[i] - 1;
        i = (i + 1) & mask;
    }
    return -1;
}

static int pp_family_add(pp *p, const char *name)
{
    bx_prom_doc *d = p->doc;
    if (d->nfamilies * 2 + 2 > p->tab_cap) { /* grow and rehash */
        size_t nc = p->tab_cap ? p->tab_cap * 2 : 64;
        int32_t *nt = calloc(nc, sizeof(*nt));
        if (!nt) return BX_PROM_ENOMEM;
        for (size_t f = 0; f < d->nfamilies; f++) {
            size_t i = XXH64(d->families[f].name, strlen(d->families[f].name), 0) & (nc - 1);
            while (nt[i])
                i = (i + 1) & (nc - 1);
            nt[i] = (int32_t)f + 1;
        }
        free(p->tab);
        p->tab = nt;
        p->tab_cap = nc;
    }
    if (d->nfamilies == p->fam_cap) {
        size_t nc = p->fam_cap ? p->fam_cap * 2 : 32;
        bx_prom_family *nf = realloc(d->families, nc * sizeof(*nf));
        if (!nf) return BX_PROM_ENOMEM;
        d->families = nf;
        p->fam_cap = nc;
    }
    size_t i = XXH64(name, strlen(name), 0) & (p->tab_cap - 1);
    while (p->tab[i])
        i = (i + 1) & (p->tab_cap - 1);
    p->tab[i] = (int32_t)d->nfamilies + 1;
    d->families[d->nfamilies] = (bx_prom_family){name, NULL, BX_PROM_UNTYPED};
    return (int)d->nfamilies++;
}

/* Reads a metric or label name at *s; NUL-terminates it only when asked
 * (the caller may need the byte after it). Returns its length, 0 if none. */
static size_t pp_name(const char *s)
{
    if (!pp_name_start(*s)) return 0;
    size_t n = 1;
    while (pp_name_char(s[n]))
        n++;
    return n;
}

static char *pp_skip_ws(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Unescapes HELP text in place: \\ and \n. */
static void pp_unescape_help(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '\\' && (s[1] == '\\' || s[1] == 'n')) {
            *o++ = s[1] == 'n' ? '\n' : '\\';
            s++;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

static int pp_comment(pp *p, char *s)
{
    s = pp_skip_ws(s + 1);
    int help = !strncmp(s, "HELP", 4), type = !strncmp(s, "TYPE", 4);
    if ((!help && !type) || (s[4] && s[4] != ' ' && s[4] != '\t')) return 0; /* plain comment */
    s = pp_skip_ws(s + 4);
    size_t nl = pp_name(s);
    if (!nl)
        return pp_fail(p, BX_PROM_EPARSE, "# %s without a metric name", help ? "HELP" : "TYPE");
    if (nl > p->lim->max_name_len) return pp_fail(p, BX_PROM_ELIMIT, "metric name too long");
    char *name = s, *rest = s + nl;
    if (*rest && *rest != ' ' && *rest != '\t')
        return pp_fail(p, BX_PROM_EPARSE, "invalid character in metric name");
    char *after = *rest ? pp_skip_ws(rest + 1) : rest;
    *rest = '\0';
    int f = pp_family_find(p, name, nl);
    if (f < 0) f = pp_family_add(p, name);
    if (f < 0) return f;
    bx_prom_family *fam = &p->doc->families[f];
    if (help) {
        if (!fam->help) {
            pp_unescape_help(after);
            fam->help = after;
        }
        return 0;
    }
    static const char *types[] = {"untyped", "counter", "gauge", "histogram", "summary"};
    char *end = after;
    while (*end && *end != ' ' && *end != '\t')
        end++;
    *end = '\0';
    for (int t = 0; t < 5; t++) {
        if (!strcmp(after, types[t])) {
            if (fam->type != BX_PROM_UNTYPED && fam->type != (bx_prom_type)t)
                return pp_fail(p, BX_PROM_EPARSE, "second TYPE line for %s", name);
            fam->type = (bx_prom_type)t;
            return 0;
        }
    }
    return pp_fail(p, BX_PROM_EPARSE, "unknown metric type '%.32s'", after);
}

static int pp_family_of(pp *p, const char *name, size_t nl)
{
    /* A declared family of this exact name wins; else a histogram, summary
     * or counter the suffix points at; else an untyped family of the name. */
    int f = pp_family_find(p, name, nl);
    if (f >= 0 && (p->doc->families[f].type != BX_PROM_UNTYPED || p->doc->families[f].help))
        return f;
    static const char *sfx[] = {"_bucket", "_sum", "_count", "_total", "_created"};
    for (int i = 0; i < 5; i++) {
        size_t sl = strlen(sfx[i]);
        if (nl <= sl || memcmp(name + nl - sl, sfx[i], sl) != 0) continue;
        int b = pp_family_find(p, name, nl - sl);
        if (b < 0) continue;
        bx_prom_type t = p->doc->families[b].type;
        if ((i <= 2 && (t == BX_PROM_HISTOGRAM || t == BX_PROM_SUMMARY)) ||
            (i == 3 && t == BX_PROM_COUNTER) || i == 4)
            return b;
    }
    return f >= 0 ? f : pp_family_add(p, name);
}

static int pp_label_push(pp *p, const char *n, const char *v)
{
    if (p->lab_n == p->lab_cap) {
        size_t nc = p->lab_cap ? p->lab_cap * 2 : 256;
        bx_prom_label *nl = realloc(p->doc->labels_, nc * sizeof(*nl));
        if (!nl) return BX_PROM_ENOMEM;
        p->doc->labels_ = nl;
        p->lab_cap = nc;
    }
    p->doc->labels_[p->lab_n++] = (bx_prom_label){n, v};
    return 0;
}

static int pp_sample(pp *p, char *s)
{
    bx_prom_doc *d = p->doc;
    size_t nl = pp_name(s);
    if (!nl) return pp_fail(p, BX_PROM_EPARSE, "expected a metric name");
    if (nl > p->lim->max_name_len) return pp_fail(p, BX_PROM_ELIMIT, "metric name too long");
    if (d->nsamples >= p->lim->max_samples)
        return pp_fail(p, BX_PROM_ELIMIT, "more than %zu samples", p->lim->max_samples);
    char *name = s, *q = s + nl;
    size_t lab_first = p->lab_n;
    uint32_t nlab = 0;
    char after = *q;
    if (after == '{') {
        *q = '\0';
        q = pp_skip_ws(q + 1);
        while (*q != '}') {
            size_t ln = pp_name(q);
            if (!ln) return pp_fail(p, BX_PROM_EPARSE, "expected a label name");
            if (ln > p->lim->max_name_len) return pp_fail(p, BX_PROM_ELIMIT, "label name too long");
            char *lname = q;
            q = pp_skip_ws(q + ln);
            if (*q != '=') return pp_fail(p, BX_PROM_EPARSE, "expected '=' after label name");
            lname[ln] = '\0'; /* overwrites whitespace or '=' */
            q = pp_skip_ws(q + 1);
            if (*q != '"') return pp_fail(p, BX_PROM_EPARSE, "expected '\"' to open a label value");
            char *v = ++q, *o = q;
            for (;;) {
                if (!*q) return pp_fail(p, BX_PROM_EPARSE, "unterminated label value");
                if (*q == '"') break;
                if (*q == '\\') {
                    if (q[1] == 'n')
                        *o++ = '\n';
                    else if (q[1] == '\\' || q[1] == '"')
                        *o++ = q[1];
                    else
                        return pp_fail(p, BX_PROM_EPARSE, "invalid escape in label value");
                    q += 2;
                } else {
                    *o++ = *q++;
                }
                if ((size_t)(o - v) > p->lim->max_value_len)
                    return pp_fail(p, BX_PROM_ELIMIT, "label value too long");
            }
            *o = '\0';
            q = pp_skip_ws(q + 1);
            if (++nlab > p->lim->max_labels)
                return pp_fail(p, BX_PROM_ELIMIT, "more than %zu labels", p->lim->max_labels);
            for (size_t k = lab_first; k < p->lab_n; k++)
                if (!strcmp(p->doc->labels_[k].name, lname))
                    return pp_fail(p, BX_PROM_EPARSE, "label %.64s given twice", lname);
            int rc = pp_label_push(p, lname, v);
            if (rc) return rc;
            if (*q == ',')
                q = pp_skip_ws(q + 1);
            else if (*q != '}')
                return pp_fail(p, BX_PROM_EPARSE, "expected ',' or '}'");
        }
        q++;
        if (*q != ' ' && *q != '\t')
            return pp_fail(p, BX_PROM_EPARSE, "expected a space before the value");
    } else if (after != ' ' && after != '\t') {
        return pp_fail(p, BX_PROM_EPARSE, "invalid character in metric name");
    }
    name[nl] = '\0'; /* family_add hashes and keeps the terminated name */
    int fam = pp_family_of(p, name, nl);
    if (fam < 0) return fam;
    q = pp_skip_ws(q + (after == '{' ? 0 : 1));
    char *vs = q;
    while (*q && *q != ' ' && *q != '\t')
        q++;
    char *ts = *q ? pp_skip_ws(q) : q;
    *q = '\0';
    if (!*vs) return pp_fail(p, BX_PROM_EPARSE, "missing value");
    char *end;
    errno = 0;
    double v = strtod(vs, &end);
    if (*end || end == vs) return pp_fail(p, BX_PROM_EPARSE, "invalid value '%.32s'", vs);
    bx_prom_sample smp = {.name = name, .family = fam, .labels = NULL, .nlabels = nlab, .value = v};
    smp.labels = (const bx_prom_label *)(uintptr_t)lab_first; /* fixed up at the end */
    if (*ts) {
        char *te;
        errno = 0;
        long long t = strtoll(ts, &te, 10);
        if (errno || te == ts || *pp_skip_ws(te))
            return pp_fail(p, BX_PROM_EPARSE, "invalid timestamp");
        smp.has_ts = 1;
        smp.ts_ms = t;
    }
    if (d->nsamples == p->sam_cap) {
        size_t nc = p->sam_cap ? p->sam_cap * 2 : 128;
        bx_prom_sample *ns = realloc(d->samples, nc * sizeof(*ns));
        if (!ns) return BX_PROM_ENOMEM;
        d->samples = ns;
        p->sam_cap = nc;
    }
    d->samples[d->nsamples++] = smp;
    return 0;
}

static size_t pp_align(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* Moves families, samples and labels behind the text in the arena, so the
 * document is one allocation. Strings are turned into offsets first since
 * realloc may move the text. */
static int pp_pack(pp *p, size_t textlen)
{
    bx_prom_doc *d = p->doc;
    char *old = d->arena_;
    size_t of = pp_align(textlen);
    size_t os = of + pp_align(d->nfamilies * sizeof(bx_prom_family));
    size_t ol = os + pp_align(d->nsamples * sizeof(bx_prom_sample));
    size_t total = ol + p->lab_n * sizeof(bx_prom_label);
#define PP_OFF(ptr) ((const char *)(uintptr_t)((ptr)-old))
#define PP_PTR(base, off) ((base) + (uintptr_t)(off))
    for (size_t i = 0; i < d->nfamilies; i++) {
        bx_prom_family *f = &d->families[i];
        f->name = PP_OFF(f->name);
        f->help = f->help ? (const char *)(uintptr_t)(f->help - old + 1) : NULL;
    }
    for (size_t i = 0; i < d->nsamples; i++)
        d->samples[i].name = PP_OFF(d->samples[i].name);
    for (size_t i = 0; i < p->lab_n; i++) {
        d->labels_[i].name = PP_OFF(d->labels_[i].name);
        d->labels_[i].value = PP_OFF(d->labels_[i].value);
    }
    char *na = realloc(old, total);
    if (!na) return BX_PROM_ENOMEM; /* the doc is freed, not read, after this */
    d->arena_ = na;
    bx_prom_family *fam = (bx_prom_family *)(void *)(na + of);
    bx_prom_sample *smp = (bx_prom_sample *)(void *)(na + os);
    bx_prom_label *lab = (bx_prom_label *)(void *)(na + ol);
    if (d->nfamilies) memcpy(fam, d->families, d->nfamilies * sizeof(*fam));
    if (d->nsamples) memcpy(smp, d->samples, d->nsamples * sizeof(*smp));
    if (p->lab_n) memcpy(lab, d->labels_, p->lab_n * sizeof(*lab));
    free(d->families);
    free(d->samples);
    free(d->labels_);
    d->families = fam;
    d->samples = smp;
    d->labels_ = lab;
    d->packed_ = 1;
    for (size_t i = 0; i < d->nfamilies; i++) {
        fam[i].name = PP_PTR(na, fam[i].name);
        if (fam[i].help) fam[i].help = na + ((uintptr_t)fam[i].help - 1);
    }
    for (size_t i = 0; i < d->nsamples; i++) {
        smp[i].name = PP_PTR(na, smp[i].name);
        uintptr_t first = (uintptr_t)smp[i].labels;
        smp[i].labels = smp[i].nlabels ? lab + first : NULL;
    }
    for (size_t i = 0; i < p->lab_n; i++) {
        lab[i].name = PP_PTR(na, lab[i].name);
        lab[i].value = PP_PTR(na, lab[i].value);
    }
#undef PP_OFF
#undef PP_PTR
    return 0;
}

int bx_prom_parse(const char *buf, size_t len, const bx_prom_limits *lim, bx_prom_doc *doc,
                  char *err, size_t errlen)
{
    bx_prom_limits dl;
    if (!lim) {
        bx_prom_limits_default(&dl);
        lim = &dl;
    }
    memset(doc, 0, sizeof(*doc));
    pp p = {.lim = lim, .doc = doc, .err = err, .errlen = errlen};
    if (len > lim->max_bytes) {
        snprintf(err, errlen, "exposition larger than %zu bytes", lim->max_bytes);
        return BX_PROM_ELIMIT;
    }
    doc->arena_ = malloc(len + 1);
    if (!doc->arena_) return BX_PROM_ENOMEM;
    memcpy(doc->arena_, buf, len);
    doc->arena_[len] = '\0';
    int rc = 0;
    char *s = doc->arena_, *end = s + len;
    while (s < end && rc == 0) {
        p.line++;
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *le = nl ? nl : end;
        if (memchr(s, '\0', (size_t)(le - s))) {
            rc = pp_fail(&p, BX_PROM_EPARSE, "NUL byte");
            break;
        }
        *le = '\0';
        if (le > s && le[-1] == '\r') le[-1] = '\0';
        char *t = pp_skip_ws(s);
        if (*t == '#')
            rc = pp_comment(&p, t);
        else if (*t)
            rc = pp_sample(&p, t);
        s = le + 1;
    }
    free(p.tab);
    if (rc == 0) rc = pp_pack(&p, len + 1);
    if (rc != 0) {
        if (rc == BX_PROM_ENOMEM) snprintf(err, errlen, "out of memory");
        bx_prom_doc_free(doc);
        return rc;
    }
    return 0;
}

void bx_prom_doc_free(bx_prom_doc *doc)
{
    if (!doc->packed_) {
        free(doc->families);
        free(doc->samples);
        free(doc->labels_);
    }
    free(doc->arena_);
    memset(doc, 0, sizeof(*doc));
}

const char *bx_prom_label_get(const bx_prom_sample *s, const char *name)
{
    for (uint32_t i = 0; i < s->nlabels; i++)
        if (!strcmp(s->labels[i].name, name)) return s->labels[i].value;
    return NULL;
}

static int bx_prom_match(const bx_prom_sample *s, const char *lname, const char *lvalue)
{
    if (!lname) return 1;
    const char *v = bx_prom_label_get(s, lname);
    return v && lvalue && !strcmp(v, lvalue);
}

const bx_prom_sample *bx_prom_find(const bx_prom_doc *doc, const char *name, const char *lname,
                                   const char *lvalue)
{
    for (size_t i = 0; i < doc->nsamples; i++)
        if (!strcmp(doc->samples[i].name, name) && bx_prom_match(&doc->samples[i], lname, lvalue))
            return &doc->samples[i];
    return NULL;
}

int bx_prom_find_value(const bx_prom_doc *doc, const char *name, const char *lname,
                       const char *lvalue, double *out)
{
    const bx_prom_sample *s = bx_prom_find(doc, name, lname, lvalue);
    if (!s) return -1;
    *out = s->value;
    return 0;
}

double bx_prom_sum(const bx_prom_doc *doc, const char *name, const char *lname, const char *lvalue,
                   size_t *found)
{
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < doc->nsamples; i++) {
        if (strcmp(doc->samples[i].name, name) || !bx_prom_match(&doc->samples[i], lname, lvalue))
            continue;
        sum += doc->samples[i].value;
        n++;
    }
    if (found) *found = n;
    return sum;
}

int bx_prom_histogram(const bx_prom_doc *doc, const char *family, const char *lname,
                      const char *lvalue, bx_prom_hist_view *out)
{
    memset(out, 0, sizeof(*out));
    size_t fl = strlen(family);
    for (size_t i = 0; i < doc->nsamples; i++) {
        const bx_prom_sample *s = &doc->samples[i];
        if (strncmp(s->name, family, fl) != 0 || !bx_prom_match(s, lname, lvalue)) continue;
        const char *sfx = s->name + fl;
        if (!strcmp(sfx, "_sum")) {
            out->sum += s->value;
        } else if (!strcmp(sfx, "_count")) {
            out->count += s->value;
        } else if (!strcmp(sfx, "_bucket")) {
            const char *les = bx_prom_label_get(s, "le");
            if (!les) continue;
            char *e;
            double le = strtod(les, &e);
            if (*e || e == les || isnan(le)) continue;
            size_t k = 0;
            while (k < out->nbuckets && out->le[k] < le)
                k++;
            if (k < out->nbuckets && out->le[k] == le) {
                out->cum[k] += s->value;
                continue;
            }
            if (out->nbuckets == BX_PROM_MAX_BUCKETS) return -1;
            memmove(&out->le[k + 1], &out->le[k], (out->nbuckets - k) * sizeof(double));
            memmove(&out->cum[k + 1], &out->cum[k], (out->nbuckets - k) * sizeof(double));
            out->le[k] = le;
            out->cum[k] = s->value;
            out->nbuckets++;
        }
    }
    return out->nbuckets ? 0 : -1;
}
