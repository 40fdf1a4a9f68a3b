/* scheduler.c — per-source timers, polls, handover and commit (see
 * scheduler.h).
 *
 * Each source has a runtime record (struct srt) holding its timer, its
 * persisted state (cursor, validators, health) and at most one poll. A
 * poll walks the connector through begin/request/parse/end with fetch.c
 * doing the I/O, collects the items, and ends in one batch handed to the
 * gateway. The poll record (and its proposed cursor and validators) lives
 * until sched_done() settles its token; only then is anything committed
 * and the source's timer re-armed, so an unsettled batch holds its source
 * back (backpressure) and a crash before the commit re-polls from the old
 * cursor.
 *
 * Reload keeps sets alive by reference: a runtime record points into the
 * set its source came from; an unchanged source carries its record (and
 * old set) over, and a set is freed when no record points into it. A
 * changed source whose old record still has a poll unsettled gets a new
 * record that is held: it does not poll, and reads its state only once
 * that poll has been settled (and its commit written), so a source never
 * has two polls in flight and one state file has one writer.
 *
 * Next poll: success -> interval +- jitter; failure -> interval * 2^(n-1)
 * capped at max_backoff (never given up), and never before Retry-After.
 */
#include "gateway/scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "connectors/connector.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/item.h"
#include "core/jsonw.h"
#include "core/log.h"
#include "core/mem.h"
#include "gateway/fetch.h"
#include "gateway/sources.h"
#include "gateway/state.h"

/* A Retry-After beyond a day is treated as a day: a typo on the server
 * should not silence a source for months. */
#define RETRY_AFTER_MAX_S 86400
#define BACKLOG_NEXT_MS 1000 /* next poll of a source with a backlog */

struct setref {
    struct source_set *set;
    int refs;
    struct setref *next;
};

struct poll;

struct srt {
    struct sched *s;
    struct source *src; /* borrowed from setref->set */
    struct setref *ref;
    struct event *timer;
    struct source_state st;
    struct poll *poll; /* in flight or unsettled */
    bool removed;      /* dropped by a reload */
    bool held;         /* waits for a removed record's unsettled poll of
                        * the same source id (see sched_reload) */
    bool polled_once;
    int64_t due_ms_from_now; /* computed at completion */
    bool failing;
    bool capped; /* the last good poll stopped at max_items */
    struct srt *next;
};

struct poll {
    uint64_t token;
    struct srt *rt;
    struct ig_item **items;
    size_t nitems, cap;
    struct connector_sink sink;
    struct ig_diags diags;
    int pages;
    int rc;
    char *error;
    bool not_modified;
    char *first_url;
    char *new_etag, *new_lm;
    char *new_hash; /* first page's body hash, or NULL */
    char *proposal;
    int64_t retry_after_s;
    bool complete;
    struct sched_batch batch;
    struct poll *next;
};

struct sched {
    struct event_base *base;
    struct fetch *fetch;
    struct sched_opts o;
    char *state_dir;
    struct setref *sets;
    struct srt *rts;
    struct poll *polls; /* unsettled */
    uint64_t next_token;
    uint32_t rng;
    bool started, stopping, idle_sent;
};

static void start_poll(struct srt *rt);
static void next_request(struct poll *p);
static void complete(struct poll *p, int rc, const char *why);

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static uint32_t rnd(struct sched *s)
{
    uint32_t x = s->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s->rng = x ? x : 0x9E3779B9u;
    return s->rng;
}

static const char *comp(const struct srt *rt)
{
    static char buf[96];
    snprintf(buf, sizeof(buf), "source:%s", rt->src->conn.id);
    return buf;
}

/* --- sets and runtime records -------------------------------------------- */

static struct setref *setref_add(struct sched *s, struct source_set *set)
{
    struct setref *r = ig_calloc(1, sizeof(*r));
    r->set = set;
    r->next = s->sets;
    s->sets = r;
    return r;
}

