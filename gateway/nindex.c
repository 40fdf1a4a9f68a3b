/* nindex.c — the in-memory index of recent candidates (see nindex.h). */
#include "gateway/nindex.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "gateway/simhash.h"

/* Chains: the four bands, the two anchors and the id are walked through
 * the compact part of an entry; the exact chain through the rest. */
enum { CH_B0, CH_B1, CH_B2, CH_B3, CH_HEAD, CH_TAIL, CH_ID, CH_NHOT };

#define SMALL_BITS 16 /* band values are 16 bits; anchors use 16 too */

/* What a chain walk reads, in one cache line: the ring of these is
 * allocated 64-byte aligned. */
struct hot {
    uint64_t sim, head, tail, id;
    uint32_t seq;
    uint32_t next[CH_NHOT]; /* seq + 1 of the next older member, 0: none */
};

_Static_assert(sizeof(struct hot) == 64, "one cache line per chain step");

/* The rest of an entry, in a parallel ring. */
struct cold {
    uint64_t exact;
    uint64_t tpos;      /* absolute position of the features in the ring */
    uint32_t tlen;      /* features cached, 0: none */
    uint32_t next_exact; /* the exact chain, as next[] */
    bool mine;
    bool dead; /* nindex_forget(): no longer a possible original */
    bool wide; /* the features are kept wide (simhash.h) */
};

struct nindex {
    struct hot *ring; /* cache-line aligned */
    struct cold *cold;
    size_t mask;    /* cap - 1 */
    uint32_t seq;   /* of the next entry */
    uint64_t added;
    uint32_t *small[6]; /* bands 0-3, head, tail: 65536 heads each */
    uint32_t *exact, *id;
    size_t bigmask;
    uint32_t *feat; /* the feature ring: keys as units (simhash.h) */
    size_t tcap;    /* its size, in units */
    uint64_t wpos;  /* absolute position of the next write */
};

struct nindex *nindex_new(size_t cap, size_t feat_bytes)
{
    struct nindex *ix;
    size_t c = 1024;
    int i;

    if (cap > (size_t)1 << 30) {
        return NULL;
    }
    while (c < cap) {
        c <<= 1;
    }
    /* All written now (ig_calloc_lines()): the resident size is what it
     * will stay. */
    ix = ig_calloc(1, sizeof(*ix));
    ix->ring = ig_calloc_lines(c, sizeof(*ix->ring));
    ix->cold = ig_calloc_lines(c, sizeof(*ix->cold));
    ix->mask = c - 1;
    for (i = 0; i < 6; i++) {
        ix->small[i] =
            ig_calloc_lines((size_t)1 << SMALL_BITS, sizeof(uint32_t));
    }
    ix->bigmask = 2 * c - 1;
    ix->exact = ig_calloc_lines(2 * c, sizeof(uint32_t));
    ix->id = ig_calloc_lines(2 * c, sizeof(uint32_t));
    ix->tcap = feat_bytes / sizeof(uint32_t);
    ix->feat = ix->tcap ? ig_calloc_lines(ix->tcap, sizeof(uint32_t)) : NULL;
    return ix;
}

void nindex_free(struct nindex *ix)
{
    int i;

    if (!ix) {
        return;
    }
    ig_free(ix->ring);
    ig_free(ix->cold);
    for (i = 0; i < 6; i++) {
        ig_free(ix->small[i]);
    }
    ig_free(ix->exact);
    ig_free(ix->id);
    ig_free(ix->feat);
    ig_free(ix);
}

/* The head slot of chain ch (CH_NHOT: the exact chain) for key k. */
static uint32_t *head_of(const struct nindex *ix, const struct nindex_key *k,
                         int ch)
{
    switch (ch) {
    case CH_B0:
    case CH_B1:
    case CH_B2:
    case CH_B3:
        return &ix->small[ch][(k->sim >> (16 * ch)) & 0xffff];
    case CH_HEAD:
        return &ix->small[4][k->head >> 48];
    case CH_TAIL:
        return &ix->small[5][k->tail >> 48];
    case CH_ID:
        return &ix->id[k->id & ix->bigmask];
    default:
        return &ix->exact[k->exact & ix->bigmask];
    }
}

