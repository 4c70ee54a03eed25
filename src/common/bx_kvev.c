/* bx_kvev: see bx_kvev.h.
 *
 * Encoding goes through msgpack-c's packer writing straight into a bx_buf.
 * msgpack-c packs integers in their smallest form and floats as float64, as
 * msgspec does, so the bytes match vLLM's for the same values.
 *
 * Decoding is two passes. msgpack-c's unpacker allocates an array's element
 * slots as soon as it reads the header, so a 5-byte `array32 0xffffffff`
 * would ask for ~100 GB. A first pass (scan_object) therefore walks the raw
 * bytes and checks that every declared length fits in what is left of the
 * input (every pending element needs at least one byte), which bounds what
 * the unpacker can allocate to a small multiple of the input size. The
 * second pass maps the msgpack_object tree onto bx_kvev_batch, checking
 * types and limits, and copies everything it keeps. */
#include "common/bx_kvev.h"

#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {NULL, "BlockStored", "BlockRemoved", "AllBlocksCleared"};

const char *bx_kvev_type_name(bx_kvev_type t)
{
    if (t >= BX_KVEV_BLOCK_STORED && t <= BX_KVEV_ALL_CLEARED) return type_names[t];
    return "?";
}

void bx_kvev_limits_default(bx_kvev_limits *l)
{
    l->max_bytes = 64u << 20;
    l->max_events = 65536;
    l->max_hashes = 65536;
    l->max_tokens = 1u << 20;
    l->max_str = 256;
    l->skip_unknown = false;
}

/* ---------------------------------------------------------------- encoder */

static int buf_write(void *data, const char *buf, size_t len)
{
    return bx_buf_append(data, buf, len);
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((x) != 0) return BX_KVEV_ENOMEM;                                                       \
    } while (0)

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    if (n > UINT32_MAX) return BX_KVEV_EINVAL;
    TRY(msgpack_pack_str(pk, n));
    TRY(msgpack_pack_str_body(pk, s, n));
    return 0;
}

static int pack_opt_cstr(msgpack_packer *pk, const char *s)
{
    if (!s) return msgpack_pack_nil(pk) ? BX_KVEV_ENOMEM : 0;
    return pack_cstr(pk, s);
}

static int pack_hash(msgpack_packer *pk, uint64_t h, bx_kvev_hash_enc enc)
{
    if (enc == BX_KVEV_HASH_UINT64) return msgpack_pack_uint64(pk, h) ? BX_KVEV_ENOMEM : 0;
    unsigned char d[32];
    for (int i = 0; i < 32; i++)
        d[i] = (unsigned char)(h >> (56 - 8 * (i % 8)));
    TRY(msgpack_pack_bin(pk, sizeof(d)));
    TRY(msgpack_pack_bin_body(pk, d, sizeof(d)));
    return 0;
}

static int pack_hashes(msgpack_packer *pk, const uint64_t *h, size_t n, bx_kvev_hash_enc enc)
{
    TRY(msgpack_pack_array(pk, n));
    for (size_t i = 0; i < n; i++) {
        int rc = pack_hash(pk, h[i], enc);
        if (rc) return rc;
    }
    return 0;
}

/* Writes the map key when packing the map form, nothing for arrays. */
static int pack_key(msgpack_packer *pk, bool map, const char *key)
{
    return map ? pack_cstr(pk, key) : 0;
}

#define TRYRC(x)                                                                                   \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_) return rc_;                                                                       \
    } while (0)

static int check_event(const bx_kvev_event *ev)
{
    if (ev->type < BX_KVEV_BLOCK_STORED || ev->type > BX_KVEV_ALL_CLEARED) return BX_KVEV_EINVAL;
    if (ev->type == BX_KVEV_ALL_CLEARED) return 0;
    if ((ev->n_hashes && !ev->block_hashes) || ev->n_hashes > UINT32_MAX) return BX_KVEV_EINVAL;
    if (ev->type == BX_KVEV_BLOCK_STORED &&
        ((ev->n_tokens && !ev->token_ids) || ev->n_tokens > UINT32_MAX))
        return BX_KVEV_EINVAL;
    return 0;
}

