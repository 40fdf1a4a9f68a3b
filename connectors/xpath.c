/* xpath.c — XPath field mapping shared by the letters and web kinds.
 *
 * Design: expressions come from the sources file, so they are compiled
 * once at init (a typo is a config error with file:line, not a poll
 * failure) and evaluated relative to each item node with libxml2's
 * operation limit set, because the documents are hostile even when the
 * expressions are not. Results are read with the same iterative, entity-
 * blind text walkers as the rss kind, never with xmlNodeGetContent() or
 * XPath string() over arbitrary subtrees.
 */
#include "connectors/feed_int.h"

#include <string.h>

#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "connectors/connector.h"
#include "connectors/connector_int.h"
#include "connectors/html_text.h"
#include "connectors/url.h"
#include "connectors/xml_safe.h"
#include "core/err.h"
#include "core/item.h"
#include "core/mem.h"

/* Why 10 million: a list page of a few thousand nodes needs well under
 * 10^5 steps per expression; 10^7 still finishes in a fraction of a second
 * and stops a pathological descendant-axis query over a 16 MiB page. */
#define XPATH_OP_LIMIT 10000000ul

static void quiet(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static void quiet_s(void *ud, xmlErrorPtr e)
{
    (void)ud;
    (void)e;
}

int feed_xpath_compile(struct feed_xpath *x, const char *name, const char *src)
{
    memset(x, 0, sizeof(*x));
    x->name = name;
    if (src == NULL || src[0] == '\0') {
        return IG_EINVAL;
    }
    /* libxml2 prints compile errors through the generic handler. */
    xmlSetGenericErrorFunc(NULL, quiet);
    x->comp = xmlXPathCompile((const xmlChar *)src);
    xmlSetGenericErrorFunc(NULL, NULL);
    if (x->comp == NULL) {
        return IG_EINVAL;
    }
    x->src = ig_strdup(src);
    return IG_OK;
}

void feed_xpath_fini(struct feed_xpath *x)
{
    if (x->comp != NULL) {
        xmlXPathFreeCompExpr(x->comp);
    }
    ig_free(x->src);
    memset(x, 0, sizeof(*x));
}

xmlXPathContextPtr feed_xpath_context(xmlDoc *doc)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    if (ctx == NULL) {
        return NULL;
    }
    ctx->opLimit = XPATH_OP_LIMIT;
    ctx->error = quiet_s;
    return ctx;
}

int feed_open_doc(struct connector *c, const struct connector_resp *in,
                  bool html, struct connector_sink *sink, xmlDoc **doc,
                  xmlXPathContextPtr *xc, struct xml_safe_info *info)
{
    char err[256];
    size_t max_body = c->conf.max_bytes > 0 ? (size_t)c->conf.max_bytes : 0;
    int rc;
    if (html) {
        rc = xml_safe_read_html(in->body, in->len, in->content_type, in->url,
                                max_body, doc, info, err, sizeof(err));
    } else {
        rc = xml_safe_read_xml(in->body, in->len, in->content_type, in->url,
                               max_body, doc, info, err, sizeof(err));
    }
    *xc = NULL;
    if (rc < 0) {
        return connector_fail(sink, rc, "%s", err);
    }
    *xc = feed_xpath_context(*doc);
    if (*xc == NULL) {
        xmlFreeDoc(*doc);
        *doc = NULL;
        return connector_fail(sink, IG_EIO, "libxml2: no XPath context");
    }
    return IG_OK;
}

static xmlXPathObjectPtr eval(xmlXPathContextPtr ctx,
                              const struct feed_xpath *x, xmlNode *node)
{
    ctx->node = node != NULL ? node : (xmlNode *)ctx->doc;
    ctx->opCount = 0;
    return xmlXPathCompiledEval(x->comp, ctx);
}

/* Appends the text of one result node. */
static int node_text(xmlNode *n, struct ig_buf *out)
{
    if (n->type == XML_ATTRIBUTE_NODE) {
        xmlAttr *a = (xmlAttr *)n;
        struct ig_buf raw;
        int rc = IG_OK;
        ig_buf_init(&raw, out->max_len);
        for (xmlNode *k = a->children; k != NULL; k = k->next) {
            if (k->type == XML_TEXT_NODE && k->content != NULL) {
                rc = ig_buf_adds(&raw, (const char *)k->content);
                if (rc < 0) {
                    break;
                }
            }
        }
        int rc2 = html_text_collapse(raw.data ? raw.data : "", raw.len, out);
        ig_buf_fini(&raw);
        return rc < 0 ? rc : rc2;
    }
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        const char *s = n->content ? (const char *)n->content : "";
        return html_text_collapse(s, strlen(s), out);
    }
    if (n->type == XML_ELEMENT_NODE) {
        return html_node_to_text(n, out);
    }
    return IG_OK;
}

