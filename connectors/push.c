/* push.c — items pushed to the gateway (POST /v1/items) from JSON.
 *
 * The hotline's call-taking screen posts what the operator typed; the
 * gateway answers with the classification while the call is still on. The
 * body is one JSON object or an array of them:
 *
 *     {"id": "WO-2024-0001", "title": "...", "text": "...",
 *      "channel": "hotline", "source": "hotline-push", "url": "...",
 *      "published": "2024-05-01T09:30:00+08:00", "author": "...",
 *      "place": "...", "fields": {"k": "v", ...}}
 *
 * id and at least one of title/text are required; everything else is
 * optional. "published" is read as the polled hotline reads a work
 * order's time (connector_work_order_dates(): absolute forms only,
 * zone-less = +08:00) and passed on as ISO 8601; one that is no such time
 * flags the item and is kept as the field raw_date. Bad items are skipped
 * with a reason (the caller reports them to the client by index), never
 * guessed at; the gateway only sees struct
 * ig_item. The body is read in one pass by json_safe_read() into a tree in
 * a per-request arena (no cJSON: a malloc per node was most of the cost
 * of a push), which sanitises strings to valid UTF-8 without control
 * characters and rejects duplicate keys and trailing garbage; the whole
 * body is checked before the first item is emitted. Strings are capped (a
 * field over its cap is cut at a character boundary and the item flagged
 * TRUNCATED).
 */
#include "connectors/push.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "connectors/connector_int.h"
#include "connectors/date.h"
#include "connectors/json_safe.h"
#include "core/arena.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/item.h"
#include "core/mem.h"
#include "core/text.h"

/* A pushed work order is typed by a person; 64 KiB of text is far more
 * than a call produces, and keeps a hostile client from parking megabytes
 * per item in the pipeline. */
#define PUSH_TEXT_MAX (64 * 1024)
#define PUSH_FIELD_MAX 2048
#define PUSH_MAX_FIELDS 32

static const char *const push_channels[] = {"hotline", "letters", "media",
                                            "web", NULL};

/* The text of a string, or a number's exact text; else NULL. */
static const char *scalar_text(const struct json_safe_node *v)
{
    if (!v ||
        (v->type != JSON_SAFE_T_STRING && v->type != JSON_SAFE_T_NUMBER)) {
        return NULL;
    }
    return v->str;
}

/* A JSON scalar (string, or a number's exact text) as an item keeps it:
 * its text (borrowed from the tree) and in *n its length, capped at a
 * character boundary; NULL when v is no scalar. json_safe_read() has
 * already made every string valid UTF-8 without raw controls; a U+FFFD
 * it put there flags the item as repaired. */
static inline const char *field_text(struct ig_item *it,
                                     const struct json_safe_node *v, size_t cap,
                                     size_t *n)
{
    const char *s = scalar_text(v);
    if (!s) {
        *n = 0;
        return NULL;
    }
    *n = v->len;
    bool fffd = v->fffd;
    if (*n > cap) {
        *n = ig_utf8_trim_len(s, *n, cap);
        ig_item_flag(it, IG_ITEM_F_TRUNCATED, "a field was cut at its cap");
        fffd = fffd && ig_utf8_has_fffd(s, *n);
    }
    if (fffd) {
        ig_item_flag(it, IG_ITEM_F_REPAIRED,
                     "invalid UTF-8 or escapes replaced by U+FFFD");
    }
    return s;
}

/* One text field of an item: where its copy goes, and the member it
 * comes from with its cap, or its text (s, n) as it is. */
struct take {
    const char **to;
    const struct json_safe_node *v;
    size_t cap;
    const char *s;
    size_t n;
};

/* Reads the fields with field_text() in order (their flags in that
 * order), then copies them into the item arena with one allocation; a
 * field that is no scalar is set to NULL. */
static void take_all(struct ig_item *it, struct take *t, size_t nt)
{
    size_t total = 0;
    for (size_t k = 0; k < nt; k++) {
        if (!t[k].s) {
            t[k].s = field_text(it, t[k].v, t[k].cap, &t[k].n);
        }
        total += t[k].s ? t[k].n + 1 : 0;
    }
    char *d = ig_arena_alloc(it->arena, total);
    for (size_t k = 0; k < nt; k++) {
        *t[k].to = NULL;
        if (t[k].s) {
            memcpy(d, t[k].s, t[k].n);
            d[t[k].n] = '\0';
            *t[k].to = d;
            d += t[k].n + 1;
        }
    }
}

