/* Fuzz target: benchmark rows (loadgen_prof_set_read, one
 * loadgen_prof_row_parse per line) and AIBrix's rule over them: whatever
 * the rows, a profile loadgen_prof_generate makes is one opt_profile_parse
 * accepts, and rows written back read as the same measurements. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen/loadgen_profile.h"

static opt_profile prof, back;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    loadgen_prof_set s;
    loadgen_prof_set_init(&s);
    if (loadgen_prof_set_read(&s, (const char *)data, size, NULL, "fuzz", NULL) != 0) abort();
    static const opt_slo slos[] = {{0}, {.e2e = 1, .percentile = 99}, {.ttft = 0.5, .tput = 2}};
    char err[256];
    for (size_t k = 0; k < sizeof(slos) / sizeof(slos[0]); k++) {
        memset(&prof, 0, sizeof(prof));
        strcpy(prof.gpu, "g");
        int nempty;
        if (loadgen_prof_generate(&s, &slos[k], &prof, &nempty, err, sizeof(err)) != 0) break;
        char *json = opt_profile_to_json(&prof);
        if (!json) abort();
        if (opt_profile_parse(json, strlen(json), &back, err, sizeof(err)) != 0) abort();
        free(json);
    }
    /* rows written and read back: the same points */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) abort();
    for (size_t i = 0; i < s.n; i++)
        if (loadgen_prof_write_rows(f, &s.pts[i], "m") != 0) abort();
    fclose(f);
    loadgen_prof_set t;
    loadgen_prof_set_init(&t);
    if (loadgen_prof_set_read(&t, buf, len, NULL, "fuzz", NULL) != 0) abort();
    for (size_t i = 0; i < s.n; i++) {
        const loadgen_prof_point *p =
            loadgen_prof_set_find(&t, s.pts[i].in, s.pts[i].out, s.pts[i].rate);
        if (!p) abort();
        for (int m = 0; m < LOADGEN_PM_N; m++)
            if (p->m[m].has != s.pts[i].m[m].has || p->m[m].mean != s.pts[i].m[m].mean) abort();
    }
    free(buf);
    loadgen_prof_set_free(&t);
    loadgen_prof_set_free(&s);
    return 0;
}