int feed_xpath_text(xmlXPathContextPtr ctx, const struct feed_xpath *x,
                    xmlNode *node, bool all, struct ig_buf *out)
{
    int rc = IG_OK;
    if (x->comp == NULL) {
        return IG_OK;
    }
    xmlXPathObjectPtr r = eval(ctx, x, node);
    if (r == NULL) {
        return IG_EPARSE;
    }
    switch (r->type) {
    case XPATH_NODESET:
        if (r->nodesetval == NULL) {
            break;
        }
        for (int i = 0; i < r->nodesetval->nodeNr; i++) {
            if (i > 0 && out->len > 0) {
                rc = ig_buf_addc(out, ' ');
                if (rc < 0) {
                    break;
                }
            }
            rc = node_text(r->nodesetval->nodeTab[i], out);
            if (rc < 0 || !all) {
                break;
            }
        }
        break;
    case XPATH_STRING:
    case XPATH_NUMBER:
    case XPATH_BOOLEAN: {
        xmlChar *s = xmlXPathCastToString(r);
        if (s != NULL) {
            rc = html_text_collapse((const char *)s, strlen((char *)s), out);
            xmlFree(s);
        }
        break;
    }
    default:
        break;
    }
    xmlXPathFreeObject(r);
    return rc;
}

xmlNode **feed_xpath_nodes(xmlXPathContextPtr ctx, const struct feed_xpath *x,
                           xmlNode *node, size_t max, size_t *n)
{
    xmlNode **v = NULL;
    *n = 0;
    xmlXPathObjectPtr r = eval(ctx, x, node);
    if (r == NULL) {
        return NULL;
    }
    if (r->type == XPATH_NODESET && r->nodesetval != NULL &&
        r->nodesetval->nodeNr > 0) {
        size_t cnt = (size_t)r->nodesetval->nodeNr;
        v = ig_malloc(cnt * sizeof(*v));
        for (size_t i = 0; i < cnt && *n < max; i++) {
            xmlNode *k = r->nodesetval->nodeTab[i];
            if (k->type == XML_ELEMENT_NODE) {
                v[(*n)++] = k;
            }
        }
        if (*n == 0) {
            ig_free(v);
            v = NULL;
        }
    }
    xmlXPathFreeObject(r);
    return v;
}

static int add_encoded(struct ig_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        int rc;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
            c == '~') {
            rc = ig_buf_addc(out, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = ig_buf_add(out, e, 3);
        }
        if (rc < 0) {
            return rc;
        }
    }
    return IG_OK;
}

int feed_expand_template(const char *tmpl, const struct ig_item *it,
                         struct ig_buf *out)
{
    const char *p = tmpl;
    while (*p != '\0') {
        const char *open = strchr(p, '{');
        const char *close = open ? strchr(open, '}') : NULL;
        if (open == NULL || close == NULL) {
            return ig_buf_adds(out, p);
        }
        int rc = ig_buf_add(out, p, (size_t)(open - p));
        if (rc < 0) {
            return rc;
        }
        char name[64];
        size_t nl = (size_t)(close - open - 1);
        if (nl < sizeof(name)) {
            memcpy(name, open + 1, nl);
            name[nl] = '\0';
            const char *v = NULL;
            if (strcmp(name, "id") == 0) {
                v = it->ext_id;
            } else if (strcmp(name, "title") == 0) {
                v = it->title;
            } else {
                v = ig_item_field(it, name);
            }
            rc = add_encoded(out, v);
            if (rc < 0) {
                return rc;
            }
        }
        p = close + 1;
    }
    return IG_OK;
}

bool feed_query_param(const char *url, const char *name, struct ig_buf *out)
{
    const char *q = url ? strchr(url, '?') : NULL;
    size_t nl = strlen(name);
    while (q != NULL) {
        q++;
        if (strncmp(q, name, nl) == 0 && q[nl] == '=') {
            const char *v = q + nl + 1;
            size_t vl = strcspn(v, "&#");
            if (vl == 0) {
                return false;
            }
            ig_buf_add(out, v, vl);
            return true;
        }
        q = strchr(q, '&');
    }
    return false;
}

static int compile_key(struct connector *c, struct feed_xpath *x,
                       const char *key, const char *src, struct ig_diags *d)
{
    if (src == NULL || src[0] == '\0') {
        memset(x, 0, sizeof(*x));
        return IG_OK;
    }
    if (feed_xpath_compile(x, key, src) < 0) {
        connector_cfg_error(c, d, key, "not a valid XPath: '%s'", src);
        return IG_EINVAL;
    }
    return IG_OK;
}

