/* k8s_lease: see k8s_lease.h. Two timers: the tick (every retry period: try
 * to acquire or renew) and the renew deadline (restarted by each successful
 * renewal; when it fires a leader stops leading). One request at a time. */
#include "k8s/k8s_lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bx_log.h"
#include "k8s/k8s_write.h"

struct k8s_lease {
    k8s_client *c;
    k8s_lease_opts o;
    char *ns, *name, *id;
    char path[512], coll[512];
    uv_timer_t tick, deadline;
    k8s_req *req;
    json_t *last;     /* the Lease as last read or written */
    char seen[512];   /* the observed record, to see it change */
    char holder[256]; /* its holder */
    uint64_t seen_at; /* loop time it last changed */
    long seen_dur_ms;
    int leading;
    int closing, releasing, open;
    void (*done)(void *);
    void *done_ud;
};

void k8s_lease_opts_default(k8s_lease_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->lease_ms = 15000;
    o->renew_ms = 10000;
    o->retry_ms = 2000;
}

void k8s_microtime(char *buf, size_t cap, int64_t us)
{
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char d[24];
    strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%06ldZ", d, (long)(us % 1000000));
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t now_ms(k8s_lease *l)
{
    uv_loop_t *loop = k8s_client_loop(l->c);
    uv_update_time(loop);
    return uv_now(loop);
}

static void finish_close(k8s_lease *l);

static void lose(k8s_lease *l, const char *why)
{
    uv_timer_stop(&l->deadline);
    if (!l->leading) return;
    l->leading = 0;
    bx_warn("k8s: lease %s/%s: %s stops leading: %s", l->ns, l->name, l->id, why);
    if (l->o.stopped_leading) l->o.stopped_leading(l, l->o.ud);
}

static void on_deadline(uv_timer_t *t)
{
    lose(t->data, "no renewal within the renew deadline");
}

/* Records what the Lease says; seen_at moves only when the record changed. */
static void observe(k8s_lease *l, const json_t *lease)
{
    const json_t *spec = json_object_get(lease, "spec");
    const char *h = json_string_value(json_object_get(spec, "holderIdentity"));
    const char *rt = json_string_value(json_object_get(spec, "renewTime"));
    json_int_t dur = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
    json_int_t tr = json_integer_value(json_object_get(spec, "leaseTransitions"));
    char rec[512];
    snprintf(rec, sizeof(rec), "%s|%s|%lld|%lld", h ? h : "", rt ? rt : "", (long long)dur,
             (long long)tr);
    if (strcmp(rec, l->seen) != 0) {
        snprintf(l->seen, sizeof(l->seen), "%s", rec);
        l->seen_at = now_ms(l);
        if (strcmp(l->holder, h ? h : "") != 0) {
            snprintf(l->holder, sizeof(l->holder), "%s", h ? h : "");
            if (l->o.new_leader) l->o.new_leader(l, l->holder, l->o.ud);
        }
    }
    l->seen_dur_ms = dur > 0 ? (long)dur * 1000 : l->o.lease_ms;
    json_decref(l->last);
    l->last = json_deep_copy(lease);
}

static void set_spec(k8s_lease *l, json_t *spec, int take_over, json_int_t transitions)
{
    char now[40];
    k8s_microtime(now, sizeof(now), wall_us());
    json_object_set_new(spec, "holderIdentity", json_string(l->id));
    json_object_set_new(spec, "leaseDurationSeconds", json_integer((l->o.lease_ms + 999) / 1000));
    json_object_set_new(spec, "renewTime", json_string(now));
    if (take_over) {
        json_object_set_new(spec, "acquireTime", json_string(now));
        json_object_set_new(spec, "leaseTransitions", json_integer(transitions));
    }
}

static void on_write(const k8s_resp *r, void *ud)
{
    k8s_lease *l = ud;
    l->req = NULL;
    if (r->code == 200 || r->code == 201) {
        observe(l, r->body);
        uv_timer_start(&l->deadline, on_deadline, (uint64_t)l->o.renew_ms, 0);
        if (!l->leading) {
            l->leading = 1;
            bx_info("k8s: lease %s/%s: %s is the leader", l->ns, l->name, l->id);
            if (l->o.started_leading) l->o.started_leading(l, l->o.ud);
        }
        return;
    }
    bx_debug("k8s: lease %s/%s: write %ld %s", l->ns, l->name, r->code,
             r->status ? r->status->reason : "");
    /* A leader keeps trying until the deadline timer says otherwise. */
}

static void on_get(const k8s_resp *r, void *ud)
{
    k8s_lease *l = ud;
    l->req = NULL;
    if (r->code == 404) {
        json_t *o =
            json_pack("{s:s,s:s,s:{s:s,s:s},s:{}}", "apiVersion", "coordination.k8s.io/v1", "kind",
                      "Lease", "metadata", "name", l->name, "namespace", l->ns, "spec");
        if (!o) return;
        set_spec(l, json_object_get(o, "spec"), 1, 0);
        l->req = k8s_create(l->c, l->coll, o, on_write, l);
        json_decref(o);
        return;
    }
    if (r->code != 200 || !json_is_object(r->body)) return;
    observe(l, r->body);
    uint64_t now = now_ms(l);
    int other = l->holder[0] && strcmp(l->holder, l->id) != 0;
    if (other && l->seen_at + (uint64_t)l->seen_dur_ms > now) {
        if (l->leading) lose(l, "another holder has the lease");
        return;
    }
    json_t *o = json_deep_copy(r->body);
    json_t *spec = o ? json_object_get(o, "spec") : NULL;
    if (!spec && o) {
        spec = json_object();
        json_object_set_new(o, "spec", spec);
    }
    if (!o) return;
    json_int_t tr = json_integer_value(json_object_get(spec, "leaseTransitions"));
    int mine = l->leading && strcmp(l->holder, l->id) == 0;
    set_spec(l, spec, !mine, tr + 1);
    l->req = k8s_replace(l->c, l->path, o, on_write, l);
    json_decref(o);
}

static void on_tick(uv_timer_t *t)
{
    k8s_lease *l = t->data;
    if (l->req || l->closing) return;
    l->req = k8s_request(l->c, "GET", l->path, NULL, NULL, NULL, on_get, l);
}

int k8s_lease_new(k8s_client *c, const k8s_lease_opts *o, k8s_lease **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!o->ns || !o->name || !o->identity || !o->identity[0]) {
        snprintf(err, errlen, "lease: namespace, name and identity are required");
        return -1;
    }
    if (!(o->lease_ms > o->renew_ms && o->renew_ms * 10 > o->retry_ms * 12 && o->retry_ms > 0)) {
        snprintf(err, errlen, "lease: need lease > renew deadline > 1.2 x retry period");
        return -1;
    }
    k8s_lease *l = calloc(1, sizeof(*l));
    if (!l) goto oom;
    l->c = c;
    l->o = *o;
    l->ns = strdup(o->ns);
    l->name = strdup(o->name);
    l->id = strdup(o->identity);
    if (!l->ns || !l->name || !l->id) goto oom;
    if (k8s_path(l->coll, sizeof(l->coll), "coordination.k8s.io", "v1", l->ns, "leases", NULL,
                 NULL) != 0 ||
        k8s_path(l->path, sizeof(l->path), "coordination.k8s.io", "v1", l->ns, "leases", l->name,
                 NULL) != 0) {
        snprintf(err, errlen, "lease: name too long");
        goto fail;
    }
    uv_timer_init(k8s_client_loop(c), &l->tick);
    uv_timer_init(k8s_client_loop(c), &l->deadline);
    l->tick.data = l->deadline.data = l;
    l->open = 2;
    *out = l;
    return 0;
oom:
    snprintf(err, errlen, "lease: out of memory");
fail:
    if (l) {
        free(l->ns);
        free(l->name);
        free(l->id);
        free(l);
    }
    return -1;
}