/* The ring slot of the live entry a chain link p (seq + 1) names, or -1
 * when p is 0 or the entry has been overwritten since. */
static long live(const struct nindex *ix, uint32_t p)
{
    uint32_t s = p - 1;
    size_t at;

    if (p == 0 || (uint32_t)(ix->seq - s) > ix->mask + 1 ||
        (uint32_t)(ix->seq - s) == 0) {
        return -1;
    }
    at = s & ix->mask;
    return ix->ring[at].seq == s ? (long)at : -1;
}

/* live(p), or -1 as well when the entry is older than the fresh newest:
 * told from the link itself, so a walk that ends there does not load the
 * entry's line only to find it too old (most walks of an item checked
 * again end so). */
static long live_fresh(const struct nindex *ix, uint32_t p, uint64_t fresh)
{
    if (p != 0 && (uint64_t)(uint32_t)(ix->seq - (p - 1)) > fresh) {
        return -1;
    }
    return live(ix, p);
}

/* Copies features into the ring for entry at (when they fit the cache),
 * packed unless a key does not pack. */
static void keep(struct nindex *ix, size_t e, const uint64_t *f, size_t n)
{
    size_t at, units, i;
    bool wide = false;

    if (!f || n == 0 || n > ix->tcap / 4 || n >= UINT32_MAX) {
        return;
    }
    for (i = 0; i < n && !wide; i++) {
        wide = !simhash_key_packs(f[i]);
    }
    units = wide ? 2 * n : n;
    if (units > ix->tcap / 4) {
        return;
    }
    at = (size_t)(ix->wpos % ix->tcap);
    if (at + units > ix->tcap) { /* no wrapping inside one entry's features */
        ix->wpos += ix->tcap - at;
        at = 0;
    }
    simhash_units_put(f, n, wide, ix->feat + at);
    ix->cold[e].tpos = ix->wpos;
    ix->cold[e].tlen = (uint32_t)n;
    ix->cold[e].wide = wide;
    ix->wpos += units;
}

void nindex_add(struct nindex *ix, const struct nindex_key *k,
                const uint64_t *feat, size_t n, bool mine)
{
    uint32_t s = ix->seq, *h;
    size_t at = s & ix->mask;
    struct hot *e = &ix->ring[at];
    struct cold *c = &ix->cold[at];
    int ch;

    memset(e, 0, sizeof(*e));
    memset(c, 0, sizeof(*c));
    e->sim = k->sim;
    e->head = k->head;
    e->tail = k->tail;
    e->id = k->id;
    e->seq = s;
    c->exact = k->exact;
    c->mine = mine;
    keep(ix, at, feat, n);
    ix->seq = s + 1;
    ix->added++;
    for (ch = 0; ch < CH_NHOT; ch++) {
        h = head_of(ix, k, ch);
        e->next[ch] = *h;
        *h = s + 1;
    }
    h = head_of(ix, k, CH_NHOT);
    c->next_exact = *h;
    *h = s + 1;
}

/* The ring slot of the newest live entry with id, or -1. */
static long find_id(const struct nindex *ix, uint64_t id)
{
    struct nindex_key k = {.id = id};
    long e = live(ix, *head_of(ix, &k, CH_ID));

    while (e >= 0 && ix->ring[e].id != id) {
        e = live(ix, ix->ring[e].next[CH_ID]);
    }
    return e;
}

void nindex_settle(struct nindex *ix, uint64_t id)
{
    long e = find_id(ix, id);

    if (e >= 0) {
        ix->cold[e].mine = false;
    }
}

bool nindex_has(const struct nindex *ix, uint64_t id)
{
    return find_id(ix, id) >= 0;
}

bool nindex_creating(const struct nindex *ix, uint64_t id)
{
    long e = find_id(ix, id);

    return e >= 0 && ix->cold[e].mine;
}

