/* ctl_gpuopt_int: the optimizer service's state, shared by its files:
 * ctl_gpuopt.c (models, profiles from files, the gateway's load, runs,
 * HTTP) and ctl_gpuopt_redis.c (profiles and load from Redis in AIBrix's
 * keys). Loop thread only. */
#ifndef CTL_GPUOPT_INT_H
#define CTL_GPUOPT_INT_H

#include <jansson.h>

#include "common/bx_http.h"
#include "ctl/ctl_ctrl.h"
#include "ctl/ctl_gpuopt.h"
#include "ctl/ctl_key.h"
#include "ctl/ctl_redis.h"
#include "opt/opt_server.h"

#define GPO_MAX_MODELS 64
#define GPO_MAX_DEPS 256
#define GPO_MAX_PROFILES 128
#define GPO_MAX_WINDOWS 64           /* the gateway keeps 60 */
#define GPO_LOAD_MAX_BYTES (8 << 20) /* 60 windows of 512 cells fit easily */
#define GPO_PROFILE_MAX_BYTES (1 << 20)
#define GPO_BODY_MAX 4096
#define GPO_MAX_CONNECTIONS 128
#define GPO_LABEL_MODEL "model.aibrix.ai/name"
#define GPO_LABEL_MIN "model.aibrix.ai/min_replicas"

typedef struct gpo_dep {
    char key[CTL_NAME_MAX + 1];
    char ns[OPT_SERVER_NS_MAX], name[OPT_SERVER_NAME_MAX];
    char model[OPT_SERVER_MODEL_MAX];
    int64_t min_replicas, max_replicas, override;
    int unmonitored; /* DELETE /monitor */
    int seen;
    int64_t last_replicas; /* of the last result; -1 none yet */
} gpo_dep;

typedef struct gpo_model {
    char name[OPT_SERVER_MODEL_MAX];
    opt_model *m;
    int64_t since; /* newest window read */
    int loading;   /* a /brix/load call in flight */
    int rc;        /* of the last run: 0, -1 (nothing to decide), 1 none yet */
    char reason[OPT_CORE_REASON_MAX];
    char load_err[256];
    int64_t runs;
    int64_t pushed_gen; /* the generation last handed to cfg.assignment; 0 none */
    /* Redis (ctl_gpuopt_redis.c) */
    int r_loading, r_profiling; /* a trace / profile read in flight */
    int r_first_done;           /* the first SCAN of the traces ran */
    int r_seen;                 /* a trace key was found (quiet windows count from then) */
    int64_t r_last_end;         /* the newest window end read (or known quiet) */
    int64_t r_keys, r_windows;  /* trace keys read, windows added (quiet ones too) */
    int64_t r_profiles;         /* profiles read from Redis (last read) */
    char r_prof_err[256];
} gpo_model;

typedef struct gpo_prof {
    char file[256];
    opt_profile p;
} gpo_prof;

struct ctl_gpuopt {
    uv_loop_t *loop;
    ctl_objstore *store;
    ctl_ctrl *ctrl;
    bx_http_server *srv;
    ctl_gpuopt_cfg cfg;
    char host[64], load_host[256], load_key[1100], ns[64], profiles_dir[1024];
    int port;
    gpo_dep deps[GPO_MAX_DEPS];
    int ndeps;
    gpo_model *models[GPO_MAX_MODELS];
    int nmodels;
    gpo_prof *profs[GPO_MAX_PROFILES];
    int nprofs;
    uint64_t dir_sig; /* names, sizes, mtimes of the profile files */
    char prof_err[512];
    opt_trace *wbuf; /* GPO_MAX_WINDOWS, for parsing */
    opt_deploy dbuf[OPT_CORE_MAX_DEPLOYS];
    void (*done)(void *);
    void *done_ud;
    int closing;
    int started;      /* the first pass ran the models */
    ctl_redis *redis; /* cfg.redis_host: profiles and load from Redis */
    char redis_host[256], redis_password[512];
    /* runs one model's optimizer (ctl_gpuopt.c's gpo_run, set at init):
     * how the Redis source, below the service, asks for a run */
    void (*rerun)(ctl_gpuopt *g, gpo_model *gm);
};

/* ctl_gpuopt_state.c */
void gpo_fmt(char *dst, size_t cap, const char *src);
/* Keeps p (from file, a name for /status) unless a profile of the same gpu
 * is as new or newer (the same file with the same created replaces its own
 * earlier read). 1 when p is new or newer than the one held. */
int gpo_prof_offer(ctl_gpuopt *g, const char *file, const opt_profile *p);
gpo_model *gpo_model_get(ctl_gpuopt *g, const char *name, int create);
/* ctl_gpuopt.c: the Deployments into the model, then opt_model_run
 * (events, push); others call it through g->rerun. */
void gpo_run(ctl_gpuopt *g, gpo_model *gm);

/* ctl_gpuopt_redis.c: with cfg.redis_host. */
int gpo_redis_init(ctl_gpuopt *g, char *err, size_t errlen);
/* Reads the model's new windows (the first time: every key SCAN finds),
 * adds them, then runs the model. */
void gpo_redis_load(ctl_gpuopt *g, gpo_model *gm);
/* Reads the model's profiles (SCAN aibrix:profile_<model>_*, MGET). */
void gpo_redis_profiles(ctl_gpuopt *g, gpo_model *gm);
/* The model's Redis state for /status ("redis": {...}); NULL without Redis. */
json_t *gpo_redis_json(const ctl_gpuopt *g, const gpo_model *gm);
/* 1 while a Redis read of the model is in flight. */
int gpo_redis_busy(const gpo_model *gm);
void gpo_redis_close(ctl_gpuopt *g);

#endif