static int pack_event(msgpack_packer *pk, const bx_kvev_event *ev, const bx_kvev_enc_opts *o)
{
    TRYRC(check_event(ev));
    bool map = o->event_enc == BX_KVEV_EVENT_MAP;
    bx_kvev_hash_enc he = o->hash_enc;
    size_t nfields; /* fields after the tag */
    switch (ev->type) {
    case BX_KVEV_BLOCK_STORED:
        /* Array form keeps extra_keys' slot (nil) when group_idx follows. */
        nfields = 7 + (ev->has_group_idx ? (map ? 1 : 2) : 0);
        break;
    case BX_KVEV_BLOCK_REMOVED:
        nfields = 2 + (ev->has_group_idx ? 1 : 0);
        break;
    default:
        nfields = 0;
        break;
    }
    if (map) {
        TRY(msgpack_pack_map(pk, nfields + 1));
        TRYRC(pack_cstr(pk, "type"));
    } else {
        TRY(msgpack_pack_array(pk, nfields + 1));
    }
    TRYRC(pack_cstr(pk, bx_kvev_type_name(ev->type)));
    if (ev->type == BX_KVEV_ALL_CLEARED) return 0;

    TRYRC(pack_key(pk, map, "block_hashes"));
    TRYRC(pack_hashes(pk, ev->block_hashes, ev->n_hashes, he));
    if (ev->type == BX_KVEV_BLOCK_STORED) {
        TRYRC(pack_key(pk, map, "parent_block_hash"));
        if (ev->has_parent)
            TRYRC(pack_hash(pk, ev->parent_block_hash, he));
        else
            TRY(msgpack_pack_nil(pk));
        TRYRC(pack_key(pk, map, "token_ids"));
        TRY(msgpack_pack_array(pk, ev->n_tokens));
        for (size_t i = 0; i < ev->n_tokens; i++)
            TRY(msgpack_pack_uint32(pk, ev->token_ids[i]));
        TRYRC(pack_key(pk, map, "block_size"));
        TRY(msgpack_pack_uint32(pk, ev->block_size));
        TRYRC(pack_key(pk, map, "lora_id"));
        if (ev->has_lora_id)
            TRY(msgpack_pack_int64(pk, ev->lora_id));
        else
            TRY(msgpack_pack_nil(pk));
    }
    TRYRC(pack_key(pk, map, "medium"));
    TRYRC(pack_opt_cstr(pk, ev->medium));
    if (ev->type == BX_KVEV_BLOCK_STORED) {
        TRYRC(pack_key(pk, map, "lora_name"));
        TRYRC(pack_opt_cstr(pk, ev->lora_name));
        if (ev->has_group_idx && !map) TRY(msgpack_pack_nil(pk)); /* extra_keys */
    }
    if (ev->has_group_idx) {
        TRYRC(pack_key(pk, map, "group_idx"));
        TRY(msgpack_pack_int64(pk, ev->group_idx));
    }
    return 0;
}

static int pack_batch_head(msgpack_packer *pk, double ts, size_t n_events, bool has_dp,
                           const bx_kvev_enc_opts *o)
{
    if (n_events > UINT32_MAX) return BX_KVEV_EINVAL;
    bool map = o->batch_enc == BX_KVEV_BATCH_MAP;
    size_t n = has_dp ? 3 : 2;
    if (map)
        TRY(msgpack_pack_map(pk, n));
    else
        TRY(msgpack_pack_array(pk, n));
    TRYRC(pack_key(pk, map, "ts"));
    TRY(msgpack_pack_double(pk, ts));
    TRYRC(pack_key(pk, map, "events"));
    TRY(msgpack_pack_array(pk, n_events));
    return 0;
}

