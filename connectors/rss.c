/* rss.c — the `rss` kind: RSS 0.9x, RSS 1.0 (RDF), RSS 2.0, Atom 0.3/1.0.
 *
 * Design: one tree walk over the hardened libxml2 document (xml_safe.c)
 * that recognises the format by its root element (rss, rdf:RDF, feed) and
 * then reads each item's children by local name and namespace, so the
 * dialects share one code path and unknown extensions are ignored. The
 * precedence rules follow feedparser, whose test suite we run: content
 * (content:encoded, atom:content, xhtml:body) before description/summary;
 * published (pubDate, dc:date, atom:published/issued/created) before
 * updated/modified; a guid is a link only when isPermaLink is not "false".
 * Links resolve against xml:base, then the URL the feed was fetched from
 * (xmlNodeGetBase() combines both). Description and HTML content are
 * reduced to text by html_text.c; titles keep their characters unless
 * they carry markup. Dates go through date.c with the source's zone policy
 * (zone-less = +08:00 and CST = China by default; keys timezone and cst).
 *
 * Failure policy: an empty body, an HTML page where a feed was expected
 * (anti-bot walls) and a document that is not a feed are errors with a
 * reason, never "0 items"; an item with nothing usable is skipped and
 * counted; a document that needed recover mode yields items flagged
 * partial. Left out: enclosures, media RSS, iTunes, per-item images.
 */
#include "connectors/feed_int.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>
#include <libxml/xmlmemory.h>

#include "connectors/connector.h"
#include "connectors/connector_int.h"
#include "connectors/html_text.h"
#include "connectors/url.h"
#include "connectors/xml_safe.h"
#include "core/cfg.h"
#include "core/err.h"
#include "core/item.h"
#include "core/mem.h"
#include "core/text.h"

#define NS_ATOM10 "http://www.w3.org/2005/Atom"
#define NS_ATOM03 "http://purl.org/atom/ns#"
#define NS_RSS10 "http://purl.org/rss/1.0/"
#define NS_RSS090 "http://my.netscape.com/rdf/simple/0.9/"
#define NS_RDF "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
#define NS_CONTENT "http://purl.org/rss/1.0/modules/content/"
#define NS_DC "http://purl.org/dc/elements/1.1/"
#define NS_DCTERMS "http://purl.org/dc/terms/"
#define NS_XHTML "http://www.w3.org/1999/xhtml"

struct rss_conf {
    char *timezone;
    char *cst;
};

#define OFF(f) offsetof(struct rss_conf, f)
static const struct ig_cfg_field rss_schema[] = {
    {"timezone", IG_CFG_STR, "+08:00", OFF(timezone),
     "zone of dates that state none: an offset (+08:00) or Asia/Shanghai", 0,
     NULL},
    {"cst", IG_CFG_ENUM, "china", OFF(cst),
     "meaning of the zone name CST: china (+08:00) or us (-06:00)", 0,
     feed_cst_choices},
    {0},
};
#undef OFF

struct rss_ctx {
    struct rss_conf conf;
    struct date_opts dopts;
};

void rss_feed_meta_init(struct rss_feed_meta *m)
{
    ig_buf_init(&m->title, XML_SAFE_MAX_FIELD);
    ig_buf_init(&m->link, 8192);
    m->format[0] = '\0';
}

void rss_feed_meta_fini(struct rss_feed_meta *m)
{
    ig_buf_fini(&m->title);
    ig_buf_fini(&m->link);
}

static int rss_init(struct connector *c, struct ig_diags *d)
{
    struct rss_ctx *x = ig_calloc(1, sizeof(*x));
    int rc;
    c->ctx = x;
    rc = connector_cfg_apply(c, rss_schema, &x->conf, d);
    if (rc < 0) {
        return rc;
    }
    if (feed_date_opts(&x->dopts, x->conf.timezone, x->conf.cst) < 0) {
        connector_cfg_error(c, d, "timezone",
                            "not an offset or known zone: '%s'",
                            x->conf.timezone);
        return IG_EINVAL;
    }
    return IG_OK;
}

static void rss_fini(struct connector *c)
{
    struct rss_ctx *x = c->ctx;
    if (x == NULL) {
        return;
    }
    ig_cfg_free(rss_schema, &x->conf);
    ig_free(x);
    c->ctx = NULL;
}

