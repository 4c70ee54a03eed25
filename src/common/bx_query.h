/* bx_query: URL query strings (outside bytes): percent-decoding ('+' is a
 * space) and the value of one key. Pure, bounded by the caller's buffers;
 * no allocation. Fuzzed through the routes that use them
 * (fuzz/fuzz_gw_loadmon_query.c, fuzz/fuzz_ctl_api_apply.c's queries). */
#ifndef BX_QUERY_H
#define BX_QUERY_H

#include <stddef.h>

/* Percent-decodes len bytes at s into out (cap bytes, NUL-terminated).
 * Returns 0, or -1 on a bad escape, a decoded NUL or no room. */
int bx_query_decode(const char *s, size_t len, char *out, size_t cap);

/* The decoded value of key in query q ("a=1&b=2") into out: 1 found (a
 * bare "key" gives ""), 0 absent, -1 malformed or longer than len - 1. */
int bx_query_get(const char *q, const char *key, char *out, size_t len);

#endif