/* c as one of push_channels (static: an item points at it instead of a
 * copy), or NULL. */
static const char *channel_name(const char *c)
{
    for (const char *const *p = push_channels; *p; p++) {
        if (strcmp(*p, c) == 0) {
            return *p;
        }
    }
    return NULL;
}

/* The keys an item may have, found in one walk over its members instead
 * of one lookup (a walk with a strcmp per member) each. The first member
 * of a name wins (json_safe has rejected duplicate keys anyway). */
struct push_keys {
    const struct json_safe_node *id, *title, *text, *channel, *source, *url,
        *author, *place, *published, *fields;
};

/* With a literal name the compare is a load or two, not a call. */
static inline void pick(const struct json_safe_node **slot,
                        const struct json_safe_node *c, const char *name,
                        size_t len)
{
    if (!*slot && c->klen == len && memcmp(c->key, name, len) == 0) {
        *slot = c;
    }
}
#define PICK(slot, c, name) pick(slot, c, name, sizeof(name) - 1)

static void find_keys(const struct json_safe_node *o, struct push_keys *k)
{
    memset(k, 0, sizeof(*k));
    for (const struct json_safe_node *c = o->child; c; c = c->next) {
        switch (c->key[0]) {
        case 'i':
            PICK(&k->id, c, "id");
            break;
        case 't':
            PICK(&k->title, c, "title");
            PICK(&k->text, c, "text");
            break;
        case 'c':
            PICK(&k->channel, c, "channel");
            break;
        case 's':
            PICK(&k->source, c, "source");
            break;
        case 'u':
            PICK(&k->url, c, "url");
            break;
        case 'a':
            PICK(&k->author, c, "author");
            break;
        case 'p':
            PICK(&k->place, c, "place");
            PICK(&k->published, c, "published");
            break;
        case 'f':
            PICK(&k->fields, c, "fields");
            break;
        default:
            break;
        }
    }
}

/* The item's publication time, read exactly as the polled hotline reads
 * a work order's (connector_work_order_dates(): absolute forms only, years
 * 1990..2100, a zone-less time is Beijing time) and passed on as ISO 8601
 * with its offset and Unix seconds; a value that is no such time is
 * flagged and kept as the field raw_date, never passed on as the
 * published time. */
static void read_published(struct ig_item *it, const char *raw,
                           const struct date_opts *o)
{
    connector_item_read_time(it, raw && *raw ? raw : NULL, o, "published time");
}

/* What every item of one request shares. */
struct push_req {
    const char *source_id;
    const char *channel;      /* the caller's */
    const char *channel_name; /* the same in push_channels, or NULL */
    int64_t now;
    char now_iso[32]; /* the receive time, formatted once */
    size_t now_len;
    struct date_opts dates; /* connector_work_order_dates() */
};

