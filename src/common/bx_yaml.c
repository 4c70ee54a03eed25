/* bx_yaml: see bx_yaml.h. libyaml's event parser feeds a stack of open
 * containers; each finished node is attached to the container on top. */
#include "common/bx_yaml.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

void bx_yaml_limits_default(bx_yaml_limits *l)
{
    l->max_bytes = 4u << 20;
    l->max_depth = 64;
    l->max_nodes = 1000000;
}

typedef struct yframe {
    json_t *node; /* object or array */
    json_t *key;  /* pending mapping key (string), NULL when expecting one */
} yframe;

typedef struct yb {
    const bx_yaml_limits *lim;
    yframe *stack;
    size_t depth;
    size_t nodes;
    json_t *docs; /* array of finished documents */
    json_t *root; /* current document's root */
    char *err;
    size_t errlen;
} yb;

static int yb_fail(yb *b, const yaml_mark_t *m, const char *msg)
{
    snprintf(b->err, b->errlen, "line %zu, column %zu: %s", m->line + 1, m->column + 1, msg);
    return -1;
}

static int yb_is(const char *s, const char *a, const char *b2, const char *c)
{
    return !strcmp(s, a) || !strcmp(s, b2) || !strcmp(s, c);
}

/* [0-9]+(\.[0-9]*)?|\.[0-9]+ then optionally [eE][-+]?[0-9]+, after the
 * sign: the core schema's float, which strtod alone would widen (hex, inf,
 * nan, leading spaces). */
static int yb_is_float(const char *p)
{
    size_t i = strspn(p, "0123456789"), frac = 0;
    if (p[i] == '.') {
        frac = strspn(p + i + 1, "0123456789");
        if (!i && !frac) return 0;
        i += 1 + frac;
    } else if (!i) {
        return 0;
    }
    if (p[i] == 'e' || p[i] == 'E') {
        i++;
        if (p[i] == '+' || p[i] == '-') i++;
        size_t e = strspn(p + i, "0123456789");
        if (!e) return 0;
        i += e;
    }
    return p[i] == '\0';
}

/* YAML 1.2 core schema resolution of a plain scalar. */
static json_t *yb_plain(const char *s, size_t len)
{
    if (len == 0 || !strcmp(s, "~") || yb_is(s, "null", "Null", "NULL")) return json_null();
    if (yb_is(s, "true", "True", "TRUE")) return json_true();
    if (yb_is(s, "false", "False", "FALSE")) return json_false();
    if (yb_is(s, ".inf", ".Inf", ".INF") || yb_is(s, "+.inf", "+.Inf", "+.INF") ||
        yb_is(s, "-.inf", "-.Inf", "-.INF") || yb_is(s, ".nan", ".NaN", ".NAN"))
        return json_string(s); /* JSON has no Inf/NaN: keep the text */
    char *end;
    errno = 0;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
        /* core schema: 0x[0-9a-fA-F]+ and 0o[0-7]+, no sign, no spaces */
        const char *digits = s[1] == 'x' ? "0123456789abcdefABCDEF" : "01234567";
        if (strspn(s + 2, digits) == len - 2) {
            long long v = strtoll(s + 2, &end, s[1] == 'x' ? 16 : 8);
            if (!*end && !errno) return json_integer(v);
        }
        return json_stringn(s, len);
    }
    const char *p = s + (s[0] == '-' || s[0] == '+');
    if (*p >= '0' && *p <= '9') {
        int isint = 1;
        for (const char *q = p; *q; q++)
            if (*q < '0' || *q > '9') isint = 0;
        if (isint) {
            long long v = strtoll(s, &end, 10);
            if (!*end && !errno) return json_integer(v);
        }
    }
    if (yb_is_float(p)) {
        errno = 0;
        double d = strtod(s, &end);
        if (!*end && !errno && isfinite(d)) return json_real(d);
    }
    return json_stringn(s, len);
}

/* Attaches a finished node to the open container (or makes it the root). */
static int yb_attach(yb *b, json_t *n, const yaml_mark_t *m)
{
    if (!n) return yb_fail(b, m, "out of memory");
    if (++b->nodes > b->lim->max_nodes) {
        json_decref(n);
        return yb_fail(b, m, "too many nodes");
    }
    if (b->depth == 0) {
        b->root = n;
        return 0;
    }
    yframe *f = &b->stack[b->depth - 1];
    if (json_is_array(f->node))
        return json_array_append_new(f->node, n) ? yb_fail(b, m, "out of memory") : 0;
    if (!f->key) { /* n is a key */
        if (json_is_string(n)) {
            f->key = n;
        } else if (json_is_object(n) || json_is_array(n)) {
            json_decref(n);
            return yb_fail(b, m, "mapping keys must be scalars");
        } else {
            char *t = json_dumps(n, JSON_ENCODE_ANY);
            json_decref(n);
            if (!t) return yb_fail(b, m, "out of memory");
            f->key = json_string(t);
            free(t);
        }
        return 0;
    }
    const char *k = json_string_value(f->key);
    if (json_object_get(f->node, k)) {
        json_decref(n);
        return yb_fail(b, m, "duplicate mapping key");
    }
    int rc = json_object_set_new(f->node, k, n);
    json_decref(f->key);
    f->key = NULL;
    return rc ? yb_fail(b, m, "out of memory") : 0;
}

