/* eng_kvpub: see eng_kvpub.h.
 *
 * Events are encoded as they are appended, into one growing buffer of event
 * bytes; flush wraps them in the batch header/trailer (bx_kvev_encode_batch_raw)
 * so no event structs are kept between calls. The replay ring stores each
 * sent payload; with a replay socket the payload buffer is handed to the ring
 * instead of being copied.
 *
 * Replay answers can be longer than a client's send queue (ZMQ_SNDHWM, 1000
 * messages by default), and a plain ROUTER silently drops what does not fit,
 * end marker included. With ZMQ_ROUTER_MANDATORY a full queue is EAGAIN
 * instead, so each answer keeps a cursor (next seq) and resumes on the next
 * replay_poll; the ROUTER's fd fires when the queue drains. */
#include "engine/eng_kvpub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/bx_log.h"

void eng_kvpub_opts_default(eng_kvpub_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->hwm = 100000;
    o->buffer_steps = 10000;
    o->dp_rank = 0;
}

int eng_kvpub_should_bind(const char *endpoint)
{
    if (!endpoint) return 0;
    return strchr(endpoint, '*') != NULL || strstr(endpoint, "::") != NULL ||
           strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0;
}

int eng_kvpub_offset_endpoint(const char *endpoint, int rank, char *out, size_t out_len)
{
    if (!endpoint || !out || out_len == 0 || rank < 0) return -1;
    int n;
    if (rank == 0) {
        n = snprintf(out, out_len, "%s", endpoint);
    } else if (strstr(endpoint, "inproc")) {
        n = snprintf(out, out_len, "%s_dp%d", endpoint, rank);
    } else if (strstr(endpoint, "tcp")) {
        const char *colon = strrchr(endpoint, ':');
        if (!colon || colon[1] == '\0') return -1;
        char *end;
        errno = 0;
        long port = strtol(colon + 1, &end, 10);
        if (errno || *end != '\0' || port < 0 || port + rank > 65535) return -1;
        n = snprintf(out, out_len, "%.*s:%ld", (int)(colon - endpoint), endpoint, port + rank);
    } else {
        return -1;
    }
    return (n < 0 || (size_t)n >= out_len) ? -1 : 0;
}

static int zfail(char *err, size_t err_len, const char *what, const char *endpoint)
{
    if (err && err_len)
        snprintf(err, err_len, "%s %s: %s", what, endpoint ? endpoint : "", zmq_strerror(errno));
    return ENG_KVPUB_EZMQ;
}

static void release(eng_kvpub *p)
{
    if (p->pub) zmq_close(p->pub);
    if (p->router) zmq_close(p->router);
    if (p->ctx && p->own_ctx) zmq_ctx_term(p->ctx);
    if (p->ring) {
        for (size_t i = 0; i < p->ring_count; i++)
            free(p->ring[(p->ring_head + i) % p->opts.buffer_steps].data);
        free(p->ring);
    }
    free(p->topic);
    bx_buf_free(&p->pending);
    bx_buf_free(&p->payload);
    memset(p, 0, sizeof(*p));
}

static int set_int(void *s, int opt, int v)
{
    return zmq_setsockopt(s, opt, &v, sizeof(v));
}

static int open_sockets(eng_kvpub *p, const char *endpoint, const char *replay_endpoint, char *err,
                        size_t err_len)
{
    p->pub = zmq_socket(p->ctx, ZMQ_PUB);
    if (!p->pub) return zfail(err, err_len, "zmq_socket(PUB)", NULL);
    if (set_int(p->pub, ZMQ_SNDHWM, p->opts.hwm) != 0 || set_int(p->pub, ZMQ_LINGER, 0) != 0)
        return zfail(err, err_len, "zmq_setsockopt(PUB)", endpoint);
    if (p->opts.bind || eng_kvpub_should_bind(endpoint)) {
        if (zmq_bind(p->pub, endpoint) != 0) return zfail(err, err_len, "bind", endpoint);
    } else if (zmq_connect(p->pub, endpoint) != 0) {
        return zfail(err, err_len, "connect", endpoint);
    }
    if (!replay_endpoint) return 0;

    p->router = zmq_socket(p->ctx, ZMQ_ROUTER);
    if (!p->router) return zfail(err, err_len, "zmq_socket(ROUTER)", NULL);
    if (set_int(p->router, ZMQ_ROUTER_MANDATORY, 1) != 0 || set_int(p->router, ZMQ_LINGER, 0) != 0)
        return zfail(err, err_len, "zmq_setsockopt(ROUTER)", replay_endpoint);
    if (zmq_bind(p->router, replay_endpoint) != 0)
        return zfail(err, err_len, "bind", replay_endpoint);
    p->ring = calloc(p->opts.buffer_steps, sizeof(*p->ring));
    if (!p->ring) {
        if (err && err_len) snprintf(err, err_len, "out of memory for the replay ring");
        return ENG_KVPUB_ENOMEM;
    }
    return 0;
}