static int push_one(const struct json_safe_node *o, size_t idx,
                    const struct push_req *rq, struct connector_sink *sink)
{
    const char *source_id = rq->source_id;
    char why[160];
    struct ig_item *it = NULL;
    if (o->type != JSON_SAFE_T_OBJECT) {
        snprintf(why, sizeof(why), "item %zu: not a JSON object", idx);
        goto skip;
    }
    it = ig_item_new();
    struct push_keys k;
    find_keys(o, &k);
    /* A numeric id keeps its exact digits (json_safe never rounds). */
    const char *src;
    struct take t[] = {
        {.to = &it->ext_id, .v = k.id, .cap = 256},
        {.to = &it->title, .v = k.title, .cap = PUSH_FIELD_MAX},
        {.to = &it->text, .v = k.text, .cap = PUSH_TEXT_MAX},
        {.to = &src, .v = k.source, .cap = 64},
        {.to = &it->url, .v = k.url, .cap = PUSH_FIELD_MAX},
        {.to = &it->author, .v = k.author, .cap = 256},
        {.to = &it->place, .v = k.place, .cap = PUSH_FIELD_MAX},
        {.to = &it->fetched, .s = rq->now_iso, .n = rq->now_len},
    };
    take_all(it, t, sizeof(t) / sizeof(t[0]));
    if (!it->ext_id || !*it->ext_id) {
        snprintf(why, sizeof(why), "item %zu: missing \"id\"", idx);
        goto skip;
    }
    if ((!it->title || !*it->title) && (!it->text || !*it->text)) {
        snprintf(why, sizeof(why), "item %zu: needs \"title\" or \"text\"",
                 idx);
        goto skip;
    }
    /* A valid name is never cut or repaired: no copy, no flag. */
    const char *ch = scalar_text(k.channel);
    if (ch) {
        ch = channel_name(ch);
        if (!ch) {
            snprintf(why, sizeof(why),
                     "item %zu: channel must be hotline, letters, media or "
                     "web",
                     idx);
            goto skip;
        }
    } else {
        ch = rq->channel_name ? rq->channel_name
                              : ig_item_strdup(it, rq->channel);
    }
    it->channel = ch;
    it->source_id = src && *src ? src : ig_item_strdup(it, source_id);
    /* Parsed from a copy on the stack: only its ISO 8601 form is kept. */
    size_t npub;
    const char *pub = field_text(it, k.published, 64, &npub);
    char raw[64 + 1];
    if (pub) {
        memcpy(raw, pub, npub);
        raw[npub] = '\0';
    }
    read_published(it, pub ? raw : NULL, &rq->dates);
    it->fetched_ts = rq->now;
    /* The members of "fields" (an array's elements are read, and can flag
     * the item, but have no name to be kept under). */
    size_t nf = 0;
    for (const struct json_safe_node *f = k.fields ? k.fields->child : NULL; f;
         f = f->next) {
        if (nf++ == PUSH_MAX_FIELDS) {
            ig_item_flag(it, IG_ITEM_F_TRUNCATED, "too many raw fields");
            break;
        }
        size_t n;
        const char *v = field_text(it, f, PUSH_FIELD_MAX, &n);
        if (f->key && v) {
            /* It copies the value: a cut one needs its own end. */
            ig_item_add_field(it, f->key,
                              n < f->len ? ig_item_strndup(it, v, n) : v);
        }
    }
    sink->nitems++;
    return sink->emit(sink->ud, it);
skip:
    ig_item_free(it);
    sink->nskipped++;
    if (sink->diags) {
        ig_diags_add(sink->diags, IG_DIAG_ERROR, source_id, (int)idx + 1, 0,
                     "%s", why);
    }
    return IG_OK;
}

int connector_push_parse(const char *body, size_t len, const char *source_id,
                         const char *channel, size_t max_items,
                         struct connector_sink *sink)
{
    /* Strict parsing: duplicate keys, bad escapes and trailing garbage
     * reject the body; broken UTF-8 is repaired and flagged. */
    struct ig_arena *a = ig_arena_new(json_safe_arena_size(len));
    const struct json_safe_node *root = NULL;
    int rc = IG_OK;
    if (json_safe_read(body, len, 0, a, &root, NULL, NULL, 0) < 0) {
        rc = IG_EPARSE;
        goto out;
    }
    struct push_req rq = {.source_id = source_id,
                          .channel = channel,
                          .channel_name =
                              channel ? channel_name(channel) : NULL,
                          .now = (int64_t)time(NULL)};
    ig_time_iso(rq.now, 0, rq.now_iso);
    rq.now_len = strlen(rq.now_iso);
    connector_work_order_dates(&rq.dates);
    if (root->type == JSON_SAFE_T_ARRAY) {
        if (max_items && root->n > max_items) {
            rc = IG_E2BIG;
            goto out;
        }
        size_t i = 0;
        for (const struct json_safe_node *o = root->child; o; o = o->next) {
            rc = push_one(o, i++, &rq, sink);
            if (rc < 0) {
                goto out;
            }
        }
    } else if (root->type == JSON_SAFE_T_OBJECT) {
        rc = push_one(root, 0, &rq, sink);
    } else {
        rc = IG_EPARSE;
    }
out:
    ig_arena_free(a);
    return rc;
}