static void setref_put(struct sched *s, struct setref *r)
{
    if (--r->refs > 0) {
        return;
    }
    for (struct setref **pp = &s->sets; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    source_set_free(r->set);
    ig_free(r);
}

static void on_timer(evutil_socket_t fd, short what, void *ud)
{
    (void)fd;
    (void)what;
    start_poll(ud);
}

/* (Re)reads rt's persisted state (cursor, validators, health) from the
 * state dir; a record of another kind is ignored. */
static void srt_load_state(struct srt *rt)
{
    struct sched *s = rt->s;
    struct source *src = rt->src;
    source_state_fini(&rt->st);
    if (s->state_dir) {
        int rc = state_load(s->state_dir, src->conn.id, &rt->st);
        if (rc == IG_EPARSE) {
            ig_warn(comp(rt), "state record unreadable, starting afresh");
        }
        /* A cursor means nothing to another kind. */
        if (rt->st.kind && strcmp(rt->st.kind, src->conn.ops->kind) != 0) {
            source_state_fini(&rt->st);
        }
    }
    ig_free(rt->st.kind);
    rt->st.kind = ig_strdup(src->conn.ops->kind);
    rt->st.h.kind = rt->st.kind;
    if (!rt->st.id_s) {
        rt->st.id_s = ig_strdup(src->conn.id);
    }
    rt->st.h.id = rt->st.id_s;
    rt->st.h.enabled = src->conn.conf.enabled;
}

static struct srt *srt_new(struct sched *s, struct source *src,
                           struct setref *ref)
{
    struct srt *rt = ig_calloc(1, sizeof(*rt));
    rt->s = s;
    rt->src = src;
    rt->ref = ref;
    ref->refs++;
    rt->timer = evtimer_new(s->base, on_timer, rt);
    source_state_init(&rt->st);
    srt_load_state(rt);
    return rt;
}

static void srt_free(struct srt *rt)
{
    event_free(rt->timer);
    source_state_fini(&rt->st);
    setref_put(rt->s, rt->ref);
    ig_free(rt);
}

static void srt_unlink(struct sched *s, struct srt *rt)
{
    for (struct srt **pp = &s->rts; *pp; pp = &(*pp)->next) {
        if (*pp == rt) {
            *pp = rt->next;
            return;
        }
    }
}

static void save_state(struct srt *rt)
{
    if (rt->s->state_dir && !rt->s->o.state_readonly &&
        state_save(rt->s->state_dir, rt->src->conn.id, &rt->st) < 0) {
        ig_error(comp(rt), "cannot write its state record in %s",
                 rt->s->state_dir);
    }
}

static void arm(struct srt *rt, int64_t ms)
{
    if (rt->s->stopping || rt->removed) {
        return;
    }
    if (ms < 0) {
        ms = 0;
    }
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(rt->timer, &tv);
    rt->st.h.next_poll_ts = now_s() + ms / 1000;
}

/* --- polls ------------------------------------------------------------------
 */

static int on_item(void *ud, struct ig_item *it)
{
    struct poll *p = ud;
    if (p->nitems == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->items = ig_realloc(p->items, p->cap * sizeof(*p->items));
    }
    p->items[p->nitems++] = it;
    return IG_OK;
}

static void poll_free(struct poll *p)
{
    for (size_t i = 0; i < p->nitems; i++) {
        ig_item_free(p->items[i]);
    }
    ig_free(p->items);
    ig_free(p->sink.error);
    ig_diags_fini(&p->diags);
    ig_free(p->error);
    ig_free(p->first_url);
    ig_free(p->new_etag);
    ig_free(p->new_lm);
    ig_free(p->new_hash);
    ig_free(p->proposal);
    ig_free(p);
}

static void start_poll(struct srt *rt)
{
    struct sched *s = rt->s;
    if (rt->poll || rt->held || s->stopping || rt->removed) {
        return;
    }
    struct poll *p = ig_calloc(1, sizeof(*p));
    p->token = ++s->next_token;
    p->rt = rt;
    p->retry_after_s = -1;
    ig_diags_init(&p->diags);
    p->sink.emit = on_item;
    p->sink.ud = p;
    p->sink.diags = &p->diags;
    p->sink.max_items = (size_t)rt->src->conn.conf.max_items;
    rt->poll = p;
    rt->polled_once = true;
    p->next = s->polls;
    s->polls = p;

    struct connector *c = &rt->src->conn;
    ig_free(c->cursor);
    c->cursor = rt->st.cursor ? ig_strdup(rt->st.cursor) : NULL;
    ig_free(c->pending_cursor);
    c->pending_cursor = NULL;
    connector_begin(c);
    if (connector_is_local(c)) {
        int rc = connector_read_local(c, &p->sink);
        complete(p, rc, rc < 0 ? p->sink.error : NULL);
        return;
    }
    next_request(p);
}

/* 64-bit FNV-1a of the body with its length, as hex (ig_free). Not a
 * defence against a hostile server (it can always send new bytes), only
 * change detection. */
static char *body_hash(const char *b, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)b[i]) * 1099511628211ull;
    }
    return ig_asprintf("%016llx-%zu", (unsigned long long)h, n);
}

