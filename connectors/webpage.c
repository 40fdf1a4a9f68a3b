/* webpage.c — the `web` kind: message boards and forum list pages.
 *
 * Design: a list page is read with libxml2's HTML parser through the
 * hardened gate (xml_safe.c: charset from HTTP/<meta>/bytes, no network),
 * `item` selects each post with XPath and the mapping keys (title, link,
 * time, content, id or id_param, field.NAME) are XPaths relative to the
 * post, shared with the letters kind (xpath.c). With follow = true each
 * post's link is fetched too (depth 1, same host only) and the detail.KEY
 * XPaths, evaluated on the whole detail page, fill in or replace the
 * post's fields (full text, exact time, author). This uses the paging
 * mechanism of connector.h and needs no new op: after the list page,
 * parse() keeps the posts and sets c->more; each following request() asks
 * for the next post's page and each parse() completes and emits one post.
 * Posts beyond detail_max (or on another host) are emitted from the list
 * alone, so a poll always ends with every post emitted once. If a poll is
 * cut short by a failed fetch, end() drops the held posts: they were never
 * emitted, so the next poll brings them again.
 *
 * List paging: next_page (an XPath to the "下一页" link) and max_list_pages
 * continue the poll on further list pages of the same host, after the
 * post pages of the current one; a link back to a page already read in
 * this poll ends the paging.
 *
 * The classic failure of scrapers is silence when the site changes its
 * layout; here a list page on which `item` matches fewer than min_items
 * posts is an error naming the XPath and the page title (an anti-bot wall
 * or a redesign), never "0 new items".
 */
#include "connectors/feed_int.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "connectors/connector.h"
#include "connectors/connector_int.h"
#include "connectors/html_text.h"
#include "connectors/url.h"
#include "connectors/xml_safe.h"
#include "core/cfg.h"
#include "core/err.h"
#include "core/item.h"
#include "core/mem.h"

struct web_conf {
    struct feed_map_conf map;
    char *next_page; /* XPath of the next list page's link */
    int64_t max_list_pages;
    bool follow;
    struct ig_cfg_list detail; /* MAP detail.KEY = XPath */
    int64_t detail_max;
    int64_t min_items;
};

#define OFF(f) offsetof(struct web_conf, map.f)
#define OFFW(f) offsetof(struct web_conf, f)
static const struct ig_cfg_field web_schema[] = {
    {"item", IG_CFG_STR, NULL, OFF(item),
     "XPath selecting each post on the list page", IG_CFG_F_REQUIRED, NULL},
    {"title", IG_CFG_STR, NULL, OFF(title),
     "XPath (relative to the post) of the title; a/@title beats cut text", 0,
     NULL},
    {"link", IG_CFG_STR, NULL, OFF(link),
     "XPath of the post's link (resolved against the page URL)", 0, NULL},
    {"time", IG_CFG_STR, NULL, OFF(time), "XPath of the post time", 0, NULL},
    {"content", IG_CFG_STR, NULL, OFF(content),
     "XPath of the post text on the list page (all matches joined)", 0, NULL},
    {"author", IG_CFG_STR, NULL, OFF(author), "XPath of the author", 0, NULL},
    {"address", IG_CFG_STR, NULL, OFF(address), "XPath of a place", 0, NULL},
    {"id", IG_CFG_STR, NULL, OFF(id), "XPath of the post id", 0, NULL},
    {"id_param", IG_CFG_STR, NULL, OFF(id_param),
     "take the id from this query parameter of the link (e.g. id)", 0, NULL},
    {"link_template", IG_CFG_STR, NULL, OFF(link_template),
     "link for posts without one: {id}, {title} or {FIELD} expanded", 0, NULL},
    {"field", IG_CFG_MAP, NULL, OFF(fields),
     "field.NAME = XPath: extra raw fields (status, category, ...)", 0, NULL},
    {"next_page", IG_CFG_STR, NULL, OFFW(next_page),
     "XPath of the next list page's link, e.g. //a[@class='next']/@href", 0,
     NULL},
    {"max_list_pages", IG_CFG_INT, "1", OFFW(max_list_pages),
     "list pages read per poll (following next_page, same host)", 0, NULL},
    {"follow", IG_CFG_BOOL, "false", OFFW(follow),
     "fetch each post's link (depth 1, same host) for the full text", 0, NULL},
    {"detail", IG_CFG_MAP, NULL, OFFW(detail),
     "detail.KEY = XPath on the post page (title, content, time, author, "
     "address, id, or a field name)",
     0, NULL},
    {"detail_max", IG_CFG_INT, "20", OFFW(detail_max),
     "post pages fetched per poll; the rest come from the list alone", 0, NULL},
    {"min_items", IG_CFG_INT, "1", OFFW(min_items),
     "fewer posts on the list page is an error (layout changed/blocked)", 0,
     NULL},
    {"timezone", IG_CFG_STR, "+08:00", OFF(timezone),
     "zone of times that state none: an offset or Asia/Shanghai", 0, NULL},
    {"cst", IG_CFG_ENUM, "china", OFF(cst),
     "meaning of the zone name CST: china (+08:00) or us (-06:00)", 0,
     feed_cst_choices},
    {0},
};
#undef OFF
#undef OFFW

