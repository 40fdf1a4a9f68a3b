/* candidate.c — the candidate record (see candidate.h, docs/candidate.md).
 *
 * The record is written in one pass straight into the caller's buffer
 * with its cap lifted (fixed keys as literal pieces, the writer where the
 * shape varies); a record that then exceeds the cap is cut off again, so
 * it fails whole (IG_E2BIG) instead of leaving half an object behind,
 * without a scratch copy of every record. The
 * classification and routing keys are written by their owners
 * (cls_result_json(), route_result_json()) so the record and `intake classify
 * --json` can never disagree on their shape.
 */
#include "gateway/candidate.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "classifiers/classifier.h"
#include "classifiers/route.h"
#include "core/err.h"
#include "core/item.h"
#include "core/jsonw.h"

/* Starts a record in out: lifts the cap, returns the start offset. */
static size_t record_begin(struct ig_buf *out, size_t *max_len)
{
    *max_len = out->max_len;
    out->max_len = 0;
    return out->len;
}

/* Ends a record begun at start: restores the cap and removes the record
 * again when it does not fit. Returns IG_OK or IG_E2BIG. */
static int record_end(struct ig_buf *out, size_t start, size_t max_len)
{
    out->max_len = max_len;
    if (max_len && out->len > max_len) {
        out->len = start;
        out->data[start] = '\0';
        return IG_E2BIG;
    }
    return IG_OK;
}

/* The classification keys when there is no classification: the same keys
 * cls_result_json() writes, empty, so consumers see one shape. */
static void no_classification(struct ig_jsonw *w)
{
    ig_jsonw_knull(w, "code");
    ig_jsonw_knull(w, "name");
    ig_jsonw_knull(w, "major");
    ig_jsonw_knull(w, "departments");
    ig_jsonw_knum(w, "score", 0);
    ig_jsonw_knum(w, "confidence", 0);
    ig_jsonw_key(w, "alternatives");
    ig_jsonw_arr_open(w);
    ig_jsonw_arr_close(w);
    ig_jsonw_key(w, "evidence");
    ig_jsonw_arr_open(w);
    ig_jsonw_arr_close(w);
    ig_jsonw_knull(w, "rules_version");
}

int candidate_json(const struct candidate *c, struct ig_buf *out)
{
    const struct ig_item *it;
    struct ig_jsonw w;
    bool routed = false;
    size_t i, start, max_len;

    if (!c || !c->id || !c->item || !out) {
        return IG_EINVAL;
    }
    it = c->item;
    start = record_begin(out, &max_len);
    ig_jsonw_init(&w, out);
    ig_jsonw_obj_open(&w);
    /* The writer notes that the next key needs a comma. */
    ig_jsonw_raw(&w, "\"schema\":", 9);
    ig_json_int(out, CANDIDATE_SCHEMA_VERSION);
    IG_JSON_LIT(out, ",\"type\":\"candidate\",\"id\":");
    ig_json_str(out, c->id);
    IG_JSON_LIT(out, ",\"source\":");
    ig_json_str(out, it->source_id);
    IG_JSON_LIT(out, ",\"channel\":");
    ig_json_str(out, it->channel);
    IG_JSON_LIT(out, ",\"external_id\":");
    ig_json_str(out, it->ext_id);
    IG_JSON_LIT(out, ",\"url\":");
    ig_json_str(out, it->url);
    IG_JSON_LIT(out, ",\"title\":");
    ig_json_str(out, it->title);
    IG_JSON_LIT(out, ",\"text\":");
    ig_json_str(out, it->text);
    IG_JSON_LIT(out, ",\"author\":");
    ig_json_str(out, it->author);
    IG_JSON_LIT(out, ",\"location\":");
    ig_json_str(out, it->place);
    IG_JSON_LIT(out, ",\"published\":");
    ig_json_str(out, it->published);
    IG_JSON_LIT(out, ",\"received\":");
    ig_json_str(out, c->received ? c->received : it->fetched);

    /* Classification (and routing, when the rule set has a router). */
    if (c->cls_span) {
        c->cls_span[0] = 0;
        c->cls_span[1] = 0;
    }
    if (c->rs && c->cls) {
        /* The keys follow "received": the writer puts a comma first. */
        size_t from = out->len + 1;
        cls_result_json(c->rs, c->cls, &w);
        routed = ruleset_router(c->rs) != NULL;
        if (c->cls_span) {
            c->cls_span[0] = from;
            c->cls_span[1] = out->len - from;
        }
    } else {
        no_classification(&w);
    }
    if (!routed) {
        route_result_json(c->route, &w);
    }

    /* Deduplication: the writer's comma again, then literals. */
    ig_jsonw_raw(&w, "\"reports\":", 10);
    ig_json_int(out, c->reports > 0 ? c->reports : 1);
    IG_JSON_LIT(out, ",\"channels\":[");
    if (c->channels && c->nchannels) {
        for (i = 0; i < c->nchannels; i++) {
            if (i) {
                IG_JSON_LIT(out, ",");
            }
            ig_json_str(out, c->channels[i]);
        }
    } else if (it->channel) {
        ig_json_str(out, it->channel);
    }
    IG_JSON_LIT(out, "],\"dedup\":");
    ig_json_str(out, c->dedup ? c->dedup : "new");

    /* What happened to the item on its way in. */
    IG_JSON_LIT(out, ",\"flags\":[");
    bool first = true;
    for (uint32_t b = 1; b <= IG_ITEM_F_LAST; b <<= 1) {
        if (it->flags & b) {
            if (!first) {
                IG_JSON_LIT(out, ",");
            }
            first = false;
            ig_json_str(out, ig_item_flag_name(b));
        }
    }
    IG_JSON_LIT(out, "],\"warning\":");
    ig_json_str(out, it->warning);
    ig_jsonw_obj_close(&w);
    return record_end(out, start, max_len);
}

