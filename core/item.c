/* item.c — the item model (see item.h). */
#include "core/item.h"

#include <pthread.h>
#include <string.h>
#include <time.h>
#include <stdio.h>

#include "core/arena.h"
#include "core/mem.h"

/* An item with its classification and routing takes about 3 KiB (pushed
 * hotline reports, measured): one block holds most. */
#define ITEM_BLOCK 4096

/* Freed items' arenas, emptied (ig_arena_reset()), wait here for the next
 * ig_item_new(): a 4 KiB malloc and free per item cost ~450 instructions
 * on the loop thread. At most ITEM_POOL_MAX (~4 MiB of first blocks) are
 * kept, no more than a gateway has in flight by default (max_inflight
 * 1024), so the pool only holds memory the items just gave back. Any
 * thread may create and free items. */
#define ITEM_POOL_MAX 1024

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ig_arena *pool[ITEM_POOL_MAX];
static size_t npool;

struct ig_item *ig_item_new(void)
{
    struct ig_arena *a = NULL;

    pthread_mutex_lock(&pool_mu);
    if (npool > 0) {
        a = pool[--npool];
    }
    pthread_mutex_unlock(&pool_mu);
    if (!a) {
        a = ig_arena_new(ITEM_BLOCK);
    }
    /* A reset arena hands out what a new one would: the item comes first
     * in its block, at the same place. */
    struct ig_item *it = ig_arena_alloc(a, sizeof(*it));
    IG_UNPOISON(it, sizeof(*it));
    memset(it, 0, sizeof(*it));
    it->arena = a;
    return it;
}

void ig_item_free(struct ig_item *it)
{
    if (!it) {
        return;
    }
    struct ig_arena *a = it->arena;
    ig_arena_reset(a); /* destructors run now, as at ig_arena_free() */
    pthread_mutex_lock(&pool_mu);
    if (npool < ITEM_POOL_MAX) {
        /* Use of the item after its free stays visible to ASan. */
        IG_POISON(it, sizeof(*it));
        pool[npool++] = a;
        a = NULL;
    }
    pthread_mutex_unlock(&pool_mu);
    ig_arena_free(a); /* the pool was full (NULL: kept) */
}

const char *ig_item_strdup(struct ig_item *it, const char *s)
{
    return s ? ig_arena_strdup(it->arena, s) : NULL;
}

const char *ig_item_strndup(struct ig_item *it, const char *s, size_t n)
{
    return s ? ig_arena_strndup(it->arena, s, n) : NULL;
}

void ig_item_add_field(struct ig_item *it, const char *key, const char *value)
{
    /* Grow by doubling inside the arena; the old array is simply left
     * behind (fields are few, the arena dies with the item). */
    size_t n = it->nfields;
    if ((n & (n - 1)) == 0) {
        size_t cap = n ? n * 2 : 4;
        struct ig_field *nf = ig_arena_alloc(it->arena, cap * sizeof(*nf));
        if (n) {
            memcpy(nf, it->fields, n * sizeof(*nf));
        }
        it->fields = nf;
    }
    it->fields[n].key = ig_arena_strdup(it->arena, key);
    it->fields[n].value = ig_arena_strdup(it->arena, value ? value : "");
    it->nfields = n + 1;
}

const char *ig_item_field(const struct ig_item *it, const char *key)
{
    for (size_t i = 0; i < it->nfields; i++) {
        if (strcmp(it->fields[i].key, key) == 0) {
            return it->fields[i].value;
        }
    }
    return NULL;
}

const char *ig_item_flag_name(uint32_t flag)
{
    switch (flag) {
    case IG_ITEM_F_REPAIRED:  return "repaired";
    case IG_ITEM_F_TRUNCATED: return "truncated";
    case IG_ITEM_F_NO_DATE:   return "no_date";
    case IG_ITEM_F_PARTIAL:   return "partial";
    case IG_ITEM_F_RECODED:   return "recoded";
    case IG_ITEM_F_CHARSET:   return "charset";
    default:                  return NULL;
    }
}

void ig_item_flag(struct ig_item *it, uint32_t flag, const char *warning)
{
    it->flags |= flag;
    if (!it->warning && warning) {
        it->warning = ig_arena_strdup(it->arena, warning);
    }
}

static void copy_iso(char out[32], const char *tmp)
{
    size_t n = strnlen(tmp, 31);
    memcpy(out, tmp, n);
    out[n] = '\0';
}

/* Two digits of v (0..99) at p. */
static char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

void ig_time_iso(int64_t t, int offset_min, char out[32])
{
    time_t local = (time_t)(t + (int64_t)offset_min * 60);
    struct tm tm = {0}; /* stays zero for a time gmtime_r() cannot break up */
    gmtime_r(&local, &tm);
    int year = tm.tm_year + 1900;
    int off = offset_min < 0 ? -offset_min : offset_min;
    if (year >= 0 && year <= 9999 && off / 60 <= 99) {
        /* The common case, digit by digit: a timestamp or two per item
         * (received, published), where printf cost ~3 k instructions. */
        char *p = put2(put2(out, year / 100), year % 100);
        *p++ = '-';
        p = put2(p, tm.tm_mon + 1);
        *p++ = '-';
        p = put2(p, tm.tm_mday);
        *p++ = 'T';
        p = put2(p, tm.tm_hour);
        *p++ = ':';
        p = put2(p, tm.tm_min);
        *p++ = ':';
        p = put2(p, tm.tm_sec);
        if (offset_min == 0) {
            *p++ = 'Z';
        } else {
            *p++ = offset_min < 0 ? '-' : '+';
            p = put2(p, off / 60);
            *p++ = ':';
            p = put2(p, off % 60);
        }
        *p = '\0';
        return;
    }
    /* Format into a roomy buffer: the compiler cannot know the year has
     * four digits, and a truncated timestamp must never be emitted. */
    char tmp[96];
    if (offset_min == 0) {
        snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
        copy_iso(out, tmp);
        return;
    }
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, offset_min < 0 ? '-' : '+', off / 60,
             off % 60);
    copy_iso(out, tmp);
}
