/* Fuzzes what brix up reads from a manifest's command line (outside
 * bytes, from `brix apply`): the input's NUL- or newline-separated words
 * as containers[0].command + args, through ctl_local_vllm_is_server and
 * ctl_local_vllm_translate (--engine simulator; vLLM's --lora-modules JSON
 * form included; a sh -c script's last command), ctl_local_vllm_is_ray and
 * ctl_local_vllm_ray_worker (a RayCluster worker's Ray node) and bx_apikey_from_words /
 * bx_apikey_redact (an engine's
 * --api-key). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_apikey.h"
#include "ctl/ctl_local_int.h"

#define MAX_WORDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *argv[MAX_WORDS + 1];
    size_t n = 0;
    char *p = buf, *end = buf + size;
    while (p < end && n < MAX_WORDS) {
        argv[n++] = p;
        size_t l = strcspn(p, "\n");
        p[l] = '\0';
        p += l + 1;
    }
    argv[n] = NULL;
    if (n == 0 || !argv[0][0]) {
        free(buf);
        return 0;
    }
    if (ctl_local_vllm_is_server(argv)) {
        char **sim = NULL;
        if (ctl_local_vllm_translate(argv, "/usr/bin/brix", &sim) > 0) ctl_local_vllm_free(sim);
    }
    if (ctl_local_vllm_is_ray(argv)) {
        char **sim = NULL;
        if (ctl_local_vllm_ray_worker(argv, "/usr/bin/brix", 8000, &sim) > 0)
            ctl_local_vllm_free(sim);
    }
    char key[256], red[512];
    if (bx_apikey_from_words((const char *const *)argv, n, key, sizeof(key)))
        bx_apikey_redact(argv[n - 1], key, red, sizeof(red));
    free(buf);
    return 0;
}