/* Post pages remembered as failing (ring). Why 64: more than detail_max
 * posts per list page by default, and a few strings of memory. */
#define WEB_FAILED_MAX 64

struct web_ctx {
    struct web_conf conf;
    struct feed_map map;
    struct feed_map_conf dconf; /* built from detail.KEY; owned strings */
    struct feed_map dmap;
    bool has_detail;
    struct ig_item **pending; /* posts waiting for their page; owned */
    size_t npending;
    size_t next;
    bool in_detail;
    struct feed_xpath next_xp; /* compiled next_page */
    char *next_list;           /* owned: next list page URL, or NULL */
    char **visited;            /* owned: list pages read this poll */
    size_t nvisited;
    char *failed[WEB_FAILED_MAX]; /* owned: post pages whose fetch failed */
    size_t nfailed;               /* ring position */
};

/* Builds the detail mapping from the detail.KEY entries. */
static int detail_init(struct connector *c, struct web_ctx *x,
                       struct ig_diags *d)
{
    struct feed_map_conf *dc = &x->dconf;
    const struct ig_cfg_list *l = &x->conf.detail;
    size_t nf = 0;

    dc->fields.v = ig_calloc(2 * l->n + 1, sizeof(char *));
    for (size_t i = 0; i < l->n; i++) {
        const char *k = l->v[2 * i];
        const char *v = l->v[2 * i + 1];
        char **slot = NULL;
        if (strcmp(k, "title") == 0) {
            slot = &dc->title;
        } else if (strcmp(k, "content") == 0) {
            slot = &dc->content;
        } else if (strcmp(k, "time") == 0) {
            slot = &dc->time;
        } else if (strcmp(k, "author") == 0) {
            slot = &dc->author;
        } else if (strcmp(k, "address") == 0) {
            slot = &dc->address;
        } else if (strcmp(k, "id") == 0) {
            slot = &dc->id;
        }
        if (slot != NULL) {
            ig_free(*slot);
            *slot = ig_strdup(v);
        } else {
            dc->fields.v[2 * nf] = ig_strdup(k);
            dc->fields.v[2 * nf + 1] = ig_strdup(v);
            nf++;
        }
    }
    dc->fields.n = nf;
    dc->timezone =
        x->conf.map.timezone ? ig_strdup(x->conf.map.timezone) : NULL;
    dc->cst = x->conf.map.cst ? ig_strdup(x->conf.map.cst) : NULL;
    x->has_detail = l->n > 0;
    return feed_map_init(&x->dmap, c, dc, true, d);
}