void candidate_update_id(const char *orig_id, int64_t reports,
                         char out[CANDIDATE_UPDATE_ID_MAX])
{
    snprintf(out, CANDIDATE_UPDATE_ID_MAX, "%.16s-r%lld", orig_id,
             (long long)(reports > 0 ? reports : 0));
}

/* The duplicate's similarity as the schema has it, a number in 0..1: the
 * writer would put null for NaN or an infinity, and a rounding must not
 * go past 1. An exact duplicate is 1 whatever it says. */
static double similarity(const struct candidate_update *u)
{
    double s = u->similarity;
    if (u->dedup && strcmp(u->dedup, "exact") == 0) {
        return 1;
    }
    if (!isfinite(s) || s < 0) {
        return 0;
    }
    return s > 1 ? 1 : s;
}

int candidate_update_json(const struct candidate_update *u, struct ig_buf *out)
{
    const struct ig_item *it;
    struct ig_jsonw w;
    char uid[CANDIDATE_UPDATE_ID_MAX];
    size_t i, start, max_len;

    if (!u || !u->id || !u->item || !out) {
        return IG_EINVAL;
    }
    it = u->item;
    candidate_update_id(u->id, u->reports, uid);
    start = record_begin(out, &max_len);
    ig_jsonw_init(&w, out);
    ig_jsonw_obj_open(&w);
    ig_jsonw_kint(&w, "schema", CANDIDATE_SCHEMA_VERSION);
    ig_jsonw_kstr(&w, "type", "update");
    ig_jsonw_kstr(&w, "id", u->id);
    ig_jsonw_kstr(&w, "update_id", uid);
    ig_jsonw_kint(&w, "reports", u->reports > 0 ? u->reports : 1);
    ig_jsonw_key(&w, "channels");
    ig_jsonw_arr_open(&w);
    for (i = 0; u->channels && i < u->nchannels; i++) {
        ig_jsonw_str(&w, u->channels[i]);
    }
    ig_jsonw_arr_close(&w);

    /* Only the priority of the routing keys: place, units and track
     * belong to the original, which the platform already has. */
    ig_jsonw_key(&w, "priority");
    ig_jsonw_obj_open(&w);
    ig_jsonw_kstr(
        &w, "level",
        route_level_name(u->route ? u->route->level : ROUTE_LEVEL_NORMAL));
    ig_jsonw_key(&w, "reasons");
    ig_jsonw_arr_open(&w);
    for (i = 0; u->route && i < u->route->nreasons; i++) {
        ig_jsonw_str(&w, u->route->reasons[i]);
    }
    ig_jsonw_arr_close(&w);
    ig_jsonw_obj_close(&w);
    ig_jsonw_kstr(&w, "received", u->received ? u->received : it->fetched);

    /* The report that caused the update. */
    ig_jsonw_key(&w, "duplicate");
    ig_jsonw_obj_open(&w);
    ig_jsonw_kstr(&w, "id", u->dup_id);
    ig_jsonw_kstr(&w, "source", it->source_id);
    ig_jsonw_kstr(&w, "channel", it->channel);
    ig_jsonw_kstr(&w, "external_id", it->ext_id);
    ig_jsonw_kstr(&w, "title", it->title);
    ig_jsonw_kstr(&w, "dedup", u->dedup ? u->dedup : "exact");
    ig_jsonw_knum(&w, "similarity", similarity(u));
    ig_jsonw_obj_close(&w);
    ig_jsonw_obj_close(&w);
    return record_end(out, start, max_len);
}