static int rss_request(struct connector *c, struct connector_req *out)
{
    memset(out, 0, sizeof(*out));
    out->url = ig_strdup(c->conf.url);
    connector_req_add_header(
        out, "Accept",
        "application/rss+xml, application/atom+xml, application/rdf+xml, "
        "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5");
    return IG_OK;
}

/* --- small tree helpers ------------------------------------------------ */

static bool ns_is(const xmlNode *n, const char *ns)
{
    if (ns == NULL) {
        return n->ns == NULL || n->ns->href == NULL;
    }
    return n->ns != NULL && n->ns->href != NULL &&
           strcmp((const char *)n->ns->href, ns) == 0;
}

static bool name_is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->name != NULL &&
           strcmp((const char *)n->name, name) == 0;
}

/* True for the namespaces an item's own elements may be in: none, the
 * known feed namespaces, or the namespace of the parent (early Atom drafts
 * and RSS 2.0 with a default namespace used many private URIs). */
static bool ns_feed(const xmlNode *n)
{
    if (ns_is(n, NULL) || ns_is(n, NS_ATOM10) || ns_is(n, NS_ATOM03) ||
        ns_is(n, NS_RSS10) || ns_is(n, NS_RSS090)) {
        return true;
    }
    return n->parent != NULL && n->parent->type == XML_ELEMENT_NODE &&
           n->parent->ns != NULL && n->ns == n->parent->ns;
}

static const char *attr(const xmlNode *n, const char *name, char *buf,
                        size_t bufsz)
{
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
    if (v == NULL) {
        return NULL;
    }
    snprintf(buf, bufsz, "%s", (const char *)v);
    xmlFree(v);
    return buf;
}

/* Plain text of an element, trimmed, into out (capped). Returns true when
 * the cap was hit. */
static bool elem_text(const xmlNode *n, struct ig_buf *out)
{
    struct ig_buf raw;
    bool cut = false;
    ig_buf_init(&raw, out->max_len);
    if (xml_safe_node_text(n, &raw) == IG_E2BIG) {
        cut = true;
    }
    const char *s = raw.data != NULL ? raw.data : "";
    size_t len = raw.len;
    while (len > 0 && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)s[len - 1])) {
        len--;
    }
    /* Newlines and tabs inside a one-line field become spaces. */
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '\n' || ch == '\r' || ch == '\t') {
            size_t j = i;
            while (j < len && isspace((unsigned char)s[j])) {
                j++;
            }
            ig_buf_addc(out, ' ');
            i = j - 1;
        } else if (ig_buf_addc(out, ch) < 0) {
            cut = true;
            break;
        }
    }
    ig_buf_fini(&raw);
    return cut;
}

/* How a text construct is to be read. */
enum tmode {
    TM_TEXT,
    TM_HTML,      /* HTML by default (RSS description): parsed if tagged */
    TM_HTML_DECL, /* declared HTML (type="html"): always parsed */
    TM_XHTML,
};

/* Decodes base64 (Atom 0.3 mode="base64") in place; returns the new
 * length. Invalid characters are skipped. */
static size_t base64_decode(char *s, size_t n)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int v;
        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';
        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;
        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;
        } else if (c == '+') {
            v = 62;
        } else if (c == '/') {
            v = 63;
        } else {
            continue;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            s[o++] = (char)((acc >> bits) & 0xFF);
        }
    }
    return o;
}

/* Atom/RSS type attribute -> mode. RSS descriptions default to HTML. */
static enum tmode text_mode(const xmlNode *n, enum tmode def)
{
    char b[64];
    const char *t = attr(n, "type", b, sizeof(b));
    const char *mode = NULL;
    char mb[32];
    mode = attr(n, "mode", mb, sizeof(mb));
    if (mode != NULL && strcmp(mode, "xml") == 0) {
        return TM_XHTML;
    }
    if (t == NULL) {
        return def;
    }
    if (strcmp(t, "xhtml") == 0 || strstr(t, "xhtml") != NULL) {
        return TM_XHTML;
    }
    if (strcmp(t, "html") == 0 || strstr(t, "html") != NULL) {
        return TM_HTML_DECL;
    }
    if (strcmp(t, "text") == 0 || strncmp(t, "text/", 5) == 0) {
        return TM_TEXT;
    }
    return def;
}