static void on_fetched(void *ud, const struct fetch_result *r)
{
    struct poll *p = ud;
    struct srt *rt = p->rt;
    struct connector *c = &rt->src->conn;
    if (r->rc != IG_OK) {
        complete(p, r->rc, r->error);
        return;
    }
    if (r->status == 304 && p->pages == 0) {
        p->not_modified = true;
        complete(p, IG_OK, NULL);
        return;
    }
    if (r->status == 429 || r->status == 503) {
        p->retry_after_s = r->retry_after_s;
        complete(p, IG_EAGAIN,
                 r->status == 429 ? "HTTP 429 Too Many Requests"
                                  : "HTTP 503 Service "
                                    "Unavailable");
        return;
    }
    /* The first response of a poll must be a 2xx; a later one (a detail
     * page, a next page) goes to the kind, which knows whether a missing
     * page ends the poll (hotline: yes) or only one item (web detail). */
    if ((r->status < 200 || r->status > 299) && p->pages == 0) {
        char why[64];
        snprintf(why, sizeof(why), "HTTP status %d", r->status);
        /* 5xx and 408 are the server's trouble: retried with backoff like
         * everything else, but reported as transient. */
        complete(
            p, r->status >= 500 || r->status == 408 ? IG_EAGAIN : IG_EREJECTED,
            why);
        return;
    }
    if (p->pages == 0) {
        ig_free(p->new_etag);
        ig_free(p->new_lm);
        p->new_etag = r->etag ? ig_strdup(r->etag) : NULL;
        p->new_lm = r->last_modified ? ig_strdup(r->last_modified) : NULL;
        /* Many servers send no validators, or ignore them: the same body
         * as last time (for a source whose last committed poll was one
         * page) is treated as a 304, so nothing is parsed again. */
        ig_free(p->new_hash);
        p->new_hash = body_hash(r->body, r->len);
        if (rt->st.body_hash && rt->st.url && p->first_url &&
            strcmp(rt->st.url, p->first_url) == 0 &&
            strcmp(rt->st.body_hash, p->new_hash) == 0) {
            p->not_modified = true;
            complete(p, IG_OK, NULL);
            return;
        }
    }
    p->pages++;
    struct connector_resp resp = {
        .status = r->status,
        .body = r->body,
        .len = r->len,
        .content_type = r->content_type,
        .url = r->url,
        .fetched_ts = now_s(),
    };
    int rc = connector_parse(c, &resp, &p->sink);
    if (rc < 0) {
        complete(p, rc, p->sink.error ? p->sink.error : ig_strerror(rc));
        return;
    }
    if (!c->more) {
        complete(p, IG_OK, NULL);
        return;
    }
    if (p->pages >= rt->src->conn.conf.max_pages) {
        char why[96];
        snprintf(why, sizeof(why), "page cap reached (%d pages per poll)",
                 p->pages);
        complete(p, IG_E2BIG, why);
        return;
    }
    next_request(p);
}

