/* kv_slab: the L1 slot pool (see kv_slab.h).
 *
 * Layout: slot index i lives in slab i / slots_per_slab at offset
 * (i % slots_per_slab) * slot_bytes; shard k owns indices
 * [k * per_shard, (k + 1) * per_shard). Each shard keeps a LIFO stack of
 * its free indices (recently freed, cache-warm slots are reused first) and
 * the pool keeps one in-use byte per slot, written only under the owning
 * shard's lock, which lets free() reject double frees. All bookkeeping is
 * allocated in create, so alloc/free touch no allocator. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* MAP_HUGETLB, MAP_POPULATE, MADV_HUGEPAGE */
#endif
#include "kv/kv_slab.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define DEFAULT_SLAB_BYTES ((size_t)1 << 30)
#define DEFAULT_HUGE_PAGE ((size_t)2 << 20)

struct slab {
    uint8_t *base;
    size_t map_len;
    bool huge;
};

struct shard {
    _Alignas(64) pthread_mutex_t mu; /* one cache line apart from neighbours */
    uint32_t *stack;                 /* free slot indices, stack[0..top) */
    size_t top;
};

struct kv_slab {
    size_t slot_bytes;
    size_t slots_total;
    size_t per_shard;
    size_t slots_per_slab;
    unsigned nshards;
    unsigned nslabs;
    unsigned nslabs_huge;
    bool locked;
    struct slab *slabs;
    struct shard *shards;
    uint32_t *stack_mem;
    uint8_t *used; /* per slot; guarded by the owning shard's mutex */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static size_t round_up(size_t v, size_t a)
{
    return (v + a - 1) / a * a;
}

/* Default huge page size from /proc/meminfo ("Hugepagesize: 2048 kB"). */
static size_t huge_page_size(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return DEFAULT_HUGE_PAGE;
    char line[128];
    size_t kb = 0;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "Hugepagesize: %zu kB", &kb) == 1) break;
    }
    fclose(f);
    return kb ? kb * 1024 : DEFAULT_HUGE_PAGE;
}

static void release(kv_slab *s)
{
    if (s->slabs) {
        for (unsigned i = 0; i < s->nslabs; i++) {
            if (s->slabs[i].base && munmap(s->slabs[i].base, s->slabs[i].map_len) != 0)
                perror("kv_slab: munmap"); /* cannot recover; report and go on */
        }
    }
    if (s->shards) {
        for (unsigned i = 0; i < s->nshards; i++)
            pthread_mutex_destroy(&s->shards[i].mu);
    }
    free(s->slabs);
    free(s->shards);
    free(s->stack_mem);
    free(s->used);
    free(s);
}

static int lock_failed(kv_slab *s, size_t len, int e, char *err, size_t errlen)
{
    struct rlimit rl;
    char lim[32] = "unknown";
    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
        if (rl.rlim_cur == RLIM_INFINITY)
            snprintf(lim, sizeof lim, "unlimited");
        else
            snprintf(lim, sizeof lim, "%llu", (unsigned long long)rl.rlim_cur);
    }
    size_t need = s->slots_total * s->slot_bytes;
    set_err(
        err, errlen,
        "kv_slab: mlock of %zu bytes failed (%s); RLIMIT_MEMLOCK is %s bytes and the pool "
        "needs at least %zu: raise it (ulimit -l, LimitMEMLOCK=) or grant CAP_IPC_LOCK, or do not "
        "ask for mlock",
        len, strerror(e), lim, need);
    return -e;
}

