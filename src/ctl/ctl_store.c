/* ctl_store: SQLite persistence of the local control plane (see ctl_store.h).
 *
 * Every statement is prepared once at open (SQLITE_PREPARE_PERSISTENT) and
 * reset after each use. Writes that touch more than one row, or read before
 * they write, run inside BEGIN IMMEDIATE so a concurrent writer (another
 * handle or process) cannot slip in between; the busy timeout makes such a
 * writer wait instead of failing at once. */
#include "ctl/ctl_store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/ctl_key.h"

#define BUSY_TIMEOUT_MS 5000
#define EVENT_REASON_MAX 63
#define EVENT_MESSAGE_MAX 4096

enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_OBJ_GET,
    ST_OBJ_INSERT,
    ST_OBJ_UPDATE,
    ST_OBJ_LIST_ALL,
    ST_OBJ_LIST_KIND,
    ST_OBJ_DELETE,
    ST_OBJ_STATUS,
    ST_EV_LAST,
    ST_EV_BUMP,
    ST_EV_INSERT,
    ST_EV_TRIM_OBJ,
    ST_EV_TRIM_ALL,
    ST_EV_LIST,
    ST_EV_DELETE_OBJ,
    ST_POD_PUT,
    ST_POD_GET,
    ST_POD_LIST_ALL,
    ST_POD_LIST_DEP,
    ST_POD_DELETE,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_OBJ_GET] = "SELECT kind, name, object, status, generation, created_ms, updated_ms "
                   "FROM objects WHERE kind = ?1 AND name = ?2",
    [ST_OBJ_INSERT] = "INSERT INTO objects(kind, name, object, status, generation, created_ms, "
                      "updated_ms) VALUES(?1, ?2, ?3, '{}', 1, ?4, ?4)",
    [ST_OBJ_UPDATE] = "UPDATE objects SET object = ?3, generation = generation + 1, "
                      "updated_ms = ?4 WHERE kind = ?1 AND name = ?2",
    [ST_OBJ_LIST_ALL] = "SELECT kind, name, object, status, generation, created_ms, updated_ms "
                        "FROM objects ORDER BY kind, name",
    [ST_OBJ_LIST_KIND] = "SELECT kind, name, object, status, generation, created_ms, updated_ms "
                         "FROM objects WHERE kind = ?1 ORDER BY name",
    [ST_OBJ_DELETE] = "DELETE FROM objects WHERE kind = ?1 AND name = ?2",
    [ST_OBJ_STATUS] = "UPDATE objects SET status = ?3 WHERE kind = ?1 AND name = ?2",
    [ST_EV_LAST] = "SELECT id, type, reason, message FROM events WHERE kind = ?1 AND name = ?2 "
                   "ORDER BY id DESC LIMIT 1",
    [ST_EV_BUMP] = "UPDATE events SET count = count + 1, last_ms = ?2 WHERE id = ?1",
    [ST_EV_INSERT] = "INSERT INTO events(kind, name, type, reason, message, count, first_ms, "
                     "last_ms) VALUES(?1, ?2, ?3, ?4, ?5, 1, ?6, ?6)",
    [ST_EV_TRIM_OBJ] = "DELETE FROM events WHERE kind = ?1 AND name = ?2 AND id <= "
                       "(SELECT id FROM events WHERE kind = ?1 AND name = ?2 "
                       "ORDER BY id DESC LIMIT 1 OFFSET ?3)",
    [ST_EV_TRIM_ALL] = "DELETE FROM events WHERE id <= "
                       "(SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?1)",
    [ST_EV_LIST] = "SELECT id, kind, name, type, reason, message, count, first_ms, last_ms FROM "
                   "(SELECT * FROM events WHERE kind = ?1 AND name = ?2 ORDER BY id DESC "
                   "LIMIT ?3) ORDER BY id",
    [ST_EV_DELETE_OBJ] = "DELETE FROM events WHERE kind = ?1 AND name = ?2",
    [ST_POD_PUT] = "INSERT OR REPLACE INTO pods(name, deployment, replica, port, pid, state, "
                   "restarts, generation, started_ms, updated_ms) "
                   "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_POD_GET] = "SELECT name, deployment, replica, port, pid, state, restarts, generation, "
                   "started_ms, updated_ms FROM pods WHERE name = ?1",
    [ST_POD_LIST_ALL] = "SELECT name, deployment, replica, port, pid, state, restarts, "
                        "generation, started_ms, updated_ms FROM pods "
                        "ORDER BY deployment, replica, name",
    [ST_POD_LIST_DEP] = "SELECT name, deployment, replica, port, pid, state, restarts, "
                        "generation, started_ms, updated_ms FROM pods WHERE deployment = ?1 "
                        "ORDER BY replica, name",
    [ST_POD_DELETE] = "DELETE FROM pods WHERE name = ?1",
};

