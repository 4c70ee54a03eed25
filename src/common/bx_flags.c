/* bx_flags: see bx_flags.h. A linear search of a small table per argument:
 * the tables have tens of rows and argv is parsed once. */
#include "common/bx_flags.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The length of the flag in fl->name (without its metavar). */
static int flag_len(const bx_flag *fl)
{
    return (int)strcspn(fl->name, " ");
}

/* fl's metavar, or NULL. */
static const char *metavar(const bx_flag *fl)
{
    const char *sp = strchr(fl->name, ' ');
    return sp ? sp + 1 : NULL;
}

static const bx_flag *find_n(const bx_flags_spec *spec, const char *name, size_t n)
{
    for (size_t i = 0; i < spec->nflags; i++)
        if ((size_t)flag_len(&spec->flags[i]) == n && !strncmp(spec->flags[i].name, name, n))
            return &spec->flags[i];
    return NULL;
}

const bx_flag *bx_flags_find(const bx_flags_spec *spec, const char *name)
{
    return find_n(spec, name, strlen(name));
}

static int takes_value(const bx_flag *fl)
{
    return fl->kind != BX_FLAG_ON && fl->kind != BX_FLAG_OFF;
}

/* Whole-string integer in 0..max (base 10, blanks and '+' before it as
 * strtoll allows). */
static int parse_int(const char *s, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > max) return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    const char *p = s;
    while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
        p++;
    if (*p == '-') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_dbl(const char *s, int nonneg, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end) return -1;
    if (nonneg && (!isfinite(v) || v < 0)) return -1;
    *out = v;
    return 0;
}

/* The index of val among the '|'-separated words of mv, or -1. */
static int choice_index(const char *mv, const char *val)
{
    size_t n = strlen(val);
    for (int i = 0; mv && *mv; i++) {
        size_t w = strcspn(mv, "|");
        if (w == n && !strncmp(mv, val, n)) return i;
        mv += w;
        if (*mv == '|') mv++;
    }
    return -1;
}

static void bad_value(const bx_flags_spec *spec, const bx_flag *fl, const char *val, FILE *err)
{
    int n = flag_len(fl);
    if (spec->not_valid)
        fprintf(err, "%s: %.*s: '%s' is not %s\n", spec->prog, n, fl->name, val, spec->not_valid);
    else
        fprintf(err, "%s: bad value '%s' for %.*s (expected %s)\n", spec->prog, val, n, fl->name,
                metavar(fl) ? metavar(fl) : "no value");
}

static long long int_bound(const bx_flags_spec *spec, long long type_max)
{
    return spec->int_max > 0 && spec->int_max < type_max ? spec->int_max : type_max;
}

int bx_flags_set(const bx_flags_spec *spec, void *cfg, const bx_flag *fl, const char *val,
                 FILE *err)
{
    char *dst = (char *)cfg + fl->off;
    int n = flag_len(fl);
    if (!takes_value(fl)) {
        int on = fl->kind == BX_FLAG_ON;
        if (val) {
            if (!spec->bool_values) {
                fprintf(err, "%s: %.*s takes no value\n", spec->prog, n, fl->name);
                return -1;
            }
            if (!strcmp(val, "false") || !strcmp(val, "0"))
                on = !on;
            else if (strcmp(val, "true") != 0 && strcmp(val, "1") != 0) {
                fprintf(err, "%s: %.*s wants true or false\n", spec->prog, n, fl->name);
                return -1;
            }
        }
        *(int *)dst = on;
        return 0;
    }
    if (!val) {
        fprintf(err, "%s: %.*s needs a value", spec->prog, n, fl->name);
        if (metavar(fl)) fprintf(err, " (%s)", metavar(fl));
        fputc('\n', err);
        return -1;
    }
    long long v = 0;
    int rc = 0;
    switch (fl->kind) {
    case BX_FLAG_STR_NONEMPTY:
        if (!*val) {
            rc = -1;
            break;
        }
        /* fall through */
    case BX_FLAG_STR:
        *(const char **)dst = val;
        break;
    case BX_FLAG_INT:
        rc = parse_int(val, int_bound(spec, INT_MAX), &v);
        if (rc == 0) *(int *)dst = (int)v;
        break;
    case BX_FLAG_LONG:
        rc = parse_int(val, int_bound(spec, LONG_MAX), &v);
        if (rc == 0) *(long *)dst = (long)v;
        break;
    case BX_FLAG_I64:
        rc = parse_int(val, int_bound(spec, INT64_MAX), &v);
        if (rc == 0) *(int64_t *)dst = v;
        break;
    case BX_FLAG_U64:
        rc = parse_u64(val, (uint64_t *)dst);
        break;
    case BX_FLAG_CHOICE: {
        int i = choice_index(metavar(fl), val);
        if (i < 0)
            rc = -1;
        else
            *(int *)dst = i;
        break;
    }
    case BX_FLAG_DBL:
    case BX_FLAG_DBL_NONNEG:
        rc = parse_dbl(val, fl->kind == BX_FLAG_DBL_NONNEG, (double *)dst);
        break;
    default:
        if (!spec->set) {
            fprintf(err, "%s: %.*s has no setter\n", spec->prog, n, fl->name);
            return -1;
        }
        rc = spec->set(cfg, fl, val, err);
        if (rc == BX_FLAG_FAIL) return -1;
        break;
    }
    if (rc != 0) {
        bad_value(spec, fl, val, err);
        return -1;
    }
    return 0;
}