static void detail_conf_free(struct feed_map_conf *dc)
{
    char **s[] = {&dc->title,   &dc->content, &dc->time,     &dc->author,
                  &dc->address, &dc->id,      &dc->timezone, &dc->cst};
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        ig_free(*s[i]);
        *s[i] = NULL;
    }
    for (size_t i = 0; i < 2 * dc->fields.n; i++) {
        ig_free(dc->fields.v[i]);
    }
    ig_free(dc->fields.v);
    dc->fields.v = NULL;
    dc->fields.n = 0;
}

static int web_init(struct connector *c, struct ig_diags *d)
{
    struct web_ctx *x = ig_calloc(1, sizeof(*x));
    int rc;
    c->ctx = x;
    rc = connector_cfg_apply(c, web_schema, &x->conf, d);
    if (rc < 0) {
        return rc;
    }
    rc = feed_map_init(&x->map, c, &x->conf.map, false, d);
    if (detail_init(c, x, d) < 0) {
        rc = IG_EINVAL;
    }
    if (x->conf.next_page != NULL && x->conf.next_page[0] != '\0' &&
        feed_xpath_compile(&x->next_xp, "next_page", x->conf.next_page) < 0) {
        connector_cfg_error(c, d, "next_page", "not a valid XPath: '%s'",
                            x->conf.next_page);
        rc = IG_EINVAL;
    }
    if (x->conf.max_list_pages < 1) {
        connector_cfg_error(c, d, "max_list_pages", "must be >= 1");
        rc = IG_EINVAL;
    }
    if (x->conf.follow && !x->has_detail) {
        connector_cfg_error(c, d, "follow",
                            "follow = true needs detail.content (and "
                            "optionally detail.time, detail.author ...)");
        rc = IG_EINVAL;
    }
    /* List pages and post pages all count against max_pages: a plan that
     * does not fit would cut every poll short, and the held posts would
     * never be emitted. */
    int64_t per_list = 1 + (x->conf.follow ? x->conf.detail_max : 0);
    if (c->conf.max_pages > 0 && x->conf.max_list_pages > 0 &&
        x->conf.detail_max >= 0 &&
        x->conf.max_list_pages * per_list > c->conf.max_pages) {
        connector_cfg_error(c, d, "detail_max",
                            "max_list_pages x (1 + detail_max) = %lld "
                            "requests exceed max_pages (%lld)",
                            (long long)(x->conf.max_list_pages * per_list),
                            (long long)c->conf.max_pages);
        rc = IG_EINVAL;
    }
    if (x->conf.detail_max < 0 || x->conf.min_items < 0) {
        connector_cfg_error(c, d, "detail_max",
                            "detail_max and min_items must be >= 0");
        rc = IG_EINVAL;
    }
    return rc;
}

static void drop_pending(struct web_ctx *x)
{
    for (size_t i = 0; i < x->npending; i++) {
        ig_item_free(x->pending[i]);
    }
    ig_free(x->pending);
    x->pending = NULL;
    x->npending = 0;
    x->next = 0;
    x->in_detail = false;
}

/* Forgets the list pages of a poll. */
static void reset_paging(struct web_ctx *x)
{
    for (size_t i = 0; i < x->nvisited; i++) {
        ig_free(x->visited[i]);
    }
    ig_free(x->visited);
    x->visited = NULL;
    x->nvisited = 0;
    ig_free(x->next_list);
    x->next_list = NULL;
}

static void web_fini(struct connector *c)
{
    struct web_ctx *x = c->ctx;
    if (x == NULL) {
        return;
    }
    drop_pending(x);
    reset_paging(x);
    for (size_t i = 0; i < WEB_FAILED_MAX; i++) {
        ig_free(x->failed[i]);
    }
    feed_xpath_fini(&x->next_xp);
    feed_map_fini(&x->map);
    feed_map_fini(&x->dmap);
    detail_conf_free(&x->dconf);
    ig_cfg_free(web_schema, &x->conf);
    ig_free(x);
    c->ctx = NULL;
}

static void web_begin(struct connector *c)
{
    drop_pending(c->ctx);
    reset_paging(c->ctx);
}

