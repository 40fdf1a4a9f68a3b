/* feed_int.h — helpers shared by the parsing kinds (rss, letters, web).
 *
 * Internal to connectors/ (and the parser tests). Holds what the three
 * libxml2-based kinds do alike: element text with caps, dates with the
 * source's zone policy, links, and the feed-level metadata the rss parser
 * exposes to its tests.
 */
#ifndef IG_CONNECTORS_FEED_INT_H
#define IG_CONNECTORS_FEED_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "connectors/date.h"
#include "core/buf.h"

struct connector;
struct connector_resp;
struct connector_sink;
struct ig_item;

/* Channel-level values of a feed (for tests and `intake poll`). */
struct rss_feed_meta {
    struct ig_buf title; /* plain text */
    struct ig_buf link;  /* absolute when a base was known */
    char format[16];     /* "rss20", "rss090", "rdf", "atom10", ... */
};

void rss_feed_meta_init(struct rss_feed_meta *m);
void rss_feed_meta_fini(struct rss_feed_meta *m);

/* parse() of the rss kind, also filling meta when it is not NULL. */
int rss_parse_meta(struct connector *c, const struct connector_resp *in,
                   struct connector_sink *sink, struct rss_feed_meta *meta);

/* Sets it->published/_ts from raw (kept as field raw_date); flags
 * IG_ITEM_F_NO_DATE when raw is NULL/empty or unparseable. */
void feed_set_date(struct ig_item *it, const char *raw,
                   const struct date_opts *o);

/* Stores text in the item as a capped field: copies s[0..n) (valid UTF-8
 * expected) into the arena; returns the copy. */
const char *feed_strndup(struct ig_item *it, const char *s, size_t n);

/* Reads "timezone"/"cst" style settings into o. Returns IG_OK or
 * IG_EINVAL when tz is not an offset or known zone name. */
int feed_date_opts(struct date_opts *o, const char *tz, const char *cst);

/* Max length of an item text field: 1 MiB (see xml_safe.h). */
size_t feed_max_field(void);

#endif