/* Reads a text construct as plain text into out. Returns true when a cap
 * was hit. */
static bool has_element_child(const xmlNode *n)
{
    for (const xmlNode *k = n->children; k != NULL; k = k->next) {
        if (k->type == XML_ELEMENT_NODE) {
            return true;
        }
    }
    return false;
}

/* Atom 1.0: a type that is neither text nor XML is base64 (RFC 4287
 * 3.1.1.3); Atom 0.3 says so with mode="base64". */
static bool is_base64(const xmlNode *n)
{
    char mb[16];
    char tb[64];
    const char *m = attr(n, "mode", mb, sizeof(mb));
    if (m != NULL) {
        return strcmp(m, "base64") == 0;
    }
    const char *t = attr(n, "type", tb, sizeof(tb));
    if (t == NULL || strchr(t, '/') == NULL || strncmp(t, "text/", 5) == 0) {
        return false;
    }
    size_t tl = strlen(t);
    return !(tl >= 4 && (strcmp(t + tl - 4, "+xml") == 0 ||
                         strcmp(t + tl - 4, "/xml") == 0));
}

static bool construct_text(const xmlNode *n, enum tmode mode,
                           struct ig_buf *out)
{
    /* Element children are inline (X)HTML, whatever the type says. */
    if (mode == TM_XHTML || has_element_child(n)) {
        return html_node_to_text(n, out) == IG_E2BIG;
    }
    struct ig_buf raw;
    bool cut;
    ig_buf_init(&raw, out->max_len);
    cut = elem_text(n, &raw);
    if (is_base64(n) && raw.data != NULL) {
        raw.len = base64_decode(raw.data, raw.len);
        raw.data[raw.len] = '\0';
        /* Decoded bytes are untrusted: keep only valid UTF-8. */
        if (!ig_utf8_valid(raw.data, raw.len) ||
            memchr(raw.data, '\0', raw.len) != NULL) {
            raw.len = 0;
            raw.data[0] = '\0';
        }
    }
    const char *s = raw.data != NULL ? raw.data : "";
    if (mode == TM_HTML_DECL && raw.len > 0) {
        /* Declared HTML is decoded even without tags ("AT&amp;amp;T"). */
        xmlDoc *d = xml_safe_read_html_fragment(s, raw.len);
        if (d != NULL) {
            cut = html_node_to_text((const xmlNode *)d, out) == IG_E2BIG || cut;
            xmlFreeDoc(d);
        }
    } else if (mode == TM_HTML || html_text_has_markup(s, raw.len)) {
        if (mode == TM_HTML || raw.len > 0) {
            cut = html_to_text(s, raw.len, out) == IG_E2BIG || cut;
        }
    } else {
        cut = ig_buf_add(out, s, raw.len) < 0 || cut;
    }
    ig_buf_fini(&raw);
    return cut;
}

/* Resolves ref against the base in effect at node (xml:base chain, then
 * the document URL) into out. */
static int resolve_at(const xmlDoc *doc, const xmlNode *node, const char *ref,
                      struct ig_buf *out)
{
    xmlChar *base = xmlNodeGetBase(doc, node);
    int rc = url_resolve((const char *)base, ref, strlen(ref), out);
    xmlFree(base);
    return rc;
}

/* --- one item ---------------------------------------------------------- */

struct item_parts {
    const xmlNode *title;
    const xmlNode *link;      /* RSS <link> text */
    const xmlNode *atom_link; /* best atom:link */
    int atom_link_rank;
    const xmlNode *guid;
    const xmlNode *id; /* atom:id */
    const xmlNode *content;
    const xmlNode *summary;
    const xmlNode *published;
    const xmlNode *updated;
    const xmlNode *author;
    const xmlNode *category;
};

/* Rank of an atom:link: rel=alternate (or none) beats the rest. */
static int link_rank(const xmlNode *n)
{
    char b[64];
    const char *rel = attr(n, "rel", b, sizeof(b));
    if (rel == NULL || strcmp(rel, "alternate") == 0) {
        char tb[64];
        const char *type = attr(n, "type", tb, sizeof(tb));
        return type == NULL || strstr(type, "html") != NULL ? 3 : 2;
    }
    if (strcmp(rel, "self") == 0 || strcmp(rel, "edit") == 0 ||
        strcmp(rel, "enclosure") == 0 || strcmp(rel, "replies") == 0 ||
        strcmp(rel, "license") == 0) {
        return 0;
    }
    return 1;
}

