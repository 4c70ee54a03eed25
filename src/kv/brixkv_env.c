/* brixkv_env: brixkv_config_from_env (include/brix/brixkv.h), the defaults
 * and AIBrix's AIBRIX_KV_CACHE_OL_* variables. The strings it stores point
 * into the environment (the caller's). */
#include "brix/brixkv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kv/kv_evict.h"

static int brixkv_env_ingestion_ok(const char *s)
{
    return strcasecmp(s, "HOT") == 0 || strcasecmp(s, "ALL") == 0 || strcasecmp(s, "EVICTED") == 0;
}

int brixkv_config_from_env(brixkv_config *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    c->block_ntokens = 16;
    c->l1_capacity = (size_t)1 << 30;
    c->l1_policy = "S3FIFO";
    c->l1_shards = 16;
    c->l2_ingestion = "HOT";
    c->l2_queue_blocks = 1024;
    c->l2_conns = 2;
    c->l2_timeout_ms = 1000;
    c->l2_namespace = "brixkv";
    const char *v = getenv("AIBRIX_KV_CACHE_OL_BLOCK_SIZE");
    if (v && *v && strcmp(v, "-1") != 0) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || n <= 0 || (n & (n - 1))) {
            snprintf(err, errlen, "AIBRIX_KV_CACHE_OL_BLOCK_SIZE: want a power of two, got '%s'",
                     v);
            return -EINVAL;
        }
        c->block_ntokens = (size_t)n;
    }
    v = getenv("AIBRIX_KV_CACHE_OL_L1_CACHE_CAPACITY_GB");
    if (v && *v) {
        char *end;
        double gb = strtod(v, &end);
        if (*end || !(gb > 0)) {
            snprintf(err, errlen, "AIBRIX_KV_CACHE_OL_L1_CACHE_CAPACITY_GB: want GiB > 0, got '%s'",
                     v);
            return -EINVAL;
        }
        c->l1_capacity = (size_t)(gb * (double)(1u << 30));
    }
    v = getenv("AIBRIX_KV_CACHE_OL_L1_CACHE_EVICTION_POLICY");
    if (v && *v) {
        kv_evict_kind k;
        if (kv_evict_kind_parse(v, &k) != 0) {
            snprintf(err, errlen,
                     "AIBRIX_KV_CACHE_OL_L1_CACHE_EVICTION_POLICY: want S3FIFO, LRU or FIFO, "
                     "got '%s'",
                     v);
            return -EINVAL;
        }
        c->l1_policy = v;
    }
    v = getenv("AIBRIX_KV_CACHE_OL_L2_CACHE_BACKEND");
    if (v && *v) {
        if (strcasecmp(v, "REDIS") != 0) {
            snprintf(err, errlen,
                     "AIBRIX_KV_CACHE_OL_L2_CACHE_BACKEND: brix has REDIS (or empty), got '%s'", v);
            return -EINVAL;
        }
        c->l2_redis = getenv("BRIXKV_L2_REDIS");
        if (!c->l2_redis || !*c->l2_redis) {
            snprintf(err, errlen,
                     "BRIXKV_L2_REDIS: want host:port[,host:port] with the REDIS L2 backend");
            return -EINVAL;
        }
    }
    v = getenv("AIBRIX_KV_CACHE_OL_L2_CACHE_INGESTION_TYPE");
    if (v && *v) {
        if (!brixkv_env_ingestion_ok(v)) {
            snprintf(err, errlen,
                     "AIBRIX_KV_CACHE_OL_L2_CACHE_INGESTION_TYPE: want HOT, ALL or EVICTED, got "
                     "'%s'",
                     v);
            return -EINVAL;
        }
        c->l2_ingestion = v;
    }
    v = getenv("AIBRIX_KV_CACHE_OL_L2_CACHE_NAMESPACE");
    if (v && *v) c->l2_namespace = v;
    return 0;
}
