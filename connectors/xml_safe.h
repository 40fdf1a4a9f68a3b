/* xml_safe.h — the one hardened way the parsing kinds use libxml2.
 *
 * Internal to connectors/ (rss.c, xmlfeed.c, webpage.c, html_text.c):
 * exposes libxml2 types, so nothing outside connectors/ includes it.
 * Everything a hostile feed could use against libxml2 is shut here, once:
 * see xml_safe.c for the list and the reasons.
 */
#ifndef IG_CONNECTORS_XML_SAFE_H
#define IG_CONNECTORS_XML_SAFE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "connectors/charset.h"
#include "core/buf.h"

struct connector_sink;
struct ig_item;

/* Default caps, overridable per source by the kinds' schemas. Why these
 * values: 16 MiB is ten times the largest real feed we know of and keeps
 * a full libxml2 tree well under 256 MB; 1 MiB of text is a long novel,
 * not a news item or a complaint; 500 items is more than any list page or
 * feed gives in one poll, and stops a 200k-item feed from flooding. */
#define XML_SAFE_MAX_BODY (16u * 1024u * 1024u)
#define XML_SAFE_MAX_FIELD (1024u * 1024u)
#define XML_SAFE_MAX_ITEMS 500u
/* Depth cap of our own tree walkers (libxml2 itself stops at 256). */
#define XML_SAFE_MAX_DEPTH 512u

/* What happened while a document was read. */
struct xml_safe_info {
    struct charset_result cs; /* charset decision */
    bool recovered;           /* strict parse failed, recover mode used */
    bool repaired;            /* control chars / bad refs dropped */
    char error[160];          /* first parser error, "" when none */
    int error_line;
};

/* Installs the refusing external entity loader (idempotent, thread-safe;
 * called by every read function). */
void xml_safe_init(void);

/* Test hook: called with the URL whenever the refusing loader is asked
 * to load something (it refuses anyway). NULL to clear. */
void xml_safe_set_loader_hook(void (*hook)(const char *url));

/* Reads an XML document: size cap (IG_E2BIG), empty check (IG_EPARSE
 * "empty document"), charset decoding to UTF-8, DOCTYPE entity
 * declarations refused (IG_EPARSE), illegal control characters dropped,
 * HTML named entities mapped to numeric references, then a strict parse
 * with no entity expansion, no DTD, no network, no XInclude and the
 * default depth/size limits; if that fails, one recover-mode parse
 * (info->recovered). On error *doc is NULL and a message is in errbuf.
 * The caller frees *doc with xmlFreeDoc(). Any thread. */
int xml_safe_read_xml(const char *body, size_t len, const char *content_type,
                      const char *url, size_t max_body, xmlDoc **doc,
                      struct xml_safe_info *info, char *errbuf, size_t errsz);

/* Reads an HTML page with the same defences (libxml2 HTML parser, always
 * recovering). info->recovered is set when the parser had to stop early
 * (depth limit): the tree is then partial. */
int xml_safe_read_html(const char *body, size_t len, const char *content_type,
                       const char *url, size_t max_body, xmlDoc **doc,
                       struct xml_safe_info *info, char *errbuf, size_t errsz);

/* Parses an HTML fragment that is already UTF-8 (a description's
 * markup). Returns NULL if libxml2 gives up. */
xmlDoc *xml_safe_read_html_fragment(const char *html, size_t len);

/* The concatenated text of node's descendants (text and CDATA only; entity
 * references are never followed), iterative, appended to out. Returns
 * IG_OK or IG_E2BIG when out's cap was hit (the text so far is kept). */
int xml_safe_node_text(const xmlNode *node, struct ig_buf *out);

/* Appends s[0..n) to out; when out's cap is hit, appends the longest
 * prefix that fits without cutting a UTF-8 sequence and returns
 * IG_E2BIG. */
int xml_safe_add_capped(struct ig_buf *out, const char *s, size_t n);

/* Sets the item flags that a document-level info implies. */
void xml_safe_flag_item(struct ig_item *it, const struct xml_safe_info *info);

/* Adds a diagnostic (error or warning) for source id to sink->diags when
 * there is one. */
void xml_safe_report(struct connector_sink *sink, const char *source_id,
                     bool error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Reports, as a warning for source_id, a charset declaration that the
 * bytes contradicted (info->cs.mismatch); does nothing otherwise. */
void xml_safe_report_charset(struct connector_sink *sink, const char *source_id,
                             const struct xml_safe_info *info);

#endif
