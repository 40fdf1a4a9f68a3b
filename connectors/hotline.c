/* hotline.c — the citizen hotline's JSON work-order API (kind `hotline`).
 *
 * A hotline system publishes its work orders as JSON pages. Everything
 * system-specific is configuration: where the list is, which member is the
 * id, the time, the title ... (RFC 6901 JSON pointers), how the next page
 * is found (a cursor member plus a has-more flag) and how the API says
 * "error" inside an HTTP 200 (ok_pointer/ok_value). A different hotline
 * system therefore needs a new [source] section, not new code.
 *
 * Paging within one poll: the first request is the configured url (plus
 * since_param when a cursor is committed); each page's next cursor is sent
 * back verbatim in cursor_param. The paging traps of a hostile or buggy
 * API end the poll with an error after the items seen so far were
 * emitted once: a cursor seen before in this poll (never-advancing or
 * cyclic cursors), an empty page whose cursor repeats, and the
 * scheduler's page cap. Items are de-duplicated on id within a poll.
 *
 * Incremental cursor across polls: (t, ids) = the newest item time seen
 * and the ids of the items at exactly that time. A time-only cursor loses
 * rows that share a timestamp with the last one seen, so the next poll
 * asks for time >= t and drops items older than t and those at t whose id
 * is already in ids. The cursor is stored as {"t":<unix s>,"ids":[...]}
 * and proposed only after a poll that completed without error (see
 * connector.h). Items without a usable time are emitted (flagged) and do
 * not move the cursor; the gateway's id dedup absorbs their repeats. A
 * poll that reaches max_items covers only the items it emitted: when the
 * API visibly lists the oldest first, it ends well there and the next
 * polls read on from its cursor; otherwise it fails (what was not taken
 * may be older than the cursor: cutting would lose it).
 *
 * Hostile JSON is handled by json_safe.c (escapes, NULs, invalid UTF-8,
 * duplicate keys, nesting, numbers kept as exact text): each page is read
 * into its tree in an arena that dies when the page is done, after every
 * value the items keep was copied into them. An item with repaired
 * strings or out-of-range numbers is emitted flagged, an item without an
 * id is skipped and counted.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "connectors/connector.h"
#include "connectors/connector_int.h"
#include "connectors/date.h"
#include "connectors/json_safe.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/item.h"
#include "core/jsonw.h"
#include "core/mem.h"
#include "core/text.h"

/* Ids kept in the cursor for items sharing the newest timestamp. A burst
 * of more work orders in one second than this is implausible; past it
 * the oldest are dropped and id dedup in the gateway takes over. */
#define CURSOR_MAX_IDS 512

struct hotline_conf {
    char *items; /* pointer to the list */
    char *id;
    char *time;
    char *title;
    char *text;
    char *place;
    char *author;
    char *link;
    struct ig_cfg_list field; /* MAP: raw field name -> pointer */
    char *next_cursor;
    char *has_more;
    char *cursor_param;
    char *since_param;
    char *since_format;
    char *ok_pointer;
    char *ok_value;
    char *error_pointer;
    char *tz; /* "+08:00": offset of times without a zone */
    int64_t max_depth;
    int64_t max_field;
    bool keep_raw;
};

#define OFF(f) offsetof(struct hotline_conf, f)

static const char *const since_formats[] = {"datetime", "iso8601", "epoch",
                                            "epoch_ms", NULL};

