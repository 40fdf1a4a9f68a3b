/* connector.h — the connector interface: bytes in, items out.
 *
 * A *kind* (rss, letters, web, hotline, file) is a const ops table; an
 * *instance* is one configured source pointing at its kind with its own
 * ctx. Connectors do no I/O: request() says what to fetch, parse() turns
 * the fetched bytes into items; gateway/fetch.c does the fetching (libcurl),
 * so every parser is testable on a file and timeouts, retries and TLS live
 * in one place. The `file` kind is the exception that reads local files
 * itself through read_local().
 *
 * Paging: parse() may set c->more to ask for another request within the
 * same poll (hotline pages). Cursors: a connector keeps its committed cursor
 * in c->cursor (loaded from the state store) and proposes the next one in
 * c->pending_cursor; the gateway commits it only after the poll's items are
 * safely forwarded or spooled.
 *
 * Config: the keys common to every source are parsed into struct
 * source_conf by connector_common_schema (registry.c; gateway/sources.c
 * applies it and reports unknown keys against it and the kind's table);
 * each kind declares its own keys in ops->schema and reads them in init()
 * with connector_cfg_apply(). Auth secrets never reach a connector: the
 * gateway resolves source_conf.auth and adds the header to every request.
 *
 * One poll, as gateway/scheduler.c drives it:
 *
 *     connector_begin(c)                  reset paging state
 *     do {
 *         connector_request(c, &req)      what to fetch next
 *         ... fetch ...
 *         connector_parse(c, &resp, sink) items -> sink; may set c->more
 *     } while (c->more && pages < max_pages)
 *     connector_end(c, rc)                rc == IG_OK: propose
 *                                         c->pending_cursor
 *
 * Cursor rule: a kind proposes a cursor only for a poll that completed
 * without error (end() with IG_OK), because a failed later page may hold
 * older items than the ones already seen. The items of a failed poll are
 * still delivered; the gateway's per-source dedup absorbs the re-fetch.
 * A local kind (read_local) sets c->pending_cursor inside read_local()
 * when it returns IG_OK. Why a document failed goes to sink->error
 * (connector_fail()), which ends up in the source's health record.
 *
 * CHANGES (owner: fetch engineer): begin/end/read_local slots, the
 * connector_* wrappers, sink->nflagged/max_items/error, the fetch options
 * in source_conf and the connector_int.h helpers were added to the lead's
 * draft; existing fields kept their meaning.
 */
#ifndef IG_CONNECTORS_CONNECTOR_H
#define IG_CONNECTORS_CONNECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cfg.h"
#include "core/item.h"

struct ig_diags;
struct connector;

/* What to fetch. Filled by request(); freed by connector_req_fini().
 * Conditional GET (ETag/Last-Modified) is added by the gateway only for
 * the first request of a poll. */
struct connector_req {
    char *url;             /* owned; absolute http(s) URL */
    char **headers;        /* owned array of owned "Name: value" strings */
    size_t nheaders;
};

/* What was fetched. All fields borrowed for the duration of parse().
 * The first response of a poll reaches parse() only with a 2xx status
 * (the gateway handles 304, 429, 5xx ...); later ones of the same poll
 * (pages, detail pages) are passed with whatever status they had, except
 * 429/503, so the kind decides what a 404 detail page means. */
struct connector_resp {
    int status;                 /* HTTP status (200), 0 for local files */
    const char *body;           /* bytes as received, decompressed */
    size_t len;
    const char *content_type;   /* Content-Type header or NULL */
    const char *url;            /* effective URL after redirects */
    int64_t fetched_ts;         /* Unix seconds */
};

/* Where parse() puts items and problems. Kinds go through
 * connector_emit()/connector_skip() (connector_int.h), which keep the
 * counters and the cap. */
struct connector_sink {
    ig_item_cb emit;      /* ownership of each item is transferred */
    void *ud;
    size_t nitems;        /* items emitted */
    size_t nskipped;      /* malformed items skipped (each also reported) */
    size_t nflagged;      /* items emitted with IG_ITEM_F_* flags */
    size_t max_items;     /* cap per poll; 0 = none. Past it: IG_E2BIG */
    bool capped;          /* an item was refused at max_items */
    struct ig_diags *diags; /* per-item problems (file = source id); may
                             * be NULL */
    char *error;          /* owned by the sink's owner: why parse() or
                             * read_local() failed; set with
                             * connector_fail() (connector_int.h) */
};