static void next_request(struct poll *p)
{
    struct srt *rt = p->rt;
    struct source *src = rt->src;
    struct connector *c = &src->conn;
    struct connector_req req;
    memset(&req, 0, sizeof(req));
    int rc = connector_request(c, &req);
    if (rc < 0 || !req.url) {
        connector_req_fini(&req);
        complete(p, rc < 0 ? rc : IG_EINVAL, "connector made no request");
        return;
    }
    char *auth = NULL;
    const char *why = NULL;
    rc = source_auth_header(src, &auth, &why);
    if (rc < 0) {
        connector_req_fini(&req);
        complete(p, IG_EINVAL, why);
        return;
    }
    const char **hdrs =
        ig_malloc((req.nheaders ? req.nheaders : 1) * sizeof(char *));
    size_t nh = 0;
    for (size_t i = 0; i < req.nheaders; i++) {
        hdrs[nh++] = req.headers[i];
    }
    const struct source_conf *cf = &c->conf;
    bool first = p->pages == 0;
    if (first) {
        ig_free(p->first_url);
        p->first_url = ig_strdup(req.url);
    }
    /* Validators only for the first request, and only when they were
     * recorded for this very URL. */
    bool cond = first && rt->st.url && strcmp(rt->st.url, req.url) == 0;
    struct fetch_req fr = {
        .url = req.url,
        .headers = hdrs,
        .nheaders = nh,
        .secret_header = auth,
        .etag = cond ? rt->st.etag : NULL,
        .last_modified = cond ? rt->st.last_modified : NULL,
        .connect_timeout_ms = cf->connect_timeout_ms,
        .timeout_ms = cf->timeout_ms,
        .low_speed_bps = cf->low_speed_bps,
        .low_speed_ms = cf->low_speed_ms,
        .max_bytes = cf->max_bytes,
        .max_redirects = 5,
        .allow_hosts = (const char *const *)cf->redirect_hosts.v,
        .nallow_hosts = cf->redirect_hosts.n,
        .user_agent = cf->user_agent,
        .log_name = c->id,
    };
    rc = fetch_start(rt->s->fetch, &fr, on_fetched, p, NULL);
    if (auth) {
        /* The header held the secret. */
        memset(auth, 0, strlen(auth));
        ig_free(auth);
    }
    ig_free(hdrs);
    connector_req_fini(&req);
    if (rc < 0) {
        complete(p, rc, "URL not fetchable (http/https only)");
    }
}

static int64_t next_delay_ms(struct srt *rt, bool ok, int64_t retry_after_s)
{
    const struct source_conf *cf = &rt->src->conn.conf;
    int64_t base = cf->interval_ms;
    int64_t d;
    if (ok) {
        d = base;
    } else {
        /* Exponential backoff from the interval, capped, never giving up. */
        d = base;
        for (int64_t i = 1;
             i < rt->st.h.consecutive_failures && d < cf->max_backoff_ms; i++) {
            d *= 2;
        }
        if (d > cf->max_backoff_ms) {
            d = cf->max_backoff_ms > base ? cf->max_backoff_ms : base;
        }
    }
    if (cf->jitter_pct > 0) {
        int64_t span = d * cf->jitter_pct / 100;
        if (span > 0) {
            d += (int64_t)(rnd(rt->s) % (uint32_t)(2 * span + 1)) - span;
        }
    }
    if (retry_after_s >= 0) {
        int64_t ra = (retry_after_s > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S
                                                        : retry_after_s) *
                     1000;
        if (ra > d) {
            d = ra;
        }
    }
    return d;
}

/* A good poll that stopped at max_items: an incremental source (one that
 * proposed a cursor past the items taken) has a backlog, read by the
 * next polls without waiting for the interval (the cursor moves on each
 * time); a listing source shows the same first items again, so it keeps
 * its interval. Logged when the state changes, not per poll. */