static const struct ig_cfg_field hotline_schema[] = {
    {"items", IG_CFG_STR, "/data/list", OFF(items),
     "JSON pointer to the array of work orders (or one order object)", 0, NULL},
    {"id", IG_CFG_STR, NULL, OFF(id),
     "pointer (inside a work order) to its id, e.g. /gdbh", IG_CFG_F_REQUIRED,
     NULL},
    {"time", IG_CFG_STR, NULL, OFF(time),
     "pointer to the accepted/created time (drives the cursor)", 0, NULL},
    {"title", IG_CFG_STR, NULL, OFF(title), "pointer to the title", 0, NULL},
    {"text", IG_CFG_STR, NULL, OFF(text), "pointer to the complaint text", 0,
     NULL},
    {"place", IG_CFG_STR, NULL, OFF(place), "pointer to the address/town", 0,
     NULL},
    {"author", IG_CFG_STR, NULL, OFF(author), "pointer to the reporter", 0,
     NULL},
    {"link", IG_CFG_STR, NULL, OFF(link),
     "pointer to the work order's URL (resolved against the page URL)", 0,
     NULL},
    {"field", IG_CFG_MAP, NULL, OFF(field),
     "field.NAME = pointer: extra raw fields kept on the item", 0, NULL},
    {"next_cursor", IG_CFG_STR, "/data/nextCursor", OFF(next_cursor),
     "pointer to the next page's cursor (\"\" or null: last page)", 0, NULL},
    {"has_more", IG_CFG_STR, "/data/hasMore", OFF(has_more),
     "pointer to the more-pages flag (absent: more while a cursor comes)", 0,
     NULL},
    {"cursor_param", IG_CFG_STR, "cursor", OFF(cursor_param),
     "query parameter carrying the page cursor", 0, NULL},
    {"since_param", IG_CFG_STR, NULL, OFF(since_param),
     "query parameter for 'changed since' (the committed cursor time)", 0,
     NULL},
    {"since_format", IG_CFG_ENUM, "datetime", OFF(since_format),
     "format of since_param: datetime, iso8601, epoch, epoch_ms", 0,
     since_formats},
    {"ok_pointer", IG_CFG_STR, NULL, OFF(ok_pointer),
     "pointer to the API status member (e.g. /code)", 0, NULL},
    {"ok_value", IG_CFG_STR, NULL, OFF(ok_value),
     "value of ok_pointer meaning success (e.g. 200)", 0, NULL},
    {"error_pointer", IG_CFG_STR, NULL, OFF(error_pointer),
     "pointer to the API error message (e.g. /msg)", 0, NULL},
    {"timezone", IG_CFG_STR, "+08:00", OFF(tz),
     "UTC offset of times written without a zone", 0, NULL},
    {"max_depth", IG_CFG_INT, "64", OFF(max_depth), "JSON nesting limit", 0,
     NULL},
    {"max_field", IG_CFG_SIZE, "256KiB", OFF(max_field),
     "cap per text field; longer values are cut and flagged", 0, NULL},
    {"keep_raw", IG_CFG_BOOL, "true", OFF(keep_raw),
     "keep every scalar member of a work order as a raw field", 0, NULL},
    {0},
};

/* A set of strings in insertion order with a hash index: a poll may see
 * max_items ids, and a linear scan per item would be quadratic. */
struct strset {
    char **v; /* owned, insertion order */
    size_t n, cap;
    size_t *slot; /* open addressing: index + 1, 0 = empty */
    size_t nslot; /* power of two, > 2 n */
};

struct hotline {
    struct hotline_conf cf;
    struct date_opts dopts; /* timezone, years; no "now": no relative */
    /* per poll */
    char *page_cursor; /* cursor for the next request, or NULL */
    struct strset seen_cursors;
    struct strset seen_ids;
    size_t pages;
    /* committed cursor, parsed */
    bool have_cur;
    int64_t cur_t;
    struct strset cur_ids;
    /* proposal */
    bool have_new;
    int64_t new_t;
    struct strset new_ids;
    /* the order of the items emitted this poll (times known): never
     * decreasing, and rising at least once, is an API that lists the
     * oldest first, where a poll stopped at max_items may commit the
     * cursor of what it emitted (see hotline_parse()) */
    bool have_last, asc_ok, asc_up;
    int64_t last_t;
    bool cut_ok; /* the item the cap refused continues that order */
};