static const char schema_sql[] = "CREATE TABLE objects("
                                 " kind TEXT NOT NULL,"
                                 " name TEXT NOT NULL,"
                                 " object TEXT NOT NULL,"
                                 " status TEXT NOT NULL DEFAULT '{}',"
                                 " generation INTEGER NOT NULL,"
                                 " created_ms INTEGER NOT NULL,"
                                 " updated_ms INTEGER NOT NULL,"
                                 " PRIMARY KEY(kind, name)) WITHOUT ROWID;"
                                 "CREATE TABLE events("
                                 " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                                 " kind TEXT NOT NULL,"
                                 " name TEXT NOT NULL,"
                                 " type TEXT NOT NULL CHECK(type IN ('Normal', 'Warning')),"
                                 " reason TEXT NOT NULL,"
                                 " message TEXT NOT NULL,"
                                 " count INTEGER NOT NULL,"
                                 " first_ms INTEGER NOT NULL,"
                                 " last_ms INTEGER NOT NULL);"
                                 "CREATE INDEX events_by_object ON events(kind, name, id);"
                                 "CREATE TABLE pods("
                                 " name TEXT PRIMARY KEY,"
                                 " deployment TEXT NOT NULL,"
                                 " replica INTEGER NOT NULL,"
                                 " port INTEGER NOT NULL,"
                                 " pid INTEGER NOT NULL,"
                                 " state TEXT NOT NULL,"
                                 " restarts INTEGER NOT NULL,"
                                 " generation INTEGER NOT NULL,"
                                 " started_ms INTEGER NOT NULL,"
                                 " updated_ms INTEGER NOT NULL);"
                                 "CREATE INDEX pods_by_deployment ON pods(deployment, replica);";

struct ctl_store {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    size_t ev_per_object, ev_total;
};

static int ctl_store_seterr(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    if (err && errlen) snprintf(err, errlen, fmt, a, b);
    return -1;
}

