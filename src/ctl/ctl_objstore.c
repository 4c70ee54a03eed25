/* ctl_objstore: the base of every object store (see ctl_objstore.h): the
 * calls that dispatch to the table, the watch list and its notification,
 * the initial sync, and the record and event types' frees.
 *
 * The watch list is a small array in registration order (a handful of
 * controllers). A watcher may unwatch from inside a callback: while a
 * notification runs, removed entries are only blanked (cb NULL) and the
 * array is compacted when the outermost notification returns, so the loop
 * over it never skips or repeats an entry. */
#include "ctl/ctl_objstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"

void ctl_record_clear(ctl_record *r)
{
    if (!r) return;
    json_decref(r->object);
    json_decref(r->status);
    memset(r, 0, sizeof(*r));
}

void ctl_records_free(ctl_record *r, size_t n)
{
    if (!r) return;
    for (size_t i = 0; i < n; i++)
        ctl_record_clear(&r[i]);
    free(r);
}

const char *ctl_event_type_name(ctl_event_type t)
{
    return t == CTL_EVENT_WARNING ? "Warning" : "Normal";
}

void ctl_events_free(ctl_event *ev, size_t n)
{
    if (!ev) return;
    for (size_t i = 0; i < n; i++)
        free(ev[i].message);
    free(ev);
}

/* ---- watch ---- */

void ctl_objstore_base_init(ctl_objstore *st, const ctl_objstore_ops *ops)
{
    memset(st, 0, sizeof(*st));
    st->ops = ops;
}

static int ctl_objstore_add_watcher(ctl_objstore *st, ctl_kind kind, int status, ctl_watch_cb cb,
                                    void *ud)
{
    if (!st || !cb) return -1;
    if (st->nwatchers == st->capwatchers) {
        size_t cap = st->capwatchers ? st->capwatchers * 2 : 8;
        ctl_objstore_watcher *w = realloc(st->watchers, cap * sizeof(*w));
        if (!w) return -1;
        st->watchers = w;
        st->capwatchers = cap;
    }
    st->watchers[st->nwatchers++] =
        (ctl_objstore_watcher){.kind = kind, .status = status, .cb = cb, .ud = ud};
    return 0;
}

int ctl_objstore_watch(ctl_objstore *st, ctl_kind kind, ctl_watch_cb cb, void *ud)
{
    return ctl_objstore_add_watcher(st, kind, 0, cb, ud);
}

int ctl_objstore_watch_status(ctl_objstore *st, ctl_kind kind, ctl_watch_cb cb, void *ud)
{
    return ctl_objstore_add_watcher(st, kind, 1, cb, ud);
}

/* Drops blanked entries, keeping the order. */
static void ctl_objstore_compact(ctl_objstore *st)
{
    size_t k = 0;
    for (size_t i = 0; i < st->nwatchers; i++)
        if (st->watchers[i].cb) st->watchers[k++] = st->watchers[i];
    st->nwatchers = k;
}

void ctl_objstore_unwatch(ctl_objstore *st, ctl_watch_cb cb, void *ud)
{
    if (!st) return;
    for (size_t i = 0; i < st->nwatchers; i++)
        if (st->watchers[i].cb == cb && st->watchers[i].ud == ud) st->watchers[i].cb = NULL;
    if (!st->notifying) ctl_objstore_compact(st);
}

void ctl_objstore_notify(ctl_objstore *st, const ctl_watch_event *ev)
{
    st->notifying++;
    /* by index, and only the entries there now: a watcher registered
     * during the notification sees the next one */
    size_t n = st->nwatchers;
    for (size_t i = 0; i < n; i++) {
        const ctl_objstore_watcher w = st->watchers[i];
        if (!w.cb || w.status != (ev->type == CTL_WATCH_STATUS)) continue;
        if (w.kind == CTL_KIND_NONE || w.kind == ev->kind) w.cb(w.ud, ev);
    }
    if (--st->notifying == 0) ctl_objstore_compact(st);
}

int ctl_objstore_sync(ctl_objstore *st, ctl_kind kind, char *err, size_t errlen)
{
    const char *kname = ctl_kind_name(kind);
    if (!kname) {
        if (err && errlen) snprintf(err, errlen, "store: sync of an unknown kind");
        return -1;
    }
    ctl_record *rs = NULL;
    size_t n = 0;
    if (ctl_objstore_list(st, kname, &rs, &n, err, errlen) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        ctl_obj *o = NULL;
        char perr[512];
        if (ctl_obj_parse(rs[i].object, &o, perr, sizeof(perr)) != 0) {
            bx_error("stored %s %s: %s", rs[i].kind, rs[i].name, perr);
            continue;
        }
        o->generation = rs[i].generation;
        snprintf(o->name, sizeof(o->name), "%s", rs[i].name); /* its key (ctl_key.h) */
        ctl_watch_event ev = {.type = CTL_WATCH_SYNC, .kind = kind, .name = o->name, .obj = o};
        ctl_objstore_notify(st, &ev);
        ctl_obj_free(o);
    }
    ctl_records_free(rs, n);
    return 0;
}

/* ---- calls ---- */

const char *ctl_objstore_name(const ctl_objstore *st)
{
    return st->ops->name;
}

int ctl_objstore_get(ctl_objstore *st, const char *kind, const char *name, ctl_record *out,
                     char *err, size_t errlen)
{
    return st->ops->get(st, kind, name, out, err, errlen);
}

int ctl_objstore_list(ctl_objstore *st, const char *kind, ctl_record **out, size_t *n, char *err,
                      size_t errlen)
{
    return st->ops->list(st, kind, out, n, err, errlen);
}

int ctl_objstore_put(ctl_objstore *st, ctl_obj *o, int *changed, char *err, size_t errlen)
{
    return st->ops->put(st, o, changed, err, errlen);
}

int ctl_objstore_delete(ctl_objstore *st, const char *kind, const char *name, char *err,
                        size_t errlen)
{
    return st->ops->del(st, kind, name, err, errlen);
}

int ctl_objstore_set_status(ctl_objstore *st, const char *kind, const char *name,
                            const json_t *status, char *err, size_t errlen)
{
    return st->ops->set_status(st, kind, name, status, err, errlen);
}

int ctl_objstore_event(ctl_objstore *st, const char *kind, const char *name, ctl_event_type type,
                       const char *reason, const char *message, char *err, size_t errlen)
{
    return st->ops->event(st, kind, name, type, reason, message, err, errlen);
}

int ctl_objstore_events(ctl_objstore *st, const char *kind, const char *name, size_t limit,
                        ctl_event **out, size_t *n, char *err, size_t errlen)
{
    return st->ops->events(st, kind, name, limit, out, n, err, errlen);
}

void ctl_objstore_close(ctl_objstore *st)
{
    if (!st) return;
    free(st->watchers);
    st->watchers = NULL;
    st->nwatchers = st->capwatchers = 0;
    st->ops->close(st);
}
