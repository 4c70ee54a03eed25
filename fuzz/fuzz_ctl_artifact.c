/* libFuzzer target for ctl_artifact_parse: artifactURLs come from users'
 * ModelAdapter objects. Checks that the output always fits, is
 * NUL-terminated, and matches the kind's shape. */
#include "ctl/ctl_artifact.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > CTL_ARTIFACT_URL_MAX + 16) return 0;
    char *url = malloc(size + 1);
    if (!url) return 0;
    memcpy(url, data, size);
    url[size] = 0;
    /* A small first buffer exercises the "does not fit" paths. */
    size_t outlen = size ? (size_t)(data[0] % 64) + 1 : 1;
    char out[CTL_ARTIFACT_URL_MAX + 1], err[256];
    for (int pass = 0; pass < 2; pass++) {
        size_t ol = pass ? sizeof(out) : outlen;
        memset(out, 'Z', sizeof(out));
        err[0] = 0;
        ctl_artifact_kind k = 0;
        if (ctl_artifact_parse(url, &k, out, ol, err, sizeof(err)) != 0) {
            if (err[0] == 0 || strlen(err) >= sizeof(err)) abort();
            continue;
        }
        size_t n = strnlen(out, ol);
        if (n >= ol) abort();
        if (k == CTL_ARTIFACT_LOCAL && out[0] != '/') abort();
        if (k == CTL_ARTIFACT_HUB && (!strchr(out, '/') || strchr(out, ':'))) abort();
        if (k == CTL_ARTIFACT_HTTP && strcmp(out, url) != 0) abort();
        if (k != CTL_ARTIFACT_LOCAL && k != CTL_ARTIFACT_HUB && k != CTL_ARTIFACT_HTTP) abort();
    }
    free(url);
    return 0;
}
