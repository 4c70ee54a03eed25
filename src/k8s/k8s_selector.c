/* k8s_selector: label selector strings (k8s_selector.h): a small
 * tokenizer and a list of requirements. */
#include "k8s/k8s_selector.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEL_MAX_REQS 64
#define SEL_MAX_VALS 64
#define SEL_WORD_MAX 317 /* a qualified key: 253-byte prefix, '/', 63-byte name */

typedef enum { OP_EXISTS, OP_NOT_EXISTS, OP_EQ, OP_NE, OP_IN, OP_NOTIN, OP_GT, OP_LT } sel_op;

typedef struct sel_req {
    char *key;
    sel_op op;
    char **vals;
    size_t nvals;
} sel_req;

struct k8s_selector {
    sel_req *reqs;
    size_t n;
};

typedef struct sel_lex {
    const char *p;
    char *err;
    size_t errlen;
} sel_lex;

static int sel_fail(sel_lex *l, const char *what)
{
    if (l->err && l->errlen) snprintf(l->err, l->errlen, "label selector: %s", what);
    return -1;
}

static void sel_blank(sel_lex *l)
{
    while (*l->p && isspace((unsigned char)*l->p))
        l->p++;
}

/* A key or value: letters, digits, '-', '_', '.', '/'. May be empty. */
static int sel_word(sel_lex *l, char *buf, size_t cap)
{
    sel_blank(l);
    size_t n = 0;
    while (*l->p && (isalnum((unsigned char)*l->p) || strchr("-_./", *l->p))) {
        if (n + 1 >= cap) return sel_fail(l, "a key or value is too long");
        buf[n++] = *l->p++;
    }
    buf[n] = '\0';
    return 0;
}

static int sel_add_val(sel_lex *l, sel_req *r, const char *v)
{
    if (r->nvals >= SEL_MAX_VALS) return sel_fail(l, "too many values");
    char **nv = realloc(r->vals, (r->nvals + 1) * sizeof(*nv));
    if (!nv) return sel_fail(l, "out of memory");
    r->vals = nv;
    if (!(r->vals[r->nvals] = strdup(v))) return sel_fail(l, "out of memory");
    r->nvals++;
    return 0;
}

static void sel_req_free(sel_req *r)
{
    free(r->key);
    for (size_t i = 0; i < r->nvals; i++)
        free(r->vals[i]);
    free(r->vals);
}

/* "(a, b, c)" after in / notin. */
static int sel_set(sel_lex *l, sel_req *r)
{
    char w[SEL_WORD_MAX + 1];
    sel_blank(l);
    if (*l->p != '(') return sel_fail(l, "'(' expected after in/notin");
    l->p++;
    for (;;) {
        if (sel_word(l, w, sizeof(w)) != 0) return -1;
        if (sel_add_val(l, r, w) != 0) return -1;
        sel_blank(l);
        if (*l->p == ',') {
            l->p++;
            continue;
        }
        if (*l->p == ')') {
            l->p++;
            return 0;
        }
        return sel_fail(l, "',' or ')' expected in a set");
    }
}

static int sel_int(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno) return -1;
    *out = v;
    return 0;
}

