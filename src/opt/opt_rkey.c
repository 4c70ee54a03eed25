/* opt_rkey: AIBrix's optimizer keys in Redis (opt_rkey.h). */
#include "opt/opt_rkey.h"

#include <stdio.h>
#include <string.h>

/* Appends s, its glob characters escaped for SCAN MATCH, at buf[*o]. */
static int rk_glob(char *buf, size_t cap, size_t *o, const char *s)
{
    for (; *s; s++) {
        int esc = *s == '*' || *s == '?' || *s == '[' || *s == ']' || *s == '\\';
        if (*o + (size_t)esc + 1 >= cap) return -1;
        if (esc) buf[(*o)++] = '\\';
        buf[(*o)++] = *s;
    }
    buf[*o] = '\0';
    return 0;
}

static int rk_fmt_len(int n, size_t cap)
{
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

int opt_rkey_trace(char *buf, size_t cap, const char *model, int64_t end)
{
    if (!buf || cap == 0 || !model || !model[0] || end < 0) return -1;
    return rk_fmt_len(
        snprintf(buf, cap, OPT_RKEY_PREFIX "%s" OPT_RKEY_TRACE_SEP "%lld", model, (long long)end),
        cap);
}

int opt_rkey_trace_match(char *buf, size_t cap, const char *model)
{
    if (!buf || cap == 0 || !model || !model[0]) return -1;
    int n = snprintf(buf, cap, "%s", OPT_RKEY_PREFIX);
    if (rk_fmt_len(n, cap) < 0) return -1;
    size_t o = (size_t)n;
    if (rk_glob(buf, cap, &o, model) != 0) return -1;
    n = snprintf(buf + o, cap - o, "%s*", OPT_RKEY_TRACE_SEP);
    if (rk_fmt_len(n, cap - o) < 0) return -1;
    return (int)(o + (size_t)n);
}

/* Copies key[from, to) into out[cap], NUL-terminated; -1 when it does not
 * fit, is empty or holds a NUL byte. */
static int rk_copy(const char *key, size_t from, size_t to, char *out, size_t cap)
{
    if (to <= from || to - from >= cap || memchr(key + from, '\0', to - from)) return -1;
    memcpy(out, key + from, to - from);
    out[to - from] = '\0';
    return 0;
}

int opt_rkey_trace_parse(const char *key, size_t len, char *model, size_t mcap, int64_t *end)
{
    static const size_t plen = sizeof(OPT_RKEY_PREFIX) - 1, slen = sizeof(OPT_RKEY_TRACE_SEP) - 1;
    if (!key || !model || !end || len < plen + 1 + slen + 1 || memcmp(key, OPT_RKEY_PREFIX, plen))
        return -1;
    /* the last separator after the prefix and a model of one byte at least */
    size_t sep = 0;
    int found = 0;
    for (size_t i = len - slen; i >= plen + 1; i--)
        if (memcmp(key + i, OPT_RKEY_TRACE_SEP, slen) == 0) {
            sep = i;
            found = 1;
            break;
        }
    if (!found) return -1;
    size_t d = sep + slen, nd = len - d;
    if (nd < 1 || nd > OPT_RKEY_TS_DIGITS) return -1;
    int64_t v = 0;
    for (size_t i = d; i < len; i++) {
        if (key[i] < '0' || key[i] > '9') return -1;
        v = v * 10 + (key[i] - '0');
    }
    if ((double)v > OPT_RKEY_TS_MAX) return -1;
    if (rk_copy(key, plen, sep, model, mcap) != 0) return -1;
    *end = v;
    return 0;
}

int opt_rkey_profile(char *buf, size_t cap, const char *model, const char *deployment)
{
    if (!buf || cap == 0 || !model || !model[0] || !deployment || !deployment[0]) return -1;
    return rk_fmt_len(snprintf(buf, cap, OPT_RKEY_PROFILE_PREFIX "%s_%s", model, deployment), cap);
}

int opt_rkey_profile_match(char *buf, size_t cap, const char *model)
{
    if (!buf || cap == 0 || !model || !model[0]) return -1;
    int n = snprintf(buf, cap, "%s", OPT_RKEY_PROFILE_PREFIX);
    if (rk_fmt_len(n, cap) < 0) return -1;
    size_t o = (size_t)n;
    if (rk_glob(buf, cap, &o, model) != 0 || o + 3 > cap) return -1;
    buf[o++] = '_';
    buf[o++] = '*';
    buf[o] = '\0';
    return (int)o;
}

int opt_rkey_profile_parse(const char *key, size_t len, char *model, size_t mcap, char *dep,
                           size_t dcap)
{
    static const size_t plen = sizeof(OPT_RKEY_PROFILE_PREFIX) - 1;
    if (!key || !model || !dep || len < plen + 3 || memcmp(key, OPT_RKEY_PROFILE_PREFIX, plen))
        return -1;
    size_t us = len; /* the last '_' after the prefix */
    for (size_t i = len; i-- > plen;)
        if (key[i] == '_') {
            us = i;
            break;
        }
    if (us == len || us == plen || us + 1 == len) return -1;
    if (rk_copy(key, plen, us, model, mcap) != 0 || rk_copy(key, us + 1, len, dep, dcap) != 0)
        return -1;
    return 0;
}
