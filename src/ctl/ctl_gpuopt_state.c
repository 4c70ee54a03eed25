/* ctl_gpuopt_state: the GPU optimizer service's shared tables (profiles
 * held, models), which the service (ctl_gpuopt.c) and its Redis source
 * (ctl_gpuopt_redis.c) both change; structs in ctl_gpuopt_int.h. A leaf:
 * it calls neither. */
#include "ctl/ctl_gpuopt_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gpo_fmt(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* Keeps p unless a profile of the same gpu is as new or newer. */
int gpo_prof_offer(ctl_gpuopt *g, const char *file, const opt_profile *p)
{
    for (int i = 0; i < g->nprofs; i++)
        if (strcmp(g->profs[i]->p.gpu, p->gpu) == 0) {
            int newer = p->created > g->profs[i]->p.created;
            if (newer ||
                (p->created == g->profs[i]->p.created && !strcmp(g->profs[i]->file, file))) {
                g->profs[i]->p = *p;
                gpo_fmt(g->profs[i]->file, sizeof(g->profs[i]->file), file);
            }
            return newer;
        }
    if (g->nprofs == GPO_MAX_PROFILES) return 0;
    gpo_prof *np = malloc(sizeof(*np));
    if (!np) return 0;
    np->p = *p;
    gpo_fmt(np->file, sizeof(np->file), file);
    g->profs[g->nprofs++] = np;
    return 1;
}

gpo_model *gpo_model_get(ctl_gpuopt *g, const char *name, int create)
{
    for (int i = 0; i < g->nmodels; i++)
        if (strcmp(g->models[i]->name, name) == 0) return g->models[i];
    if (!create || g->nmodels == GPO_MAX_MODELS) return NULL;
    gpo_model *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    gpo_fmt(m->name, sizeof(m->name), name);
    m->m = opt_model_new(name, &g->cfg.core);
    if (!m->m) {
        free(m);
        return NULL;
    }
    m->rc = 1;
    g->models[g->nmodels++] = m;
    return m;
}
