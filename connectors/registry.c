/* registry.c — the table of built-in connector kinds and their shared
 * helpers.
 *
 * Kinds are listed here once, each behind its IG_WITH_<KIND> build option
 * (connectors/CMakeLists.txt), so a kind can be left out of a build
 * cleanly. The common source keys live here too (connector_common_schema):
 * they belong to every kind, and gateway/sources.c checks each section
 * against the union of this table and the kind's own schema.
 *
 * Adding a kind: an ops table in its own file, a schema, a line in
 * kinds[] below, an entry in IG_CONN_KINDS of CMakeLists.txt, fixtures and
 * an example section in examples/sources.d/.
 */
#include "connectors/connector.h"

#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <libxml/uri.h>
#include <libxml/xmlmemory.h>

#include "connectors/connector_int.h"
#include "connectors/date.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/mem.h"

static const struct connector_ops *const kinds[] = {
#ifdef IG_WITH_RSS
    &connector_rss,
#endif
#ifdef IG_WITH_LETTERS
    &connector_letters,
#endif
#ifdef IG_WITH_WEB
    &connector_web,
#endif
#ifdef IG_WITH_HOTLINE
    &connector_hotline,
#endif
#ifdef IG_WITH_FILE
    &connector_file,
#endif
    NULL,
};

#define OFF(f) offsetof(struct source_conf, f)

/* Defaults: polite for public sites (5 min, 16 MiB, 5 redirects); the
 * timeouts are long enough for slow government servers but bounded. */
const struct ig_cfg_field connector_common_schema[] = {
    {"kind", IG_CFG_STR, NULL, OFF(kind),
     "connector kind: rss, letters, web, hotline, file", IG_CFG_F_REQUIRED,
     NULL},
    {"url", IG_CFG_STR, NULL, OFF(url),
     "http(s) URL to poll (for kind file: a path to a file or folder)",
     IG_CFG_F_REQUIRED, NULL},
    {"channel", IG_CFG_STR, NULL, OFF(channel),
     "channel of the items (hotline, letters, media, web); default: kind's", 0,
     NULL},
    {"interval", IG_CFG_DUR_MS, "5m", OFF(interval_ms), "poll interval", 0,
     NULL},
    {"jitter", IG_CFG_INT, "10", OFF(jitter_pct),
     "random +-percent of the interval, spreads polls", 0, NULL},
    {"enabled", IG_CFG_BOOL, "true", OFF(enabled),
     "false keeps the source configured but unpolled", 0, NULL},
    {"auth", IG_CFG_STR, "none", OFF(auth),
     "where the secret is: env:VARIABLE, file:/path or none", 0, NULL},
    {"auth_header", IG_CFG_STR, "Authorization", OFF(auth_header),
     "header carrying the secret (e.g. X-API-Key)", 0, NULL},
    {"auth_scheme", IG_CFG_STR, "Bearer", OFF(auth_scheme),
     "prefix before the secret in the header; \"\" for none", 0, NULL},
    {"connect_timeout", IG_CFG_DUR_MS, "10s", OFF(connect_timeout_ms),
     "TCP+TLS connect timeout", 0, NULL},
    {"timeout", IG_CFG_DUR_MS, "60s", OFF(timeout_ms),
     "whole-transfer timeout per request, redirects included", 0, NULL},
    {"low_speed_limit", IG_CFG_SIZE, "64", OFF(low_speed_bps),
     "abort a transfer slower than this many bytes/s ...", 0, NULL},
    {"low_speed_time", IG_CFG_DUR_MS, "30s", OFF(low_speed_ms),
     "... for this long", 0, NULL},
    {"max_bytes", IG_CFG_SIZE, "16MiB", OFF(max_bytes),
     "cap on a response body after decompression", 0, NULL},
    {"max_items", IG_CFG_INT, "10000", OFF(max_items), "cap on items per poll",
     0, NULL},
    {"max_pages", IG_CFG_INT, "50", OFF(max_pages),
     "cap on requests per poll (paging)", 0, NULL},
    {"max_backoff", IG_CFG_DUR_MS, "6h", OFF(max_backoff_ms),
     "longest wait between retries of a failing source", 0, NULL},
    {"redirect_hosts", IG_CFG_LIST, NULL, OFF(redirect_hosts),
     "other host[:port] redirects may lead to (comma list)", 0, NULL},
    {"user_agent", IG_CFG_STR, NULL, OFF(user_agent),
     "User-Agent header; default intake/<version>", 0, NULL},
    {0},
};

const struct connector_ops *connector_kind(const char *kind)
{
    for (size_t i = 0; kinds[i]; i++) {
        if (strcmp(kinds[i]->kind, kind) == 0) {
            return kinds[i];
        }
    }
    return NULL;
}

const struct connector_ops *const *connector_kinds(void)
{
    return kinds;
}

void connector_req_add_header(struct connector_req *r, const char *name,
                              const char *value)
{
    r->headers = ig_realloc(r->headers, (r->nheaders + 1) * sizeof(char *));
    r->headers[r->nheaders++] = ig_asprintf("%s: %s", name, value);
}

int connector_setup(struct connector *c, const struct connector_ops *ops,
                    const char *id, const struct ig_cfg_section *cfg,
                    struct ig_diags *d)
{
    c->ops = ops;
    c->id = ig_strdup(id);
    c->cfg = cfg;
    c->ctx = NULL;
    c->more = false;
    if (!ops->init) {
        return IG_OK;
    }
    return ops->init(c, d);
}

void connector_teardown(struct connector *c)
{
    if (!c->ops) {
        return;
    }
    connector_fini(c);
    ig_free(c->id);
    ig_free(c->cursor);
    ig_free(c->pending_cursor);
    c->id = c->cursor = c->pending_cursor = NULL;
}