static int pack_batch_tail(msgpack_packer *pk, bool has_dp, int64_t dp, const bx_kvev_enc_opts *o)
{
    if (!has_dp) return 0;
    TRYRC(pack_key(pk, o->batch_enc == BX_KVEV_BATCH_MAP, "data_parallel_rank"));
    TRY(msgpack_pack_int64(pk, dp));
    return 0;
}

/* Runs an encoder step and rolls `out` back to its old length on failure. */
static int finish(bx_buf *out, size_t start, int rc)
{
    if (rc && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}

static const bx_kvev_enc_opts default_opts;

int bx_kvev_encode_event(bx_buf *out, const bx_kvev_event *ev, const bx_kvev_enc_opts *o)
{
    if (!out || !ev) return BX_KVEV_EINVAL;
    if (!o) o = &default_opts;
    size_t start = out->len;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    return finish(out, start, pack_event(&pk, ev, o));
}

static int encode_raw(msgpack_packer *pk, bx_buf *out, double ts, const void *bytes, size_t len,
                      size_t n_events, bool has_dp, int64_t dp, const bx_kvev_enc_opts *o)
{
    TRYRC(pack_batch_head(pk, ts, n_events, has_dp, o));
    TRY(bx_buf_append(out, bytes, len));
    return pack_batch_tail(pk, has_dp, dp, o);
}

int bx_kvev_encode_batch_raw(bx_buf *out, double ts, const void *events_bytes, size_t events_len,
                             size_t n_events, int64_t dp_rank, const bx_kvev_enc_opts *o)
{
    if (!out || (events_len && !events_bytes)) return BX_KVEV_EINVAL;
    if (!o) o = &default_opts;
    size_t start = out->len;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    return finish(
        out, start,
        encode_raw(&pk, out, ts, events_bytes, events_len, n_events, dp_rank >= 0, dp_rank, o));
}

static int encode_batch(msgpack_packer *pk, const bx_kvev_batch *b, const bx_kvev_enc_opts *o)
{
    if (b->n_events && !b->events) return BX_KVEV_EINVAL;
    TRYRC(pack_batch_head(pk, b->ts, b->n_events, b->has_dp_rank, o));
    for (size_t i = 0; i < b->n_events; i++)
        TRYRC(pack_event(pk, &b->events[i], o));
    return pack_batch_tail(pk, b->has_dp_rank, b->data_parallel_rank, o);
}

int bx_kvev_encode_batch(bx_buf *out, const bx_kvev_batch *b, const bx_kvev_enc_opts *o)
{
    if (!out || !b) return BX_KVEV_EINVAL;
    if (!o) o = &default_opts;
    size_t start = out->len;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    return finish(out, start, encode_batch(&pk, b, o));
}

/* ---------------------------------------------------------------- decoder */

typedef struct dec {
    const bx_kvev_limits *lim;
    bx_kvev_err *err;
} dec;

__attribute__((format(printf, 3, 4))) static int fail(dec *d, int code, const char *fmt, ...)
{
    if (d->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err->msg, sizeof(d->err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

static uint64_t be_read(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Pass 1: structural walk of the raw bytes; see the file comment. Also caps
 * nesting below msgpack-c's own stack (32), which it reports as NOMEM. */
#define SCAN_MAX_DEPTH 16

static int scan_object(dec *d, const unsigned char *p, size_t len)
{
    size_t off = 0;
    size_t pending = 1;           /* objects still to read; each needs >= 1 byte */
    size_t level[SCAN_MAX_DEPTH]; /* objects still to read per nesting level */
    int top = 0;
    level[0] = 1;
    for (;;) {
        while (top >= 0 && level[top] == 0)
            top--;
        if (top < 0) break;
        if (off >= len) return fail(d, BX_KVEV_EMSGPACK, "msgpack: truncated at byte %zu", off);
        unsigned char b = p[off++];
        pending--;
        level[top]--;
        size_t left = len - off;
        size_t hdr = 0;      /* length-field bytes after the type byte */
        size_t body = 0;     /* fixed body bytes */
        int kind = 0;        /* 0 scalar, 1 str/bin/ext (len field), 2 array, 3 map */
        size_t children = 0; /* for fix containers */
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            continue;
        } else if (b <= 0x8f) {
            kind = 3;
            children = b & 0x0f;
        } else if (b <= 0x9f) {
            kind = 2;
            children = b & 0x0f;
        } else if (b <= 0xbf) {
            body = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4:
            case 0xd9:
                hdr = 1;
                kind = 1;
                break;
            case 0xc5:
            case 0xda:
                hdr = 2;
                kind = 1;
                break;
            case 0xc6:
            case 0xdb:
                hdr = 4;
                kind = 1;
                break;
            case 0xc7:
                hdr = 1;
                body = 1;
                kind = 1;
                break;
            case 0xc8:
                hdr = 2;
                body = 1;
                kind = 1;
                break;
            case 0xc9:
                hdr = 4;
                body = 1;
                kind = 1;
                break;
            case 0xca:
                body = 4;
                break;
            case 0xcb:
                body = 8;
                break;
            case 0xcc:
            case 0xd0:
                body = 1;
                break;
            case 0xcd:
            case 0xd1:
                body = 2;
                break;
            case 0xce:
            case 0xd2:
                body = 4;
                break;
            case 0xcf:
            case 0xd3:
                body = 8;
                break;
            case 0xd4:
                body = 2;
                break;
            case 0xd5:
                body = 3;
                break;
            case 0xd6:
                body = 5;
                break;
            case 0xd7:
                body = 9;
                break;
            case 0xd8:
                body = 17;
                break;
            case 0xdc:
                hdr = 2;
                kind = 2;
                break;
            case 0xdd:
                hdr = 4;
                kind = 2;
                break;
            case 0xde:
                hdr = 2;
                kind = 3;
                break;
            case 0xdf:
                hdr = 4;
                kind = 3;
                break;
            default:
                return fail(d, BX_KVEV_EMSGPACK, "msgpack: bad type byte 0x%02x", b);
            }
        }
        if (hdr > left) return fail(d, BX_KVEV_EMSGPACK, "msgpack: truncated header");
        uint64_t n = hdr ? be_read(p + off, hdr) : children;
        off += hdr;
        left -= hdr;
        if (kind == 1) {
            if (n > left || body > left - n)
                return fail(d, BX_KVEV_EMSGPACK, "msgpack: string/bin longer than input");
            off += n + body;
        } else if (kind >= 2) {
            uint64_t items = kind == 3 ? n * 2 : n;
            if (items > left || pending > left - items)
                return fail(d, BX_KVEV_EMSGPACK, "msgpack: container count exceeds input");
            if (items == 0) continue;
            if (top + 1 >= SCAN_MAX_DEPTH)
                return fail(d, BX_KVEV_EMSGPACK, "msgpack: nested deeper than %d",
                            SCAN_MAX_DEPTH - 1);
            level[++top] = items;
            pending += items;
        } else {
            if (body > left) return fail(d, BX_KVEV_EMSGPACK, "msgpack: truncated value");
            off += body;
        }
    }
    if (off != len) return fail(d, BX_KVEV_EMSGPACK, "msgpack: %zu trailing bytes", len - off);
    return 0;
}

static bool str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

static int get_hash(dec *d, const msgpack_object *o, uint64_t *out, const char *what)
{
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *out = o->via.u64;
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: /* int64 producers: keep the bits */
        *out = (uint64_t)o->via.i64;
        return 0;
    case MSGPACK_OBJECT_BIN:
        if (o->via.bin.size == 0 || o->via.bin.size > 64)
            return fail(d, BX_KVEV_ESCHEMA, "%s: bytes hash of %u bytes", what,
                        (unsigned)o->via.bin.size);
        {
            size_t n = o->via.bin.size < 8 ? o->via.bin.size : 8;
            *out = be_read((const unsigned char *)o->via.bin.ptr + o->via.bin.size - n, n);
        }
        return 0;
    default:
        return fail(d, BX_KVEV_ESCHEMA, "%s: hash must be int or bytes", what);
    }
}

static int get_hashes(dec *d, const msgpack_object *o, bx_kvev_event *ev)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return fail(d, BX_KVEV_ESCHEMA, "block_hashes must be an array");
    size_t n = o->via.array.size;
    if (n > d->lim->max_hashes)
        return fail(d, BX_KVEV_ELIMIT, "block_hashes: %zu > limit %zu", n, d->lim->max_hashes);
    if (n) {
        ev->block_hashes = malloc(n * sizeof(uint64_t));
        if (!ev->block_hashes) return fail(d, BX_KVEV_ENOMEM, "out of memory");
    }
    ev->n_hashes = n;
    for (size_t i = 0; i < n; i++)
        TRYRC(get_hash(d, &o->via.array.ptr[i], &ev->block_hashes[i], "block_hashes"));
    return 0;
}

static int get_tokens(dec *d, const msgpack_object *o, bx_kvev_event *ev)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return fail(d, BX_KVEV_ESCHEMA, "token_ids must be an array");
    size_t n = o->via.array.size;
    if (n > d->lim->max_tokens)
        return fail(d, BX_KVEV_ELIMIT, "token_ids: %zu > limit %zu", n, d->lim->max_tokens);
    if (n) {
        ev->token_ids = malloc(n * sizeof(uint32_t));
        if (!ev->token_ids) return fail(d, BX_KVEV_ENOMEM, "out of memory");
    }
    ev->n_tokens = n;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *t = &o->via.array.ptr[i];
        if (t->type != MSGPACK_OBJECT_POSITIVE_INTEGER || t->via.u64 > UINT32_MAX)
            return fail(d, BX_KVEV_ESCHEMA, "token_ids[%zu]: not a uint32", i);
        ev->token_ids[i] = (uint32_t)t->via.u64;
    }
    return 0;
}