static uint64_t str_hash(const char *x)
{
    uint64_t h = 1469598103934665603ull;
    for (; *x; x++) {
        h = (h ^ (unsigned char)*x) * 1099511628211ull;
    }
    return h;
}

static bool set_has(const struct strset *s, const char *x)
{
    if (!s->nslot) {
        return false;
    }
    for (size_t i = str_hash(x) & (s->nslot - 1);;
         i = (i + 1) & (s->nslot - 1)) {
        if (!s->slot[i]) {
            return false;
        }
        if (strcmp(s->v[s->slot[i] - 1], x) == 0) {
            return true;
        }
    }
}

static void set_index(struct strset *s, size_t idx)
{
    size_t i = str_hash(s->v[idx]) & (s->nslot - 1);
    while (s->slot[i]) {
        i = (i + 1) & (s->nslot - 1);
    }
    s->slot[i] = idx + 1;
}

static void set_add(struct strset *s, const char *x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = ig_realloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = ig_strdup(x);
    if (2 * s->n >= s->nslot) {
        ig_free(s->slot);
        s->nslot = s->nslot ? s->nslot * 2 : 32;
        s->slot = ig_calloc(s->nslot, sizeof(*s->slot));
        for (size_t i = 0; i < s->n; i++) {
            set_index(s, i);
        }
    } else {
        set_index(s, s->n - 1);
    }
}

static void set_clear(struct strset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        ig_free(s->v[i]);
    }
    ig_free(s->v);
    ig_free(s->slot);
    memset(s, 0, sizeof(*s));
}

/* --- cursor text <-> (t, ids) --------------------------------------------- */

static void cursor_load(struct hotline *h, const char *text)
{
    h->have_cur = false;
    set_clear(&h->cur_ids);
    if (!text || !*text) {
        return;
    }
    size_t len = strlen(text);
    struct ig_arena *a = ig_arena_new(json_safe_arena_size(len));
    const struct json_safe_node *root = NULL;
    if (json_safe_read(text, len, 8, a, &root, NULL, NULL, 0) < 0) {
        ig_arena_free(a);
        return;
    }
    int64_t t;
    if (json_safe_int(json_safe_pointer(root, "/t"), 0, INT64_MAX / 2, &t) ==
        IG_OK) {
        h->have_cur = true;
        h->cur_t = t;
        const struct json_safe_node *ids = json_safe_pointer(root, "/ids");
        for (const struct json_safe_node *c = ids ? ids->child : NULL; c;
             c = c->next) {
            const char *s;
            if (json_safe_scalar(c, &s) == JSON_SAFE_STRING) {
                set_add(&h->cur_ids, s);
            }
        }
    }
    ig_arena_free(a);
}

static char *cursor_text(int64_t t, const struct strset *ids)
{
    struct ig_buf b;
    ig_buf_init(&b, 0);
    struct ig_jsonw w;
    ig_jsonw_init(&w, &b);
    ig_jsonw_obj_open(&w);
    ig_jsonw_kint(&w, "t", t);
    ig_jsonw_key(&w, "ids");
    ig_jsonw_arr_open(&w);
    size_t from = ids->n > CURSOR_MAX_IDS ? ids->n - CURSOR_MAX_IDS : 0;
    for (size_t i = from; i < ids->n; i++) {
        ig_jsonw_str(&w, ids->v[i]);
    }
    ig_jsonw_arr_close(&w);
    ig_jsonw_obj_close(&w);
    return ig_buf_take(&b);
}

/* --- ops ---------------------------------------------------------------- */

static bool is_pointer(const char *p)
{
    return !p || !*p || *p == '/';
}