static void web_end(struct connector *c, int rc)
{
    struct web_ctx *x = c->ctx;
    /* A poll that failed on a post page (a deleted post answers 404)
     * would fail the same way every time and never deliver the posts
     * after it: remember the page, and take that post from the list
     * alone from now on. */
    if (rc < 0 && x->in_detail && x->next < x->npending) {
        size_t slot = x->nfailed % WEB_FAILED_MAX;
        ig_free(x->failed[slot]);
        x->failed[slot] = ig_strdup(x->pending[x->next]->url);
        x->nfailed++;
    }
    drop_pending(x);
    reset_paging(x);
}

static bool failed_before(const struct web_ctx *x, const char *url)
{
    for (size_t i = 0; i < WEB_FAILED_MAX; i++) {
        if (x->failed[i] != NULL && strcmp(x->failed[i], url) == 0) {
            return true;
        }
    }
    return false;
}

static int web_request(struct connector *c, struct connector_req *out)
{
    struct web_ctx *x = c->ctx;
    memset(out, 0, sizeof(*out));
    if (x->in_detail && x->next < x->npending) {
        out->url = ig_strdup(x->pending[x->next]->url);
    } else if (x->next_list != NULL) {
        out->url = ig_strdup(x->next_list);
    } else {
        out->url = ig_strdup(c->conf.url);
    }
    connector_req_add_header(out, "Accept",
                             "text/html, application/xhtml+xml;q=0.9, "
                             "*/*;q=0.5");
    return IG_OK;
}

/* Length of "scheme://host[:port]" of an http(s) URL, 0 if none. */
static size_t origin_len(const char *u)
{
    const char *p;
    if (u == NULL) {
        return 0;
    }
    if (strncasecmp(u, "http://", 7) == 0) {
        p = u + 7;
    } else if (strncasecmp(u, "https://", 8) == 0) {
        p = u + 8;
    } else {
        return 0;
    }
    return (size_t)(p - u) + strcspn(p, "/?#");
}

/* True when link may be followed from the source URL: same origin, so a
 * hostile list page cannot steer the gateway to other hosts. */
static bool same_origin(const char *src, const char *link)
{
    size_t a = origin_len(src);
    size_t b = origin_len(link);
    return a > 0 && a == b && strncasecmp(src, link, a) == 0;
}

/* The page's <title>, for error messages. */
static void page_title(xmlXPathContextPtr xc, char *out, size_t outsz)
{
    struct feed_xpath t;
    struct ig_buf b;
    out[0] = '\0';
    if (feed_xpath_compile(&t, "title", "//title") < 0) {
        return;
    }
    ig_buf_init(&b, 120);
    feed_xpath_text(xc, &t, NULL, false, &b);
    if (b.len > 0) {
        snprintf(out, outsz, "%s", b.data);
    }
    ig_buf_fini(&b);
    feed_xpath_fini(&t);
}

/* Emits one post; returns the emit result (IG_E2BIG: cap reached). */
static int emit_post(struct connector *c, struct connector_sink *sink,
                     struct ig_item *it)
{
    return feed_emit_record(c, sink, it, "no time on the page");
}

/* Finds the next list page on this one: resolved, same host, not read
 * yet in this poll (a "next" link back to page 1 must not loop). */
static void find_next_list(struct connector *c, struct web_ctx *x,
                           xmlXPathContextPtr xc, const char *page_url)
{
    struct ig_buf raw;
    struct ig_buf abs;
    ig_free(x->next_list);
    x->next_list = NULL;
    if (x->next_xp.comp == NULL ||
        x->nvisited >= (size_t)x->conf.max_list_pages) {
        return;
    }
    ig_buf_init(&raw, 8192);
    ig_buf_init(&abs, 8192);
    if (feed_xpath_text(xc, &x->next_xp, NULL, false, &raw) == IG_OK &&
        raw.len > 0 &&
        url_resolve(page_url, raw.data, raw.len, &abs) == IG_OK &&
        same_origin(c->conf.url ? c->conf.url : page_url, abs.data)) {
        bool seen = false;
        for (size_t i = 0; i < x->nvisited; i++) {
            seen = seen || strcmp(x->visited[i], abs.data) == 0;
        }
        if (!seen) {
            x->next_list = ig_strdup(abs.data);
        }
    }
    ig_buf_fini(&raw);
    ig_buf_fini(&abs);
}