/* nil -> *has = false; int -> *has = true. */
static int get_opt_int(dec *d, const msgpack_object *o, bool *has, int64_t *v, const char *what)
{
    if (o->type == MSGPACK_OBJECT_NIL) {
        *has = false;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
    } else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *v = (int64_t)o->via.u64;
    } else {
        return fail(d, BX_KVEV_ESCHEMA, "%s must be an int64 or nil", what);
    }
    *has = true;
    return 0;
}

static int get_opt_str(dec *d, const msgpack_object *o, const char **out, const char *what)
{
    if (o->type == MSGPACK_OBJECT_NIL) return 0;
    if (o->type != MSGPACK_OBJECT_STR)
        return fail(d, BX_KVEV_ESCHEMA, "%s must be str or nil", what);
    if (o->via.str.size > d->lim->max_str)
        return fail(d, BX_KVEV_ELIMIT, "%s longer than %zu bytes", what, d->lim->max_str);
    if (memchr(o->via.str.ptr, '\0', o->via.str.size))
        return fail(d, BX_KVEV_ESCHEMA, "%s contains NUL", what);
    /* not strndup: the string is not NUL-terminated inside the payload */
    char *s = malloc(o->via.str.size + 1);
    if (!s) return fail(d, BX_KVEV_ENOMEM, "out of memory");
    memcpy(s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = '\0';
    *out = s;
    return 0;
}

static int get_parent(dec *d, const msgpack_object *o, bx_kvev_event *ev)
{
    if (o->type == MSGPACK_OBJECT_NIL) return 0;
    TRYRC(get_hash(d, o, &ev->parent_block_hash, "parent_block_hash"));
    ev->has_parent = true;
    return 0;
}

static int get_block_size(dec *d, const msgpack_object *o, bx_kvev_event *ev)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 == 0 || o->via.u64 > UINT32_MAX)
        return fail(d, BX_KVEV_ESCHEMA, "block_size must be an int in 1..2^32-1");
    ev->block_size = (uint32_t)o->via.u64;
    return 0;
}

