/* xmlfeed.c — the `letters` kind: letters-and-visits (信访) XML exports.
 *
 * Design: these exports have no standard schema (element names are often
 * pinyin initials: xfbh = 信访编号, bt = 标题, djsj = 登记时间), so the kind
 * is a mapping, not a format: `item` selects each record with XPath and the
 * keys id, title, content, time, address, author and link (and any number
 * of field.NAME raw fields) are XPaths relative to the record. A record
 * with no link gets one from link_template ("...?xfbh={id}"). Reading goes
 * through the same hardened gate as rss (xml_safe.c) and the same mapping
 * code as web (xpath.c). A document whose `item` matches nothing is an
 * error (an export whose schema changed must not look like "no new
 * letters"); a record with no id, title or content is skipped and counted.
 *
 * Adding a similar kind: an ops table, a schema, a registry line, a build
 * option, fixtures and an example config section (CONVENTIONS.md 11).
 */
#include "connectors/feed_int.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "connectors/connector.h"
#include "connectors/connector_int.h"
#include "connectors/xml_safe.h"
#include "core/cfg.h"
#include "core/err.h"
#include "core/item.h"
#include "core/mem.h"

struct letters_conf {
    struct feed_map_conf map;
};

#define OFF(f) offsetof(struct letters_conf, map.f)
static const struct ig_cfg_field letters_schema[] = {
    {"item", IG_CFG_STR, NULL, OFF(item),
     "XPath selecting each record, e.g. //record", IG_CFG_F_REQUIRED, NULL},
    {"id", IG_CFG_STR, NULL, OFF(id),
     "XPath (relative to the record) of the record number", 0, NULL},
    {"title", IG_CFG_STR, NULL, OFF(title), "XPath of the title", 0, NULL},
    {"content", IG_CFG_STR, NULL, OFF(content),
     "XPath of the letter's text (all matches joined)", 0, NULL},
    {"time", IG_CFG_STR, NULL, OFF(time),
     "XPath of the registration/publication time", 0, NULL},
    {"address", IG_CFG_STR, NULL, OFF(address), "XPath of the address or town",
     0, NULL},
    {"author", IG_CFG_STR, NULL, OFF(author),
     "XPath of the writer (as the source masks it)", 0, NULL},
    {"link", IG_CFG_STR, NULL, OFF(link),
     "XPath of a link to the record, resolved against the feed URL", 0, NULL},
    {"link_template", IG_CFG_STR, NULL, OFF(link_template),
     "link for records without one: {id}, {title} or {FIELD} expanded", 0,
     NULL},
    {"id_param", IG_CFG_STR, NULL, OFF(id_param),
     "take the id from this query parameter of the link", 0, NULL},
    {"field", IG_CFG_MAP, NULL, OFF(fields),
     "field.NAME = XPath: extra raw fields kept with the item", 0, NULL},
    {"timezone", IG_CFG_STR, "+08:00", OFF(timezone),
     "zone of times that state none: an offset or Asia/Shanghai", 0, NULL},
    {"cst", IG_CFG_ENUM, "china", OFF(cst),
     "meaning of the zone name CST: china (+08:00) or us (-06:00)", 0,
     feed_cst_choices},
    {0},
};
#undef OFF

struct letters_ctx {
    struct letters_conf conf;
    struct feed_map map;
};

static int letters_init(struct connector *c, struct ig_diags *d)
{
    struct letters_ctx *x = ig_calloc(1, sizeof(*x));
    int rc;
    c->ctx = x;
    rc = connector_cfg_apply(c, letters_schema, &x->conf, d);
    if (rc < 0) {
        return rc;
    }
    return feed_map_init(&x->map, c, &x->conf.map, false, d);
}

static void letters_fini(struct connector *c)
{
    struct letters_ctx *x = c->ctx;
    if (x == NULL) {
        return;
    }
    feed_map_fini(&x->map);
    ig_cfg_free(letters_schema, &x->conf);
    ig_free(x);
    c->ctx = NULL;
}

static int letters_request(struct connector *c, struct connector_req *out)
{
    memset(out, 0, sizeof(*out));
    out->url = ig_strdup(c->conf.url);
    connector_req_add_header(out, "Accept",
                             "application/xml, text/xml;q=0.9, */*;q=0.5");
    return IG_OK;
}

static int letters_parse(struct connector *c, const struct connector_resp *in,
                         struct connector_sink *sink)
{
    struct letters_ctx *x = c->ctx;
    struct xml_safe_info info;
    xmlDoc *doc = NULL;
    xmlXPathContextPtr xc = NULL;
    xmlNode **recs = NULL;
    size_t nrecs = 0;
    /* Look at one record more than the cap, to say the cap was hit. */
    size_t max_recs = sink->max_items > 0 ? sink->max_items + 1 : 100001;
    int rc;

    rc = feed_open_doc(c, in, false, sink, &doc, &xc, &info);
    if (rc < 0) {
        return rc;
    }
    if (strcasecmp((const char *)xmlDocGetRootElement(doc)->name, "html") ==
        0) {
        rc = connector_fail(sink, IG_EPARSE,
                            "not a letters feed: got an HTML page (status "
                            "%d)",
                            in->status);
        goto out;
    }
    recs = feed_xpath_nodes(xc, &x->map.item, NULL, max_recs, &nrecs);
    if (nrecs == 0) {
        rc = connector_fail(sink, IG_EPARSE,
                            "no records: item XPath '%s' matched nothing "
                            "(export format changed?)",
                            x->map.item.src);
        goto out;
    }
    xml_safe_report_charset(sink, c->id, &info);
    for (size_t i = 0; i < nrecs; i++) {
        struct ig_item *it = connector_item_new(c, in->fetched_ts);
        feed_map_record(&x->map, xc, recs[i], in->url, it);
        if (it->ext_id == NULL && it->title == NULL && it->text == NULL) {
            ig_item_free(it);
            connector_skip(sink, c,
                           "record %zu skipped: no id, title or "
                           "content",
                           i + 1);
            continue;
        }
        xml_safe_flag_item(it, &info);
        rc = feed_emit_record(c, sink, it, "no time in the record");
        if (rc == IG_E2BIG) {
            break;
        }
        if (rc < 0) {
            goto out;
        }
    }
    rc = IG_OK;
out:
    ig_free(recs);
    if (xc != NULL) {
        xmlXPathFreeContext(xc);
    }
    xmlFreeDoc(doc);
    return rc;
}

const struct connector_ops connector_letters = {
    .kind = "letters",
    .channel = "letters",
    .schema = letters_schema,
    .init = letters_init,
    .request = letters_request,
    .parse = letters_parse,
    .fini = letters_fini,
};
