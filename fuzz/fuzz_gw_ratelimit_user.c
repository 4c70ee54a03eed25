/* Fuzzes the parser of user records read from Redis (aibrix-users/<name>):
 * untrusted bytes from a shared store. */
#include <stddef.h>
#include <stdint.h>

#include "gateway/gw_ratelimit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t rpm = 0, tpm = 0;
    if (gw_ratelimit_parse_user((const char *)data, size, &rpm, &tpm) == 0) {
        /* effective limits are never negative */
        if (rpm < 0 || tpm < 0) __builtin_trap();
    }
    return 0;
}