/* Returns the event type for a tag, or 0. */
static bx_kvev_type tag_type(const msgpack_object *o)
{
    for (int t = BX_KVEV_BLOCK_STORED; t <= BX_KVEV_ALL_CLEARED; t++)
        if (str_is(o, type_names[t])) return (bx_kvev_type)t;
    return 0;
}

#define SKIP_EVENT 1 /* internal: unknown tag with skip_unknown */

static int unknown_tag(dec *d, const msgpack_object *tag)
{
    if (tag->type != MSGPACK_OBJECT_STR) return fail(d, BX_KVEV_ESCHEMA, "event tag must be a str");
    if (d->lim->skip_unknown) return SKIP_EVENT;
    int n = tag->via.str.size > 40 ? 40 : (int)tag->via.str.size;
    return fail(d, BX_KVEV_ESCHEMA, "unknown event type \"%.*s\"", n, tag->via.str.ptr);
}

static int event_from_array(dec *d, const msgpack_object_array *a, bx_kvev_event *ev)
{
    if (a->size == 0) return fail(d, BX_KVEV_ESCHEMA, "empty event array");
    const msgpack_object *f = a->ptr;
    ev->type = tag_type(&f[0]);
    if (!ev->type) return unknown_tag(d, &f[0]);
    size_t n = a->size;
    switch (ev->type) {
    case BX_KVEV_BLOCK_STORED:
        /* [tag, hashes, parent, tokens, block_size, lora_id, medium, lora_name,
         *  extra_keys, group_idx, spec_kind, sliding_window]; the first five are
         * required, as in AIBrix's decoder. */
        if (n < 5) return fail(d, BX_KVEV_ESCHEMA, "BlockStored: %zu fields, need >= 5", n);
        TRYRC(get_hashes(d, &f[1], ev));
        TRYRC(get_parent(d, &f[2], ev));
        TRYRC(get_tokens(d, &f[3], ev));
        TRYRC(get_block_size(d, &f[4], ev));
        if (n > 5) TRYRC(get_opt_int(d, &f[5], &ev->has_lora_id, &ev->lora_id, "lora_id"));
        if (n > 6) TRYRC(get_opt_str(d, &f[6], &ev->medium, "medium"));
        if (n > 7) TRYRC(get_opt_str(d, &f[7], &ev->lora_name, "lora_name"));
        if (n > 9) TRYRC(get_opt_int(d, &f[9], &ev->has_group_idx, &ev->group_idx, "group_idx"));
        return 0;
    case BX_KVEV_BLOCK_REMOVED:
        if (n < 2) return fail(d, BX_KVEV_ESCHEMA, "BlockRemoved: no block_hashes");
        TRYRC(get_hashes(d, &f[1], ev));
        if (n > 2) TRYRC(get_opt_str(d, &f[2], &ev->medium, "medium"));
        if (n > 3) TRYRC(get_opt_int(d, &f[3], &ev->has_group_idx, &ev->group_idx, "group_idx"));
        return 0;
    default:
        return 0;
    }
}