int eng_kvpub_open(eng_kvpub *p, const char *endpoint, const char *replay_endpoint,
                   const char *topic, const eng_kvpub_opts *opts, char *err, size_t err_len)
{
    if (err && err_len) err[0] = '\0';
    if (!p) return ENG_KVPUB_EINVAL;
    memset(p, 0, sizeof(*p));
    bx_buf_init(&p->pending);
    bx_buf_init(&p->payload);
    if (opts)
        p->opts = *opts;
    else
        eng_kvpub_opts_default(&p->opts);
    if (!endpoint || !*endpoint || p->opts.hwm < 0 ||
        (replay_endpoint && p->opts.buffer_steps == 0)) {
        if (err && err_len) snprintf(err, err_len, "invalid endpoint or options");
        return ENG_KVPUB_EINVAL;
    }
    p->topic = strdup(topic ? topic : "");
    if (!p->topic) {
        release(p);
        return ENG_KVPUB_ENOMEM;
    }
    p->topic_len = strlen(p->topic);
    if (p->opts.zmq_ctx) {
        p->ctx = p->opts.zmq_ctx;
    } else {
        p->ctx = zmq_ctx_new();
        if (!p->ctx) {
            int rc = zfail(err, err_len, "zmq_ctx_new", NULL);
            release(p);
            return rc;
        }
        p->own_ctx = true;
    }
    int rc = open_sockets(p, endpoint, replay_endpoint, err, err_len);
    if (rc) {
        release(p);
        return rc;
    }
    bx_debug("kvpub: PUB %s %s, replay %s, topic \"%s\"",
             p->opts.bind || eng_kvpub_should_bind(endpoint) ? "bound to" : "connecting to",
             endpoint, replay_endpoint ? replay_endpoint : "off", p->topic);
    return 0;
}

static int map_rc(int rc)
{
    if (rc == 0) return 0;
    return rc == BX_KVEV_ENOMEM ? ENG_KVPUB_ENOMEM : ENG_KVPUB_EINVAL;
}

int eng_kvpub_add(eng_kvpub *p, const bx_kvev_event *ev)
{
    if (!p || !p->pub || !ev) return ENG_KVPUB_EINVAL;
    int rc = bx_kvev_encode_event(&p->pending, ev, &p->opts.enc);
    if (rc) return map_rc(rc);
    p->n_pending++;
    return 0;
}

int eng_kvpub_block_stored(eng_kvpub *p, const bx_kvev_event *ev)
{
    if (!ev || ev->type != BX_KVEV_BLOCK_STORED) return ENG_KVPUB_EINVAL;
    bx_kvev_event e = *ev;
    if (!e.medium) e.medium = BX_KVEV_MEDIUM_GPU;
    return eng_kvpub_add(p, &e);
}

int eng_kvpub_block_removed(eng_kvpub *p, const uint64_t *hashes, size_t n)
{
    bx_kvev_event e = {
        .type = BX_KVEV_BLOCK_REMOVED,
        .block_hashes = (uint64_t *)hashes, /* only read by the encoder */
        .n_hashes = n,
        .medium = BX_KVEV_MEDIUM_GPU,
    };
    return eng_kvpub_add(p, &e);
}

int eng_kvpub_all_cleared(eng_kvpub *p)
{
    bx_kvev_event e = {.type = BX_KVEV_ALL_CLEARED};
    return eng_kvpub_add(p, &e);
}

size_t eng_kvpub_pending(const eng_kvpub *p)
{
    return p ? p->n_pending : 0;
}

static void be64(uint64_t v, unsigned char out[8])
{
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)(v >> (56 - 8 * i));
}

static const char empty_frame[1] = {0};

static void ring_push(eng_kvpub *p, uint64_t seq)
{
    size_t cap = p->opts.buffer_steps;
    eng_kvpub_slot *s;
    if (p->ring_count == cap) {
        s = &p->ring[p->ring_head];
        free(s->data);
        p->ring_head = (p->ring_head + 1) % cap;
    } else {
        s = &p->ring[(p->ring_head + p->ring_count) % cap];
        p->ring_count++;
    }
    s->seq = seq;
    s->data = bx_buf_steal(&p->payload, &s->len);
}

