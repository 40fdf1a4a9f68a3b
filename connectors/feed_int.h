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
#include "core/cfg.h"

struct connector;
struct connector_resp;
struct connector_sink;
struct ig_item;
struct xml_safe_info;

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

/* Reads "timezone"/"cst" style settings into o. Returns IG_OK or
 * IG_EINVAL when tz is not an offset or known zone name. */
int feed_date_opts(struct date_opts *o, const char *tz, const char *cst);

/* The values of the kinds' "cst" key, as feed_date_opts() reads them:
 * "china" (+08:00) and "us" (-06:00); NULL-terminated, for the schema. */
extern const char *const feed_cst_choices[];

/* No id at the source: the link is the stable identity. Sets it->ext_id to
 * it->url (field id_from = link) when there is a link and no id. */
void feed_id_from_link(struct ig_item *it);

/* Emits a record mapped by feed_map_record() (letters, web): the link
 * stands in for a missing id (feed_id_from_link), a missing time is
 * flagged IG_ITEM_F_NO_DATE with no_time_why, and reaching the sink's item
 * cap is reported as a warning for c. Returns connector_emit()'s result
 * (IG_E2BIG: cap reached, stop); it is transferred in every case. */
int feed_emit_record(struct connector *c, struct connector_sink *sink,
                     struct ig_item *it, const char *no_time_why);

/* Max length of an item text field: 1 MiB (see xml_safe.h). */
size_t feed_max_field(void);

/* --- XPath mapping (letters, web; xpath.c) ------------------------------ */

struct _xmlXPathCompExpr;
struct _xmlXPathContext;

/* One configured XPath. */
struct feed_xpath {
    const char *name;               /* borrowed: field name */
    char *src;                      /* owned: the expression */
    struct _xmlXPathCompExpr *comp; /* owned */
};

/* Compiles src (quietly). Returns IG_OK or IG_EINVAL (bad syntax). */
int feed_xpath_compile(struct feed_xpath *x, const char *name, const char *src);
void feed_xpath_fini(struct feed_xpath *x);

/* A context for doc with an operation cap (a hostile page cannot make an
 * expression run for ever) and errors kept quiet. xmlXPathFreeContext()
 * frees it. */
struct _xmlXPathContext *feed_xpath_context(xmlDoc *doc);

/* Reads in->body through the hardened gate (xml_safe_read_html() when
 * html, else xml_safe_read_xml()) under c's max_bytes and makes an XPath
 * context on it. Returns IG_OK with *doc, *xc and *info set (the caller
 * frees *xc with xmlXPathFreeContext() and *doc with xmlFreeDoc()), or
 * the error, recorded with connector_fail(), with *doc and *xc NULL. */
int feed_open_doc(struct connector *c, const struct connector_resp *in,
                  bool html, struct connector_sink *sink, xmlDoc **doc,
                  struct _xmlXPathContext **xc, struct xml_safe_info *info);

/* Evaluates x relative to node and appends the visible text of the
 * result to out: attribute values, text nodes, element text (HTML reduced,
 * whitespace collapsed) or a string/number result. all: every node of the
 * set, separated by a space; else the first. Returns IG_OK (possibly
 * empty), IG_E2BIG (out's cap hit, text kept) or IG_EPARSE (evaluation
 * failed). */
int feed_xpath_text(struct _xmlXPathContext *ctx, const struct feed_xpath *x,
                    xmlNode *node, bool all, struct ig_buf *out);

/* Evaluates x relative to node (NULL: the document) and returns the
 * element nodes it selects in document order, up to max (an array the
 * caller frees with ig_free, *n its length), or NULL with *n = 0. */
xmlNode **feed_xpath_nodes(struct _xmlXPathContext *ctx,
                           const struct feed_xpath *x, xmlNode *node,
                           size_t max, size_t *n);

/* Expands "{name}" placeholders of tmpl with item values (id, title,
 * link, or a raw field) percent-encoded; appends to out. Unknown names
 * expand to nothing. Returns IG_OK or IG_E2BIG. */
int feed_expand_template(const char *tmpl, const struct ig_item *it,
                         struct ig_buf *out);

/* Returns the value of query parameter name in url (copied into out), or
 * false. */
bool feed_query_param(const char *url, const char *name, struct ig_buf *out);

/* --- record mapping shared by letters and web --------------------------- */

/* Config keys of a mapping (embedded in each kind's config struct; the
 * kinds' schema tables point into it). */
struct feed_map_conf {
    char *item; /* XPath of one record/post (required) */
    char *id;   /* XPaths relative to the record ... */
    char *title;
    char *content;
    char *time;
    char *address;
    char *author;
    char *link;
    char *id_param;      /* query parameter of the link holding the id */
    char *link_template; /* "https://x/detail?id={id}" */
    char *timezone;
    char *cst;
    struct ig_cfg_list fields; /* MAP field.NAME = XPath: raw fields */
};

/* Compiled mapping. */
struct feed_map {
    struct feed_xpath item, id, title, content, time, address, author, link;
    struct feed_xpath *extra; /* owned array */
    size_t nextra;
    const struct feed_map_conf *conf; /* borrowed */
    struct date_opts dopts;
};

/* Compiles every XPath of conf (item required unless item_optional);
 * errors name the key. Returns IG_OK or IG_EINVAL. */
int feed_map_init(struct feed_map *m, struct connector *c,
                  const struct feed_map_conf *conf, bool item_optional,
                  struct ig_diags *d);
void feed_map_fini(struct feed_map *m);

/* Fills it from record node: title, text, id (XPath, id_param of the
 * link, or the link), link (resolved against base, or link_template),
 * author, place, date, raw fields. Existing values of it are replaced only
 * by non-empty ones. A field cut at its cap flags it IG_ITEM_F_TRUNCATED. */
void feed_map_record(const struct feed_map *m, struct _xmlXPathContext *ctx,
                     xmlNode *node, const char *base, struct ig_item *it);

#endif