static bool listed(const uint64_t *v, size_t n, uint64_t id)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (v[i] == id) {
            return true;
        }
    }
    return false;
}

size_t nindex_query(const struct nindex *ix, const struct nindex_key *k,
                    int max_bits, size_t per_bucket, const uint64_t *skip,
                    size_t nskip, uint64_t *out, size_t max)
{
    return nindex_query_since(ix, k, max_bits, per_bucket, skip, nskip, 0, out,
                              max);
}

size_t nindex_query_since(const struct nindex *ix, const struct nindex_key *k,
                          int max_bits, size_t per_bucket, const uint64_t *skip,
                          size_t nskip, uint64_t since, uint64_t *out,
                          size_t max)
{
    /* Entries newer than since are the ix->added - since newest. */
    uint64_t fresh = ix->added - since;
    long cur[CH_TAIL + 1];
    size_t n = 0, step;
    int ch, active = 0;

    /* The six chains are walked in step, one member of each per round:
     * their entries sit at unrelated places in the ring, so the loads of
     * one round miss the cache together instead of one after the other. */
    for (ch = CH_B0; ch <= CH_TAIL; ch++) {
        cur[ch] = live_fresh(ix, *head_of(ix, k, ch), fresh);
        active += cur[ch] >= 0;
    }
    for (step = 0; active > 0 && step < per_bucket; step++) {
        for (ch = CH_B0; ch <= CH_TAIL; ch++) {
            const struct hot *e;
            bool ok;

            if (cur[ch] < 0) {
                continue;
            }
            e = &ix->ring[cur[ch]];
            /* Older than since: the rest of the chain is too. */
            cur[ch] = live_fresh(ix, e->next[ch], fresh);
            active -= cur[ch] < 0;
            if (ch <= CH_B3) {
                ok = __builtin_popcountll(e->sim ^ k->sim) <= max_bits;
            } else if (ch == CH_HEAD) {
                ok = e->head == k->head;
            } else {
                ok = e->tail == k->tail;
            }
            if (!ok || e->id == k->id || ix->cold[e - ix->ring].dead ||
                listed(skip, nskip, e->id) || listed(out, n, e->id)) {
                continue;
            }
            if (n == max) {
                return n;
            }
            out[n++] = e->id;
        }
    }
    return n;
}

bool nindex_exact(const struct nindex *ix, uint64_t h, uint64_t self,
                  const uint64_t *skip, size_t nskip, uint64_t *id)
{
    struct nindex_key k = {.exact = h};
    long e = live(ix, *head_of(ix, &k, CH_NHOT));

    for (; e >= 0; e = live(ix, ix->cold[e].next_exact)) {
        const struct cold *c = &ix->cold[e];

        if (c->exact == h && !c->dead && ix->ring[e].id != self &&
            !listed(skip, nskip, ix->ring[e].id)) {
            *id = ix->ring[e].id;
            return true;
        }
    }
    return false;
}

bool nindex_feats(const struct nindex *ix, uint64_t id, struct nindex_feat *f)
{
    long e = find_id(ix, id);
    const struct cold *c;

    if (e < 0) {
        return false;
    }
    c = &ix->cold[e];
    if (c->tlen == 0 || c->tpos + ix->tcap < ix->wpos) {
        return false;
    }
    f->units = ix->feat + c->tpos % ix->tcap;
    f->n = c->tlen;
    f->wide = c->wide;
    return true;
}

void nindex_forget(struct nindex *ix, uint64_t id)
{
    long e = find_id(ix, id);

    if (e >= 0) {
        ix->cold[e].dead = true;
    }
}

void nindex_put_feats(struct nindex *ix, uint64_t id, const uint64_t *feat,
                      size_t n)
{
    long e = find_id(ix, id);

    if (e >= 0) {
        keep(ix, (size_t)e, feat, n);
    }
}

uint64_t nindex_added(const struct nindex *ix)
{
    return ix->added;
}

size_t nindex_cap(const struct nindex *ix)
{
    return ix->mask + 1;
}