int eng_kvpub_flush(eng_kvpub *p, double ts)
{
    if (!p || !p->pub) return ENG_KVPUB_EINVAL;
    if (p->n_pending == 0) return 0;
    bx_buf_reset(&p->payload);
    int rc = bx_kvev_encode_batch_raw(&p->payload, ts, p->pending.data, p->pending.len,
                                      p->n_pending, p->opts.dp_rank, &p->opts.enc);
    if (rc) return map_rc(rc); /* pending kept: the next flush retries */
    uint64_t seq = p->seq++;
    p->stats.batches++;
    p->stats.events += p->n_pending;
    p->n_pending = 0;
    bx_buf_reset(&p->pending);

    unsigned char seqb[8];
    be64(seq, seqb);
    const char *body = p->payload.data ? p->payload.data : empty_frame;
    int sent = zmq_send(p->pub, p->topic, p->topic_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
               zmq_send(p->pub, seqb, sizeof(seqb), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
               zmq_send(p->pub, body, p->payload.len, ZMQ_DONTWAIT) >= 0;
    if (!sent) {
        p->stats.dropped++;
        bx_debug("kvpub: batch %llu dropped: %s", (unsigned long long)seq, zmq_strerror(errno));
    }
    if (p->router) ring_push(p, seq); /* kept for replay even if the live send failed */
    return sent ? 1 : 0;
}

static int last_endpoint(void *s, char *out, size_t out_len)
{
    if (!s || !out || out_len == 0) return -1;
    size_t n = out_len;
    if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, out, &n) != 0) return -1;
    return 0;
}

int eng_kvpub_endpoint(const eng_kvpub *p, char *out, size_t out_len)
{
    return p ? last_endpoint(p->pub, out, out_len) : -1;
}

int eng_kvpub_replay_endpoint(const eng_kvpub *p, char *out, size_t out_len)
{
    return p ? last_endpoint(p->router, out, out_len) : -1;
}

int eng_kvpub_replay_fd(const eng_kvpub *p)
{
    if (!p || !p->router) return -1;
    int fd;
    size_t sz = sizeof(fd);
    if (zmq_getsockopt(p->router, ZMQ_FD, &fd, &sz) != 0) return -1;
    return fd;
}

/* Sends one message [id, "", seq, body] to a client. Returns 0, 1 if the
 * client's queue is full (try later), -1 if the client is gone or the send
 * failed (give up on it). */
