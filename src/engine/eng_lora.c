/* eng_lora: see eng_lora.h. Linear scans over at most ENG_LORA_MAX entries;
 * adapter counts are small (max_loras is usually 1..8). */
#include "engine/eng_lora.h"

#include <errno.h>
#include <string.h>

void eng_lora_init(eng_lora *l, int32_t max_loras, int32_t max_cpu_loras)
{
    memset(l, 0, sizeof(*l));
    l->max_loras = max_loras > 0 ? (max_loras < 64 ? max_loras : 64) : 1;
    l->max_cpu_loras = max_cpu_loras >= l->max_loras ? max_cpu_loras : l->max_loras;
    l->next_id = 1;
}

int eng_lora_find(const eng_lora *l, const char *name)
{
    for (int i = 0; i < ENG_LORA_MAX; i++)
        if (l->a[i].id && !strcmp(l->a[i].name, name)) return i;
    return -1;
}

static int eng_lora_count_cpu(const eng_lora *l)
{
    int n = 0;
    for (int i = 0; i < ENG_LORA_MAX; i++)
        if (l->a[i].id && l->a[i].cpu_tick) n++;
    return n;
}

/* Evicts host-memory copies, least recently used first, until there is room
 * for one more; adapters on the GPU or running are kept. */
static void eng_lora_make_cpu_room(eng_lora *l)
{
    while (eng_lora_count_cpu(l) >= l->max_cpu_loras) {
        int victim = -1;
        for (int i = 0; i < ENG_LORA_MAX; i++) {
            eng_lora_adapter *a = &l->a[i];
            if (!a->id || !a->cpu_tick || a->running || a->gpu_slot >= 0) continue;
            if (victim < 0 || a->cpu_tick < l->a[victim].cpu_tick) victim = i;
        }
        if (victim < 0) return;
        l->a[victim].cpu_tick = 0;
    }
}

int eng_lora_add(eng_lora *l, const char *name, const char *path)
{
    size_t nl = strlen(name), pl = strlen(path);
    if (nl == 0 || nl >= ENG_LORA_NAME_MAX || pl == 0 || pl >= ENG_LORA_PATH_MAX) return -EINVAL;
    if (eng_lora_find(l, name) >= 0) return -EEXIST;
    int slot = -1;
    for (int i = 0; i < ENG_LORA_MAX && slot < 0; i++)
        if (!l->a[i].id) slot = i;
    if (slot < 0) return -ENOSPC;
    eng_lora_make_cpu_room(l);
    eng_lora_adapter *a = &l->a[slot];
    memset(a, 0, sizeof(*a));
    memcpy(a->name, name, nl + 1);
    memcpy(a->path, path, pl + 1);
    a->id = l->next_id++;
    a->gpu_slot = -1;
    a->cpu_tick = ++l->tick;
    return 0;
}

int eng_lora_remove(eng_lora *l, const char *name)
{
    int i = eng_lora_find(l, name);
    if (i < 0) return -ENOENT;
    /* Requests already running keep their slot accounting until they end;
     * the entry is only recycled when nothing references it. */
    eng_lora_adapter *a = &l->a[i];
    if (a->running > 0 || a->waiting > 0) {
        a->name[0] = '\0'; /* unreachable by name from now on */
        return 0;
    }
    memset(a, 0, sizeof(*a));
    a->gpu_slot = -1;
    return 0;
}

int eng_lora_can_run(const eng_lora *l, int i)
{
    return l->a[i].running > 0 || l->active < l->max_loras;
}

void eng_lora_activate(eng_lora *l, int i, int *loaded, int *swapped)
{
    eng_lora_adapter *a = &l->a[i];
    *loaded = 0;
    *swapped = 0;
    if (a->running++ == 0) l->active++;
    if (!a->cpu_tick) {
        eng_lora_make_cpu_room(l);
        *loaded = 1;
    }
    a->cpu_tick = ++l->tick;
    if (a->gpu_slot < 0) {
        /* take a free slot or the least recently used idle one */
        int used[64] = {0}, victim = -1;
        for (int j = 0; j < ENG_LORA_MAX; j++) {
            eng_lora_adapter *b = &l->a[j];
            if (b->gpu_slot < 0 || b->gpu_slot >= 64) continue;
            used[b->gpu_slot] = 1;
            if (!b->running && (victim < 0 || b->gpu_tick < l->a[victim].gpu_tick)) victim = j;
        }
        int slot = -1;
        for (int s = 0; s < l->max_loras && s < 64 && slot < 0; s++)
            if (!used[s]) slot = s;
        if (slot < 0 && victim >= 0) {
            slot = l->a[victim].gpu_slot;
            l->a[victim].gpu_slot = -1;
        }
        a->gpu_slot = slot;
        *swapped = 1;
    }
    a->gpu_tick = l->tick;
}

void eng_lora_deactivate(eng_lora *l, int i)
{
    eng_lora_adapter *a = &l->a[i];
    if (a->running > 0 && --a->running == 0) {
        l->active--;
        if (!a->name[0] && a->waiting == 0) { /* removed while running */
            memset(a, 0, sizeof(*a));
            a->gpu_slot = -1;
        }
    }
}