static void collect_parts(const xmlNode *item, struct item_parts *p)
{
    memset(p, 0, sizeof(*p));
    for (const xmlNode *n = item->children; n != NULL; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) {
            continue;
        }
        const char *nm = (const char *)n->name;
        bool feedns = ns_feed(n);
        bool atom = ns_is(n, NS_ATOM10) || ns_is(n, NS_ATOM03);
        if ((feedns && strcmp(nm, "title") == 0) ||
            (ns_is(n, NS_DC) && strcmp(nm, "title") == 0)) {
            /* dc:title only when there is no title of the feed's own. */
            if (p->title == NULL || (feedns && !ns_feed(p->title))) {
                p->title = n;
            }
        } else if (feedns && strcmp(nm, "link") == 0) {
            char hb[8];
            char rb[8];
            /* An atom:link carries href; one with text content and a rel
             * (seen in the wild) is read like an RSS link. */
            bool has_href = attr(n, "href", hb, sizeof(hb)) != NULL;
            if (!has_href && attr(n, "rel", rb, sizeof(rb)) != NULL) {
                if (link_rank(n) >= 2 && p->link == NULL) {
                    p->link = n;
                }
            } else if (has_href || atom) {
                int r = link_rank(n);
                if (r > 0 && (p->atom_link == NULL || r > p->atom_link_rank)) {
                    p->atom_link = n;
                    p->atom_link_rank = r;
                }
            } else if (p->link == NULL) {
                p->link = n;
            }
        } else if (feedns && strcmp(nm, "guid") == 0) {
            if (p->guid == NULL) {
                p->guid = n;
            }
        } else if (feedns && strcmp(nm, "id") == 0) {
            if (p->id == NULL) {
                p->id = n;
            }
        } else if ((ns_is(n, NS_CONTENT) && strcmp(nm, "encoded") == 0) ||
                   (feedns &&
                    (strcmp(nm, "content") == 0 ||
                     strcmp(nm, "fullitem") == 0 || strcmp(nm, "body") == 0)) ||
                   (ns_is(n, NS_XHTML) && strcmp(nm, "body") == 0)) {
            if (p->content == NULL) {
                p->content = n;
            }
        } else if ((feedns && (strcmp(nm, "description") == 0 ||
                               strcmp(nm, "summary") == 0)) ||
                   (ns_is(n, NS_DC) && strcmp(nm, "description") == 0)) {
            if (p->summary == NULL) {
                p->summary = n;
            }
        } else if ((feedns && (strcmp(nm, "pubDate") == 0 ||
                               strcmp(nm, "published") == 0 ||
                               strcmp(nm, "issued") == 0 ||
                               strcmp(nm, "created") == 0)) ||
                   (ns_is(n, NS_DC) && strcmp(nm, "date") == 0) ||
                   (ns_is(n, NS_DCTERMS) && (strcmp(nm, "issued") == 0 ||
                                             strcmp(nm, "created") == 0))) {
            if (p->published == NULL) {
                p->published = n;
            }
        } else if ((feedns && (strcmp(nm, "updated") == 0 ||
                               strcmp(nm, "modified") == 0 ||
                               strcmp(nm, "lastBuildDate") == 0)) ||
                   (ns_is(n, NS_DCTERMS) && strcmp(nm, "modified") == 0)) {
            if (p->updated == NULL) {
                p->updated = n;
            }
        } else if ((feedns && strcmp(nm, "author") == 0) ||
                   (ns_is(n, NS_DC) && strcmp(nm, "creator") == 0)) {
            if (p->author == NULL) {
                p->author = n;
            }
        } else if ((feedns && strcmp(nm, "category") == 0) ||
                   (ns_is(n, NS_DC) && strcmp(nm, "subject") == 0)) {
            if (p->category == NULL) {
                p->category = n;
            }
        }
    }
}

