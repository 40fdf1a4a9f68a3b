/* parse_run.h — drive a parsing kind on bytes, for the parser tests.
 *
 * Builds a real connector of the named kind from config text (no HTTP, no
 * gateway), calls its parse() with a struct connector_resp made from a
 * file, and collects the items, skips, diagnostics and error.
 */
#ifndef IG_TESTS_LIB_PARSE_RUN_H
#define IG_TESTS_LIB_PARSE_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "connectors/connector.h"
#include "core/cfg.h"
#include "core/diag.h"
#include "core/item.h"

struct parse_run {
    struct ig_cfg_doc doc;
    struct connector c;
    struct connector_sink sink;
    struct ig_diags diags;
    struct ig_item **items; /* owned */
    size_t n, cap;
    int rc;     /* of the last parse() */
    bool ready; /* init succeeded */
};

/* Sets up a connector of kind with url and the extra config lines (may be
 * NULL, "key = value\n" lines). max_items 0 = the schema default. Returns
 * IG_OK or the init error (diagnostics in r->diags). */
int parse_run_init(struct parse_run *r, const char *kind, const char *url,
                   const char *extra);
/* Runs parse() on body; items accumulate across calls. */
int parse_run_body(struct parse_run *r, const char *body, size_t len,
                   const char *content_type, const char *url);
void parse_run_fini(struct parse_run *r);

/* Reads a whole file (NUL-terminated, NULL on error; ig_free). */
char *parse_read_file(const char *path, size_t *len);
/* One entry of the shared Chinese feed manifest, feeds/zh/expected.jsonl,
 * with the feed file it names read in. Borrowed for the callback. */
struct zh_entry {
    const cJSON *j; /* the manifest line */
    const char *file, *url, *format;
    const char *content_type; /* NULL when the manifest has none */
    const cJSON *items;       /* the expected items */
    const char *body;         /* the file's bytes */
    size_t len;
};

/* Calls fn for every manifest entry; fn returns the failures it found, or
 * -1 for an entry it does not check. Returns how many entries were checked
 * and adds their failures to *failures (a manifest that cannot be read
 * fails, as does a feed file that cannot). */
size_t parse_zh_each(int (*fn)(void *ud, const struct zh_entry *e), void *ud,
                     size_t *failures);

/* Compares two texts ignoring all whitespace (ASCII, U+00A0, U+3000). */
bool parse_text_eq_nows(const char *a, const char *b);

#endif
