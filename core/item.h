/* item.h — one intake item: a report from any channel, as the rest of the
 * program sees it.
 *
 * Each item owns an arena; every string of the item and everything derived
 * from it (normalised text, match spans, explanation) is allocated there and
 * dies with ig_item_free(). All string fields are valid UTF-8 without NUL
 * bytes (connectors sanitise before setting them) or NULL when the source
 * does not have the field.
 */
#ifndef IG_CORE_ITEM_H
#define IG_CORE_ITEM_H

#include <stddef.h>
#include <stdint.h>

struct ig_arena;

/* Item flags: what happened to the item on its way in. */
enum {
    IG_ITEM_F_REPAIRED = 1u << 0,   /* invalid UTF-8 or controls replaced */
    IG_ITEM_F_TRUNCATED = 1u << 1,  /* a field hit its size cap */
    IG_ITEM_F_NO_DATE = 1u << 2,    /* published time missing/unparseable */
    IG_ITEM_F_PARTIAL = 1u << 3,    /* recovered from a damaged document */
    IG_ITEM_F_RECODED = 1u << 4,    /* decoded from a legacy charset */
    IG_ITEM_F_CHARSET = 1u << 5,    /* declared charset wrong or unknown */
    IG_ITEM_F_LAST = IG_ITEM_F_CHARSET,
};

/* Returns the record name of one IG_ITEM_F_* bit ("repaired", "truncated",
 * "no_date", "partial", "recoded", "charset"), or NULL for other values. */
const char *ig_item_flag_name(uint32_t flag);

struct ig_field {
    const char *key;   /* borrowed from the item arena */
    const char *value; /* borrowed from the item arena */
};

struct ig_item {
    struct ig_arena *arena;   /* owned */
    const char *source_id;    /* configured source id, e.g. "hotline-12345" */
    const char *channel;      /* "hotline", "letters", "media", "web" */
    const char *ext_id;       /* id at the source (work order no, guid) */
    const char *url;          /* absolute link, or NULL */
    const char *title;
    const char *text;         /* body as plain text (HTML reduced) */
    const char *author;
    const char *place;        /* address / location as the source gives it */
    const char *published;    /* ISO 8601 with offset, or NULL */
    int64_t published_ts;     /* Unix seconds, or 0 when unknown */
    const char *fetched;      /* ISO 8601 UTC time the gateway got it */
    int64_t fetched_ts;
    struct ig_field *fields;  /* raw fields kept for the record; arena */
    size_t nfields;
    uint32_t flags;           /* IG_ITEM_F_* */
    const char *warning;      /* why a flag was set, or NULL */
};

/* Creates an empty item with its own arena. Never NULL. */
struct ig_item *ig_item_new(void);
/* Frees the item, its arena and everything in it. NULL is a no-op. */
void ig_item_free(struct ig_item *it);
/* Copies s into the item arena; returns the copy (NULL stays NULL). */
const char *ig_item_strdup(struct ig_item *it, const char *s);
const char *ig_item_strndup(struct ig_item *it, const char *s, size_t n);
/* Appends a raw field (both strings copied into the arena). */
void ig_item_add_field(struct ig_item *it, const char *key,
                       const char *value);
/* Returns the value of the first raw field named key, or NULL. */
const char *ig_item_field(const struct ig_item *it, const char *key);
/* Sets the flag and, if no warning is set yet, the warning text. */
void ig_item_flag(struct ig_item *it, uint32_t flag, const char *warning);
/* Formats t (Unix seconds) with a UTC offset in minutes as ISO 8601
 * ("2022-09-25T14:30:00+08:00") into out[32]. */
void ig_time_iso(int64_t t, int offset_min, char out[32]);

/* Callback receiving items. Contract: ownership is *transferred*: the
 * callee frees the item with ig_item_free(). Returns IG_OK, or a negative
 * ig_err to ask the producer to stop. */
typedef int (*ig_item_cb)(void *ud, struct ig_item *it);

#endif