static void note_cap(struct srt *rt, const struct poll *p)
{
    bool capped = p->sink.capped;
    if (capped && !rt->capped) {
        ig_warn(comp(rt), "item cap reached (max_items = %zu per poll): %s",
                p->sink.max_items,
                p->proposal ? "the rest is read by the next polls, one "
                              "second apart"
                            : "the items past it are not read (raise "
                              "max_items)");
    } else if (!capped && rt->capped) {
        ig_info(comp(rt), "backlog read: the last poll took every item");
    }
    rt->capped = capped;
    if (capped && p->proposal && p->retry_after_s <= 0 &&
        rt->due_ms_from_now > BACKLOG_NEXT_MS) {
        rt->due_ms_from_now = BACKLOG_NEXT_MS;
    }
}

static void complete(struct poll *p, int rc, const char *why)
{
    struct srt *rt = p->rt;
    struct connector *c = &rt->src->conn;
    struct source_health *h = &rt->st.h;
    p->complete = true;
    p->rc = rc;
    connector_end(c, rc);
    if (rc == IG_OK && c->pending_cursor) {
        p->proposal = c->pending_cursor;
        c->pending_cursor = NULL;
    }
    if (rc != IG_OK) {
        p->error = ig_strdup(why ? why : ig_strerror(rc));
    }

    /* Health. */
    int64_t now = now_s();
    h->last_poll_ts = now;
    h->polls++;
    h->items_last_poll = (int64_t)p->nitems;
    h->items_total += (int64_t)p->nitems;
    if (rc == IG_OK && !p->not_modified && !p->proposal && !rt->st.cursor) {
        /* A listing source (no cursor: it shows its current items on
         * every poll) that yielded items before and now succeeds with
         * none is the classic silently broken scraper: say so once.
         * Incremental sources (hotline, file) are often rightly empty. */
        h->empty_polls = p->nitems ? 0 : h->empty_polls + 1;
        if (h->empty_polls == 3 && h->items_total > 0) {
            ig_warn(comp(rt), "3 successful polls in a row without any "
                              "item (did the page or API change?)");
        }
    }
    if (rc == IG_OK) {
        h->last_success_ts = now;
        h->consecutive_failures = 0;
        if (rt->failing) {
            ig_info(comp(rt), "recovered");
        }
        rt->failing = false;
    } else {
        h->failures++;
        h->consecutive_failures++;
        h->last_error_ts = now;
        ig_free(rt->st.last_error_s);
        rt->st.last_error_s = ig_strdup(p->error);
        h->last_error = rt->st.last_error_s;
        /* Log on the state change only; the rest is counted. */
        if (!rt->failing) {
            ig_warn(comp(rt), "failing: %s", p->error);
        }
        rt->failing = true;
    }
    rt->due_ms_from_now = next_delay_ms(rt, rc == IG_OK, p->retry_after_s);
    if (rc == IG_OK) {
        note_cap(rt, p);
    }
    save_state(rt);

    struct sched_batch *b = &p->batch;
    b->token = p->token;
    b->source_id = c->id;
    b->kind = c->ops->kind;
    b->channel = c->conf.channel ? c->conf.channel : c->ops->channel;
    b->items = p->items;
    b->nitems = p->nitems;
    b->rc = rc;
    b->error = p->error;
    b->nskipped = p->sink.nskipped;
    b->not_modified = p->not_modified;
    rt->s->o.on_batch(rt->s->o.ud, b);
}

static struct poll *find_poll(struct sched *s, uint64_t token,
                              struct poll ***where)
{
    for (struct poll **pp = &s->polls; *pp; pp = &(*pp)->next) {
        if ((*pp)->token == token) {
            *where = pp;
            return *pp;
        }
    }
    return NULL;
}

/* True when a removed record other than rt still has a poll of id in
 * flight or unsettled. */
static bool removed_poll_of(const struct sched *s, const char *id,
                            const struct srt *rt)
{
    for (const struct poll *p = s->polls; p; p = p->next) {
        if (p->rt != rt && p->rt->removed &&
            strcmp(p->rt->src->conn.id, id) == 0) {
            return true;
        }
    }
    return false;
}

