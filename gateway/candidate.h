/* candidate.h — the hazard candidate record that forwarders deliver.
 *
 * One JSON object per candidate, described field by field in
 * docs/candidate.md and by docs/candidate.schema.json (draft 2020-12):
 *
 *     type ("candidate"), id, source, channel, external_id, url, title,
 *     text, published, received, <classification keys from cls_result_json():
 * code, name, major, departments, score, confidence, alternatives, evidence,
 *     rules_version>, <routing keys from route_result_json(): place, town,
 *     units, priority, track>, reports, channels, dedup, schema
 *
 * The id is deterministic: a replay of the same item after a crash gets the
 * same id, so downstream idempotency (the stream forwarder's sent key, the
 * webhook's Idempotency-Key) makes it harmless.
 *
 * Pure functions, no I/O: any thread.
 */
#ifndef IG_GATEWAY_CANDIDATE_H
#define IG_GATEWAY_CANDIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct ig_item;
struct ruleset;
struct cls_result;
struct route_result;

#define CANDIDATE_ID_LEN 16
#define CANDIDATE_SCHEMA_VERSION 1

/* Everything a record is built from. All borrowed. */
struct candidate {
    const char *id;             /* candidate id (dedup result) */
    const struct ig_item *item; /* required */
    const struct ruleset *rs;   /* with cls; NULL: no classification */
    const struct cls_result *cls;
    const struct route_result *route; /* only when the ruleset has no
                                         router (with one, cls->route is
                                         written by cls_result_json());
                                         NULL: routing keys empty/null */
    int64_t reports;                  /* >= 1 */
    const char *const *channels;      /* NULL: [item->channel] */
    size_t nchannels;
    const char *dedup;    /* "new", "exact", "near" or NULL */
    const char *received; /* ISO 8601; NULL: item->fetched */
    size_t *cls_span;     /* optional out, size_t[2]: where in out the
                             classification keys (what cls_result_json()
                             wrote, no leading comma) start and how long
                             they are; {0, 0} without rs/cls. Lets the push
                             answer reuse them instead of writing them
                             again. */
};

/* Writes the deterministic candidate id of an item into out: 16 lower-case
 * hex digits of a 64-bit hash of source_id and ext_id, or of source_id and
 * text_hash (the normalised-text hash, 16 hex digits) when ext_id is NULL
 * or empty. */
void candidate_id(const char *source_id, const char *ext_id,
                  const char *text_hash, char out[CANDIDATE_ID_LEN + 1]);

/* Appends the record of c to out as one JSON object without a newline.
 * Returns IG_OK, IG_EINVAL (c->id or c->item missing) or IG_E2BIG (out's
 * cap; out is then restored to its previous length). */
int candidate_json(const struct candidate *c, struct ig_buf *out);

/* An update: a duplicate (exact or near) raised the report count of a
 * candidate forwarded earlier, so the platform learns the new count,
 * channels and priority (docs/candidate.md, "Update records"). All
 * borrowed. */
struct candidate_update {
    const char *id;              /* the original candidate's id */
    int64_t reports;             /* the original's count, >= 2 */
    const char *const *channels; /* the original's channels */
    size_t nchannels;
    const struct route_result *route; /* priority as judged now; NULL:
                                         normal, no reasons */
    const struct ig_item *item;       /* the duplicate (required) */
    const char *dup_id;               /* the duplicate's own id */
    const char *dedup;                /* "exact" or "near" */
    double similarity;
    const char *received; /* ISO 8601; NULL: item->fetched */
};

/* "<original id>-r<reports>" (at most 16 + 2 + 19 characters): the
 * update's idempotency id. The n-th report of a candidate always gets the
 * same id, so a replayed update is absorbed like a replayed candidate. */
#define CANDIDATE_UPDATE_ID_MAX 40
void candidate_update_id(const char *orig_id, int64_t reports,
                         char out[CANDIDATE_UPDATE_ID_MAX]);

/* Appends the update record of u to out (one JSON object, no newline).
 * Returns IG_OK, IG_EINVAL (u->id or u->item missing) or IG_E2BIG (out's
 * cap; out restored). */
int candidate_update_json(const struct candidate_update *u, struct ig_buf *out);

#endif