static int hotline_init(struct connector *c, struct ig_diags *d)
{
    struct hotline *h = ig_calloc(1, sizeof(*h));
    c->ctx = h;
    int rc = connector_cfg_apply(c, hotline_schema, &h->cf, d);
    const struct {
        const char *key;
        const char *val;
    } ptrs[] = {
        {"items", h->cf.items},
        {"id", h->cf.id},
        {"time", h->cf.time},
        {"title", h->cf.title},
        {"text", h->cf.text},
        {"place", h->cf.place},
        {"author", h->cf.author},
        {"link", h->cf.link},
        {"next_cursor", h->cf.next_cursor},
        {"has_more", h->cf.has_more},
        {"ok_pointer", h->cf.ok_pointer},
        {"error_pointer", h->cf.error_pointer},
    };
    for (size_t i = 0; i < sizeof(ptrs) / sizeof(ptrs[0]); i++) {
        if (!is_pointer(ptrs[i].val)) {
            connector_cfg_error(c, d, ptrs[i].key,
                                "'%s' is not a JSON pointer (RFC 6901: "
                                "\"/data/list\", \"/gdbh\")",
                                ptrs[i].val);
            rc = IG_EINVAL;
        }
    }
    for (size_t i = 0; i < h->cf.field.n; i++) {
        const char *v = h->cf.field.v[2 * i + 1];
        if (!is_pointer(v)) {
            char key[128];
            snprintf(key, sizeof(key), "field.%s", h->cf.field.v[2 * i]);
            connector_cfg_error(c, d, key, "'%s' is not a JSON pointer", v);
            rc = IG_EINVAL;
        }
    }
    connector_work_order_dates(&h->dopts);
    if (date_parse_offset(h->cf.tz, &h->dopts.local_offset_min) < 0) {
        connector_cfg_error(c, d, "timezone",
                            "'%s' is not an offset such as +08:00", h->cf.tz);
        rc = IG_EINVAL;
    }
    if ((h->cf.ok_pointer != NULL) != (h->cf.ok_value != NULL)) {
        connector_cfg_error(c, d, h->cf.ok_pointer ? "ok_pointer" : "ok_value",
                            "ok_pointer and ok_value go together");
        rc = IG_EINVAL;
    }
    if (h->cf.max_depth < 2 || h->cf.max_depth > 1000) {
        connector_cfg_error(c, d, "max_depth", "must be within 2..1000");
        rc = IG_EINVAL;
    }
    if (h->cf.since_param && !h->cf.time) {
        connector_cfg_error(c, d, "since_param",
                            "needs 'time' (the cursor is a time)");
        rc = IG_EINVAL;
    }
    return rc;
}

static void hotline_fini(struct connector *c)
{
    struct hotline *h = c->ctx;
    if (!h) {
        return;
    }
    ig_cfg_free(hotline_schema, &h->cf);
    ig_free(h->page_cursor);
    set_clear(&h->seen_cursors);
    set_clear(&h->seen_ids);
    set_clear(&h->cur_ids);
    set_clear(&h->new_ids);
    ig_free(h);
}

static void hotline_begin(struct connector *c)
{
    struct hotline *h = c->ctx;
    ig_free(h->page_cursor);
    h->page_cursor = NULL;
    set_clear(&h->seen_cursors);
    set_clear(&h->seen_ids);
    set_clear(&h->new_ids);
    h->pages = 0;
    h->have_last = h->asc_up = h->cut_ok = false;
    h->asc_ok = true;
    cursor_load(h, c->cursor);
    h->have_new = h->have_cur;
    h->new_t = h->cur_t;
    for (size_t i = 0; i < h->cur_ids.n; i++) {
        set_add(&h->new_ids, h->cur_ids.v[i]);
    }
}

static void add_query(struct ig_buf *b, const char *name, const char *value)
{
    ig_buf_addc(b, strchr(b->data ? b->data : "", '?') ? '&' : '?');
    ig_buf_adds(b, name);
    ig_buf_addc(b, '=');
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (isalnum(*p) || strchr("-_.~", *p)) {
            ig_buf_addc(b, (char)*p);
        } else {
            ig_buf_addf(b, "%%%02X", *p);
        }
    }
}