/* The held record that waits for removed record rt's poll (rt's poll
 * already unlinked from s->polls), once no other removed record of its
 * source id has a poll left; else NULL. */
static struct srt *held_successor(const struct sched *s, const struct srt *rt)
{
    const char *id = rt->src->conn.id;
    for (struct srt *n = s->rts; n; n = n->next) {
        if (n->held && strcmp(n->src->conn.id, id) == 0) {
            return removed_poll_of(s, id, rt) ? NULL : n;
        }
    }
    return NULL;
}

static void maybe_idle(struct sched *s)
{
    if (!s->o.once || s->idle_sent || s->polls) {
        return;
    }
    for (struct srt *rt = s->rts; rt; rt = rt->next) {
        if (rt->src->conn.conf.enabled && !rt->polled_once) {
            return;
        }
    }
    s->idle_sent = true;
    if (s->o.on_idle) {
        s->o.on_idle(s->o.ud);
    }
}

/* A committed poll's connector diagnostics. The malformed items it skipped
 * are dropped for good now (the cursor moves past them), so each skip's
 * reason is logged, with the other notes of that poll beside it; a poll
 * without skips logs its notes (a charset mismatch, say) at debug only,
 * for a listing source repeats them on every poll. */
static void log_commit_diags(const struct poll *p)
{
    const struct ig_diags *d = &p->diags;
    enum ig_log_level lvl = p->sink.nskipped ? IG_LOG_WARN : IG_LOG_DEBUG;
    for (size_t i = 0; i < d->n; i++) {
        ig_log(lvl, comp(p->rt), "%s", d->v[i].msg);
    }
    if (p->sink.nskipped) {
        ig_warn(comp(p->rt),
                "%zu malformed item%s skipped for good (see above)",
                p->sink.nskipped, p->sink.nskipped == 1 ? "" : "s");
    }
}

void sched_done(struct sched *s, uint64_t token, int status, size_t new_items)
{
    struct poll **where;
    struct poll *p = find_poll(s, token, &where);
    if (!p || !p->complete) {
        return;
    }
    *where = p->next;
    struct srt *rt = p->rt;
    if (new_items > 0) {
        rt->st.h.last_new_item_ts = now_s();
    }
    if (status == IG_OK && p->rc == IG_OK) {
        /* The items are safe: commit the cursor and the validators. */
        log_commit_diags(p);
        if (p->proposal) {
            ig_free(rt->st.cursor);
            rt->st.cursor = p->proposal;
            p->proposal = NULL;
        }
        if (!p->not_modified && p->first_url) {
            ig_free(rt->st.url);
            ig_free(rt->st.etag);
            ig_free(rt->st.last_modified);
            rt->st.url = p->first_url;
            p->first_url = NULL;
            rt->st.etag = p->new_etag;
            rt->st.last_modified = p->new_lm;
            p->new_etag = p->new_lm = NULL;
            /* Only a one-page poll is fully described by its body. */
            ig_free(rt->st.body_hash);
            rt->st.body_hash = p->pages == 1 ? p->new_hash : NULL;
            if (p->pages == 1) {
                p->new_hash = NULL;
            }
        }
    }
    save_state(rt);
    rt->poll = NULL;
    poll_free(p);
    if (rt->removed) {
        struct srt *next = held_successor(s, rt);
        int64_t due = rt->due_ms_from_now;
        srt_free(rt);
        if (next) {
            /* The commit is on disk: the new record starts from it, on
             * the schedule the settled poll asked for. */
            next->held = false;
            srt_load_state(next);
            if (s->started && next->src->conn.conf.enabled) {
                arm(next, s->o.once ? 0 : due);
            }
        }
    } else if (!s->o.once) {
        arm(rt, rt->due_ms_from_now);
    }
    maybe_idle(s);
}

/* --- lifecycle --------------------------------------------------------------
 */

