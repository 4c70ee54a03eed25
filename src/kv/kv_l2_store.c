/* kv_l2_store: the table of L2 connectors (one line each; each lives in
 * src/kv/kv_l2_<name>.c) and opening a store by name. See kv_l2_store.h. */
#include "kv/kv_l2_store.h"

#include <errno.h>
#include <stdio.h>
#include <strings.h>

extern const kv_l2_connector kv_l2_redis_connector;

static const kv_l2_connector *const kv_l2_connectors[] = {
    &kv_l2_redis_connector,
    NULL,
};

const kv_l2_connector *kv_l2_connector_find(const char *name)
{
    for (const kv_l2_connector *const *c = kv_l2_connectors; name && *c; c++)
        if (strcasecmp((*c)->name, name) == 0) return *c;
    return NULL;
}

int kv_l2_store_open(const char *name, const kv_l2_store_config *c, kv_l2_store **out, char *err,
                     size_t errlen)
{
    const kv_l2_connector *t = kv_l2_connector_find(name);
    if (!t) {
        snprintf(err, errlen, "brixkv: unknown L2 connector '%s'", name ? name : "");
        return -EINVAL;
    }
    return t->open(c, out, err, errlen);
}

void kv_l2_store_close(kv_l2_store *s)
{
    if (s) s->type->close(s);
}
