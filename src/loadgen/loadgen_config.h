/* loadgen_config: the options of `brix bench run`, their defaults (one place,
 * loadgen_config_default) and the flag parser that fills them and prints
 * --help from the same table.
 *
 * Memory: string fields point into argv (or string literals); the header
 * array is allocated by the parser and freed by loadgen_config_free. */
#ifndef LOADGEN_CONFIG_H
#define LOADGEN_CONFIG_H

#include "loadgen/loadgen_workload.h"

#include <stddef.h>
#include <stdio.h>

#define LOADGEN_MAX_HEADERS 64

typedef struct loadgen_config {
    const char *url;
    int chat; /* --endpoint chat (1) or completions (0) */
    const char *model;
    int stream;
    const char *api_key;
    const char **headers; /* "K: V" lines, n_headers of them */
    size_t n_headers;
    const char *user;
    double timeout_s;
    long max_concurrency; /* 0 = none */
    const char *trace;
    const char *output;
    const char *summary_json;
    int progress; /* -1 auto (isatty), 0 off */
    /* shown before the progress bar, which is then erased when the run ends
     * (brix bench profile: one bar per measurement); NULL for none */
    const char *progress_prefix;
    loadgen_wl_params wl;
} loadgen_config;

void loadgen_config_default(loadgen_config *c);
/* Parses argv[1..argc) (argv[0] is "run"). Returns 0, 1 when --help was
 * printed to out, or 2 after printing an error to err. */
int loadgen_config_parse(loadgen_config *c, int argc, char **argv, FILE *out, FILE *err);
void loadgen_config_free(loadgen_config *c);
/* Adds a "K: V" request header (--header; v must outlive c). Returns 0,
 * BX_FLAG_BAD (not "K: V") or BX_FLAG_FAIL (printed on err, prefixed with
 * prog). */
int loadgen_config_add_header(loadgen_config *c, const char *v, const char *prog, FILE *err);

#endif