static int hotline_request(struct connector *c, struct connector_req *out)
{
    struct hotline *h = c->ctx;
    struct ig_buf b;
    ig_buf_init(&b, 0);
    ig_buf_adds(&b, c->conf.url);
    if (h->cf.since_param && h->have_cur) {
        char v[40];
        if (strcmp(h->cf.since_format, "epoch") == 0) {
            snprintf(v, sizeof(v), "%lld", (long long)h->cur_t);
        } else if (strcmp(h->cf.since_format, "epoch_ms") == 0) {
            snprintf(v, sizeof(v), "%lld", (long long)h->cur_t * 1000);
        } else {
            char iso[32];
            ig_time_iso(h->cur_t, h->dopts.local_offset_min, iso);
            snprintf(v, sizeof(v), "%s", iso);
            if (strcmp(h->cf.since_format, "datetime") == 0) {
                v[10] = ' ';
                v[19] = '\0';
            }
        }
        add_query(&b, h->cf.since_param, v);
    }
    if (h->page_cursor) {
        add_query(&b, h->cf.cursor_param, h->page_cursor);
    }
    memset(out, 0, sizeof(*out));
    out->url = ig_buf_take(&b);
    connector_req_add_header(out, "Accept", "application/json");
    return IG_OK;
}

/* Copies a mapped scalar into the item, capped and flagged. */
static const char *take(struct ig_item *it, const struct hotline *h,
                        const struct json_safe_node *rec, const char *ptr)
{
    const char *t = json_safe_text_at(rec, ptr);
    if (!t) {
        return NULL;
    }
    size_t l = strlen(t);
    if (h->cf.max_field > 0 && l > (size_t)h->cf.max_field) {
        l = ig_utf8_trim_len(t, l, (size_t)h->cf.max_field);
        ig_item_flag(it, IG_ITEM_F_TRUNCATED, "a field was cut at max_field");
    }
    return ig_item_strndup(it, t, l);
}

/* *old: the record was already seen (at or before the cursor); *older:
 * its time is strictly before the cursor's. */
static int one_record(struct connector *c, struct hotline *h,
                      const struct connector_resp *in,
                      const struct json_safe_node *rec, unsigned repairs,
                      struct connector_sink *sink, bool *old, bool *older)
{
    *old = false;
    *older = false;
    const char *id;
    enum json_safe_kind k =
        json_safe_scalar(json_safe_pointer(rec, h->cf.id), &id);
    if ((k != JSON_SAFE_STRING && k != JSON_SAFE_NUMBER) || !*id) {
        connector_skip(sink, c, "work order without an id at %s", h->cf.id);
        return IG_OK;
    }
    if (k == JSON_SAFE_NUMBER && strpbrk(id, ".eE-")) {
        connector_skip(sink, c, "work order id %.40s is not an integer", id);
        return IG_OK;
    }
    if (set_has(&h->seen_ids, id)) {
        return IG_OK; /* repeated within this poll (paging overlap) */
    }
    set_add(&h->seen_ids, id);

