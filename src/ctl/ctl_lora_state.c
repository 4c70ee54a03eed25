/* ctl_lora_state: what the ModelAdapter controller knows (ctl_lora_int.h):
 * lookups of adapters, engines and per-engine states, which engines an
 * adapter may go to, how many adapters an engine holds, the retry backoff,
 * and the frees. No I/O. */
#include "ctl/ctl_lora_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_key.h"

int ctl_lora_grow(void **arr, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 8;
    while (nc < need)
        nc *= 2;
    void *p = realloc(*arr, nc * sz);
    if (!p) return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

ctl_lora_ad *ctl_lora_ad_find(const ctl_lora *c, const char *name)
{
    for (size_t i = 0; i < c->nads; i++)
        if (!strcmp(c->ads[i]->name, name)) return c->ads[i];
    return NULL;
}

int ctl_lora_pod_cmp(const void *a, const void *b)
{
    return strcmp((*(ctl_lora_pod *const *)a)->name, (*(ctl_lora_pod *const *)b)->name);
}

ctl_lora_pod *ctl_lora_pod_find_in(ctl_lora_pod *const *pods, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(pods[mid]->name, name);
        if (r == 0) return pods[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

ctl_lora_pod *ctl_lora_pod_find(const ctl_lora *c, const char *name)
{
    return ctl_lora_pod_find_in(c->pods, c->npods, name);
}

ctl_lora_lst *ctl_lora_st_find(ctl_lora_ad *a, const char *pod)
{
    for (size_t i = 0; i < a->nst; i++)
        if (!strcmp(a->st[i].pod, pod)) return &a->st[i];
    return NULL;
}

ctl_lora_lst *ctl_lora_st_get(ctl_lora_ad *a, const char *pod)
{
    ctl_lora_lst *s = ctl_lora_st_find(a, pod);
    if (s) return s;
    if (ctl_lora_grow((void **)&a->st, &a->capst, a->nst + 1, sizeof(*a->st)) != 0) return NULL;
    s = &a->st[a->nst++];
    memset(s, 0, sizeof(*s));
    snprintf(s->pod, sizeof(s->pod), "%s", pod);
    return s;
}

void ctl_lora_st_drop(ctl_lora_ad *a, ctl_lora_lst *s)
{
    size_t i = (size_t)(s - a->st);
    a->st[i] = a->st[--a->nst];
}

int ctl_lora_pod_lists(const ctl_lora_pod *p, const char *ad)
{
    /* engines serve an adapter under its name, not its key (ctl_key.h) */
    return p->listed && ctl_lora_names_has(p->models, p->nmodels, ctl_key_name(ad));
}

void ctl_lora_pod_models_del(ctl_lora_pod *p, const char *ad)
{
    for (size_t i = 0; i < p->nmodels; i++)
        if (!strcmp(p->models[i], ad)) {
            free(p->models[i]);
            memmove(&p->models[i], &p->models[i + 1], (p->nmodels - i - 1) * sizeof(char *));
            p->nmodels--;
            return;
        }
}

void ctl_lora_pod_models_add(ctl_lora_pod *p, const char *ad)
{
    ad = ctl_key_name(ad);
    if (ctl_lora_names_has(p->models, p->nmodels, ad)) return;
    char **m = realloc(p->models, (p->nmodels + 1) * sizeof(char *));
    if (!m) return;
    p->models = m;
    char *d = strdup(ad);
    if (!d) return;
    m[p->nmodels++] = d;
    qsort(m, p->nmodels, sizeof(char *), ctl_lora_cmp_str);
}

int ctl_lora_pod_candidate(const ctl_lora_ad *a, const ctl_lora_pod *p)
{
    const ctl_adapter *ma = &a->obj->u.ma;
    if (!ctl_key_same_ns(a->name, p->name)) return 0; /* pods of its namespace only */
    if (ma->base_model && (!p->model || strcmp(p->model, ma->base_model) != 0)) return 0;
    return ctl_labels_match(ma->match_labels, p->labels);
}

unsigned ctl_lora_pod_loaded(const ctl_lora *c, const ctl_lora_pod *p)
{
    unsigned n = (unsigned)p->nmodels;
    for (size_t i = 0; i < c->nads; i++) {
        ctl_lora_ad *a = c->ads[i];
        ctl_lora_lst *s = ctl_lora_st_find(a, p->name);
        if (s && (s->st == CTL_LORA_LS_LOADING || s->st == CTL_LORA_LS_CONFIRMING) &&
            !ctl_lora_pod_lists(p, a->name))
            n++;
    }
    return n;
}

uint64_t ctl_lora_backoff_ms(const ctl_lora *c, unsigned fails)
{
    uint64_t b = c->cfg.backoff_base_ms;
    for (unsigned i = 1; i < fails && b < c->cfg.backoff_max_ms; i++)
        b *= 2;
    return b < c->cfg.backoff_max_ms ? b : c->cfg.backoff_max_ms;
}

void ctl_lora_ad_free(ctl_lora_ad *a)
{
    if (!a) return;
    ctl_obj_free(a->obj);
    free(a->st);
    json_decref(a->conds);
    free(a);
}

void ctl_lora_pod_free(ctl_lora_pod *p)
{
    if (!p) return;
    free(p->model);
    json_decref(p->labels);
    ctl_lora_names_free(p->models, p->nmodels);
    ctl_lora_names_free(p->reported, p->nreported);
    free(p);
}

int ctl_lora_settling(const ctl_lora *c, const ctl_lora_ad *a)
{
    if (!c->pods_given) return 1;
    if (a->art == CTL_LORA_ART_NONE || (a->art == CTL_LORA_ART_RESOLVING && a->art_fails == 0))
        return 1;
    for (size_t i = 0; i < c->npods; i++) {
        const ctl_lora_pod *p = c->pods[i];
        if (p->phase == CTL_POD_READY && !p->listed && p->probe_inflight &&
            ctl_lora_pod_candidate(a, p))
            return 1;
    }
    return 0;
}