int sched_new(struct event_base *base, struct source_set *set,
              const struct sched_opts *o, struct sched **out)
{
    *out = NULL;
    if (o->state_dir && !o->state_readonly &&
        state_dir_prepare(o->state_dir) < 0) {
        ig_error("sched", "cannot create state dir %s", o->state_dir);
        source_set_free(set);
        return IG_EIO;
    }
    struct sched *s = ig_calloc(1, sizeof(*s));
    s->base = base;
    s->o = *o;
    s->state_dir = o->state_dir ? ig_strdup(o->state_dir) : NULL;
    s->o.state_dir = s->state_dir;
    s->rng = o->seed ? o->seed : (uint32_t)time(NULL) ^ 0x5bd1e995u;
    struct fetch_opts fo = {.max_per_host = o->max_per_host,
                            .max_total = o->max_total};
    s->fetch = fetch_new(base, &fo);
    if (!s->fetch) {
        source_set_free(set);
        ig_free(s->state_dir);
        ig_free(s);
        return IG_EIO;
    }
    struct setref *ref = setref_add(s, set);
    ref->refs++;
    struct srt **tail = &s->rts;
    for (size_t i = 0; i < set->n; i++) {
        struct srt *rt = srt_new(s, set->v[i], ref);
        *tail = rt;
        tail = &rt->next;
    }
    setref_put(s, ref);
    if (!s->sets) {
        /* An empty set: keep nothing. */
    }
    *out = s;
    return IG_OK;
}

int sched_start(struct sched *s)
{
    s->started = true;
    int64_t i = 0;
    for (struct srt *rt = s->rts; rt; rt = rt->next, i++) {
        if (!rt->src->conn.conf.enabled) {
            continue;
        }
        /* Spread the first polls over a few seconds, unless --once. */
        arm(rt, s->o.once ? 0 : (int64_t)(rnd(s) % 3000));
    }
    maybe_idle(s);
    return IG_OK;
}

int sched_poll_now(struct sched *s, const char *id)
{
    for (struct srt *rt = s->rts; rt; rt = rt->next) {
        if (strcmp(rt->src->conn.id, id) == 0) {
            if (rt->poll || rt->held) {
                return IG_EAGAIN;
            }
            evtimer_del(rt->timer);
            start_poll(rt);
            return IG_OK;
        }
    }
    return IG_ENOENT;
}

int sched_reload(struct sched *s, struct source_set *set)
{
    struct setref *ref = setref_add(s, set);
    ref->refs++;
    struct srt *old = s->rts;
    struct srt *fresh = NULL, **tail = &fresh;
    for (size_t i = 0; i < set->n; i++) {
        struct source *src = set->v[i];
        struct srt *keep = NULL;
        for (struct srt *rt = old; rt; rt = rt->next) {
            if (!rt->removed && strcmp(rt->src->conn.id, src->conn.id) == 0 &&
                strcmp(rt->src->fingerprint, src->fingerprint) == 0) {
                keep = rt;
                break;
            }
        }
        if (keep) {
            /* Unchanged: the record (and its old set) carry over. */
            srt_unlink(s, keep);
            old = s->rts;
            keep->next = NULL;
            *tail = keep;
            tail = &keep->next;
            continue;
        }
        /* New or changed: the record of a changed source is retired and
         * its state re-read from disk by the new one — once the retired
         * record's poll (or an older retired one's) has been settled: its
         * items are still in the pipeline, a second poll would fetch them
         * again, and its commit is still to be written. */
        bool busy = false;
        for (struct srt *rt = old; rt; rt = rt->next) {
            if (strcmp(rt->src->conn.id, src->conn.id) != 0) {
                continue;
            }
            if (rt->poll) {
                busy = true;
            } else if (!rt->held) {
                save_state(rt);
            }
        }
        busy = busy || removed_poll_of(s, src->conn.id, NULL);
        struct srt *rt = srt_new(s, src, ref);
        *tail = rt;
        tail = &rt->next;
        rt->held = busy;
        if (!busy && s->started && src->conn.conf.enabled) {
            arm(rt, (int64_t)(rnd(s) % 3000));
        }
    }
    /* Whatever is left in the old list is gone or changed. */
    struct srt *rt = s->rts;
    while (rt) {
        struct srt *n = rt->next;
        rt->removed = true;
        evtimer_del(rt->timer);
        if (!rt->poll) {
            srt_free(rt);
        }
        /* else: freed by sched_done of its batch */
        rt = n;
    }
    s->rts = fresh;
    setref_put(s, ref);
    return IG_OK;
}