/* Stores buf in the item (arena copy) or NULL when empty. */
static const char *keep(struct ig_item *it, const struct ig_buf *b)
{
    if (b->len == 0) {
        return NULL;
    }
    return ig_item_strndup(it, b->data, b->len);
}

/* Builds one item; returns NULL (with *why set) when it has nothing. */
static struct ig_item *build_item(struct connector *c, const struct rss_ctx *x,
                                  const xmlDoc *doc, const xmlNode *item,
                                  bool atom, int64_t fetched_ts,
                                  const char **why)
{
    struct item_parts p;
    struct ig_buf b;
    struct ig_item *it = connector_item_new(c, fetched_ts);
    bool cut = false;
    char ab[16];

    collect_parts(item, &p);
    ig_buf_init(&b, XML_SAFE_MAX_FIELD);

    /* Title. */
    if (p.title != NULL) {
        cut |= construct_text(p.title, text_mode(p.title, TM_TEXT), &b);
        it->title = keep(it, &b);
        ig_buf_reset(&b);
    }

    /* Id: guid, atom:id, rdf:about. */
    const char *guid_text = NULL;
    bool guid_is_link = false;
    if (p.guid != NULL) {
        elem_text(p.guid, &b);
        guid_text = keep(it, &b);
        ig_buf_reset(&b);
        const char *pl = attr(p.guid, "isPermaLink", ab, sizeof(ab));
        guid_is_link =
            guid_text != NULL && (pl == NULL || strcasecmp(pl, "true") == 0);
        it->ext_id = guid_text;
    } else if (p.id != NULL) {
        elem_text(p.id, &b);
        it->ext_id = keep(it, &b);
        ig_buf_reset(&b);
    } else {
        xmlChar *about = xmlGetNsProp(item, (const xmlChar *)"about",
                                      (const xmlChar *)NS_RDF);
        if (about != NULL && about[0] != '\0') {
            it->ext_id = ig_item_strdup(it, (const char *)about);
        }
        xmlFree(about);
    }

    /* Link: <link>, atom:link, a permalink guid. */
    if (p.link != NULL) {
        struct ig_buf raw;
        ig_buf_init(&raw, 8192);
        elem_text(p.link, &raw);
        if (raw.len > 0 && resolve_at(doc, p.link, raw.data, &b) == IG_OK) {
            it->url = keep(it, &b);
        }
        ig_buf_fini(&raw);
        ig_buf_reset(&b);
    }
    if (it->url == NULL && p.atom_link != NULL) {
        xmlChar *href = xmlGetNoNsProp(p.atom_link, (const xmlChar *)"href");
        if (href != NULL &&
            resolve_at(doc, p.atom_link, (const char *)href, &b) == IG_OK) {
            it->url = keep(it, &b);
        }
        xmlFree(href);
        ig_buf_reset(&b);
    }
    if (it->url == NULL && guid_is_link) {
        if (resolve_at(doc, p.guid, guid_text, &b) == IG_OK &&
            (strncmp(b.data, "http://", 7) == 0 ||
             strncmp(b.data, "https://", 8) == 0)) {
            it->url = keep(it, &b);
        }
        ig_buf_reset(&b);
    }

    /* Text: full content first, else the summary/description. */
    const xmlNode *body = p.content != NULL ? p.content : p.summary;
    if (body == p.content && body != NULL) {
        cut |=
            construct_text(body, text_mode(body, atom ? TM_TEXT : TM_HTML), &b);
        if (b.len == 0 && p.summary != NULL) {
            body = p.summary;
        }
    }
    if (b.len == 0 && body != NULL) {
        ig_buf_reset(&b);
        cut |=
            construct_text(body, text_mode(body, atom ? TM_TEXT : TM_HTML), &b);
    }
    it->text = keep(it, &b);
    ig_buf_reset(&b);
    /* Both present: the summary is kept as a raw field. */
    if (body == p.content && p.summary != NULL) {
        construct_text(p.summary,
                       text_mode(p.summary, atom ? TM_TEXT : TM_HTML), &b);
        if (b.len > 0) {
            ig_item_add_field(it, "summary", b.data);
        }
        ig_buf_reset(&b);
    }

    /* Author: text, or atom:author/name. */
    if (p.author != NULL) {
        const xmlNode *a = p.author;
        for (const xmlNode *k = a->children; k != NULL; k = k->next) {
            if (name_is(k, "name")) {
                a = k;
                break;
            }
        }
        elem_text(a, &b);
        it->author = keep(it, &b);
        ig_buf_reset(&b);
    }
    if (p.category != NULL) {
        elem_text(p.category, &b);
        if (b.len == 0) {
            const char *term = attr(p.category, "term", ab, sizeof(ab));
            if (term != NULL) {
                ig_buf_adds(&b, term);
            }
        }
        if (b.len > 0) {
            ig_item_add_field(it, "category", b.data);
        }
        ig_buf_reset(&b);
    }

    /* Dates. */
    const xmlNode *dn = p.published != NULL ? p.published : p.updated;
    if (dn != NULL) {
        elem_text(dn, &b);
    }
    feed_set_date(it, b.len > 0 ? b.data : NULL, &x->dopts);
    ig_buf_reset(&b);
    if (p.updated != NULL && p.published != NULL) {
        elem_text(p.updated, &b);
        if (b.len > 0) {
            ig_item_add_field(it, "updated", b.data);
        }
        ig_buf_reset(&b);
    }
    ig_buf_fini(&b);

    if (cut) {
        ig_item_flag(it, IG_ITEM_F_TRUNCATED, "a field hit its size cap");
    }
    if (it->title == NULL && it->url == NULL && it->text == NULL &&
        it->ext_id == NULL && it->published == NULL && it->author == NULL &&
        it->nfields == 0) {
        *why = "item is empty";
        ig_item_free(it);
        return NULL;
    }
    feed_id_from_link(it);
    return it;
}

