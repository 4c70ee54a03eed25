/* bx_tz: IANA time zones read from the system tz database (TZif files,
 * RFC 8536: /usr/share/zoneinfo, Debian's tzdata), without touching the
 * process's TZ. glibc converts to local time only through the process-wide
 * TZ (setenv + tzset + localtime_r), which a multi-threaded program cannot
 * change safely, and has no per-zone call (no localtime_rz); so a zone is
 * loaded once into a bx_tz and converted with it.
 *
 * It owns: the TZif parser (versions 1 to 4: the 64-bit data block when
 * there is one, else the 32-bit one; leap-second records are skipped), the
 * POSIX TZ rule of the file's footer ("EST5EDT,M3.2.0,M11.1.0", "<+0330>-3:30",
 * Jn / n / Mm.w.d dates, transition times from -167 to 167 hours), which
 * gives the offset after the last transition, and the UTC-to-local
 * conversion. "UTC" (and "Etc/UTC" when the database lacks it) needs no
 * file. Names are checked before any file is opened (no "..", no leading
 * "/", only [A-Za-z0-9/_+.-]); the directory is $TZDIR when set, else
 * /usr/share/zoneinfo.
 *
 * Ownership: a bx_tz is heap-allocated and immutable after load: several
 * threads may read it; bx_tz_free releases it. The parsers read their input
 * and keep no reference to it. */
#ifndef BX_TZ_H
#define BX_TZ_H

#include <stddef.h>
#include <stdint.h>

#define BX_TZ_DIR "/usr/share/zoneinfo"
#define BX_TZ_MAX_FILE (1u << 20) /* a TZif file larger than this is refused */
#define BX_TZ_NAME_MAX 255

typedef struct bx_tz bx_tz;

/* Local time of one instant in a zone. */
typedef struct bx_tz_tm {
    int64_t year;
    int mon;       /* 1..12 */
    int mday;      /* 1..31 */
    int wday;      /* 0 = Sunday .. 6 = Saturday */
    int yday;      /* 0..365 */
    int hour;      /* 0..23 */
    int min;       /* 0..59 */
    int sec;       /* 0..59 */
    int32_t utoff; /* seconds east of UTC */
    int isdst;
} bx_tz_tm;

/* Loads the zone called name (e.g. "Europe/Paris") from $TZDIR or
 * BX_TZ_DIR. 0 and *out, or -1 with a message (bad name, unknown zone, not
 * a TZif file). */
int bx_tz_load(const char *name, bx_tz **out, char *err, size_t errlen);
/* Same, from the directory dir. */
int bx_tz_load_dir(const char *dir, const char *name, bx_tz **out, char *err, size_t errlen);
/* A TZif file's bytes -> *out. 0, or -1 with a message. Fuzzed. */
int bx_tz_parse(const unsigned char *buf, size_t len, bx_tz **out, char *err, size_t errlen);
/* A zone from a POSIX TZ rule alone ("UTC0", "CET-1CEST,M3.5.0,M10.5.0/3").
 * 0, or -1 with a message. */
int bx_tz_posix(const char *rule, bx_tz **out, char *err, size_t errlen);
/* 1 when name is a well-formed zone name (the check bx_tz_load makes
 * before it opens anything). */
int bx_tz_name_ok(const char *name);

/* The local time at unix_s (seconds since the epoch, UTC). */
void bx_tz_local(const bx_tz *z, int64_t unix_s, bx_tz_tm *out);
/* The offset east of UTC, in seconds, at unix_s. */
int32_t bx_tz_offset(const bx_tz *z, int64_t unix_s);

void bx_tz_free(bx_tz *z);

#endif
