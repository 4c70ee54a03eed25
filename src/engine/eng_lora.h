/* eng_lora: the engine's LoRA adapters, as vLLM keeps them.
 *
 * Registered adapters (load_lora_adapter) have a name, a path and a stable
 * 1-based id. Of those, at most max_cpu_loras are held in host memory (LRU)
 * and at most max_loras sit in GPU slots (LRU among slots whose adapter has
 * no running request). The scheduler asks eng_lora_activate when it puts a
 * request of an adapter into the batch; the answer says whether the adapter
 * had to be loaded from disk and/or swapped into a slot, which the timing
 * model charges. Fixed arrays, owned by the struct. */
#ifndef ENG_LORA_H
#define ENG_LORA_H

#include <stdint.h>

#define ENG_LORA_MAX 256
#define ENG_LORA_NAME_MAX 128
#define ENG_LORA_PATH_MAX 512

typedef struct eng_lora_adapter {
    char name[ENG_LORA_NAME_MAX];
    char path[ENG_LORA_PATH_MAX];
    int32_t id;        /* 1-based lora_int_id; 0 = empty entry */
    int32_t running;   /* requests of this adapter in the batch */
    int32_t waiting;   /* requests waiting */
    int32_t gpu_slot;  /* -1 when not on the GPU */
    uint64_t cpu_tick; /* 0 = not in host memory; else last use */
    uint64_t gpu_tick;
} eng_lora_adapter;

typedef struct eng_lora {
    eng_lora_adapter a[ENG_LORA_MAX];
    int32_t max_loras, max_cpu_loras;
    int32_t next_id;
    int32_t active; /* adapters with running > 0 */
    uint64_t tick;
} eng_lora;

void eng_lora_init(eng_lora *l, int32_t max_loras, int32_t max_cpu_loras);
/* 0, -EEXIST (already registered), -ENOSPC (table full), -EINVAL (name or
 * path too long or empty). The adapter starts in host memory, as vLLM loads
 * the weights when it is added. */
int eng_lora_add(eng_lora *l, const char *name, const char *path);
/* 0 or -ENOENT. */
int eng_lora_remove(eng_lora *l, const char *name);
/* Index of a registered adapter, or -1. */
int eng_lora_find(const eng_lora *l, const char *name);
/* Can a request of adapter i join the batch without exceeding max_loras? */
int eng_lora_can_run(const eng_lora *l, int i);
/* Adapter i gets one more running request. Sets *loaded / *swapped when it
 * had to come from disk / into a GPU slot. */
void eng_lora_activate(eng_lora *l, int i, int *loaded, int *swapped);
void eng_lora_deactivate(eng_lora *l, int i);

#endif
