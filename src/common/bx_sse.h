/* bx_sse: a pure, resumable Server-Sent-Events parser (the text/event-stream
 * format of the WHATWG HTML spec, as vLLM and OpenAI stream completions:
 * "data: {...}\n\n ... data: [DONE]\n\n").
 *
 * Fed byte pieces split anywhere, it calls back once per event with the
 * event's `data:` lines joined by "\n". Lines end with LF, CRLF or CR;
 * lines starting with ':' are comments; `event:` and `id:` are reported,
 * `retry:` and unknown fields are ignored; a leading UTF-8 BOM is skipped.
 * Per the spec, an event with no data line is not dispatched.
 *
 * Memory: the caller owns the bx_sse_parser struct (init/free); the parser
 * owns its internal buffers. Strings handed to the callback belong to the
 * parser and are valid only during the callback. One event (its data, event
 * name, id and the line being assembled) may hold at most max_event_bytes;
 * more is an error and the parser is dead until bx_sse_parser_reset. */
#ifndef BX_SSE_H
#define BX_SSE_H

#include "common/bx_buf.h"

#include <stddef.h>

#define BX_SSE_ETOOBIG (-2)  /* an event exceeded max_event_bytes */
#define BX_SSE_ESTOPPED (-3) /* the callback asked to stop */

typedef struct bx_sse_event {
    const char *event; /* the `event:` field, "" when absent (clients default to "message") */
    const char *data;  /* data lines joined by "\n", NUL-terminated */
    size_t data_len;
    const char *id; /* the last `id:` seen on the stream, "" when none */
} bx_sse_event;

/* Return 0 to go on, non-zero to stop (feed then returns BX_SSE_ESTOPPED and
 * drops the rest of the piece; the parser must be reset to be used again). */
typedef int (*bx_sse_event_cb)(const bx_sse_event *ev, void *ud);

typedef struct bx_sse_parser {
    bx_sse_event_cb cb;
    void *ud;
    size_t max_event_bytes;
    bx_buf line;  /* a line split across pieces */
    bx_buf data;  /* data of the event being assembled */
    bx_buf event; /* event name */
    bx_buf id;
    int data_lines; /* data lines in the event so far */
    int skip_lf;    /* the last piece ended with CR: drop a leading LF */
    int in_comment; /* inside a comment line: discard until the line ends */
    int bom_checked;
    int err; /* 0, or the error that killed the parser */
} bx_sse_parser;

/* max_event_bytes 0 means the default, 1 MiB. */
void bx_sse_parser_init(bx_sse_parser *p, size_t max_event_bytes, bx_sse_event_cb cb, void *ud);
/* Returns 0, BX_SSE_ETOOBIG or BX_SSE_ESTOPPED. */
int bx_sse_parser_feed(bx_sse_parser *p, const char *data, size_t len);
/* Forgets any partial event and any error; keeps the buffers' memory. */
void bx_sse_parser_reset(bx_sse_parser *p);
/* Releases the buffers; the struct may be initialised again. */
void bx_sse_parser_free(bx_sse_parser *p);
/* 1 when an event's data is exactly "[DONE]" (end of an OpenAI stream). */
int bx_sse_is_done(const bx_sse_event *ev);

#endif
