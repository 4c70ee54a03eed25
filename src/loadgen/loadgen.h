/* loadgen: `brix bench`, the open-loop OpenAI load generator (the command keeps
 * its user-facing name; the code is src/loadgen, apart from the benchmark
 * scripts in bench/). */
#ifndef LOADGEN_H
#define LOADGEN_H
#include <stddef.h>

#include "common/bx_buf.h"
#include "loadgen/loadgen_config.h"

int loadgen_main(int argc, char **argv);

/* Helpers the subcommands share (loadgen_main.c). */
/* Reads a whole file (at most max bytes) into b. Returns 0 or -1 with err. */
int loadgen_read_file(const char *path, long max, bx_buf *b, char *err, size_t errlen);
/* --model not given: asks the server which model it serves (the first of
 * GET /v1/models), as an OpenAI client would, into the caller's model
 * buffer. Errors are printed on stderr prefixed with prog. Returns 0 or -1. */
int loadgen_discover_model(const loadgen_config *cfg, const char *prog, char *model, size_t cap);
#endif