/* --- the document ------------------------------------------------------ */

/* True when the body is an HTML page (anti-bot wall, error page). */
static bool looks_like_html(const char *s, size_t n)
{
    size_t i = 0;
    size_t lim = n < 2048 ? n : 2048;
    /* Skip a UTF-8 BOM, whitespace and comments. */
    if (lim >= 3 && (unsigned char)s[0] == 0xEF) {
        i = 3;
    }
    for (;;) {
        while (i < lim && isspace((unsigned char)s[i])) {
            i++;
        }
        if (i + 4 <= lim && memcmp(s + i, "<!--", 4) == 0) {
            const char *e = memmem(s + i, lim - i, "-->", 3);
            if (e == NULL) {
                return false;
            }
            i = (size_t)(e - s) + 3;
            continue;
        }
        break;
    }
    return (i + 14 <= lim && strncasecmp(s + i, "<!doctype html", 14) == 0) ||
           (i + 5 <= lim && strncasecmp(s + i, "<html", 5) == 0);
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
    for (const xmlNode *k = n->children; k != NULL; k = k->next) {
        if (name_is(k, name) && ns_feed(k)) {
            return k;
        }
    }
    return NULL;
}

int rss_parse_meta(struct connector *c, const struct connector_resp *in,
                   struct connector_sink *sink, struct rss_feed_meta *meta)
{
    struct rss_ctx *x = c->ctx;
    struct xml_safe_info info;
    xmlDoc *doc = NULL;
    char err[256];
    int rc;
    bool atom = false;
    const xmlNode *root;
    const xmlNode *chan;
    size_t max_body = c->conf.max_bytes > 0 ? (size_t)c->conf.max_bytes : 0;
    size_t nseen = 0;
    bool capped = false;

