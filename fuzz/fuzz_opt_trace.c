/* Fuzz target: AIBrix request-trace values (opt_trace_parse) and the
 * round trip through opt_trace_to_json. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opt/opt_trace.h"

static opt_trace t1, t2;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (opt_trace_parse((const char *)data, size, 1700000000, &t1, err, sizeof(err))) return 0;
    char *s = opt_trace_to_json(&t1);
    if (!s) return 0;
    if (opt_trace_parse(s, strlen(s), 1700000000, &t2, err, sizeof(err))) abort();
    if (opt_trace_count(&t1) != opt_trace_count(&t2) || t1.ncells != t2.ncells) abort();
    free(s);
    return 0;
}
