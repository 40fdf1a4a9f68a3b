/* connector_int.h — helpers shared by the connector kinds only.
 *
 * Nobody outside connectors/ includes this file. It declares the ops
 * tables of the built-in kinds (registry.c lists them) and the small
 * helpers every kind needs: reading its own config keys next to the common
 * ones, making an item stamped with the source, giving it its time (or
 * the flag saying why it has none), emitting and skipping with the sink's
 * counters and cap.
 *
 * Owner: fetch engineer (hotline/file/registry). The parsers engineer's
 * kinds (rss, letters, web) define the three tables below.
 */
#ifndef IG_CONNECTORS_CONNECTOR_INT_H
#define IG_CONNECTORS_CONNECTOR_INT_H

#include <stdarg.h>

#include "connectors/connector.h"

extern const struct connector_ops connector_rss;
extern const struct connector_ops connector_letters;
extern const struct connector_ops connector_web;
extern const struct connector_ops connector_hotline;
extern const struct connector_ops connector_file;

/* Fills obj from c->cfg per the kind's schema, reading only the keys the
 * schema knows: gateway/sources.c has already reported unknown keys once
 * against the common and the kind's tables. Returns IG_OK or IG_EINVAL
 * with errors in d (bad values, missing required keys).
 * With c->cfg NULL (a connector built in a test without a section) only
 * the defaults are applied. */
int connector_cfg_apply(struct connector *c, const struct ig_cfg_field *schema,
                        void *obj, struct ig_diags *d);

/* Adds an error about key of c's section to d (file:line:col of the key's
 * value when the key is present, else of the section header). */
void connector_cfg_error(struct connector *c, struct ig_diags *d,
                         const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Returns a new item with source_id, channel (c->conf.channel or the
 * kind's default) and fetched/fetched_ts (from fetched_ts; 0 = now) set.
 * Never NULL. */
struct ig_item *connector_item_new(const struct connector *c,
                                   int64_t fetched_ts);

struct date_opts;
/* The date options of work-order times, polled from the hotline or pushed
 * by it — one policy for both: date_opts_default() (zone-less = +08:00)
 * with years 1990..2100 only (a year outside is a bug in the sender:
 * 0000-00-00, 1970 defaults, 9999 sentinels; the item is kept without a
 * date instead) and no "now", so relative and year-less forms ("3小时前",
 * "11月27日 23:58") are not guessed: a work order states its time. */
void connector_work_order_dates(struct date_opts *o);

/* Sets it->published_ts = ts and it->published = ts as ISO 8601 at
 * offset_min (the offset the source stated, or its local one). */
void connector_item_set_time(struct ig_item *it, int64_t ts, int offset_min);

/* Flags it IG_ITEM_F_NO_DATE: "no WHAT" when raw is NULL, else
 * "unparseable WHAT" with raw kept as field raw_date. */
void connector_item_no_time(struct ig_item *it, const char *raw,
                            const char *what);

/* Reads raw (NULL: none) with date_parse() and o: sets the item's time
 * (connector_item_set_time()), or flags it (connector_item_no_time(),
 * naming WHAT). */
void connector_item_read_time(struct ig_item *it, const char *raw,
                              const struct date_opts *o, const char *what);

/* Hands it to the sink (ownership transferred in every case). Counts it,
 * and counts it as flagged when it->flags is set. Returns IG_OK, IG_E2BIG
 * when sink->max_items was already reached (the item is freed, the caller
 * should stop), or the sink callback's error. */
int connector_emit(struct connector_sink *sink, struct ig_item *it);

/* Records one skipped item: counts it and adds a warning diagnostic
 * "source-id: msg" to sink->diags (when set). */
void connector_skip(struct connector_sink *sink, const struct connector *c,
                    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records why the document failed in sink->error (replacing an earlier
 * message) and returns rc, so a kind can `return connector_fail(sink,
 * IG_EPARSE, "not JSON at offset %zu", off);`. The message must not hold
 * secrets; it ends up in the source's health record. */
int connector_fail(struct connector_sink *sink, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Resolves ref against base (RFC 3986) into a new string (ig_free), or
 * NULL when the result would not be an http(s) URL. */
char *connector_resolve_url(const char *base, const char *ref);

#endif