struct connector_ops {
    const char *kind;                      /* "rss", "hotline", ... */
    const char *channel;                   /* default channel of its items */
    const struct ig_cfg_field *schema;     /* kind keys, {0}-terminated */
    /* Reads c->cfg, sets c->ctx. Errors go to d. */
    int (*init)(struct connector *c, struct ig_diags *d);
    /* Fills out with the next request of this poll. */
    int (*request)(struct connector *c, struct connector_req *out);
    /* Turns one response into items. Returns IG_OK (possibly with skipped
     * items), or a negative ig_err when the document as a whole is bad
     * (IG_EPARSE: not a feed / broken; IG_E2BIG: over a cap). */
    int (*parse)(struct connector *c, const struct connector_resp *in,
                 struct connector_sink *sink);
    /* Optional: for local kinds (file), reads and parses without
     * fetch.c; request() is then NULL. Returns as parse(). */
    int (*read_local)(struct connector *c, struct connector_sink *sink);
    /* Optional: called before the first request() of a poll. */
    void (*begin)(struct connector *c);
    /* Optional: called after the last response of a poll with the poll's
     * outcome; with IG_OK the kind may set c->pending_cursor. */
    void (*end)(struct connector *c, int rc);
    /* Frees c->ctx; safe after a failed init. */
    void (*fini)(struct connector *c);
};

/* Keys common to every source (section [source ID]), parsed by
 * connector_common_schema. The fetch options are used by gateway/fetch.c
 * and gateway/scheduler.c; kinds read only kind, url and channel. */
struct source_conf {
    char *kind;            /* owned */
    char *url;             /* owned; for `file`: a path */
    char *channel;         /* owned; NULL: the kind's default channel */
    int64_t interval_ms;   /* poll interval */
    int64_t jitter_pct;    /* +-% of the interval, spreads polls */
    bool enabled;
    char *auth;            /* owned: "env:NAME", "file:/path" or "none";
                            * the secret itself is never in the config */
    char *auth_header;     /* owned: header name (Authorization) */
    char *auth_scheme;     /* owned: value prefix ("Bearer"; "" = none) */
    int64_t connect_timeout_ms;
    int64_t timeout_ms;    /* whole transfer */
    int64_t low_speed_bps; /* abort below this rate ... */
    int64_t low_speed_ms;  /* ... sustained this long */
    int64_t max_bytes;     /* decompressed body cap */
    int64_t max_items;     /* items per poll */
    int64_t max_pages;     /* requests per poll */
    int64_t max_backoff_ms;/* cap of the failure backoff */
    struct ig_cfg_list redirect_hosts; /* extra host[:port] redirects may
                                        * go to */
    char *user_agent;      /* owned */
};

/* The schema of struct source_conf, {0}-terminated. */
extern const struct ig_cfg_field connector_common_schema[];

struct connector {
    const struct connector_ops *ops;
    char *id;                           /* owned: source id */
    struct source_conf conf;
    const struct ig_cfg_section *cfg;   /* borrowed: the source's section */
    void *ctx;                          /* kind state */
    char *cursor;                       /* owned: committed cursor or NULL */
    char *pending_cursor;               /* owned: proposed after a poll */
    bool more;                          /* parse() wants another request */
};

/* Looks up a kind by name; NULL when unknown. */
const struct connector_ops *connector_kind(const char *kind);
/* NULL-terminated list of the built-in kinds. */
const struct connector_ops *const *connector_kinds(void);

/* True when the kind reads local files itself (no fetching). */
static inline bool connector_is_local(const struct connector *c)
{
    return c->ops->read_local != NULL;
}

static inline int connector_request(struct connector *c,
                                    struct connector_req *out)
{
    return c->ops->request ? c->ops->request(c, out) : -1;
}

static inline int connector_parse(struct connector *c,
                                  const struct connector_resp *in,
                                  struct connector_sink *sink)
{
    return c->ops->parse ? c->ops->parse(c, in, sink) : -1;
}

static inline int connector_read_local(struct connector *c,
                                       struct connector_sink *sink)
{
    return c->ops->read_local ? c->ops->read_local(c, sink) : -1;
}

static inline void connector_begin(struct connector *c)
{
    c->more = false;
    if (c->ops->begin) {
        c->ops->begin(c);
    }
}

static inline void connector_end(struct connector *c, int rc)
{
    if (c->ops->end) {
        c->ops->end(c, rc);
    }
}

static inline void connector_fini(struct connector *c)
{
    if (c->ops && c->ops->fini) {
        c->ops->fini(c);
    }
    c->ctx = NULL;
}

/* Frees the request's strings and zeroes it. */
void connector_req_fini(struct connector_req *r);
/* Appends a header "name: value" to r (copied). */
void connector_req_add_header(struct connector_req *r, const char *name,
                              const char *value);

/* Sets up c for kind ops: id copied, cfg borrowed (must outlive c), conf
 * filled by the caller beforehand. Calls ops->init; errors go to d.
 * Returns IG_OK or the init error (c is then fini-safe). */
int connector_setup(struct connector *c, const struct connector_ops *ops,
                    const char *id, const struct ig_cfg_section *cfg,
                    struct ig_diags *d);
/* Calls fini and frees id, cursors; conf is the caller's. */
void connector_teardown(struct connector *c);

#endif
