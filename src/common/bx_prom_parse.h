/* bx_prom_parse: a parser for the Prometheus text exposition format (0.0.4),
 * for scraping engines' /metrics. Pure: bytes in, a document out.
 *
 * Handles # HELP / # TYPE lines (other comments are skipped), label sets with
 * escapes (\\, \", \n), values including +Inf, -Inf, NaN and exponents,
 * optional timestamps, LF or CRLF, a missing final newline. Samples named
 * X_bucket / X_sum / X_count (histogram, summary), X_total (counter) or X
 * are attached to the family X declared by # TYPE; a sample with no declared
 * family is untyped and forms its own.
 *
 * Limits (bytes, samples, labels per sample, name and label lengths) are
 * checked while parsing; malformed input or a broken limit returns a negative
 * code and a message naming the line. Nothing is read past len.
 *
 * A sample's label set may not name a label twice. Types and label pairs
 * are bx_prom.h's, shared with the writer.
 *
 * Ownership: bx_prom_parse fills a caller-owned bx_prom_doc; its strings and
 * arrays live in one allocation owned by the doc, and bx_prom_doc_free
 * releases it.
 * Lookups return pointers into the doc, valid until it is freed. */
#ifndef BX_PROM_PARSE_H
#define BX_PROM_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "common/bx_prom.h" /* bx_prom_type, bx_prom_label */

#define BX_PROM_EPARSE (-1)
#define BX_PROM_ELIMIT (-2)
#define BX_PROM_ENOMEM (-3)

typedef struct bx_prom_limits {
    size_t max_bytes;     /* default 16 MiB */
    size_t max_samples;   /* default 100000 */
    size_t max_labels;    /* per sample, default 32 */
    size_t max_name_len;  /* metric and label names, default 256 */
    size_t max_value_len; /* label values, default 4096 */
} bx_prom_limits;

typedef struct bx_prom_sample {
    const char *name; /* as written, e.g. vllm:ttft_seconds_bucket */
    int family;       /* index into doc.families */
    const bx_prom_label *labels;
    uint32_t nlabels;
    double value;
    int has_ts;
    int64_t ts_ms;
} bx_prom_sample;

typedef struct bx_prom_family {
    const char *name;
    const char *help; /* NULL when absent */
    bx_prom_type type;
} bx_prom_family;

typedef struct bx_prom_doc {
    bx_prom_family *families;
    size_t nfamilies;
    bx_prom_sample *samples;
    size_t nsamples;
    /* private */
    char *arena_; /* the one allocation: text, then the three arrays */
    bx_prom_label *labels_;
    int packed_;
} bx_prom_doc;

void bx_prom_limits_default(bx_prom_limits *l);
/* lim may be NULL (defaults). Returns 0 or a negative BX_PROM_E* code with
 * a message in err; on error the doc is empty and needs no free. */
int bx_prom_parse(const char *buf, size_t len, const bx_prom_limits *lim, bx_prom_doc *doc,
                  char *err, size_t errlen);
void bx_prom_doc_free(bx_prom_doc *doc);

/* Value of a label of a sample, or NULL. */
const char *bx_prom_label_get(const bx_prom_sample *s, const char *name);
/* First sample with this exact name whose label lname equals lvalue (lname
 * NULL: any). NULL when none. */
const bx_prom_sample *bx_prom_find(const bx_prom_doc *doc, const char *name, const char *lname,
                                   const char *lvalue);
/* Value of that first sample into *out: 0, or -1 when none matched. */
int bx_prom_find_value(const bx_prom_doc *doc, const char *name, const char *lname,
                       const char *lvalue, double *out);
/* Sum of the values of every such sample; *found = how many matched. */
double bx_prom_sum(const bx_prom_doc *doc, const char *name, const char *lname, const char *lvalue,
                   size_t *found);

#define BX_PROM_MAX_BUCKETS 64
typedef struct bx_prom_hist_view {
    double le[BX_PROM_MAX_BUCKETS];  /* upper bounds, ascending, last +Inf */
    double cum[BX_PROM_MAX_BUCKETS]; /* cumulative counts */
    size_t nbuckets;
    double sum, count;
} bx_prom_hist_view;

/* Reads histogram family `family` (its _bucket/_sum/_count samples whose
 * label lname = lvalue; lname NULL: all summed). Returns 0, or -1 if the
 * family has no such buckets or more than BX_PROM_MAX_BUCKETS bounds. */
int bx_prom_histogram(const bx_prom_doc *doc, const char *family, const char *lname,
                      const char *lvalue, bx_prom_hist_view *out);

#endif