static int parse_list(struct connector *c, struct web_ctx *x,
                      const struct connector_resp *in,
                      struct connector_sink *sink)
{
    struct xml_safe_info info;
    xmlDoc *doc = NULL;
    xmlXPathContextPtr xc = NULL;
    xmlNode **posts = NULL;
    size_t nposts = 0;
    size_t nkept = 0;
    size_t max_posts = sink->max_items > 0 ? sink->max_items + 1 : 100001;
    size_t nfollow = 0;
    int rc;

    rc = feed_open_doc(c, in, true, sink, &doc, &xc, &info);
    if (rc < 0) {
        return rc;
    }
    /* Remember this page, then look for the next one. */
    const char *page_url = in->url ? in->url : c->conf.url;
    x->visited =
        ig_realloc(x->visited, (x->nvisited + 1) * sizeof(*x->visited));
    x->visited[x->nvisited++] = ig_strdup(page_url ? page_url : "");
    find_next_list(c, x, xc, page_url);
    posts = feed_xpath_nodes(xc, &x->map.item, NULL, max_posts, &nposts);
    if (nposts == 0 && x->nvisited > 1) {
        /* A later page that is empty ends the paging, loudly. */
        xml_safe_report(sink, c->id, false,
                        "list page %zu (%s) has no posts: paging stopped",
                        x->nvisited, page_url);
        ig_free(x->next_list);
        x->next_list = NULL;
        rc = IG_OK;
        goto out;
    }
    if (nposts < (size_t)x->conf.min_items || nposts == 0) {
        char title[128];
        page_title(xc, title, sizeof(title));
        rc = connector_fail(sink, IG_EPARSE,
                            "list page yielded %zu posts (min_items %lld): "
                            "item XPath '%s' (page title '%s'; layout "
                            "changed, or an anti-bot/error page?)",
                            nposts, (long long)x->conf.min_items,
                            x->map.item.src, title);
        goto out;
    }
    if (info.recovered) {
        xml_safe_report(sink, c->id, false,
                        "page stopped early (%s): posts flagged partial",
                        info.error);
    }
    xml_safe_report_charset(sink, c->id, &info);
    x->pending = ig_calloc(nposts, sizeof(*x->pending));
    for (size_t i = 0; i < nposts; i++) {
        struct ig_item *it = connector_item_new(c, in->fetched_ts);
        feed_map_record(&x->map, xc, posts[i], in->url, it);
        if (it->title == NULL && it->url == NULL && it->text == NULL) {
            ig_item_free(it);
            connector_skip(sink, c,
                           "post %zu skipped: no title, link or "
                           "text",
                           i + 1);
            continue;
        }
        xml_safe_flag_item(it, &info);
        const char *why = NULL;
        if (x->conf.follow && it->url != NULL) {
            if (nfollow >= (size_t)x->conf.detail_max) {
                why = "not fetched: detail_max reached";
            } else if (!same_origin(c->conf.url ? c->conf.url : in->url,
                                    it->url)) {
                why = "not fetched: other host";
            } else if (failed_before(x, it->url)) {
                why = "not fetched: page failed in an earlier poll";
            }
        }
        bool follow = x->conf.follow && it->url != NULL && why == NULL;
        if (why != NULL) {
            ig_item_add_field(it, "detail", why);
        }
        if (follow) {
            nfollow++;
            x->pending[x->npending++] = it;
            continue;
        }
        rc = emit_post(c, sink, it);
        nkept++;
        if (rc == IG_E2BIG) {
            break;
        }
        if (rc < 0) {
            goto out;
        }
    }
    if (nkept + x->npending == 0) {
        rc = connector_fail(sink, IG_EPARSE,
                            "list page: %zu posts matched '%s' but none had "
                            "a title, link or text (field XPaths stale?)",
                            nposts, x->map.item.src);
        goto out;
    }
    if (x->npending > 0) {
        x->in_detail = true;
        x->next = 0;
        c->more = true;
    } else if (x->next_list != NULL) {
        c->more = true;
    }
    rc = IG_OK;
out:
    ig_free(posts);
    if (xc != NULL) {
        xmlXPathFreeContext(xc);
    }
    xmlFreeDoc(doc);
    return rc;
}