enum {
    K_HASHES = 1 << 0,
    K_PARENT = 1 << 1,
    K_TOKENS = 1 << 2,
    K_BSIZE = 1 << 3,
    K_LORA_ID = 1 << 4,
    K_MEDIUM = 1 << 5,
    K_LORA_NAME = 1 << 6,
    K_GROUP = 1 << 7,
};

static int event_from_map(dec *d, const msgpack_object_map *m, bx_kvev_event *ev)
{
    const msgpack_object *tag = NULL;
    for (uint32_t i = 0; i < m->size; i++) {
        if (m->ptr[i].key.type != MSGPACK_OBJECT_STR)
            return fail(d, BX_KVEV_ESCHEMA, "event map key must be a str");
        if (str_is(&m->ptr[i].key, "type")) {
            if (tag) return fail(d, BX_KVEV_ESCHEMA, "duplicate key \"type\"");
            tag = &m->ptr[i].val;
        }
    }
    if (!tag) return fail(d, BX_KVEV_ESCHEMA, "event map without \"type\"");
    ev->type = tag_type(tag);
    if (!ev->type) return unknown_tag(d, tag);
    if (ev->type == BX_KVEV_ALL_CLEARED) return 0;
    bool stored = ev->type == BX_KVEV_BLOCK_STORED;
    unsigned seen = 0;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
        unsigned bit;
        if (str_is(k, "block_hashes"))
            bit = K_HASHES;
        else if (str_is(k, "medium"))
            bit = K_MEDIUM;
        else if (str_is(k, "group_idx"))
            bit = K_GROUP;
        else if (stored && str_is(k, "parent_block_hash"))
            bit = K_PARENT;
        else if (stored && str_is(k, "token_ids"))
            bit = K_TOKENS;
        else if (stored && str_is(k, "block_size"))
            bit = K_BSIZE;
        else if (stored && str_is(k, "lora_id"))
            bit = K_LORA_ID;
        else if (stored && str_is(k, "lora_name"))
            bit = K_LORA_NAME;
        else
            continue; /* "type", extra_keys, kv_cache_spec_*, newer fields */
        if (seen & bit) {
            int n = k->via.str.size > 40 ? 40 : (int)k->via.str.size;
            return fail(d, BX_KVEV_ESCHEMA, "duplicate key \"%.*s\"", n, k->via.str.ptr);
        }
        seen |= bit;
        switch (bit) {
        case K_HASHES:
            TRYRC(get_hashes(d, v, ev));
            break;
        case K_MEDIUM:
            TRYRC(get_opt_str(d, v, &ev->medium, "medium"));
            break;
        case K_GROUP:
            TRYRC(get_opt_int(d, v, &ev->has_group_idx, &ev->group_idx, "group_idx"));
            break;
        case K_PARENT:
            TRYRC(get_parent(d, v, ev));
            break;
        case K_TOKENS:
            TRYRC(get_tokens(d, v, ev));
            break;
        case K_BSIZE:
            TRYRC(get_block_size(d, v, ev));
            break;
        case K_LORA_ID:
            TRYRC(get_opt_int(d, v, &ev->has_lora_id, &ev->lora_id, "lora_id"));
            break;
        default:
            TRYRC(get_opt_str(d, v, &ev->lora_name, "lora_name"));
            break;
        }
    }
    unsigned need = stored ? (K_HASHES | K_TOKENS | K_BSIZE) : K_HASHES;
    if ((seen & need) != need)
        return fail(d, BX_KVEV_ESCHEMA, "%s: missing required field", bx_kvev_type_name(ev->type));
    return 0;
}

