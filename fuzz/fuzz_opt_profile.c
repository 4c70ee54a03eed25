/* Fuzz target: AIBrix GPU profiles (opt_profile_parse), the round trip
 * through opt_profile_to_json (parse, emit, re-parse: the same profile bit
 * for bit) and opt_profile_cell on the parsed grid. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opt/opt_profile.h"

static opt_profile p1, p2;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (opt_profile_parse((const char *)data, size, &p1, err, sizeof(err))) return 0;
    char *s = opt_profile_to_json(&p1);
    if (!s) return 0;
    if (opt_profile_parse(s, strlen(s), &p2, err, sizeof(err))) abort();
    if (memcmp(&p1, &p2, sizeof(p1)) || !opt_profile_same_grid(&p1, &p2)) abort();
    free(s);
    int in, out, clamped;
    double shapes[][2] = {{0, 0}, {1, 1}, {p1.in_tokens[0], p1.out_tokens[0]}, {1e300, 1e300}};
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        opt_profile_cell(&p1, shapes[i][0], shapes[i][1], &in, &out, &clamped);
        if (in < 0 || in >= p1.nin || out < 0 || out >= p1.nout) abort();
    }
    return 0;
}
