/* state.h — the small persistent state of each source.
 *
 * Layout: STATE_DIR/sources/<source-id>.state, one record per source as
 * "key<TAB>value" lines (values with \\, \t and \n escaped):
 *
 *     version 1
 *     kind hotline
 *     cursor {"t":1664087400,"ids":["QP12345-20220925-0001"]}
 *     url https://rx12345.qingpu.example/api/v1/orders
 *     etag "5f1c"
 *     last_modified Sun, 25 Sep 2022 06:30:00 GMT
 *     body_hash 9c1e0f5a7b2d4e61-983
 *     last_success_ts 1664087460
 *     last_error HTTP 500 ...
 *     ...
 *
 * A line format rather than JSON keeps the state file readable and its
 * reader a few lines; unknown keys are ignored so fields can be added
 * later.
 *
 * Writes are atomic: the record is written to a temporary file in the same
 * folder, fsync'ed, renamed over the old one, and the folder fsync'ed, so
 * a crash leaves either the old or the new record, never a torn one. A
 * record that fails to parse is ignored with a warning (the source then
 * starts from scratch; dedup absorbs the re-fetch). Strings are stored as
 * they are; the cursor is opaque to this module.
 *
 * Nothing here is shared between processes: one gateway owns a state dir.
 * `intake sources status` only reads it.
 */
#ifndef IG_GATEWAY_STATE_H
#define IG_GATEWAY_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/scheduler.h"

struct source_state {
    char *cursor;           /* owned, or NULL */
    char *url;              /* owned: URL the validators belong to */
    char *etag;             /* owned, or NULL */
    char *last_modified;    /* owned, or NULL */
    char *body_hash;        /* owned: hash of the last committed one-page
                             * body, or NULL */
    char *kind;             /* owned, or NULL */
    struct source_health h; /* h.id/h.kind/h.last_error point into the
                             * owned strings below */
    char *id_s;             /* owned */
    char *last_error_s;     /* owned */
};

void source_state_init(struct source_state *st);
void source_state_fini(struct source_state *st);

/* Creates dir and dir/sources when missing. Returns IG_OK or IG_EIO. */
int state_dir_prepare(const char *dir);

/* Reads the record of id. Returns IG_OK, IG_ENOENT (no record) or
 * IG_EPARSE (a broken record; st stays empty). */
int state_load(const char *dir, const char *id, struct source_state *st);

/* Writes the record of id atomically. Returns IG_OK or IG_EIO. */
int state_save(const char *dir, const char *id, const struct source_state *st);

/* Calls fn for every record in dir (sorted by id). Returns the number of
 * records, or IG_EIO when dir cannot be read. */
int state_each(const char *dir,
               void (*fn)(void *ud, const struct source_state *st), void *ud);

#endif