static void event_free(bx_kvev_event *ev)
{
    free(ev->block_hashes);
    free(ev->token_ids);
    free((char *)ev->medium);
    free((char *)ev->lora_name);
    memset(ev, 0, sizeof(*ev));
}

static int get_events(dec *d, const msgpack_object *o, bx_kvev_batch *b)
{
    if (o->type != MSGPACK_OBJECT_ARRAY) return fail(d, BX_KVEV_ESCHEMA, "events must be an array");
    size_t n = o->via.array.size;
    if (n > d->lim->max_events)
        return fail(d, BX_KVEV_ELIMIT, "events: %zu > limit %zu", n, d->lim->max_events);
    if (n == 0) return 0;
    b->events = calloc(n, sizeof(bx_kvev_event));
    if (!b->events) return fail(d, BX_KVEV_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *e = &o->via.array.ptr[i];
        bx_kvev_event *ev = &b->events[b->n_events];
        int rc;
        if (e->type == MSGPACK_OBJECT_ARRAY)
            rc = event_from_array(d, &e->via.array, ev);
        else if (e->type == MSGPACK_OBJECT_MAP)
            rc = event_from_map(d, &e->via.map, ev);
        else
            rc = fail(d, BX_KVEV_ESCHEMA, "events[%zu] must be an array or map", i);
        if (rc == SKIP_EVENT) {
            event_free(ev);
            continue;
        }
        b->n_events++; /* counted even on error so batch_free releases it */
        if (rc) return rc;
    }
    return 0;
}