    /* Time and the incremental cursor. */
    int64_t ts = 0;
    int off = 0;
    bool have_ts = false;
    const char *traw = NULL;
    if (h->cf.time) {
        traw = json_safe_text_at(rec, h->cf.time);
        have_ts = traw &&
                  date_parse(traw, strlen(traw), &h->dopts, &ts, &off) == IG_OK;
    }
    if (have_ts && h->have_cur &&
        (ts < h->cur_t || (ts == h->cur_t && set_has(&h->cur_ids, id)))) {
        *old = true;
        *older = ts < h->cur_t;
        return IG_OK;
    }
    struct ig_item *it = connector_item_new(c, in->fetched_ts);
    it->ext_id = ig_item_strdup(it, id);
    it->title = take(it, h, rec, h->cf.title);
    it->text = take(it, h, rec, h->cf.text);
    it->place = take(it, h, rec, h->cf.place);
    it->author = take(it, h, rec, h->cf.author);
    const char *link = take(it, h, rec, h->cf.link);
    if (link) {
        char *abs =
            connector_resolve_url(in->url ? in->url : c->conf.url, link);
        it->url = ig_item_strdup(it, abs);
        ig_free(abs);
    }
    if (have_ts) {
        connector_item_set_time(it, ts, off);
    } else {
        connector_item_no_time(it, traw, "time");
    }
    if (h->cf.keep_raw && rec->type == JSON_SAFE_T_OBJECT) {
        for (const struct json_safe_node *m = rec->child; m; m = m->next) {
            const char *t;
            if (json_safe_scalar(m, &t) != JSON_SAFE_NONE && m->key &&
                strlen(t) <= 4096) {
                ig_item_add_field(it, m->key, t);
            }
        }
    }
    for (size_t i = 0; i < h->cf.field.n; i++) {
        const char *v = take(it, h, rec, h->cf.field.v[2 * i + 1]);
        if (v) {
            ig_item_add_field(it, h->cf.field.v[2 * i], v);
        }
    }
    json_safe_flag_repaired(it, rec, repairs);
    if (json_safe_bad_numbers(rec)) {
        ig_item_flag(it, IG_ITEM_F_PARTIAL,
                     "a number is out of range (kept as text)");
    }
    int rc = connector_emit(sink, it);
    if (rc == IG_E2BIG) {
        /* Refused by the cap: not in the cursor. */
        h->cut_ok = h->asc_ok && have_ts && h->have_last && ts >= h->last_t &&
                    (h->asc_up || ts > h->last_t);
        return rc;
    }
    if (rc == IG_OK && have_ts) {
        /* The cursor covers emitted items only. */
        if (!h->have_new || ts > h->new_t) {
            h->have_new = true;
            h->new_t = ts;
            set_clear(&h->new_ids);
        }
        if (ts == h->new_t && !set_has(&h->new_ids, id)) {
            set_add(&h->new_ids, id);
        }
        if (h->have_last) {
            h->asc_ok = h->asc_ok && ts >= h->last_t;
            h->asc_up = h->asc_up || ts > h->last_t;
        }
        h->have_last = true;
        h->last_t = ts;
    }
    return rc;
}

static int hotline_parse(struct connector *c, const struct connector_resp *in,
                         struct connector_sink *sink)
{
    struct hotline *h = c->ctx;
    c->more = false;
    h->pages++;
    if (in->status && (in->status < 200 || in->status > 299)) {
        return connector_fail(sink, IG_EAGAIN, "HTTP status %d", in->status);
    }
    /* The page's tree; what the items keep is copied into them. */
    struct ig_arena *a = ig_arena_new(json_safe_arena_size(in->len));
    const struct json_safe_node *root = NULL;
    unsigned repairs = 0;
    char err[200];
    int rc = json_safe_read(in->body, in->len, (int)h->cf.max_depth, a, &root,
                            &repairs, err, sizeof(err));
    if (rc < 0) {
        rc = connector_fail(sink, rc, "bad JSON: %s", err);
        goto out;
    }