static int ctl_store_db_err(ctl_store *s, const char *what, char *err, size_t errlen)
{
    return ctl_store_seterr(err, errlen, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

static int64_t ctl_store_now_or(int64_t now_ms)
{
    if (now_ms) return now_ms;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Resets a statement after use. The code sqlite3_reset returns repeats the
 * last step's error, which the caller has already handled; clear_bindings
 * cannot fail. */
static void ctl_store_done(sqlite3_stmt *st)
{
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
}

static int ctl_store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

/* Reports the connection's error for a statement, then resets it (the
 * message must be read first: reset overwrites it). Returns -1. */
static int ctl_store_fail_st(ctl_store *s, sqlite3_stmt *st, const char *what, char *err,
                             size_t errlen)
{
    ctl_store_db_err(s, what, err, errlen);
    ctl_store_done(st);
    return -1;
}

/* Runs a statement that returns no rows and resets it. 0 or -1. */
static int ctl_store_exec_stmt(ctl_store *s, sqlite3_stmt *st, const char *what, char *err,
                               size_t errlen)
{
    if (sqlite3_step(st) != SQLITE_DONE) return ctl_store_fail_st(s, st, what, err, errlen);
    ctl_store_done(st);
    return 0;
}

static int ctl_store_tx_begin(ctl_store *s, char *err, size_t errlen)
{
    return ctl_store_exec_stmt(s, s->st[ST_BEGIN], "begin", err, errlen);
}

/* Rolls back after an error already reported. A failing rollback is not
 * reported over the first message: SQLite has then rolled back itself, or
 * the next BEGIN will say what is wrong. */
static int ctl_store_tx_abort(ctl_store *s)
{
    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_stmt *rb = s->st[ST_ROLLBACK];
        if (sqlite3_step(rb) != SQLITE_DONE) { /* see above */
        }
        ctl_store_done(rb);
    }
    return -1;
}

static int ctl_store_tx_commit(ctl_store *s, char *err, size_t errlen)
{
    if (ctl_store_exec_stmt(s, s->st[ST_COMMIT], "commit", err, errlen) < 0)
        return ctl_store_tx_abort(s);
    return 0;
}

static int ctl_store_check_kind_name(const char *kind, const char *name, char *err, size_t errlen)
{
    if (!kind || !kind[0] || strlen(kind) >= sizeof(((ctl_record *)0)->kind))
        return ctl_store_seterr(err, errlen, "store: invalid kind '%.40s'%s",
                                kind ? kind : "(null)", "");
    if (!ctl_key_valid(name))
        return ctl_store_seterr(err, errlen, "store: invalid name '%.80s'%s",
                                name ? name : "(null)", "");
    return 0;
}

/* ---- open / close ---- */

static int ctl_store_exec_sql(ctl_store *s, const char *sql, const char *what, char *err,
                              size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        ctl_store_seterr(err, errlen, "store: %s: %s", what, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Runs a one-row, one-column query (PRAGMA) and returns its integer, or
 * copies its text into txt when txt is given. */
static int ctl_store_query_one(ctl_store *s, const char *sql, int64_t *out, char *txt,
                               size_t txtlen, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return ctl_store_db_err(s, sql, err, errlen);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        ctl_store_db_err(s, sql, err, errlen);
        (void)sqlite3_finalize(st);
        return -1;
    }
    if (out) *out = sqlite3_column_int64(st, 0);
    if (txt) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(txt, txtlen, "%s", t ? (const char *)t : "");
    }
    (void)sqlite3_finalize(st); /* repeats step's code, which was ROW */
    return 0;
}

static int ctl_store_setup_schema(ctl_store *s, char *err, size_t errlen)
{
    if (ctl_store_exec_sql(s, "BEGIN IMMEDIATE", "begin", err, errlen) < 0) return -1;
    int64_t version = 0, tables = 0;
    if (ctl_store_query_one(s, "PRAGMA user_version", &version, NULL, 0, err, errlen) < 0 ||
        ctl_store_query_one(s, "SELECT count(*) FROM sqlite_master", &tables, NULL, 0, err,
                            errlen) < 0)
        goto fail;
    if (version > CTL_STORE_SCHEMA_VERSION) {
        if (err && errlen)
            snprintf(err, errlen,
                     "store: schema version %lld is newer than this brix supports (%d)",
                     (long long)version, CTL_STORE_SCHEMA_VERSION);
        goto fail;
    }
    if (version == 0 && tables > 0) {
        ctl_store_seterr(err, errlen, "store: %s%s",
                         "not a brix store (tables without a schema version)", "");
        goto fail;
    }
    if (version == 0) {
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", CTL_STORE_SCHEMA_VERSION);
        if (ctl_store_exec_sql(s, schema_sql, "create schema", err, errlen) < 0 ||
            ctl_store_exec_sql(s, pragma, "set schema version", err, errlen) < 0)
            goto fail;
    }
    /* version == CTL_STORE_SCHEMA_VERSION: nothing to migrate yet. */
    return ctl_store_exec_sql(s, "COMMIT", "commit", err, errlen);
fail:
    if (!sqlite3_get_autocommit(s->db)) (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int ctl_store_open(const char *path, ctl_store **out, char *err, size_t errlen)
{
    *out = NULL;
    ctl_store *s = calloc(1, sizeof(*s));
    if (!s) return ctl_store_seterr(err, errlen, "store: %s%s", "out of memory", "");
    s->ev_per_object = 100;
    s->ev_total = 10000;
    int rc = sqlite3_open_v2(
        path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        ctl_store_seterr(err, errlen, "store: open %s: %s", path,
                         s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        ctl_store_close(s);
        return -1;
    }
    char mode[32];
    if (sqlite3_extended_result_codes(s->db, 1) != SQLITE_OK ||
        sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS) != SQLITE_OK) {
        ctl_store_db_err(s, "configure", err, errlen);
        goto fail;
    }
    if (ctl_store_query_one(s, "PRAGMA journal_mode = WAL", NULL, mode, sizeof(mode), err, errlen) <
        0)
        goto fail;
    if (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0) {
        ctl_store_seterr(err, errlen, "store: %s: cannot use WAL (journal mode %s)", path, mode);
        goto fail;
    }
    if (ctl_store_exec_sql(s, "PRAGMA synchronous = NORMAL", "synchronous", err, errlen) < 0)
        goto fail;
    if (ctl_store_setup_schema(s, err, errlen) < 0) goto fail;
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            ctl_store_db_err(s, "prepare", err, errlen);
            goto fail;
        }
    }
    *out = s;
    return 0;
fail:
    ctl_store_close(s);
    return -1;
}

void ctl_store_close(ctl_store *s)
{
    if (!s) return;
    for (int i = 0; i < ST_COUNT; i++)
        (void)sqlite3_finalize(s->st[i]);
    /* sqlite3_close fails only with unfinalized statements, which we never
     * leave behind. */
    if (s->db && sqlite3_close(s->db) != SQLITE_OK) (void)sqlite3_close_v2(s->db);
    free(s);
}

void ctl_store_set_event_limits(ctl_store *s, size_t per_object, size_t total)
{
    s->ev_per_object = per_object ? per_object : 1;
    s->ev_total = total ? total : 1;
}

/* ---- objects ---- */

/* The manifest as stored: sorted keys, compact, status and server-owned
 * metadata removed. malloc'd, NULL when out of memory or not an object. */
static char *ctl_store_canonical(const json_t *object)
{
    static const char *const server_fields[] = {"generation", "uid", "resourceVersion",
                                                "creationTimestamp", "managedFields"};
    if (!json_is_object(object)) return NULL;
    json_t *c = json_deep_copy(object);
    if (!c) return NULL;
    (void)json_object_del(c, "status"); /* absent is fine */
    json_t *meta = json_object_get(c, "metadata");
    if (json_is_object(meta))
        for (size_t i = 0; i < sizeof(server_fields) / sizeof(server_fields[0]); i++)
            (void)json_object_del(meta, server_fields[i]);
    char *s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(c);
    return s;
}

static int ctl_store_read_record(ctl_store *s, sqlite3_stmt *st, ctl_record *r, char *err,
                                 size_t errlen)
{
    memset(r, 0, sizeof(*r));
    const char *kind = (const char *)sqlite3_column_text(st, 0);
    const char *name = (const char *)sqlite3_column_text(st, 1);
    const char *obj = (const char *)sqlite3_column_text(st, 2);
    const char *status = (const char *)sqlite3_column_text(st, 3);
    if (!kind || !name || !obj || !status) return ctl_store_db_err(s, "read object", err, errlen);
    snprintf(r->kind, sizeof(r->kind), "%s", kind);
    snprintf(r->name, sizeof(r->name), "%s", name);
    json_error_t je;
    r->object = json_loads(obj, 0, &je);
    r->status = json_loads(status, 0, &je);
    if (!r->object || !r->status) {
        ctl_record_clear(r);
        return ctl_store_seterr(err, errlen, "store: corrupt JSON in %s/%s", kind, name);
    }
    r->generation = sqlite3_column_int64(st, 4);
    r->created_ms = sqlite3_column_int64(st, 5);
    r->updated_ms = sqlite3_column_int64(st, 6);
    return 0;
}

int ctl_store_put(ctl_store *s, const char *kind, const char *name, const json_t *object,
                  int64_t now_ms, int64_t *generation, int *changed, char *err, size_t errlen)
{
    if (ctl_store_check_kind_name(kind, name, err, errlen) < 0) return -1;
    char *text = ctl_store_canonical(object);
    if (!text)
        return ctl_store_seterr(err, errlen, "store: %s%s", "object must be a JSON object", "");
    now_ms = ctl_store_now_or(now_ms);
    if (ctl_store_tx_begin(s, err, errlen) < 0) {
        free(text);
        return -1;
    }
    sqlite3_stmt *get = s->st[ST_OBJ_GET];
    int64_t gen = 0;
    int did = 0, rc;
    if (ctl_store_bind_text(get, 1, kind) || ctl_store_bind_text(get, 2, name)) {
        ctl_store_fail_st(s, get, "put", err, errlen);
        goto fail;
    }
    rc = sqlite3_step(get);
    if (rc == SQLITE_ROW) {
        const char *old = (const char *)sqlite3_column_text(get, 2);
        gen = sqlite3_column_int64(get, 4);
        did = !old || strcmp(old, text) != 0;
        ctl_store_done(get);
        if (did) {
            sqlite3_stmt *up = s->st[ST_OBJ_UPDATE];
            if (ctl_store_bind_text(up, 1, kind) || ctl_store_bind_text(up, 2, name) ||
                ctl_store_bind_text(up, 3, text) || sqlite3_bind_int64(up, 4, now_ms)) {
                ctl_store_fail_st(s, up, "put", err, errlen);
                goto fail;
            }
            if (ctl_store_exec_stmt(s, up, "put", err, errlen) < 0) goto fail;
            gen++;
        }
    } else if (rc == SQLITE_DONE) {
        ctl_store_done(get);
        sqlite3_stmt *ins = s->st[ST_OBJ_INSERT];
        if (ctl_store_bind_text(ins, 1, kind) || ctl_store_bind_text(ins, 2, name) ||
            ctl_store_bind_text(ins, 3, text) || sqlite3_bind_int64(ins, 4, now_ms)) {
            ctl_store_fail_st(s, ins, "put", err, errlen);
            goto fail;
        }
        if (ctl_store_exec_stmt(s, ins, "put", err, errlen) < 0) goto fail;
        gen = 1;
        did = 1;
    } else {
        ctl_store_fail_st(s, get, "put", err, errlen);
        goto fail;
    }
    free(text);
    if (ctl_store_tx_commit(s, err, errlen) < 0) return -1;
    if (generation) *generation = gen;
    if (changed) *changed = did;
    return 0;
fail:
    free(text);
    return ctl_store_tx_abort(s);
}

int ctl_store_put_obj(ctl_store *s, ctl_obj *o, int *changed, char *err, size_t errlen)
{
    const char *kind = ctl_kind_name(o->kind);
    if (!kind) return ctl_store_seterr(err, errlen, "store: %s%s", "object has no kind", "");
    int64_t gen = 0;
    if (ctl_store_put(s, kind, o->name, o->raw, 0, &gen, changed, err, errlen) < 0) return -1;
    o->generation = gen;
    return 0;
}

int ctl_store_get(ctl_store *s, const char *kind, const char *name, ctl_record *out, char *err,
                  size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (ctl_store_check_kind_name(kind, name, err, errlen) < 0) return -1;
    sqlite3_stmt *st = s->st[ST_OBJ_GET];
    if (ctl_store_bind_text(st, 1, kind) || ctl_store_bind_text(st, 2, name))
        return ctl_store_fail_st(s, st, "get", err, errlen);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW)
        r = ctl_store_read_record(s, st, out, err, errlen);
    else if (rc == SQLITE_DONE)
        r = 1;
    else
        return ctl_store_fail_st(s, st, "get", err, errlen);
    ctl_store_done(st);
    return r;
}

int ctl_store_list(ctl_store *s, const char *kind, ctl_record **out, size_t *n, char *err,
                   size_t errlen)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = s->st[kind ? ST_OBJ_LIST_KIND : ST_OBJ_LIST_ALL];
    if (kind && ctl_store_bind_text(st, 1, kind))
        return ctl_store_fail_st(s, st, "list", err, errlen);
    ctl_record *arr = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            ctl_record *na = realloc(arr, ncap * sizeof(*na));
            if (!na) {
                ctl_store_seterr(err, errlen, "store: %s%s", "out of memory", "");
                goto fail;
            }
            arr = na;
            cap = ncap;
        }
        if (ctl_store_read_record(s, st, &arr[cnt], err, errlen) < 0) goto fail;
        cnt++;
    }
    if (rc != SQLITE_DONE) {
        ctl_store_db_err(s, "list", err, errlen);
        goto fail;
    }
    ctl_store_done(st);
    *out = arr;
    *n = cnt;
    return 0;
