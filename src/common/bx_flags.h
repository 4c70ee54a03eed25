/* bx_flags: the one table-driven command-line parser of brix (`brix engine`,
 * `brix gateway`, `brix bench run`). A program describes each flag once in a
 * table of bx_flag rows (name, kind, where its value goes, help); parsing,
 * --help and the error messages all read that table, so the help cannot
 * forget a flag. Defaults are not in the table: each program sets them in
 * its own *_config_default (one place), and the help text states them.
 *
 * Syntax: "--name VALUE" or "--name=VALUE"; a flag that takes no value is
 * given alone. "-h" or "--help" prints the help to out and stops parsing.
 * Later flags override earlier ones; repeatable flags are custom kinds.
 *
 * Kinds: the built-in kinds store into the config struct at the row's
 * offset. Numbers are parsed strictly (the whole value, base 10, in range).
 * A program's own kinds are numbered from BX_FLAG_CUSTOM upward and handed
 * to the spec's set callback (lists, enums, keys, anything with its own
 * rules).
 *
 * Errors (one line on err, prefixed with the spec's prog, e.g.
 * "brix engine: --port needs a value"):
 *   unknown flag    PROG: unknown option 'ARG' (see HINT), unless the spec
 *                   has an unknown callback (below)
 *   missing value   PROG: NAME needs a value[ (METAVAR)]
 *   value given to
 *   a no-value flag PROG: NAME takes no value
 *   bad value       PROG: NAME: 'VALUE' is not NOT_VALID, or when the spec
 *                   has no not_valid: PROG: bad value 'VALUE' for NAME
 *                   (expected METAVAR)
 *
 * Ownership: the parser keeps no state. String values point into argv (or
 * into whatever the caller passed to bx_flags_set): they must outlive cfg.
 * The table and spec are the caller's (usually static const). */
#ifndef BX_FLAGS_H
#define BX_FLAGS_H

#include <stddef.h>
#include <stdio.h>

typedef enum bx_flag_kind {
    BX_FLAG_STR,          /* const char *: the value as given (may be empty) */
    BX_FLAG_STR_NONEMPTY, /* const char *: the value, not empty */
    BX_FLAG_INT,          /* int: 0..int_max (INT_MAX when 0) */
    BX_FLAG_LONG,         /* long: 0..int_max (LONG_MAX when 0) */
    BX_FLAG_I64,          /* int64_t: 0..int_max (INT64_MAX when 0) */
    BX_FLAG_U64,          /* uint64_t: 0..UINT64_MAX, no sign */
    BX_FLAG_DBL,          /* double: any number strtod reads */
    BX_FLAG_DBL_NONNEG,   /* double: finite, >= 0 */
    BX_FLAG_CHOICE,       /* int (or an enum of 0..n-1): the index of the value among the
                             '|'-separated words of the metavar ("--len-dist fixed|normal") */
    BX_FLAG_ON,           /* int: no value, sets 1 */
    BX_FLAG_OFF,          /* int: no value, sets 0 */
    BX_FLAG_CUSTOM,       /* first of the program's own kinds: spec->set */
} bx_flag_kind;

/* One flag. name is the flag ("--port"), optionally followed by a space and
 * a metavar naming its value ("--rate R|inf"): --help shows name as is,
 * errors about a missing or bad value name the metavar. */
typedef struct bx_flag {
    const char *name;
    int kind;   /* a bx_flag_kind, or BX_FLAG_CUSTOM + n */
    size_t off; /* offsetof the target in the config struct */
    const char *help;
} bx_flag;

/* What a custom setter returns besides 0. */
#define BX_FLAG_BAD (-1)  /* the value is bad: the parser prints the bad-value line */
#define BX_FLAG_FAIL (-2) /* the setter printed its own error on err */

typedef struct bx_flags_spec {
    const bx_flag *flags;
    size_t nflags;
    const char *prog;      /* error prefix: "brix engine" */
    const char *help_hint; /* in "unknown option" errors; NULL: "--help" */
    /* the rest of "PROG: NAME: 'VALUE' is not ..." for bad numbers; NULL:
     * "PROG: bad value 'VALUE' for NAME (expected METAVAR)" */
    const char *not_valid;
    long long int_max; /* bound of INT, LONG and I64 flags; 0: the type's */
    /* 1: a no-value flag may also be given "=true|1" (as if alone) or
     * "=false|0" (the opposite), else "PROG: NAME wants true or false";
     * 0: a value given to it is an error (takes no value) */
    int bool_values;
    /* help: usage (printed as is), then one line per row, the name padded
     * to name_width; wrap > 0 breaks the help text at
     * spaces into lines of wrap columns and puts a longer name on its own
     * line. help_tail, when set, prints what follows the table. */
    const char *usage;
    int name_width;
    int wrap;
    void (*help_tail)(FILE *out);
    /* sets a custom-kind flag from its value (NULL for no-value custom
     * kinds is not supported: custom kinds always take a value). Returns
     * 0, BX_FLAG_BAD or BX_FLAG_FAIL. */
    int (*set)(void *cfg, const bx_flag *fl, const char *val, FILE *err);
    /* NULL: an unknown option is an error. Else an unknown "--name" or
     * "--name=VALUE" is handed here instead (arg as given), with val the
     * next argument when that one was taken as its value (it does not
     * start with '-', or it is a number), else NULL: a program that accepts
     * another program's flags it does not act on (brix engine takes vLLM's)
     * records them and warns. Returns 0, or -1 after printing an error. */
    int (*unknown)(void *cfg, const char *arg, const char *val, FILE *err);
} bx_flags_spec;

/* Parses argv[1..argc) into cfg (argv[0] is the subcommand and skipped).
 * seen, when not NULL, has spec->nflags entries and gets 1 at each row
 * given at least once (left as is for the others). Returns 0, 1 after
 * printing the help to out, or -1 after printing an error to err. */
int bx_flags_parse(const bx_flags_spec *spec, void *cfg, int argc, char **argv, unsigned char *seen,
                   FILE *out, FILE *err);

/* The row of the flag name ("--port", no metavar), or NULL. */
const bx_flag *bx_flags_find(const bx_flags_spec *spec, const char *name);

/* Sets one flag from its text value (NULL: given without a value), with
 * the rules and messages of bx_flags_parse. 0, or -1 after an error on err.
 * For settings read from elsewhere (a YAML file) with the flags' rules. */
int bx_flags_set(const bx_flags_spec *spec, void *cfg, const bx_flag *fl, const char *val,
                 FILE *err);

/* Prints the help: usage, the table, the tail. */
void bx_flags_help(const bx_flags_spec *spec, FILE *out);

#endif