void sched_stop(struct sched *s)
{
    if (!s || s->stopping) {
        return;
    }
    s->stopping = true;
    for (struct srt *rt = s->rts; rt; rt = rt->next) {
        evtimer_del(rt->timer);
    }
    /* Cancelling the transfers completes their polls with errors. */
    fetch_free(s->fetch);
    s->fetch = NULL;
}

void sched_free(struct sched *s)
{
    if (!s) {
        return;
    }
    sched_stop(s);
    while (s->polls) {
        struct poll *p = s->polls;
        s->polls = p->next;
        struct srt *rt = p->rt;
        rt->poll = NULL;
        poll_free(p);
        if (rt->removed) {
            srt_free(rt);
        }
    }
    while (s->rts) {
        struct srt *n = s->rts->next;
        srt_free(s->rts);
        s->rts = n;
    }
    while (s->sets) {
        struct setref *r = s->sets;
        s->sets = r->next;
        source_set_free(r->set);
        ig_free(r);
    }
    ig_free(s->state_dir);
    ig_free(s);
}

/* --- health ------------------------------------------------------------------
 */

void sched_health_each(const struct sched *s,
                       void (*fn)(void *ud, const struct source_health *h),
                       void *ud)
{
    for (const struct srt *rt = s->rts; rt; rt = rt->next) {
        fn(ud, &rt->st.h);
    }
}

static void kts(struct ig_jsonw *w, const char *key, int64_t ts)
{
    char k[64];
    snprintf(k, sizeof(k), "%s_ts", key);
    ig_jsonw_kint(w, k, ts);
    if (ts > 0) {
        char iso[32];
        ig_time_iso(ts, 0, iso);
        ig_jsonw_kstr(w, key, iso);
    } else {
        ig_jsonw_knull(w, key);
    }
}

void sched_health_obj_json(const struct source_health *h, struct ig_jsonw *w)
{
    ig_jsonw_obj_open(w);
    ig_jsonw_kstr(w, "id", h->id);
    ig_jsonw_kstr(w, "kind", h->kind);
    ig_jsonw_kbool(w, "enabled", h->enabled);
    ig_jsonw_kstr(w, "status",
                  h->polls == 0                 ? "never polled"
                  : h->consecutive_failures > 0 ? "failing"
                                                : "ok");
    kts(w, "last_poll", h->last_poll_ts);
    kts(w, "last_success", h->last_success_ts);
    kts(w, "last_error_at", h->last_error_ts);
    ig_jsonw_kstr(w, "last_error", h->last_error);
    ig_jsonw_kint(w, "consecutive_failures", h->consecutive_failures);
    ig_jsonw_kint(w, "items_last_poll", h->items_last_poll);
    ig_jsonw_kint(w, "empty_polls", h->empty_polls);
    kts(w, "last_new_item", h->last_new_item_ts);
    kts(w, "next_poll", h->next_poll_ts);
    ig_jsonw_kint(w, "polls", h->polls);
    ig_jsonw_kint(w, "failures", h->failures);
    ig_jsonw_kint(w, "items_total", h->items_total);
    ig_jsonw_obj_close(w);
}

void sched_health_json(const struct sched *s, struct ig_jsonw *w)
{
    ig_jsonw_arr_open(w);
    for (const struct srt *rt = s->rts; rt; rt = rt->next) {
        sched_health_obj_json(&rt->st.h, w);
    }
    ig_jsonw_arr_close(w);
}