fail:
    ctl_store_done(st);
    ctl_records_free(arr, cnt);
    return -1;
}

int ctl_store_delete(ctl_store *s, const char *kind, const char *name, char *err, size_t errlen)
{
    if (ctl_store_check_kind_name(kind, name, err, errlen) < 0) return -1;
    if (ctl_store_tx_begin(s, err, errlen) < 0) return -1;
    sqlite3_stmt *del = s->st[ST_OBJ_DELETE], *ev = s->st[ST_EV_DELETE_OBJ];
    if (ctl_store_bind_text(del, 1, kind) || ctl_store_bind_text(del, 2, name)) {
        ctl_store_fail_st(s, del, "delete", err, errlen);
        return ctl_store_tx_abort(s);
    }
    if (ctl_store_exec_stmt(s, del, "delete", err, errlen) < 0) return ctl_store_tx_abort(s);
    int found = sqlite3_changes(s->db) > 0;
    if (ctl_store_bind_text(ev, 1, kind) || ctl_store_bind_text(ev, 2, name)) {
        ctl_store_fail_st(s, ev, "delete events", err, errlen);
        return ctl_store_tx_abort(s);
    }
    if (ctl_store_exec_stmt(s, ev, "delete events", err, errlen) < 0) return ctl_store_tx_abort(s);
    if (ctl_store_tx_commit(s, err, errlen) < 0) return -1;
    return found ? 0 : 1;
}

