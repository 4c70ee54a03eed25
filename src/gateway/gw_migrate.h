/* gw_migrate: streams that survive an engine's death (docs/gateway.md,
 * "Streams that survive an engine's death"). When the engine of a streamed
 * chat or completion dies (its connection reset or closed before [DONE]),
 * is declared down, or stalls past the stream's silence bound (gw_silence.h)
 * after the client got the first bytes, the proxy (gw_proxy.c) asks another
 * engine to continue the answer and splices that engine's stream into the
 * client's:
 *
 *   /v1/completions       prompt + the text sent so far
 *   /v1/chat/completions  messages + {"role":"assistant","content": text sent},
 *                         continue_final_message: true, add_generation_prompt:
 *                         false (vLLM's fields; brix engine has them)
 *   both                  max_tokens (max_completion_tokens, min_tokens)
 *                         less the tokens sent
 *
 * and rewrites the continuation's chunks so that the client sees one answer:
 * the first engine's id, created and model in every chunk, the role chunk a
 * chat continuation starts with dropped, usage counted once over every leg
 * (prompt_tokens the original prompt's, completion_tokens every token sent).
 *
 * Token accounting: one token per chunk with non-empty text (vLLM and brix
 * engine stream one token per chunk unless speculative decoding or a held
 * back partial UTF-8 character merges some); when the engine sends
 * continuous usage stats, its own completion_tokens count instead. The
 * original prompt's tokens: the first engine's usage when a chunk carried
 * it, else brix's tokenizer's count (bx_prompt: exact for brix engine).
 *
 * Everything here is pure (no I/O, no clock): the proxy feeds it the
 * engines' SSE events and writes what it returns. The scan of an engine's
 * chunk (outside bytes) is fuzzed by fuzz/fuzz_gw_migrate.c.
 *
 * Ownership: the caller owns the gw_mig struct (gw_mig_init / gw_mig_free);
 * it owns its text buffer. Output buffers are the caller's. */
#ifndef GW_MIGRATE_H
#define GW_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#include "common/bx_buf.h"
#include "gateway/gw_req.h"

#define GW_MIG_TEXT_MAX (1u << 20) /* text kept for a continuation; longer: none */
#define GW_MIG_ID_MAX 128
#define GW_MIG_MODEL_MAX 256

typedef struct gw_mig {
    gw_api api;
    int leg;               /* 0: the first engine's answer, n: the nth continuation */
    int32_t sent;          /* tokens sent to the client, all legs together */
    int32_t leg_base;      /* sent when this leg began */
    int32_t prompt_tokens; /* the original prompt's; -1: not known yet */
    int finished;          /* a finish_reason was sent: the answer is complete */
    int usage_sent;        /* the final usage chunk (choices empty) was sent */
    int have_head;         /* id, created and model hold the first chunk's */
    char id[GW_MIG_ID_MAX];
    char model[GW_MIG_MODEL_MAX];
    int64_t created;
    bx_buf text;  /* the answer's text sent so far */
    int too_long; /* the text outgrew GW_MIG_TEXT_MAX: it cannot be continued */
} gw_mig;

/* What the proxy does with an engine's event (gw_mig_event). GW_MIG_ERROR:
 * the engine's own error event (vLLM and brix engine end a stream that fails
 * midway with one, then [DONE]): not forwarded, the stream is continued on
 * another engine as if the engine had died. */
enum { GW_MIG_FORWARD = 0, GW_MIG_REWRITTEN, GW_MIG_DROP, GW_MIG_ERROR };

void gw_mig_init(gw_mig *m, gw_api api);
void gw_mig_free(gw_mig *m);

/* One engine chunk's fields (gw_mig_scan). Spans point into the scanned
 * data or into root (a parse kept when the fast scan was unsure); release
 * with gw_mig_chunk_free. */
typedef struct gw_mig_chunk {
    const char *id, *model;
    size_t id_len, model_len;
    int64_t created;  /* -1: absent */
    int choices;      /* elements in "choices" (0 for a usage-only chunk) */
    const char *text; /* the first choice's delta.content / text; NULL: none */
    size_t text_len;
    int role;                               /* the first choice's delta has a role */
    int finish;                             /* the first choice's finish_reason is set */
    int usage;                              /* a "usage" object */
    int64_t usage_prompt, usage_completion; /* -1: absent */
    int error;                              /* an "error" member (an engine's error event) */
    void *root;                             /* json_t when the fast scan was unsure (owned) */
} gw_mig_chunk;

/* Scans one event's data. 0, or -1 when it is not a JSON object. */
int gw_mig_scan(const char *data, size_t len, gw_mig_chunk *out);
void gw_mig_chunk_free(gw_mig_chunk *ch);

/* Takes one engine event's data (not [DONE]) in order. Leg 0: records the
 * chunk (head, text, tokens, usage) and returns GW_MIG_FORWARD. Later legs:
 * GW_MIG_DROP (a chunk with a role and no text, finish or usage: the role
 * chunk) or
 * GW_MIG_REWRITTEN with the chunk as the client must see it in out (data
 * only, appended). Any leg: GW_MIG_ERROR for an error event (an "error"
 * member and no choices). Data that is not a chunk is forwarded as it is.
 * -1: out of memory. */
int gw_mig_event(gw_mig *m, const char *data, size_t len, bx_buf *out);

/* 1 when the answer needs no continuation: a finish_reason was sent, or
 * max_tokens (-1: not given) tokens were. */
int gw_mig_complete(const gw_mig *m, int32_t max_tokens);

/* The request body that continues the answer on another engine (see the
 * top), malloc'd (the caller frees), its length in *out_len; records the
 * original prompt's tokens when unknown. NULL with why in err when the
 * stream cannot be continued (more than one choice, echo, tools, text too
 * long, a body that is not the API's). Does not advance the leg. */
char *gw_mig_body(gw_mig *m, const char *body, size_t len, size_t *out_len, char *err,
                  size_t errlen);

/* Records the original prompt's tokens from its body when no engine told
 * them (brix's tokenizer's count; stays -1 for a body it cannot read). */
void gw_mig_count_prompt(gw_mig *m, const char *body, size_t len);

/* Appends one event SSE-framed ("event: ...\n" when event is not empty, a
 * "data: " line per line of data, a blank line). 0 or -1 (memory). */
int gw_mig_frame(bx_buf *out, const char *event, const char *data, size_t len);

/* A new leg begins (the continuation was sent). */
void gw_mig_next_leg(gw_mig *m);

/* The end the gateway writes itself for an answer complete when its engine
 * died (gw_mig_complete): a usage chunk when include_usage and none was
 * sent, then [DONE], SSE-framed, appended to out. 0 or -1 (memory). */
int gw_mig_tail(gw_mig *m, int include_usage, bx_buf *out);

#endif