/* 1 when s is a whole number ("-1", "0.5", "-1e3"): a value, not a flag. */
static int is_number(const char *s)
{
    char *end = NULL;
    (void)strtod(s, &end);
    return end != s && *end == '\0';
}

int bx_flags_parse(const bx_flags_spec *spec, void *cfg, int argc, char **argv, unsigned char *seen,
                   FILE *out, FILE *err)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            bx_flags_help(spec, out);
            return 1;
        }
        const char *eq = strchr(a, '=');
        const bx_flag *fl = find_n(spec, a, eq ? (size_t)(eq - a) : strlen(a));
        if (!fl && spec->unknown && a[0] == '-' && a[1] == '-' && a[2] && a[2] != '=') {
            const char *v = NULL;
            if (!eq && i + 1 < argc && (argv[i + 1][0] != '-' || is_number(argv[i + 1])))
                v = argv[++i];
            if (spec->unknown(cfg, a, v, err) != 0) return -1;
            continue;
        }
        if (!fl) {
            fprintf(err, "%s: unknown option '%s' (see %s)\n", spec->prog, a,
                    spec->help_hint ? spec->help_hint : "--help");
            return -1;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (!val && takes_value(fl) && i + 1 < argc) val = argv[++i];
        if (bx_flags_set(spec, cfg, fl, val, err) != 0) return -1;
        if (seen) seen[fl - spec->flags] = 1;
    }
    return 0;
}

/* Prints s broken at spaces into lines of width columns, each line after
 * the first indented by indent columns. */
static void print_wrapped(FILE *f, const char *s, int width, int indent)
{
    for (;;) {
        size_t n = strlen(s);
        if (width <= 0 || n <= (size_t)width) {
            fprintf(f, "%s\n", s);
            return;
        }
        size_t cut = (size_t)width;
        while (cut > 0 && s[cut] != ' ')
            cut--;
        if (cut == 0) cut = (size_t)width;
        fprintf(f, "%.*s\n%*s", (int)cut, s, indent, "");
        s += cut;
        while (*s == ' ')
            s++;
    }
}

void bx_flags_help(const bx_flags_spec *spec, FILE *out)
{
    if (spec->usage) fputs(spec->usage, out);
    int w = spec->name_width;
    for (size_t i = 0; i < spec->nflags; i++) {
        const bx_flag *fl = &spec->flags[i];
        if (spec->wrap > 0 && strlen(fl->name) > (size_t)w)
            fprintf(out, "  %s\n  %-*s ", fl->name, w, "");
        else
            fprintf(out, "  %-*s ", w, fl->name);
        print_wrapped(out, fl->help, spec->wrap, w + 3);
    }
    if (spec->help_tail) spec->help_tail(out);
}