int ctl_store_set_status(ctl_store *s, const char *kind, const char *name, const json_t *status,
                         char *err, size_t errlen)
{
    if (ctl_store_check_kind_name(kind, name, err, errlen) < 0) return -1;
    if (!json_is_object(status))
        return ctl_store_seterr(err, errlen, "store: %s%s", "status must be a JSON object", "");
    char *text = json_dumps(status, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) return ctl_store_seterr(err, errlen, "store: %s%s", "out of memory", "");
    sqlite3_stmt *st = s->st[ST_OBJ_STATUS];
    int r;
    if (ctl_store_bind_text(st, 1, kind) || ctl_store_bind_text(st, 2, name) ||
        ctl_store_bind_text(st, 3, text))
        r = ctl_store_fail_st(s, st, "set status", err, errlen);
    else
        r = ctl_store_exec_stmt(s, st, "set status", err, errlen);
    free(text);
    if (r < 0) return -1;
    return sqlite3_changes(s->db) > 0 ? 0 : 1;
}

/* ---- events ---- */

/* Byte length of at most max bytes of s, not splitting a UTF-8 sequence. */
static int ctl_store_clip_utf8(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max) return (int)n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

int ctl_store_event(ctl_store *s, const char *kind, const char *name, ctl_event_type type,
                    const char *reason, const char *message, int64_t now_ms, char *err,
                    size_t errlen)
{
    if (ctl_store_check_kind_name(kind, name, err, errlen) < 0) return -1;
    if (type != CTL_EVENT_NORMAL && type != CTL_EVENT_WARNING)
        return ctl_store_seterr(err, errlen, "store: %s%s", "invalid event type", "");
    if (!reason || !reason[0])
        return ctl_store_seterr(err, errlen, "store: %s%s", "event reason required", "");
    if (!message) message = "";
    const char *tname = ctl_event_type_name(type);
    int rlen = ctl_store_clip_utf8(reason, EVENT_REASON_MAX),
        mlen = ctl_store_clip_utf8(message, EVENT_MESSAGE_MAX);
    now_ms = ctl_store_now_or(now_ms);
    if (ctl_store_tx_begin(s, err, errlen) < 0) return -1;

    /* Same as the latest event of the object: count it there. */
    sqlite3_stmt *last = s->st[ST_EV_LAST];
    int64_t last_id = -1;
    if (ctl_store_bind_text(last, 1, kind) || ctl_store_bind_text(last, 2, name)) {
        ctl_store_fail_st(s, last, "event", err, errlen);
        return ctl_store_tx_abort(s);
    }
    int rc = sqlite3_step(last);
    if (rc == SQLITE_ROW) {
        const char *lt = (const char *)sqlite3_column_text(last, 1);
        const char *lr = (const char *)sqlite3_column_text(last, 2);
        const char *lm = (const char *)sqlite3_column_text(last, 3);
        if (lt && lr && lm && strcmp(lt, tname) == 0 && strlen(lr) == (size_t)rlen &&
            memcmp(lr, reason, (size_t)rlen) == 0 && strlen(lm) == (size_t)mlen &&
            memcmp(lm, message, (size_t)mlen) == 0)
            last_id = sqlite3_column_int64(last, 0);
    } else if (rc != SQLITE_DONE) {
        ctl_store_fail_st(s, last, "event", err, errlen);
        return ctl_store_tx_abort(s);
    }
    ctl_store_done(last);

    if (last_id >= 0) {
        sqlite3_stmt *bump = s->st[ST_EV_BUMP];
        if (sqlite3_bind_int64(bump, 1, last_id) || sqlite3_bind_int64(bump, 2, now_ms)) {
            ctl_store_fail_st(s, bump, "event", err, errlen);
            return ctl_store_tx_abort(s);
        }
        if (ctl_store_exec_stmt(s, bump, "event", err, errlen) < 0) return ctl_store_tx_abort(s);
        return ctl_store_tx_commit(s, err, errlen);
    }
    sqlite3_stmt *ins = s->st[ST_EV_INSERT];
    if (ctl_store_bind_text(ins, 1, kind) || ctl_store_bind_text(ins, 2, name) ||
        ctl_store_bind_text(ins, 3, tname) ||
        sqlite3_bind_text(ins, 4, reason, rlen, SQLITE_TRANSIENT) ||
        sqlite3_bind_text(ins, 5, message, mlen, SQLITE_TRANSIENT) ||
        sqlite3_bind_int64(ins, 6, now_ms)) {
        ctl_store_fail_st(s, ins, "event", err, errlen);
        return ctl_store_tx_abort(s);
    }
    if (ctl_store_exec_stmt(s, ins, "event", err, errlen) < 0) return ctl_store_tx_abort(s);
    sqlite3_stmt *trim = s->st[ST_EV_TRIM_OBJ];
    if (ctl_store_bind_text(trim, 1, kind) || ctl_store_bind_text(trim, 2, name) ||
        sqlite3_bind_int64(trim, 3, (sqlite3_int64)s->ev_per_object)) {
        ctl_store_fail_st(s, trim, "trim events", err, errlen);
        return ctl_store_tx_abort(s);
    }
    if (ctl_store_exec_stmt(s, trim, "trim events", err, errlen) < 0) return ctl_store_tx_abort(s);
    trim = s->st[ST_EV_TRIM_ALL];
    if (sqlite3_bind_int64(trim, 1, (sqlite3_int64)s->ev_total)) {
        ctl_store_fail_st(s, trim, "trim events", err, errlen);
        return ctl_store_tx_abort(s);
    }
    if (ctl_store_exec_stmt(s, trim, "trim events", err, errlen) < 0) return ctl_store_tx_abort(s);
    return ctl_store_tx_commit(s, err, errlen);
}