static int map_slab(kv_slab *s, struct slab *sl, size_t bytes, unsigned flags, size_t hpage,
                    bool *try_huge, char *err, size_t errlen)
{
    int mflags = MAP_PRIVATE | MAP_ANONYMOUS;
    if (flags & KV_SLAB_POPULATE) mflags |= MAP_POPULATE;
    void *p = MAP_FAILED;
    if (*try_huge) {
        size_t len = round_up(bytes, hpage);
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, mflags | MAP_HUGETLB, -1, 0);
        if (p != MAP_FAILED) {
            sl->map_len = len;
            sl->huge = true;
        } else {
            *try_huge = false; /* none reserved or the pool ran dry: stop asking */
        }
    }
    if (p == MAP_FAILED) {
        long pg = sysconf(_SC_PAGESIZE);
        size_t len = round_up(bytes, pg > 0 ? (size_t)pg : 4096);
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, mflags, -1, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            set_err(err, errlen, "kv_slab: mmap of %zu bytes failed: %s", len, strerror(e));
            return -ENOMEM;
        }
        sl->map_len = len;
        sl->huge = false;
        /* Transparent huge pages are a best-effort hint; without them the
         * slab works the same, so a refusal is not an error. */
        if (flags & KV_SLAB_HUGETLB) (void)madvise(p, len, MADV_HUGEPAGE);
    }
    sl->base = p;
    if (flags & KV_SLAB_MLOCK) {
        if (mlock(p, sl->map_len) != 0) {
            int e = errno;
            return lock_failed(s, sl->map_len, e, err, errlen);
        }
    }
    return 0;
}

int kv_slab_create(const kv_slab_config *cfg, kv_slab **out, char *err, size_t errlen)
{
    if (!cfg || !out) {
        set_err(err, errlen, "kv_slab: NULL config or output");
        return -EINVAL;
    }
    *out = NULL;
    unsigned nshards = cfg->nshards ? cfg->nshards : 1;
    if (cfg->block_bytes == 0 || cfg->block_bytes > SIZE_MAX / 2) {
        set_err(err, errlen, "kv_slab: block_bytes %zu out of range", cfg->block_bytes);
        return -EINVAL;
    }
    size_t slot = round_up(cfg->block_bytes, KV_SLAB_ALIGN);
    size_t per = cfg->budget_bytes / slot / nshards;
    if (per == 0) {
        set_err(err, errlen,
                "kv_slab: budget %zu bytes holds fewer than one %zu-byte slot per shard (%u "
                "shards)",
                cfg->budget_bytes, slot, nshards);
        return -EINVAL;
    }
    size_t total = per * nshards;
    if (total > UINT32_MAX) {
        set_err(err, errlen, "kv_slab: %zu slots exceed the 2^32 limit", total);
        return -EINVAL;
    }
    size_t slab_bytes = cfg->slab_bytes ? cfg->slab_bytes : DEFAULT_SLAB_BYTES;
    size_t sps = slab_bytes / slot ? slab_bytes / slot : 1;
    size_t nslabs = (total + sps - 1) / sps;
    if (nslabs > UINT32_MAX) {
        set_err(err, errlen, "kv_slab: too many slabs (%zu)", nslabs);
        return -EINVAL;
    }

    kv_slab *s = calloc(1, sizeof *s);
    if (!s) {
        set_err(err, errlen, "kv_slab: out of memory");
        return -ENOMEM;
    }
    s->slot_bytes = slot;
    s->slots_total = total;
    s->per_shard = per;
    s->slots_per_slab = sps;
    s->slabs = calloc(nslabs, sizeof *s->slabs);
    s->stack_mem = malloc(total * sizeof *s->stack_mem);
    s->used = calloc(total, 1);
    s->shards = aligned_alloc(_Alignof(struct shard), nshards * sizeof(struct shard));
    if (!s->slabs || !s->stack_mem || !s->used || !s->shards) {
        release(s);
        set_err(err, errlen, "kv_slab: out of memory for bookkeeping");
        return -ENOMEM;
    }
    for (unsigned k = 0; k < nshards; k++) {
        struct shard *sh = &s->shards[k];
        int rc = pthread_mutex_init(&sh->mu, NULL);
        if (rc != 0) {
            release(s);
            set_err(err, errlen, "kv_slab: pthread_mutex_init: %s", strerror(rc));
            return -rc;
        }
        s->nshards = k + 1; /* release() destroys only initialised mutexes */
        sh->stack = s->stack_mem + (size_t)k * per;
        sh->top = per;
        for (size_t j = 0; j < per; j++) /* lowest index on top */
            sh->stack[j] = (uint32_t)((size_t)k * per + per - 1 - j);
    }

    s->nslabs = (unsigned)nslabs;
    bool try_huge = (cfg->flags & KV_SLAB_HUGETLB) != 0;
    size_t hpage = try_huge ? huge_page_size() : 0;
    for (size_t i = 0; i < nslabs; i++) {
        size_t n = total - i * sps < sps ? total - i * sps : sps;
        int rc = map_slab(s, &s->slabs[i], n * slot, cfg->flags, hpage, &try_huge, err, errlen);
        if (rc != 0) {
            release(s);
            return rc;
        }
        if (s->slabs[i].huge) s->nslabs_huge++;
    }
    s->locked = (cfg->flags & KV_SLAB_MLOCK) != 0;
    *out = s;
    return 0;
}