/* One requirement into r (zeroed by the caller). */
static int sel_req_parse(sel_lex *l, sel_req *r)
{
    char w[SEL_WORD_MAX + 1];
    sel_blank(l);
    int neg = 0;
    if (*l->p == '!') {
        neg = 1;
        l->p++;
    }
    if (sel_word(l, w, sizeof(w)) != 0) return -1;
    if (!w[0]) return sel_fail(l, "a key expected");
    if (!(r->key = strdup(w))) return sel_fail(l, "out of memory");
    sel_blank(l);
    if (neg) {
        r->op = OP_NOT_EXISTS;
        return 0;
    }
    const char *p = l->p;
    if (*p == ',' || !*p) {
        r->op = OP_EXISTS;
        return 0;
    }
    if (p[0] == '=' || (p[0] == '!' && p[1] == '=')) {
        r->op = p[0] == '=' ? OP_EQ : OP_NE;
        l->p += p[0] == '=' ? (p[1] == '=' ? 2 : 1) : 2;
    } else if (p[0] == '>' || p[0] == '<') {
        r->op = p[0] == '>' ? OP_GT : OP_LT;
        l->p++;
    } else {
        if (sel_word(l, w, sizeof(w)) != 0) return -1;
        if (!strcmp(w, "in"))
            r->op = OP_IN;
        else if (!strcmp(w, "notin"))
            r->op = OP_NOTIN;
        else
            return sel_fail(l, "an operator expected (=, ==, !=, in, notin, >, <)");
        return sel_set(l, r);
    }
    if (sel_word(l, w, sizeof(w)) != 0) return -1;
    long long dummy;
    if ((r->op == OP_GT || r->op == OP_LT) && sel_int(w, &dummy) != 0)
        return sel_fail(l, "an integer expected after > or <");
    return sel_add_val(l, r, w);
}

int k8s_selector_parse(const char *s, k8s_selector **out, char *err, size_t errlen)
{
    *out = NULL;
    sel_lex l = {s ? s : "", err, errlen};
    k8s_selector *sel = calloc(1, sizeof(*sel));
    if (!sel) return sel_fail(&l, "out of memory");
    sel_blank(&l);
    while (*l.p) {
        if (sel->n >= SEL_MAX_REQS) {
            sel_fail(&l, "too many requirements");
            goto fail;
        }
        sel_req *nr = realloc(sel->reqs, (sel->n + 1) * sizeof(*nr));
        if (!nr) {
            sel_fail(&l, "out of memory");
            goto fail;
        }
        sel->reqs = nr;
        memset(&sel->reqs[sel->n], 0, sizeof(sel->reqs[0]));
        sel->n++;
        if (sel_req_parse(&l, &sel->reqs[sel->n - 1]) != 0) goto fail;
        sel_blank(&l);
        if (*l.p == ',') {
            l.p++;
            sel_blank(&l);
            if (!*l.p) {
                sel_fail(&l, "a requirement expected after ','");
                goto fail;
            }
        } else if (*l.p) {
            sel_fail(&l, "',' expected between requirements");
            goto fail;
        }
    }
    *out = sel;
    return 0;
fail:
    k8s_selector_free(sel);
    return -1;
}

static int sel_in(const sel_req *r, const char *v)
{
    for (size_t i = 0; i < r->nvals; i++)
        if (!strcmp(r->vals[i], v)) return 1;
    return 0;
}

static int sel_req_matches(const sel_req *r, const json_t *labels)
{
    const char *v = json_string_value(json_object_get(labels, r->key));
    long long a, b;
    switch (r->op) {
    case OP_EXISTS:
        return v != NULL;
    case OP_NOT_EXISTS:
        return v == NULL;
    case OP_EQ:
    case OP_IN:
        return v && sel_in(r, v);
    case OP_NE:
    case OP_NOTIN:
        return !v || !sel_in(r, v);
    case OP_GT:
    case OP_LT:
        if (!v || sel_int(v, &a) != 0 || sel_int(r->vals[0], &b) != 0) return 0;
        return r->op == OP_GT ? a > b : a < b;
    }
    return 0;
}

int k8s_selector_matches(const k8s_selector *sel, const json_t *labels)
{
    if (!sel) return 0;
    for (size_t i = 0; i < sel->n; i++)
        if (!sel_req_matches(&sel->reqs[i], labels)) return 0;
    return 1;
}

int k8s_selector_empty(const k8s_selector *sel)
{
    return !sel || sel->n == 0;
}

void k8s_selector_free(k8s_selector *sel)
{
    if (!sel) return;
    for (size_t i = 0; i < sel->n; i++)
        sel_req_free(&sel->reqs[i]);
    free(sel->reqs);
    free(sel);
}