int ctl_store_events(ctl_store *s, const char *kind, const char *name, size_t limit,
                     ctl_event **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (ctl_store_check_kind_name(kind, name, err, errlen) < 0) return -1;
    if (limit == 0) return 0;
    sqlite3_stmt *st = s->st[ST_EV_LIST];
    if (ctl_store_bind_text(st, 1, kind) || ctl_store_bind_text(st, 2, name) ||
        sqlite3_bind_int64(st, 3, (sqlite3_int64)(limit > 1000000 ? 1000000 : limit)))
        return ctl_store_fail_st(s, st, "events", err, errlen);
    ctl_event *arr = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            ctl_event *na = realloc(arr, ncap * sizeof(*na));
            if (!na) goto oom;
            arr = na;
            cap = ncap;
        }
        ctl_event *e = &arr[cnt];
        memset(e, 0, sizeof(*e));
        const char *k = (const char *)sqlite3_column_text(st, 1);
        const char *nm = (const char *)sqlite3_column_text(st, 2);
        const char *t = (const char *)sqlite3_column_text(st, 3);
        const char *r = (const char *)sqlite3_column_text(st, 4);
        const char *m = (const char *)sqlite3_column_text(st, 5);
        if (!k || !nm || !t || !r || !m) {
            ctl_store_db_err(s, "read event", err, errlen);
            goto fail;
        }
        e->id = sqlite3_column_int64(st, 0);
        snprintf(e->kind, sizeof(e->kind), "%s", k);
        snprintf(e->name, sizeof(e->name), "%s", nm);
        e->type = strcmp(t, "Warning") == 0 ? CTL_EVENT_WARNING : CTL_EVENT_NORMAL;
        snprintf(e->reason, sizeof(e->reason), "%s", r);
        e->message = strdup(m);
        if (!e->message) goto oom;
        e->count = sqlite3_column_int64(st, 6);
        e->first_ms = sqlite3_column_int64(st, 7);
        e->last_ms = sqlite3_column_int64(st, 8);
        cnt++;
    }
    if (rc != SQLITE_DONE) {
        ctl_store_db_err(s, "events", err, errlen);
        goto fail;
    }
    ctl_store_done(st);
    *out = arr;
    *n = cnt;
    return 0;