    /* The API may say "error" inside a 200. */
    if (h->cf.ok_pointer) {
        const char *v = json_safe_text_at(root, h->cf.ok_pointer);
        if (!v || strcmp(v, h->cf.ok_value) != 0) {
            const char *msg = json_safe_text_at(root, h->cf.error_pointer);
            rc = connector_fail(sink, IG_EAGAIN,
                                "API reported an error: %s=%.40s%s%.200s",
                                h->cf.ok_pointer, v ? v : "(missing)",
                                msg ? ": " : "", msg ? msg : "");
            goto out;
        }
    }
    const struct json_safe_node *list = json_safe_pointer(root, h->cf.items);
    if (list && list->type == JSON_SAFE_T_OBJECT) {
        /* A single-order endpoint: the object is the one record. */
        bool old, older;
        rc = one_record(c, h, in, list, repairs, sink, &old, &older);
        goto out;
    }
    if (!list || list->type != JSON_SAFE_T_ARRAY) {
        rc = connector_fail(sink, IG_EPARSE,
                            "no array at %s (not a work-order page)",
                            h->cf.items);
        goto out;
    }
    size_t n = 0, nold = 0, nolder = 0;
    for (const struct json_safe_node *rec = list->child; rec; rec = rec->next) {
        n++;
        if (rec->type != JSON_SAFE_T_OBJECT) {
            connector_skip(sink, c, "list entry %zu is not an object", n);
            continue;
        }
        bool old, older;
        rc = one_record(c, h, in, rec, repairs, sink, &old, &older);
        if (rc == IG_E2BIG && h->cut_ok) {
            /* The API lists the oldest first (every item emitted so far,
             * and the one refused, in rising time): what is left is newer
             * than the cursor of what was emitted, so the poll ends here,
             * commits that cursor, and the next polls read on from it. */
            if (sink->diags) {
                ig_diags_add(sink->diags, IG_DIAG_WARNING, c->id, 0, 0,
                             "item cap reached (%zu per poll); the API lists "
                             "work orders oldest first: the rest is read by "
                             "the next polls",
                             sink->max_items);
            }
            c->more = false;
            rc = IG_OK;
            goto out;
        }
        if (rc < 0) {
            if (rc == IG_E2BIG) {
                rc = connector_fail(
                    sink, rc,
                    "more than max_items items, not listed oldest first "
                    "(no cursor can be cut inside them): raise max_items");
            }
            goto out;
        }
        nold += old;
        nolder += older;
    }

    /* Next page? */
    /* An empty pointer means "not used" here, not "the whole document". */
    const char *next = json_safe_text_at(root, h->cf.next_cursor);
    bool more;
    if (h->cf.has_more && *h->cf.has_more &&
        json_safe_pointer(root, h->cf.has_more)) {
        const char *hm = NULL;
        json_safe_scalar(json_safe_pointer(root, h->cf.has_more), &hm);
        more = hm && (strcmp(hm, "true") == 0 || strcmp(hm, "1") == 0);
    } else {
        more = next && *next;
    }
    if (more && n > 0 && nold == n && nolder > 0) {
        /* Everything on this page was seen and some of it is older than
         * the cursor: the rest is older still (the API lists newest
         * first), stop here. A page of known rows all AT the cursor time
         * proves nothing: the next page may hold a new row of that same
         * second (or, from an ascending API asked since_param, every
         * newer row). */
        more = false;
    }
    if (more) {
        if (!next || !*next) {
            rc = connector_fail(sink, IG_EPARSE,
                                "API says more pages but gives no cursor");
            goto out;
        }
        if (set_has(&h->seen_cursors, next) ||
            (h->page_cursor && strcmp(h->page_cursor, next) == 0)) {
            rc = connector_fail(sink, IG_EPARSE,
                                "paging cursor repeated after %zu pages%s "
                                "(never advancing or cyclic)",
                                h->pages, n ? "" : " with an empty page");
            goto out;
        }
        if (h->page_cursor) {
            set_add(&h->seen_cursors, h->page_cursor);
        }
        ig_free(h->page_cursor);
        h->page_cursor = ig_strdup(next);
        c->more = true;
    }
    rc = IG_OK;
out:
    ig_arena_free(a);
    return rc;
}

static void hotline_end(struct connector *c, int rc)
{
    struct hotline *h = c->ctx;
    ig_free(c->pending_cursor);
    c->pending_cursor = NULL;
    if (rc == IG_OK && h->have_new) {
        c->pending_cursor = cursor_text(h->new_t, &h->new_ids);
    }
}

const struct connector_ops connector_hotline = {
    .kind = "hotline",
    .channel = "hotline",
    .schema = hotline_schema,
    .init = hotline_init,
    .request = hotline_request,
    .parse = hotline_parse,
    .begin = hotline_begin,
    .end = hotline_end,
    .fini = hotline_fini,
};
