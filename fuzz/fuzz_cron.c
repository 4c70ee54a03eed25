/* Fuzzes as_cron_parse (spec.scheduledBounds[].cron), and on an accepted
 * expression as_cron_active in UTC at a time and duration drawn from the
 * same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "autoscale/as_cron.h"
#include "common/bx_tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[256];
    if (size >= sizeof(buf)) size = sizeof(buf) - 1;
    memcpy(buf, data, size);
    buf[size] = '\0';
    as_cron c;
    char err[160];
    if (as_cron_parse(buf, &c, err, sizeof(err)) != 0) return 0;
    bx_tz *z = NULL;
    if (bx_tz_posix("CET-1CEST,M3.5.0,M10.5.0/3", &z, err, sizeof(err)) != 0) return 0;
    uint32_t v = 0;
    for (size_t i = 0; i < size; i++)
        v = v * 31 + data[i];
    (void)as_cron_active(&c, z, 60 + (int64_t)(v % (48 * 3600)),
                         1700000000 + (int64_t)(v % 40000000));
    bx_tz_free(z);
    return 0;
}