static int yb_open(yb *b, json_t *n, const yaml_mark_t *m)
{
    if (!n) return yb_fail(b, m, "out of memory");
    if (b->depth >= b->lim->max_depth) {
        json_decref(n);
        return yb_fail(b, m, "nesting too deep");
    }
    b->stack[b->depth++] = (yframe){n, NULL};
    return 0;
}

static int yb_close(yb *b, const yaml_mark_t *m)
{
    yframe f = b->stack[--b->depth];
    if (f.key) { /* a key without value cannot happen with a valid parser */
        json_decref(f.key);
    }
    return yb_attach(b, f.node, m);
}

static void yb_cleanup(yb *b)
{
    while (b->depth) {
        yframe *f = &b->stack[--b->depth];
        json_decref(f->key);
        json_decref(f->node);
    }
    json_decref(b->root);
    b->root = NULL;
}

static int yb_run(const char *buf, size_t len, const bx_yaml_limits *lim, json_t **docs,
                  int first_only, char *err, size_t errlen)
{
    bx_yaml_limits dl;
    if (!lim) {
        bx_yaml_limits_default(&dl);
        lim = &dl;
    }
    *docs = NULL;
    if (len > lim->max_bytes) {
        snprintf(err, errlen, "YAML input larger than %zu bytes", lim->max_bytes);
        return -1;
    }
    yb b = {.lim = lim, .err = err, .errlen = errlen};
    b.stack = calloc(lim->max_depth + 1, sizeof(*b.stack));
    b.docs = json_array();
    yaml_parser_t parser;
    if (!b.stack || !b.docs || !yaml_parser_initialize(&parser)) {
        free(b.stack);
        json_decref(b.docs);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    int rc = 0, done = 0;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            snprintf(err, errlen, "line %zu, column %zu: %s", parser.problem_mark.line + 1,
                     parser.problem_mark.column + 1,
                     parser.problem ? parser.problem : "invalid YAML");
            rc = -1;
            break;
        }
        const yaml_mark_t *m = &ev.start_mark;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            b.root = NULL;
            break;
        case YAML_DOCUMENT_END_EVENT:
            json_array_append_new(b.docs, b.root ? b.root : json_null());
            b.root = NULL;
            if (first_only) done = 1;
            break;
        case YAML_ALIAS_EVENT:
            rc = yb_fail(&b, m, "aliases are not supported");
            break;
        case YAML_SCALAR_EVENT: {
            if (ev.data.scalar.anchor) {
                rc = yb_fail(&b, m, "anchors are not supported");
                break;
            }
            const char *v = (const char *)ev.data.scalar.value;
            size_t vl = ev.data.scalar.length;
            const char *tag = (const char *)ev.data.scalar.tag;
            int str = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                      (tag && !strcmp(tag, YAML_STR_TAG));
            rc = yb_attach(&b, str ? json_stringn(v, vl) : yb_plain(v, vl), m);
            break;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            const yaml_char_t *anchor = ev.type == YAML_SEQUENCE_START_EVENT
                                            ? ev.data.sequence_start.anchor
                                            : ev.data.mapping_start.anchor;
            if (anchor)
                rc = yb_fail(&b, m, "anchors are not supported");
            else
                rc = yb_open(
                    &b, ev.type == YAML_SEQUENCE_START_EVENT ? json_array() : json_object(), m);
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            rc = yb_close(&b, m);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    yb_cleanup(&b);
    free(b.stack);
    if (rc != 0) {
        json_decref(b.docs);
        return -1;
    }
    *docs = b.docs;
    return 0;
}

int bx_yaml_load(const char *buf, size_t len, const bx_yaml_limits *lim, json_t **out, char *err,
                 size_t errlen)
{
    json_t *docs;
    if (yb_run(buf, len, lim, &docs, 1, err, errlen) != 0) return -1;
    json_t *first = json_array_size(docs) ? json_array_get(docs, 0) : json_null();
    *out = json_incref(first);
    json_decref(docs);
    return 0;
}

int bx_yaml_load_all(const char *buf, size_t len, const bx_yaml_limits *lim, json_t **out,
                     char *err, size_t errlen)
{
    return yb_run(buf, len, lim, out, 0, err, errlen);
}