oom:
    ctl_store_seterr(err, errlen, "store: %s%s", "out of memory", "");
fail:
    ctl_store_done(st);
    ctl_events_free(arr, cnt);
    return -1;
}

/* ---- pods ---- */

static int ctl_store_check_pod_name(const char *name, char *err, size_t errlen)
{
    if (!name || !name[0] || strlen(name) >= sizeof(((ctl_pod *)0)->name))
        return ctl_store_seterr(err, errlen, "store: invalid pod name '%.80s'%s",
                                name ? name : "(null)", "");
    return 0;
}

int ctl_store_pod_put(ctl_store *s, const ctl_pod *p, int64_t now_ms, char *err, size_t errlen)
{
    if (ctl_store_check_pod_name(p->name, err, errlen) < 0) return -1;
    if (!ctl_key_valid(p->deployment))
        return ctl_store_seterr(err, errlen, "store: invalid deployment '%.80s'%s", p->deployment,
                                "");
    if (memchr(p->state, '\0', sizeof(p->state)) == NULL)
        return ctl_store_seterr(err, errlen, "store: %s%s", "pod state not terminated", "");
    sqlite3_stmt *st = s->st[ST_POD_PUT];
    if (ctl_store_bind_text(st, 1, p->name) || ctl_store_bind_text(st, 2, p->deployment) ||
        sqlite3_bind_int(st, 3, p->replica) || sqlite3_bind_int(st, 4, p->port) ||
        sqlite3_bind_int(st, 5, p->pid) || ctl_store_bind_text(st, 6, p->state) ||
        sqlite3_bind_int(st, 7, p->restarts) || sqlite3_bind_int64(st, 8, p->generation) ||
        sqlite3_bind_int64(st, 9, p->started_ms) ||
        sqlite3_bind_int64(st, 10, ctl_store_now_or(now_ms)))
        return ctl_store_fail_st(s, st, "pod put", err, errlen);
    return ctl_store_exec_stmt(s, st, "pod put", err, errlen);
}