int feed_map_init(struct feed_map *m, struct connector *c,
                  const struct feed_map_conf *conf, bool item_optional,
                  struct ig_diags *d)
{
    int rc = IG_OK;
    memset(m, 0, sizeof(*m));
    m->conf = conf;
    if (!item_optional && (conf->item == NULL || conf->item[0] == '\0')) {
        connector_cfg_error(c, d, "item",
                            "required: XPath selecting one record");
        rc = IG_EINVAL;
    }
    const struct {
        struct feed_xpath *x;
        const char *key;
        const char *src;
    } keys[] = {
        {&m->item, "item", conf->item},
        {&m->id, "id", conf->id},
        {&m->title, "title", conf->title},
        {&m->content, "content", conf->content},
        {&m->time, "time", conf->time},
        {&m->address, "address", conf->address},
        {&m->author, "author", conf->author},
        {&m->link, "link", conf->link},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (compile_key(c, keys[i].x, keys[i].key, keys[i].src, d) < 0) {
            rc = IG_EINVAL;
        }
    }
    if (conf->fields.n > 0) {
        m->extra = ig_calloc(conf->fields.n, sizeof(*m->extra));
        for (size_t i = 0; i < conf->fields.n; i++) {
            const char *name = conf->fields.v[2 * i];
            const char *src = conf->fields.v[2 * i + 1];
            if (feed_xpath_compile(&m->extra[i], name, src) < 0) {
                connector_cfg_error(
                    c, d, NULL, "field.%s: not a valid XPath: '%s'", name, src);
                rc = IG_EINVAL;
            }
        }
        m->nextra = conf->fields.n;
    }
    if (feed_date_opts(&m->dopts, conf->timezone, conf->cst) < 0) {
        connector_cfg_error(c, d, "timezone",
                            "not an offset or known zone: '%s'",
                            conf->timezone);
        rc = IG_EINVAL;
    }
    return rc;
}

void feed_map_fini(struct feed_map *m)
{
    feed_xpath_fini(&m->item);
    feed_xpath_fini(&m->id);
    feed_xpath_fini(&m->title);
    feed_xpath_fini(&m->content);
    feed_xpath_fini(&m->time);
    feed_xpath_fini(&m->address);
    feed_xpath_fini(&m->author);
    feed_xpath_fini(&m->link);
    for (size_t i = 0; i < m->nextra; i++) {
        feed_xpath_fini(&m->extra[i]);
    }
    ig_free(m->extra);
    memset(m, 0, sizeof(*m));
}

/* Evaluates x into *dst (arena copy) when it yields text. */
static bool map_one(struct _xmlXPathContext *ctx, const struct feed_xpath *x,
                    xmlNode *node, bool all, struct ig_item *it,
                    const char **dst, struct ig_buf *b)
{
    bool cut = false;
    if (x->comp == NULL) {
        return false;
    }
    ig_buf_reset(b);
    cut = feed_xpath_text(ctx, x, node, all, b) == IG_E2BIG;
    if (b->len > 0) {
        *dst = ig_item_strndup(it, b->data, b->len);
    }
    return cut;
}

void feed_map_record(const struct feed_map *m, struct _xmlXPathContext *ctx,
                     xmlNode *node, const char *base, struct ig_item *it)
{
    struct ig_buf b;
    bool cut = false;
    const char *raw_link = NULL;
    const char *raw_time = NULL;

    ig_buf_init(&b, feed_max_field());
    cut |= map_one(ctx, &m->title, node, false, it, &it->title, &b);
    cut |= map_one(ctx, &m->content, node, true, it, &it->text, &b);
    cut |= map_one(ctx, &m->author, node, false, it, &it->author, &b);
    cut |= map_one(ctx, &m->address, node, false, it, &it->place, &b);
    map_one(ctx, &m->id, node, false, it, &it->ext_id, &b);
    map_one(ctx, &m->link, node, false, it, &raw_link, &b);
    map_one(ctx, &m->time, node, false, it, &raw_time, &b);
    for (size_t i = 0; i < m->nextra; i++) {
        const char *v = NULL;
        cut |= map_one(ctx, &m->extra[i], node, false, it, &v, &b);
        if (v != NULL) {
            ig_item_add_field(it, m->extra[i].name, v);
        }
    }

    /* Link: the record's own, resolved; else built from the template. */
    ig_buf_reset(&b);
    if (raw_link != NULL &&
        url_resolve(base, raw_link, strlen(raw_link), &b) == IG_OK) {
        it->url = ig_item_strndup(it, b.data, b.len);
    }
    if (m->conf->id_param != NULL && m->conf->id_param[0] != '\0' &&
        it->url != NULL) {
        ig_buf_reset(&b);
        if (feed_query_param(it->url, m->conf->id_param, &b)) {
            it->ext_id = ig_item_strndup(it, b.data, b.len);
        }
    }
    if (it->url == NULL && m->conf->link_template != NULL &&
        m->conf->link_template[0] != '\0' && it->ext_id != NULL) {
        ig_buf_reset(&b);
        if (feed_expand_template(m->conf->link_template, it, &b) == IG_OK) {
            it->url = ig_item_strndup(it, b.data, b.len);
        }
    }
    if (raw_time != NULL) {
        /* A detail page refines the list's date, but an unreadable one
         * never erases a good one. */
        int64_t ts;
        int off;
        if (it->published == NULL ||
            date_parse(raw_time, strlen(raw_time), &m->dopts, &ts, &off) ==
                IG_OK) {
            it->published = NULL;
            it->published_ts = 0;
            feed_set_date(it, raw_time, &m->dopts);
        }
    }
    ig_buf_fini(&b);
    if (cut) {
        ig_item_flag(it, IG_ITEM_F_TRUNCATED, "a field hit its size cap");
    }
}