void k8s_lease_start(k8s_lease *l)
{
    uv_timer_start(&l->tick, on_tick, 0, (uint64_t)l->o.retry_ms);
}

int k8s_lease_is_leader(const k8s_lease *l)
{
    return l->leading;
}

static void timer_closed(uv_handle_t *h)
{
    k8s_lease *l = h->data;
    if (--l->open > 0) return;
    void (*done)(void *) = l->done;
    void *ud = l->done_ud;
    json_decref(l->last);
    free(l->ns);
    free(l->name);
    free(l->id);
    free(l);
    if (done) done(ud);
}

static void finish_close(k8s_lease *l)
{
    uv_close((uv_handle_t *)&l->tick, timer_closed);
    uv_close((uv_handle_t *)&l->deadline, timer_closed);
}

static void on_release(const k8s_resp *r, void *ud)
{
    k8s_lease *l = ud;
    l->req = NULL;
    if (r->code != 200)
        bx_warn("k8s: lease %s/%s: release: %ld %s", l->ns, l->name, r->code,
                r->status ? r->status->reason : "");
    finish_close(l);
}

void k8s_lease_close(k8s_lease *l, void (*done)(void *ud), void *ud)
{
    if (l->closing) return;
    l->closing = 1;
    l->done = done;
    l->done_ud = ud;
    uv_timer_stop(&l->tick);
    if (l->req) k8s_cancel(l->req);
    l->req = NULL;
    int was_leader = l->leading;
    lose(l, "closing");
    if (was_leader && l->last) {
        json_t *o = json_deep_copy(l->last);
        json_t *spec = o ? json_object_get(o, "spec") : NULL;
        if (spec) {
            char now[40];
            k8s_microtime(now, sizeof(now), wall_us());
            json_object_set_new(spec, "holderIdentity", json_string(""));
            json_object_set_new(spec, "leaseDurationSeconds", json_integer(1));
            json_object_set_new(spec, "renewTime", json_string(now));
            json_object_set_new(spec, "acquireTime", json_string(now));
            l->req = k8s_replace(l->c, l->path, o, on_release, l);
        }
        json_decref(o);
        if (l->req) return;
    }
    finish_close(l);
}