static int replay_send(eng_kvpub *p, const eng_kvpub_replay *r, uint64_t seq, const char *body,
                       size_t len)
{
    unsigned char seqb[8];
    be64(seq, seqb);
    if (zmq_send(p->router, r->id, r->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return errno == EAGAIN ? 1 : -1;
    /* Once the first part is queued the rest of the message is accepted. */
    if (zmq_send(p->router, empty_frame, 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(p->router, seqb, 8, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(p->router, body ? body : empty_frame, len, ZMQ_DONTWAIT) < 0)
        return -1;
    return 0;
}

/* Sends what it can of one answer; returns the number of messages sent. */
static int replay_pump(eng_kvpub *p, eng_kvpub_replay *r)
{
    int sent = 0;
    size_t cap = p->opts.buffer_steps;
    while (r->next < r->end) {
        /* Ring seqs are consecutive: every flush pushes exactly one. */
        uint64_t oldest = p->ring_count ? p->ring[p->ring_head].seq : p->seq;
        if (r->next < oldest) r->next = oldest; /* evicted meanwhile */
        if (r->next >= r->end) break;
        const eng_kvpub_slot *s = &p->ring[(p->ring_head + (r->next - oldest)) % cap];
        int rc = replay_send(p, r, s->seq, s->data, s->len);
        if (rc == 1) {
            p->stats.replay_paused++;
            return sent;
        }
        if (rc < 0) {
            bx_debug("kvpub: replay aborted: %s", zmq_strerror(errno));
            r->active = false;
            return sent;
        }
        r->next++;
        sent++;
    }
    int rc = replay_send(p, r, UINT64_MAX, NULL, 0); /* end marker: seq -1, empty */
    if (rc == 1) {
        p->stats.replay_paused++;
        return sent;
    }
    if (rc < 0) bx_debug("kvpub: replay end marker failed: %s", zmq_strerror(errno));
    r->active = false;
    return sent + (rc == 0);
}

/* Reads one whole multipart request. Returns 1 if one was read, 0 if none was
 * waiting, -1 on error. Frames beyond the third are read and discarded. */
static int replay_read(eng_kvpub *p, unsigned char *id, size_t *id_len, size_t *sizes,
                       unsigned char *start8, size_t *nframes)
{
    *nframes = 0;
    int more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, p->router, ZMQ_DONTWAIT) < 0) {
            int e = errno;
            zmq_msg_close(&m);
            if (e == EAGAIN && *nframes == 0) return 0;
            errno = e;
            return -1;
        }
        size_t n = zmq_msg_size(&m);
        const unsigned char *d = zmq_msg_data(&m);
        if (*nframes < 3) sizes[*nframes] = n;
        if (*nframes == 0) {
            *id_len = n < ENG_KVPUB_REPLAY_ID_MAX ? n : ENG_KVPUB_REPLAY_ID_MAX;
            memcpy(id, d, *id_len);
        } else if (*nframes == 2 && n <= 8) {
            memcpy(start8, d, n);
        }
        (*nframes)++;
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    return 1;
}

/* Starts (or restarts) the answer for one client. Returns 1 if accepted. */
static int replay_start(eng_kvpub *p, const unsigned char *id, size_t id_len, uint64_t start)
{
    eng_kvpub_replay *r = NULL, *free_slot = NULL;
    for (size_t i = 0; i < ENG_KVPUB_MAX_REPLAYS; i++) {
        eng_kvpub_replay *c = &p->replays[i];
        if (c->active && c->id_len == id_len && memcmp(c->id, id, id_len) == 0) r = c;
        if (!c->active && !free_slot) free_slot = c;
    }
    if (!r) r = free_slot;
    if (!r) {
        p->stats.replay_busy++;
        return 0;
    }
    r->active = true;
    memcpy(r->id, id, id_len);
    r->id_len = id_len;
    r->end = p->seq; /* the batches kept now */
    r->next = start < r->end ? start : r->end;
    return 1;
}

int eng_kvpub_replay_poll(eng_kvpub *p)
{
    if (!p || !p->router) return ENG_KVPUB_EINVAL;
    int accepted = 0;
    bool progress = true;
    /* ZMQ_FD is edge-triggered: keep going until a pass finds no request
     * (ZMQ_EVENTS without POLLIN) and no answer can move. */
    while (progress) {
        progress = false;
        for (;;) {
            int events;
            size_t sz = sizeof(events);
            if (zmq_getsockopt(p->router, ZMQ_EVENTS, &events, &sz) != 0) return ENG_KVPUB_EZMQ;
            if (!(events & ZMQ_POLLIN)) break;
            unsigned char id[ENG_KVPUB_REPLAY_ID_MAX], start8[8];
            size_t id_len = 0, sizes[3] = {0}, nframes;
            int rc = replay_read(p, id, &id_len, sizes, start8, &nframes);
            if (rc < 0) return ENG_KVPUB_EZMQ;
            if (rc == 0) break;
            progress = true;
            /* [identity, "", start_seq]: vLLM reads start_seq as a big-endian
             * int of any length; 1..8 bytes are accepted here. */
            if (nframes != 3 || sizes[0] == 0 || sizes[0] > ENG_KVPUB_REPLAY_ID_MAX ||
                sizes[1] != 0 || sizes[2] == 0 || sizes[2] > 8) {
                p->stats.replay_bad++;
                bx_debug("kvpub: ignoring malformed replay request (%zu frames)", nframes);
                continue;
            }
            uint64_t start = 0;
            for (size_t i = 0; i < sizes[2]; i++)
                start = (start << 8) | start8[i];
            if (replay_start(p, id, id_len, start)) {
                p->stats.replay_requests++;
                accepted++;
            }
        }
        for (size_t i = 0; i < ENG_KVPUB_MAX_REPLAYS; i++)
            if (p->replays[i].active && replay_pump(p, &p->replays[i]) > 0) progress = true;
    }
    return accepted;
}

size_t eng_kvpub_replay_active(const eng_kvpub *p)
{
    size_t n = 0;
    for (size_t i = 0; p && i < ENG_KVPUB_MAX_REPLAYS; i++)
        n += p->replays[i].active;
    return n;
}

void eng_kvpub_close(eng_kvpub *p)
{
    if (!p) return;
    release(p);
}