static int get_ts(dec *d, const msgpack_object *o, bx_kvev_batch *b)
{
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        b->ts = o->via.f64;
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        b->ts = (double)o->via.u64;
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        b->ts = (double)o->via.i64;
        break;
    default:
        return fail(d, BX_KVEV_ESCHEMA, "ts must be a number");
    }
    if (!isfinite(b->ts)) return fail(d, BX_KVEV_ESCHEMA, "ts is not finite");
    return 0;
}

static int batch_from_object(dec *d, const msgpack_object *o, bx_kvev_batch *b)
{
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        const msgpack_object_array *a = &o->via.array;
        if (a->size < 2) return fail(d, BX_KVEV_ESCHEMA, "batch array needs [ts, events]");
        TRYRC(get_ts(d, &a->ptr[0], b));
        TRYRC(get_events(d, &a->ptr[1], b));
        if (a->size > 2)
            TRYRC(get_opt_int(d, &a->ptr[2], &b->has_dp_rank, &b->data_parallel_rank,
                              "data_parallel_rank"));
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_MAP)
        return fail(d, BX_KVEV_ESCHEMA, "batch must be an array or a map");
    const msgpack_object *ts = NULL, *events = NULL, *dp = NULL;
    const msgpack_object_map *m = &o->via.map;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        const msgpack_object **slot = NULL;
        if (str_is(k, "ts"))
            slot = &ts;
        else if (str_is(k, "events"))
            slot = &events;
        else if (str_is(k, "data_parallel_rank"))
            slot = &dp;
        else
            continue;
        if (*slot) return fail(d, BX_KVEV_ESCHEMA, "duplicate key in batch map");
        *slot = &m->ptr[i].val;
    }
    if (!ts || !events) return fail(d, BX_KVEV_ESCHEMA, "batch map needs ts and events");
    TRYRC(get_ts(d, ts, b));
    TRYRC(get_events(d, events, b));
    if (dp)
        TRYRC(get_opt_int(d, dp, &b->has_dp_rank, &b->data_parallel_rank, "data_parallel_rank"));
    return 0;
}

int bx_kvev_decode(const char *buf, size_t len, const bx_kvev_limits *limits, bx_kvev_batch *out,
                   bx_kvev_err *err)
{
    bx_kvev_limits deflim;
    if (!limits) {
        bx_kvev_limits_default(&deflim);
        limits = &deflim;
    }
    dec d = {.lim = limits, .err = err};
    if (err) err->msg[0] = '\0';
    if (!out) return fail(&d, BX_KVEV_EINVAL, "no output batch");
    memset(out, 0, sizeof(*out));
    if (!buf && len) return fail(&d, BX_KVEV_EINVAL, "NULL buffer");
    if (len == 0) return fail(&d, BX_KVEV_EMSGPACK, "empty payload");
    if (len > limits->max_bytes)
        return fail(&d, BX_KVEV_ELIMIT, "payload %zu bytes > limit %zu", len, limits->max_bytes);
    TRYRC(scan_object(&d, (const unsigned char *)buf, len));

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&up, buf, len, &off);
    int rc;
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR) {
        rc = fail(&d, BX_KVEV_ENOMEM, "out of memory");
    } else if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
        rc = fail(&d, BX_KVEV_EMSGPACK, "msgpack: unpack failed (%d)", (int)ur);
    } else {
        out->owned_ = true;
        rc = batch_from_object(&d, &up.data, out);
        if (rc) bx_kvev_batch_free(out);
    }
    msgpack_unpacked_destroy(&up);
    return rc;
}

void bx_kvev_batch_free(bx_kvev_batch *b)
{
    if (!b || !b->owned_) return;
    for (size_t i = 0; i < b->n_events; i++)
        event_free(&b->events[i]);
    free(b->events);
    memset(b, 0, sizeof(*b));
}