static int ctl_store_read_pod(ctl_store *s, sqlite3_stmt *st, ctl_pod *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    const char *name = (const char *)sqlite3_column_text(st, 0);
    const char *dep = (const char *)sqlite3_column_text(st, 1);
    const char *state = (const char *)sqlite3_column_text(st, 5);
    if (!name || !dep || !state) return ctl_store_db_err(s, "read pod", err, errlen);
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->deployment, sizeof(p->deployment), "%s", dep);
    p->replica = sqlite3_column_int(st, 2);
    p->port = sqlite3_column_int(st, 3);
    p->pid = sqlite3_column_int(st, 4);
    snprintf(p->state, sizeof(p->state), "%s", state);
    p->restarts = sqlite3_column_int(st, 6);
    p->generation = sqlite3_column_int64(st, 7);
    p->started_ms = sqlite3_column_int64(st, 8);
    p->updated_ms = sqlite3_column_int64(st, 9);
    return 0;
}

int ctl_store_pod_get(ctl_store *s, const char *name, ctl_pod *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (ctl_store_check_pod_name(name, err, errlen) < 0) return -1;
    sqlite3_stmt *st = s->st[ST_POD_GET];
    if (ctl_store_bind_text(st, 1, name)) return ctl_store_fail_st(s, st, "pod get", err, errlen);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW)
        r = ctl_store_read_pod(s, st, out, err, errlen);
    else if (rc == SQLITE_DONE)
        r = 1;
    else
        return ctl_store_fail_st(s, st, "pod get", err, errlen);
    ctl_store_done(st);
    return r;
}

int ctl_store_pod_list(ctl_store *s, const char *deployment, ctl_pod **out, size_t *n, char *err,
                       size_t errlen)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = s->st[deployment ? ST_POD_LIST_DEP : ST_POD_LIST_ALL];
    if (deployment && ctl_store_bind_text(st, 1, deployment))
        return ctl_store_fail_st(s, st, "pod list", err, errlen);
    ctl_pod *arr = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            ctl_pod *na = realloc(arr, ncap * sizeof(*na));
            if (!na) {
                ctl_store_seterr(err, errlen, "store: %s%s", "out of memory", "");
                goto fail;
            }
            arr = na;
            cap = ncap;
        }
        if (ctl_store_read_pod(s, st, &arr[cnt], err, errlen) < 0) goto fail;
        cnt++;
    }
    if (rc != SQLITE_DONE) {
        ctl_store_db_err(s, "pod list", err, errlen);
        goto fail;
    }
    ctl_store_done(st);
    *out = arr;
    *n = cnt;
    return 0;
fail:
    ctl_store_done(st);
    free(arr);
    return -1;
}

int ctl_store_pod_delete(ctl_store *s, const char *name, char *err, size_t errlen)
{
    if (ctl_store_check_pod_name(name, err, errlen) < 0) return -1;
    sqlite3_stmt *st = s->st[ST_POD_DELETE];
    if (ctl_store_bind_text(st, 1, name))
        return ctl_store_fail_st(s, st, "pod delete", err, errlen);
    if (ctl_store_exec_stmt(s, st, "pod delete", err, errlen) < 0) return -1;
    return sqlite3_changes(s->db) > 0 ? 0 : 1;
}
