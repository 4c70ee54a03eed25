/* Fuzzes what the admin API parses from a request: the apply body (YAML or
 * JSON -> validation of every document -> the "sqlite" object store in
 * memory),
 * the Host header guard and query-string decoding. The first byte picks
 * which; the rest is the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_query.h"
#include "ctl/ctl_api.h"
#include "ctl/ctl_objstore_sqlite.h"

static uv_loop_t loop;
static ctl_objstore *store;
static ctl_api *api;

static void setup(void)
{
    char err[256];
    if (api) return;
    if (uv_loop_init(&loop) != 0) abort();
    if (ctl_objstore_sqlite_open(":memory:", &store, err, sizeof(err)) != 0) abort();
    ctl_api_config cfg;
    ctl_api_config_default(&cfg);
    cfg.max_body_bytes = 1 << 20;
    if (ctl_api_init(&api, &loop, store, &cfg, NULL, err, sizeof(err)) != 0) abort();
}

/* Forget what the last input stored so the store stays small. */
static void clear_store(void)
{
    ctl_record *r = NULL;
    size_t n = 0;
    char err[256];
    if (ctl_objstore_list(store, NULL, &r, &n, err, sizeof(err)) != 0) abort();
    for (size_t i = 0; i < n; i++)
        if (ctl_objstore_delete(store, r[i].kind, r[i].name, err, sizeof(err)) < 0) abort();
    ctl_records_free(r, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    setup();
    int mode = data[0] % 3;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    if (mode == 0) {
        json_t *ans = NULL;
        char err[1024];
        int st = ctl_api_apply(api, body, len, &ans, err, sizeof(err));
        if (st == 200) {
            /* applying the same thing again changes nothing */
            json_decref(ans);
            if (ctl_api_apply(api, body, len, &ans, err, sizeof(err)) != 200) abort();
            size_t i;
            json_t *it;
            json_array_foreach(json_object_get(ans, "items"), i, it)
            {
                const char *r = json_string_value(json_object_get(it, "result"));
                /* a name repeated within one input may be configured */
                if (!r || (strcmp(r, "unchanged") != 0 && strcmp(r, "configured") != 0)) abort();
            }
            json_decref(ans);
        } else if (st != 400 || ans) {
            abort();
        }
        clear_store();
        return 0;
    }
    char *s = malloc(len + 1);
    if (!s) return 0;
    memcpy(s, body, len);
    s[len] = 0;
    if (mode == 1) {
        (void)ctl_api_host_ok(s);
    } else {
        char out[64];
        static const char *const keys[] = {"kind", "name", "limit", "deployment", ""};
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            int r = bx_query_get(s, keys[k], out, sizeof(out));
            if (r == 1 && strlen(out) >= sizeof(out)) abort();
        }
        (void)bx_query_get(s, "name", out, 1);
    }
    free(s);
    return 0;
}
