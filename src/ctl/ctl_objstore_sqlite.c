/* ctl_objstore_sqlite: the "sqlite" object store (ctl_objstore_sqlite.h).
 * Each call is ctl_store's; put and delete notify the watchers once the
 * write is committed. */
#include "ctl/ctl_objstore_sqlite.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct ctl_objstore_sqlite {
    ctl_objstore base; /* first: a ctl_objstore * is this */
    ctl_store *db;
} ctl_objstore_sqlite;

static ctl_store *ctl_objstore_sqlite_db(ctl_objstore *st)
{
    return ((ctl_objstore_sqlite *)st)->db;
}

static int ctl_objstore_sqlite_get(ctl_objstore *st, const char *kind, const char *name,
                                   ctl_record *out, char *err, size_t errlen)
{
    return ctl_store_get(ctl_objstore_sqlite_db(st), kind, name, out, err, errlen);
}

static int ctl_objstore_sqlite_list(ctl_objstore *st, const char *kind, ctl_record **out, size_t *n,
                                    char *err, size_t errlen)
{
    return ctl_store_list(ctl_objstore_sqlite_db(st), kind, out, n, err, errlen);
}

static int ctl_objstore_sqlite_put(ctl_objstore *st, ctl_obj *o, int *changed, char *err,
                                   size_t errlen)
{
    int did = 0;
    if (ctl_store_put_obj(ctl_objstore_sqlite_db(st), o, &did, err, errlen) != 0) return -1;
    if (changed) *changed = did;
    if (did) {
        ctl_watch_event ev = {.type = CTL_WATCH_PUT, .kind = o->kind, .name = o->name, .obj = o};
        ctl_objstore_notify(st, &ev);
    }
    return 0;
}

static int ctl_objstore_sqlite_del(ctl_objstore *st, const char *kind, const char *name, char *err,
                                   size_t errlen)
{
    int rc = ctl_store_delete(ctl_objstore_sqlite_db(st), kind, name, err, errlen);
    if (rc == 0) {
        ctl_watch_event ev = {.type = CTL_WATCH_DELETE, .kind = ctl_kind_parse(kind), .name = name};
        ctl_objstore_notify(st, &ev);
    }
    return rc;
}

static int ctl_objstore_sqlite_set_status(ctl_objstore *st, const char *kind, const char *name,
                                          const json_t *status, char *err, size_t errlen)
{
    int rc = ctl_store_set_status(ctl_objstore_sqlite_db(st), kind, name, status, err, errlen);
    if (rc == 0) {
        ctl_watch_event ev = {.type = CTL_WATCH_STATUS, .kind = ctl_kind_parse(kind), .name = name};
        ctl_objstore_notify(st, &ev);
    }
    return rc;
}

static int ctl_objstore_sqlite_event(ctl_objstore *st, const char *kind, const char *name,
                                     ctl_event_type type, const char *reason, const char *message,
                                     char *err, size_t errlen)
{
    return ctl_store_event(ctl_objstore_sqlite_db(st), kind, name, type, reason, message, 0, err,
                           errlen);
}

static int ctl_objstore_sqlite_events(ctl_objstore *st, const char *kind, const char *name,
                                      size_t limit, ctl_event **out, size_t *n, char *err,
                                      size_t errlen)
{
    return ctl_store_events(ctl_objstore_sqlite_db(st), kind, name, limit, out, n, err, errlen);
}

static void ctl_objstore_sqlite_close(ctl_objstore *st)
{
    ctl_store_close(ctl_objstore_sqlite_db(st));
    free(st);
}

static const ctl_objstore_ops ctl_objstore_sqlite_ops = {
    .name = "sqlite",
    .get = ctl_objstore_sqlite_get,
    .list = ctl_objstore_sqlite_list,
    .put = ctl_objstore_sqlite_put,
    .del = ctl_objstore_sqlite_del,
    .set_status = ctl_objstore_sqlite_set_status,
    .event = ctl_objstore_sqlite_event,
    .events = ctl_objstore_sqlite_events,
    .close = ctl_objstore_sqlite_close,
};

int ctl_objstore_sqlite_open(const char *path, ctl_objstore **out, char *err, size_t errlen)
{
    *out = NULL;
    ctl_objstore_sqlite *s = calloc(1, sizeof(*s));
    if (!s) {
        if (err && errlen) snprintf(err, errlen, "store: out of memory");
        return -1;
    }
    if (ctl_store_open(path, &s->db, err, errlen) != 0) {
        free(s);
        return -1;
    }
    ctl_objstore_base_init(&s->base, &ctl_objstore_sqlite_ops);
    *out = &s->base;
    return 0;
}

ctl_store *ctl_objstore_sqlite_store(ctl_objstore *st)
{
    return st && st->ops == &ctl_objstore_sqlite_ops ? ctl_objstore_sqlite_db(st) : NULL;
}