/* Completes pending[next] from its page; a bad page leaves the list data
 * and a warning. */
static void parse_detail(struct connector *c, struct web_ctx *x,
                         const struct connector_resp *in,
                         struct connector_sink *sink, struct ig_item *it)
{
    struct xml_safe_info info;
    xmlDoc *doc = NULL;
    xmlXPathContextPtr xc = NULL;
    char err[256];
    size_t max_body = c->conf.max_bytes > 0 ? (size_t)c->conf.max_bytes : 0;

    /* An error status (a deleted post's 404, a 500) is not the post, even
     * when the site's error page shares the template the detail XPaths
     * match: its text and time must not replace the list data. */
    if (in->status != 0 && (in->status < 200 || in->status > 299)) {
        snprintf(err, sizeof(err), "HTTP status %d", in->status);
        xml_safe_report(sink, c->id, false, "post page %s: %s", it->url, err);
        ig_item_add_field(it, "detail", err);
        return;
    }
    if (xml_safe_read_html(in->body, in->len, in->content_type,
                           in->url ? in->url : it->url, max_body, &doc, &info,
                           err, sizeof(err)) < 0) {
        xml_safe_report(sink, c->id, false, "post page %s: %s", it->url, err);
        ig_item_add_field(it, "detail", err);
        return;
    }
    xc = feed_xpath_context(doc);
    if (xc != NULL) {
        const char *before = it->text;
        feed_map_record(&x->dmap, xc, NULL, in->url, it);
        if (x->dmap.content.comp != NULL && it->text == before) {
            xml_safe_report(sink, c->id, false,
                            "post page %s: detail.content matched nothing",
                            it->url);
            ig_item_add_field(it, "detail", "content not found on page");
        }
        if (it->published != NULL) {
            it->flags &= ~(uint32_t)IG_ITEM_F_NO_DATE;
        }
        xml_safe_flag_item(it, &info);
        xmlXPathFreeContext(xc);
    }
    xmlFreeDoc(doc);
}

static int web_parse(struct connector *c, const struct connector_resp *in,
                     struct connector_sink *sink)
{
    struct web_ctx *x = c->ctx;
    int rc;

    c->more = false;
    if (!x->in_detail) {
        drop_pending(x);
        return parse_list(c, x, in, sink);
    }
    if (x->next >= x->npending) {
        drop_pending(x);
        c->more = x->next_list != NULL;
        return IG_OK;
    }
    struct ig_item *it = x->pending[x->next];
    x->pending[x->next] = NULL;
    x->next++;
    parse_detail(c, x, in, sink, it);
    rc = emit_post(c, sink, it);
    if (rc == IG_E2BIG) {
        drop_pending(x);
        reset_paging(x);
        return IG_OK;
    }
    if (rc < 0) {
        drop_pending(x);
        return rc;
    }
    if (x->next < x->npending) {
        c->more = true;
    } else {
        drop_pending(x);
        c->more = x->next_list != NULL;
    }
    return IG_OK;
}

const struct connector_ops connector_web = {
    .kind = "web",
    .channel = "web",
    .schema = web_schema,
    .init = web_init,
    .request = web_request,
    .parse = web_parse,
    .begin = web_begin,
    .end = web_end,
    .fini = web_fini,
};
