/* Fuzzes the TZif parser (bytes from the tz database on disk) and, with the
 * input as a string, the POSIX TZ rule parser; a zone that loads is
 * converted at instants around its transitions and far out. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/bx_tz.h"

static void probe(const bx_tz *z)
{
    static const int64_t ts[] = {INT64_MIN,     -(INT64_C(1) << 40) - 1,
                                 -2208988800LL, 0,
                                 1700000000LL,  2147483648LL,
                                 4102444800LL,  INT64_MAX};
    for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
        bx_tz_tm tm;
        bx_tz_local(z, ts[i], &tm);
        (void)bx_tz_offset(z, ts[i] / 2);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bx_tz *z = NULL;
    char err[160];
    if (bx_tz_parse(data, size, &z, err, sizeof(err)) == 0) {
        probe(z);
        bx_tz_free(z);
    }
    char rule[160];
    size_t n = size < sizeof(rule) - 1 ? size : sizeof(rule) - 1;
    memcpy(rule, data, n);
    rule[n] = '\0';
    if (bx_tz_posix(rule, &z, err, sizeof(err)) == 0) {
        probe(z);
        bx_tz_free(z);
    }
    (void)bx_tz_name_ok(rule);
    return 0;
}