void kv_slab_destroy(kv_slab *s)
{
    if (s) release(s);
}

void *kv_slab_ptr(const kv_slab *s, size_t index)
{
    if (!s || index >= s->slots_total) return NULL;
    const struct slab *sl = &s->slabs[index / s->slots_per_slab];
    return sl->base + (index % s->slots_per_slab) * s->slot_bytes;
}

long kv_slab_index(const kv_slab *s, const void *ptr)
{
    if (!s || !ptr) return -1;
    uintptr_t p = (uintptr_t)ptr;
    for (unsigned i = 0; i < s->nslabs; i++) {
        uintptr_t b = (uintptr_t)s->slabs[i].base;
        size_t first = (size_t)i * s->slots_per_slab;
        size_t n =
            s->slots_total - first < s->slots_per_slab ? s->slots_total - first : s->slots_per_slab;
        if (p < b || p >= b + n * s->slot_bytes) continue;
        size_t off = p - b;
        if (off % s->slot_bytes != 0) return -1;
        return (long)(first + off / s->slot_bytes);
    }
    return -1;
}

unsigned kv_slab_shard_of(const kv_slab *s, size_t index)
{
    return (unsigned)(index / s->per_shard);
}

size_t kv_slab_slot_bytes(const kv_slab *s)
{
    return s->slot_bytes;
}

void *kv_slab_alloc(kv_slab *s, unsigned shard)
{
    if (!s || shard >= s->nshards) return NULL;
    struct shard *sh = &s->shards[shard];
    uint32_t idx;
    if (pthread_mutex_lock(&sh->mu) != 0) return NULL;
    if (sh->top == 0) {
        pthread_mutex_unlock(&sh->mu);
        return NULL;
    }
    idx = sh->stack[--sh->top];
    s->used[idx] = 1;
    pthread_mutex_unlock(&sh->mu);
    return kv_slab_ptr(s, idx);
}

int kv_slab_free(kv_slab *s, void *slot)
{
    long idx = kv_slab_index(s, slot);
    if (idx < 0) return -EINVAL;
    struct shard *sh = &s->shards[kv_slab_shard_of(s, (size_t)idx)];
    int rc = pthread_mutex_lock(&sh->mu);
    if (rc != 0) return -rc;
    if (!s->used[idx]) {
        pthread_mutex_unlock(&sh->mu);
        return -EALREADY;
    }
    s->used[idx] = 0;
    sh->stack[sh->top++] = (uint32_t)idx;
    pthread_mutex_unlock(&sh->mu);
    return 0;
}

size_t kv_slab_shard_used(kv_slab *s, unsigned shard)
{
    if (!s || shard >= s->nshards) return 0;
    struct shard *sh = &s->shards[shard];
    if (pthread_mutex_lock(&sh->mu) != 0) return 0;
    size_t used = s->per_shard - sh->top;
    pthread_mutex_unlock(&sh->mu);
    return used;
}

void kv_slab_stats_get(kv_slab *s, kv_slab_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!s) return;
    out->slot_bytes = s->slot_bytes;
    out->slots_total = s->slots_total;
    out->nshards = s->nshards;
    out->nslabs = s->nslabs;
    out->nslabs_huge = s->nslabs_huge;
    out->huge_pages = s->nslabs_huge == s->nslabs;
    out->locked = s->locked;
    for (unsigned i = 0; i < s->nslabs; i++)
        out->bytes_reserved += s->slabs[i].map_len;
    for (unsigned k = 0; k < s->nshards; k++)
        out->slots_used += kv_slab_shard_used(s, k);
}