int connector_cfg_apply(struct connector *c, const struct ig_cfg_field *schema,
                        void *obj, struct ig_diags *d)
{
    if (!c->cfg) {
        ig_cfg_defaults(schema, obj);
        return IG_OK;
    }
    /* A shallow view of the section holding only the kind's keys: the
     * common ones were applied by the gateway, and unknown ones reported
     * there against both tables (once). The entries stay owned by the
     * doc. */
    struct ig_cfg_section view = *c->cfg;
    view.e = ig_malloc((c->cfg->n + 1) * sizeof(*view.e));
    view.n = 0;
    for (size_t i = 0; i < c->cfg->n; i++) {
        if (ig_cfg_known(schema, c->cfg->e[i].key)) {
            view.e[view.n++] = c->cfg->e[i];
        }
    }
    view.cap = view.n;
    int rc = ig_cfg_apply(&view, schema, obj, d);
    ig_free(view.e);
    return rc;
}

void connector_cfg_error(struct connector *c, struct ig_diags *d,
                         const char *key, const char *fmt, ...)
{
    struct ig_buf b;
    ig_buf_init(&b, 4096);
    va_list ap;
    va_start(ap, fmt);
    ig_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    const char *file = c->cfg ? c->cfg->file : c->id;
    int line = c->cfg ? c->cfg->line : 0;
    int col = 0;
    for (size_t i = 0; c->cfg && key && i < c->cfg->n; i++) {
        if (strcmp(c->cfg->e[i].key, key) == 0) {
            line = c->cfg->e[i].line;
            col = c->cfg->e[i].col;
        }
    }
    ig_diags_add(d, IG_DIAG_ERROR, file, line, col, "%s%s%s", key ? key : "",
                 key ? ": " : "", b.data ? b.data : "");
    ig_buf_fini(&b);
}

struct ig_item *connector_item_new(const struct connector *c,
                                   int64_t fetched_ts)
{
    struct ig_item *it = ig_item_new();
    it->source_id = ig_item_strdup(it, c->id);
    const char *ch = c->conf.channel ? c->conf.channel : c->ops->channel;
    it->channel = ig_item_strdup(it, ch);
    if (fetched_ts <= 0) {
        fetched_ts = (int64_t)time(NULL);
    }
    char iso[32];
    ig_time_iso(fetched_ts, 0, iso);
    it->fetched = ig_item_strdup(it, iso);
    it->fetched_ts = fetched_ts;
    return it;
}

void connector_item_set_time(struct ig_item *it, int64_t ts, int offset_min)
{
    char iso[32];
    ig_time_iso(ts, offset_min, iso);
    it->published = ig_item_strdup(it, iso);
    it->published_ts = ts;
}

void connector_item_no_time(struct ig_item *it, const char *raw,
                            const char *what)
{
    /* "no published time", "unparseable published time": put together
     * without printf, which cost more than the rest of a pushed item's
     * reading. */
    const char *lead = raw ? "unparseable " : "no ";
    size_t nl = strlen(lead), nw = strnlen(what, 80);
    char why[96];
    memcpy(why, lead, nl);
    memcpy(why + nl, what, nw);
    why[nl + nw] = '\0';
    ig_item_flag(it, IG_ITEM_F_NO_DATE, why);
    if (raw) {
        ig_item_add_field(it, "raw_date", raw);
    }
}

void connector_work_order_dates(struct date_opts *o)
{
    date_opts_default(o);
    o->min_year = 1990;
    o->max_year = 2100;
}

void connector_item_read_time(struct ig_item *it, const char *raw,
                              const struct date_opts *o, const char *what)
{
    int64_t ts;
    int off;

    if (raw && date_parse(raw, strlen(raw), o, &ts, &off) == IG_OK) {
        connector_item_set_time(it, ts, off);
    } else {
        connector_item_no_time(it, raw, what);
    }
}

int connector_emit(struct connector_sink *sink, struct ig_item *it)
{
    if (sink->max_items && sink->nitems >= sink->max_items) {
        ig_item_free(it);
        sink->capped = true;
        return IG_E2BIG;
    }
    sink->nitems++;
    if (it->flags) {
        sink->nflagged++;
    }
    return sink->emit(sink->ud, it);
}

void connector_skip(struct connector_sink *sink, const struct connector *c,
                    const char *fmt, ...)
{
    sink->nskipped++;
    if (!sink->diags) {
        return;
    }
    struct ig_buf b;
    ig_buf_init(&b, 4096);
    va_list ap;
    va_start(ap, fmt);
    ig_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    ig_diags_add(sink->diags, IG_DIAG_WARNING, c->id, 0, 0, "%s",
                 b.data ? b.data : "");
    ig_buf_fini(&b);
}

int connector_fail(struct connector_sink *sink, int rc, const char *fmt, ...)
{
    struct ig_buf b;
    ig_buf_init(&b, 1024);
    va_list ap;
    va_start(ap, fmt);
    ig_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    ig_free(sink->error);
    sink->error = ig_buf_take(&b);
    return rc;
}

char *connector_resolve_url(const char *base, const char *ref)
{
    if (!ref) {
        return NULL;
    }
    xmlChar *u = xmlBuildURI((const xmlChar *)ref, (const xmlChar *)base);
    if (!u) {
        return NULL;
    }
    char *out = NULL;
    if (strncmp((const char *)u, "http://", 7) == 0 ||
        strncmp((const char *)u, "https://", 8) == 0) {
        out = ig_strdup((const char *)u);
    }
    xmlFree(u);
    return out;
}
