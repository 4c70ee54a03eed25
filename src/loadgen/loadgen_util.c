/* loadgen_util: helpers both bench subcommands use (brix bench run in
 * loadgen_main.c, brix bench profile in loadgen_profile_cmd.c): reading a
 * bounded file, and the served model from GET /v1/models. Declared in
 * loadgen.h. */
#include "loadgen/loadgen.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "loadgen/loadgen_api.h"
#include "loadgen/loadgen_client.h"

#define LOADGEN_MODELS_MAX_BYTES (1024 * 1024) /* a /v1/models answer */
#include "loadgen/loadgen_workload.h"
#include "common/bx_buf.h"
#include "common/bx_log.h"

int loadgen_read_file(const char *path, long max, bx_buf *b, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b->len + n > (size_t)max) {
            snprintf(err, errlen, "%s is larger than %ld bytes", path, max);
            rc = -1;
            break;
        }
        if (bx_buf_append(b, chunk, n) != 0) {
            snprintf(err, errlen, "out of memory reading %s", path);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "cannot read %s", path);
        rc = -1;
    }
    fclose(f);
    return rc;
}

int loadgen_discover_model(const loadgen_config *cfg, const char *prog, char *model, size_t cap)
{
    size_t n = strlen(cfg->url);
    while (n > 0 && cfg->url[n - 1] == '/')
        n--;
    char url[2048];
    if (n + sizeof("/v1/models") > sizeof(url)) {
        fprintf(stderr, "%s: --url too long\n", prog);
        return -1;
    }
    snprintf(url, sizeof(url), "%.*s/v1/models", (int)n, cfg->url);
    bx_buf body;
    bx_buf_init(&body);
    long status = 0;
    char err[300];
    int rc = -1;
    if (loadgen_http_get(url, cfg->headers, cfg->n_headers, cfg->api_key, 10000,
                         LOADGEN_MODELS_MAX_BYTES, &body, &status, err, sizeof(err)) != 0)
        fprintf(stderr, "%s: no --model given and GET %s failed: %s\n", prog, url, err);
    else if (status != 200)
        fprintf(stderr, "%s: no --model given and GET %s answered HTTP %ld\n", prog, url, status);
    else if (loadgen_api_first_model(body.data ? body.data : "", body.len, model, cap, err,
                                     sizeof(err)) != 0)
        fprintf(stderr, "%s: no --model given and GET %s: %s\n", prog, url, err);
    else
        rc = 0;
    bx_buf_free(&body);
    return rc;
}
