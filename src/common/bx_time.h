/* bx_time: RFC 3339 times, as Kubernetes writes them in status conditions,
 * events and metadata (creationTimestamp), to and from Unix milliseconds.
 *
 * Pure functions over buffers; no allocation, no global state, and no use
 * of TZ (UTC only: offsets in the text are applied). */
#ifndef BX_TIME_H
#define BX_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Unix ms -> "2026-12-07T15:04:05Z" (seconds, as Kubernetes' metav1.Time).
 * out gets at least 21 bytes; a time out of range is written as
 * "1970-01-01T00:00:00Z". */
void bx_time_rfc3339(int64_t ms, char *out, size_t len);

/* "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)" (T and Z in either case),
 * a valid calendar date -> Unix ms (fraction cut to milliseconds). 0, or
 * -1 for anything else. */
int bx_time_parse_rfc3339(const char *s, int64_t *ms);

/* Unix ms now (CLOCK_REALTIME); 0 if the clock fails. */
int64_t bx_time_unix_ms(void);

#endif
