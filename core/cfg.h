/* cfg.h — the configuration reader and schema tables.
 *
 * One format for gateway.conf and sources.d/NAME.conf files, INI-like:
 *
 *     # a comment (whole line only)
 *     [source city-news]          <- section: a type and an optional name
 *     kind     = rss
 *     url      = https://example.org/feed.xml
 *     interval = 5m               <- durations: ms s m h d; bare = seconds
 *     map.id   = /gdbh            <- dotted keys go to a MAP field
 *     title    = "quoted # keeps spaces"
 *
 * Each component declares its keys in one schema table (name, type,
 * default, offset into its struct, one-line doc). The table drives parsing,
 * defaults, validation (unknown keys are errors, with the closest known
 * key suggested), --help-config and the README reference. Every error is
 * collected as file:line:col before anything is refused.
 */
#ifndef IG_CORE_CFG_H
#define IG_CORE_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ig_diags;

enum ig_cfg_type {
    IG_CFG_STR,      /* char *, owned by the struct (free with ig_cfg_free) */
    IG_CFG_INT,      /* int64_t */
    IG_CFG_DOUBLE,   /* double */
    IG_CFG_BOOL,     /* bool: true/false/yes/no/on/off/1/0 */
    IG_CFG_DUR_MS,   /* int64_t milliseconds: "250ms" "30s" "5m" "1h" "30d" */
    IG_CFG_SIZE,     /* int64_t bytes: "512", "64k", "10MiB", "1G" */
    IG_CFG_ENUM,     /* char * restricted to field->choices */
    IG_CFG_LIST,     /* struct ig_cfg_list: comma-separated strings */
    IG_CFG_MAP,      /* struct ig_cfg_list of "sub=value" for name.sub keys */
};

enum {
    IG_CFG_F_REQUIRED = 1u << 0,
    IG_CFG_F_SECRET = 1u << 1,   /* never printed back */
};

struct ig_cfg_list {
    char **v;      /* owned strings; for MAP: key at 2i, value at 2i+1 */
    size_t n;      /* entries (for MAP: pairs) */
};

struct ig_cfg_field {
    const char *name;
    enum ig_cfg_type type;
    const char *def;            /* default as text, or NULL */
    size_t offset;              /* offsetof(struct x, field) */
    const char *doc;            /* one line */
    unsigned flags;             /* IG_CFG_F_* */
    const char *const *choices; /* for ENUM: NULL-terminated */
};

struct ig_cfg_entry {
    char *key;     /* owned */
    char *value;   /* owned, unquoted */
    int line;
    int col;       /* column of the value */
};

struct ig_cfg_section {
    char *type;    /* owned: "source", "redis", ... ("" before any header) */
    char *name;    /* owned, or NULL */
    char *file;    /* owned */
    int line;
    struct ig_cfg_entry *e;
    size_t n, cap;
};

struct ig_cfg_doc {
    struct ig_cfg_section *s;
    size_t n, cap;
};

void ig_cfg_doc_init(struct ig_cfg_doc *doc);
void ig_cfg_doc_fini(struct ig_cfg_doc *doc);
/* Parses one file and appends its sections to doc. Syntax errors go to d.
 * Returns IG_OK, IG_EIO (file unreadable, reported in d) or IG_EPARSE. */
int ig_cfg_parse_file(struct ig_cfg_doc *doc, const char *path,
                      struct ig_diags *d);
/* Same from memory; name is used in diagnostics. */
int ig_cfg_parse_mem(struct ig_cfg_doc *doc, const char *name,
                     const char *text, size_t len, struct ig_diags *d);
/* Parses path if it is a file, or every *.conf in it (sorted) if it is a
 * directory. */
int ig_cfg_parse_path(struct ig_cfg_doc *doc, const char *path,
                      struct ig_diags *d);
/* Returns the raw value of key in s, or NULL. */
const char *ig_cfg_get(const struct ig_cfg_section *s, const char *key);

/* Fills obj from s per schema: defaults first, then values; unknown keys,
 * bad values and missing required keys are reported in d. Returns IG_OK or
 * IG_EINVAL. Fields are set even on error (free with ig_cfg_free). */
int ig_cfg_apply(const struct ig_cfg_section *s,
                 const struct ig_cfg_field *schema, void *obj,
                 struct ig_diags *d);
/* Applies defaults only (for objects built without a section). */
void ig_cfg_defaults(const struct ig_cfg_field *schema, void *obj);
/* Frees the STR/ENUM/LIST/MAP fields of obj. */
void ig_cfg_free(const struct ig_cfg_field *schema, void *obj);
/* True when key is accepted by schema (MAP prefixes included). */
bool ig_cfg_known(const struct ig_cfg_field *schema, const char *key);
/* Writes a reference of the schema: "key  type  default  doc" lines. */
void ig_cfg_print_schema(const struct ig_cfg_field *schema, FILE *out);

/* Value parsers, also used for command-line options. Return IG_OK or
 * IG_EINVAL (out untouched). */
int ig_parse_duration_ms(const char *s, int64_t *out);
int ig_parse_size(const char *s, int64_t *out);
int ig_parse_bool(const char *s, bool *out);
int ig_parse_int(const char *s, int64_t *out);

/* Levenshtein distance in code points (for "did you mean" suggestions). */
size_t ig_edit_distance(const char *a, const char *b);

/* "Did you mean": the one policy for every suggestion the tools make (config
 * keys and sections, source kinds and ids, rule keys and codes). Offer each
 * known name with ig_suggest_try(); ig_suggest_best() is the nearest, if a
 * typo could explain it: 1 or 2 edits in a word under 6 code points, up to
 * 3 in a longer one, and never more than half the word. Ties keep the first
 * offered. */
struct ig_suggest {
    const char *word;
    const char *best;
    size_t dist;
};

void ig_suggest_init(struct ig_suggest *s, const char *word);
void ig_suggest_try(struct ig_suggest *s, const char *name);
const char *ig_suggest_best(const struct ig_suggest *s);

#endif