    if (in->len > 0 && looks_like_html(in->body, in->len)) {
        return connector_fail(sink, IG_EPARSE,
                              "not a feed: got an HTML page (status %d; "
                              "anti-bot wall or error page?)",
                              in->status);
    }
    rc = xml_safe_read_xml(in->body, in->len, in->content_type, in->url,
                           max_body, &doc, &info, err, sizeof(err));
    if (rc < 0) {
        return connector_fail(sink, rc, "%s", err);
    }
    root = xmlDocGetRootElement(doc);
    const char *rn = (const char *)root->name;
    if (strcasecmp(rn, "html") == 0) {
        rc = connector_fail(sink, IG_EPARSE,
                            "not a feed: got an HTML page (status %d)",
                            in->status);
        goto out;
    }
    if (strcmp(rn, "feed") == 0) {
        atom = true;
        chan = root;
        if (meta != NULL) {
            snprintf(meta->format, sizeof(meta->format), "%s",
                     ns_is(root, NS_ATOM10)   ? "atom10"
                     : ns_is(root, NS_ATOM03) ? "atom03"
                                              : "atom");
        }
    } else if (strcmp(rn, "rss") == 0) {
        chan = child(root, "channel");
        if (chan == NULL) {
            chan = root;
        }
        if (meta != NULL) {
            snprintf(meta->format, sizeof(meta->format), "rss");
        }
    } else if (strcmp(rn, "RDF") == 0) {
        chan = child(root, "channel");
        if (chan == NULL) {
            chan = root;
        }
        if (meta != NULL) {
            snprintf(meta->format, sizeof(meta->format), "rdf");
        }
    } else if (strcmp(rn, "channel") == 0) {
        chan = root;
    } else {
        rc = connector_fail(sink, IG_EPARSE, "not a feed: root element <%.40s>",
                            rn);
        goto out;
    }
    xml_safe_report_charset(sink, c->id, &info);
    if (info.recovered) {
        xml_safe_report(sink, c->id, false,
                        "damaged XML recovered, items flagged partial: %s "
                        "(line %d)",
                        info.error, info.error_line);
    }

    /* Channel metadata. */
    if (meta != NULL) {
        const xmlNode *t = child(chan, "title");
        for (const xmlNode *k = chan->children; t == NULL && k != NULL;
             k = k->next) {
            if (name_is(k, "title") && ns_is(k, NS_DC)) {
                t = k;
            }
        }
        if (t != NULL) {
            construct_text(t, text_mode(t, TM_TEXT), &meta->title);
        }
        for (const xmlNode *k = chan->children; k != NULL; k = k->next) {
            if (!name_is(k, "link") || !ns_feed(k)) {
                continue;
            }
            xmlChar *href = xmlGetNoNsProp(k, (const xmlChar *)"href");
            if (href != NULL) {
                if (link_rank(k) >= 2) {
                    resolve_at(doc, k, (const char *)href, &meta->link);
                }
            } else {
                struct ig_buf raw;
                ig_buf_init(&raw, 8192);
                elem_text(k, &raw);
                if (raw.len > 0) {
                    resolve_at(doc, k, raw.data, &meta->link);
                }
                ig_buf_fini(&raw);
            }
            xmlFree(href);
            if (meta->link.len > 0) {
                break;
            }
        }
    }

    /* Items: children of the channel, and for RDF of the root too. */
    for (int pass = 0; pass < 2 && !capped; pass++) {
        const xmlNode *parent = pass == 0 ? chan : root;
        if (pass == 1 && parent == chan) {
            break;
        }
        for (const xmlNode *n = parent->children; n != NULL; n = n->next) {
            if (n->type != XML_ELEMENT_NODE || !ns_feed(n)) {
                continue;
            }
            if (!name_is(n, atom ? "entry" : "item")) {
                continue;
            }
            const char *why = NULL;
            nseen++;
            struct ig_item *it =
                build_item(c, x, doc, n, atom, in->fetched_ts, &why);
            if (it == NULL) {
                connector_skip(sink, c, "item %zu skipped: %s", nseen, why);
                continue;
            }
            xml_safe_flag_item(it, &info);
            rc = connector_emit(sink, it);
            if (rc == IG_E2BIG) {
                xml_safe_report(sink, c->id, false,
                                "item cap reached (%zu per poll): the rest "
                                "of the feed is left for later polls",
                                sink->max_items);
                capped = true;
                break;
            }
            if (rc < 0) {
                goto out;
            }
        }
    }
    if (nseen == 0) {
        xml_safe_report(sink, c->id, false, "feed has no items");
    }
    rc = IG_OK;
out:
    xmlFreeDoc(doc);
    return rc;
}

static int rss_parse(struct connector *c, const struct connector_resp *in,
                     struct connector_sink *sink)
{
    return rss_parse_meta(c, in, sink, NULL);
}

const struct connector_ops connector_rss = {
    .kind = "rss",
    .channel = "media",
    .schema = rss_schema,
    .init = rss_init,
    .request = rss_request,
    .parse = rss_parse,
    .fini = rss_fini,
};
