/* nindex.c — the in-memory index of recent candidates (see nindex.h). */
#include "gateway/nindex.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

enum { CH_B0, CH_B1, CH_B2, CH_B3, CH_HEAD, CH_TAIL, CH_EXACT, CH_ID, CH_N };

#define SMALL_BITS 16 /* band values are 16 bits; anchors use 16 too */

struct ent {
    struct nindex_key k;
    uint64_t tpos; /* absolute position of the features in the ring */
    uint32_t tlen; /* features cached, 0: none */
    uint32_t seq;
    uint32_t next[CH_N]; /* seq + 1 of the next older member, 0: none */
    bool mine;
    bool dead; /* nindex_forget(): no longer a possible original */
};

struct nindex {
    struct ent *ring;
    size_t mask;  /* cap - 1 */
    uint32_t seq; /* of the next entry */
    uint64_t added;
    uint32_t *small[6]; /* bands 0-3, head, tail: 65536 heads each */
    uint32_t *exact, *id;
    size_t bigmask;
    uint64_t *feat; /* the feature ring */
    size_t tcap;    /* its size, in features */
    uint64_t wpos;  /* absolute position of the next write */
};

static void *touched(size_t n, size_t size)
{
    void *p = ig_calloc(n ? n : 1, size);

    /* calloc'd pages are mapped lazily; write them now so the resident
     * size is what it will stay. */
    memset(p, 0, n * size);
    return p;
}

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
    ix = ig_calloc(1, sizeof(*ix));
    ix->ring = touched(c, sizeof(*ix->ring));
    ix->mask = c - 1;
    for (i = 0; i < 6; i++) {
        ix->small[i] = touched((size_t)1 << SMALL_BITS, sizeof(uint32_t));
    }
    ix->bigmask = 2 * c - 1;
    ix->exact = touched(2 * c, sizeof(uint32_t));
    ix->id = touched(2 * c, sizeof(uint32_t));
    ix->tcap = feat_bytes / sizeof(uint64_t);
    ix->feat = ix->tcap ? touched(ix->tcap, sizeof(uint64_t)) : NULL;
    return ix;
}

void nindex_free(struct nindex *ix)
{
    int i;

    if (!ix) {
        return;
    }
    ig_free(ix->ring);
    for (i = 0; i < 6; i++) {
        ig_free(ix->small[i]);
    }
    ig_free(ix->exact);
    ig_free(ix->id);
    ig_free(ix->feat);
    ig_free(ix);
}

/* The head slot of chain ch for key k. */
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
    case CH_EXACT:
        return &ix->exact[k->exact & ix->bigmask];
    default:
        return &ix->id[k->id & ix->bigmask];
    }
}

/* The live entry a chain link p (seq + 1) names, or NULL when p is 0 or
 * the entry has been overwritten since. */
static const struct ent *live(const struct nindex *ix, uint32_t p)
{
    const struct ent *e;
    uint32_t s = p - 1;

    if (p == 0 || (uint32_t)(ix->seq - s) > ix->mask + 1 ||
        (uint32_t)(ix->seq - s) == 0) {
        return NULL;
    }
    e = &ix->ring[s & ix->mask];
    return e->seq == s ? e : NULL;
}

/* Copies features into the ring for e (when they fit the cache). */
static void keep(struct nindex *ix, struct ent *e, const uint64_t *f, size_t n)
{
    size_t at;

    if (!f || n == 0 || n > ix->tcap / 4 || n >= UINT32_MAX) {
        return;
    }
    at = (size_t)(ix->wpos % ix->tcap);
    if (at + n > ix->tcap) { /* no wrapping inside one entry's features */
        ix->wpos += ix->tcap - at;
        at = 0;
    }
    memcpy(ix->feat + at, f, n * sizeof(*f));
    e->tpos = ix->wpos;
    e->tlen = (uint32_t)n;
    ix->wpos += n;
}

void nindex_add(struct nindex *ix, const struct nindex_key *k,
                const uint64_t *feat, size_t n, bool mine)
{
    uint32_t s = ix->seq;
    struct ent *e = &ix->ring[s & ix->mask];
    int ch;

    memset(e, 0, sizeof(*e));
    e->k = *k;
    e->seq = s;
    e->mine = mine;
    keep(ix, e, feat, n);
    ix->seq = s + 1;
    ix->added++;
    for (ch = 0; ch < CH_N; ch++) {
        uint32_t *h = head_of(ix, k, ch);

        e->next[ch] = *h;
        *h = s + 1;
    }
}

/* The newest live entry with id, or NULL. */
static const struct ent *find_id(const struct nindex *ix, uint64_t id)
{
    struct nindex_key k = {.id = id};
    const struct ent *e = live(ix, *head_of(ix, &k, CH_ID));

    while (e && e->k.id != id) {
        e = live(ix, e->next[CH_ID]);
    }
    return e;
}

void nindex_settle(struct nindex *ix, uint64_t id)
{
    const struct ent *e = find_id(ix, id);

    if (e) {
        ix->ring[e->seq & ix->mask].mine = false;
    }
}

bool nindex_creating(const struct nindex *ix, uint64_t id)
{
    const struct ent *e = find_id(ix, id);

    return e && e->mine;
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
    const struct ent *cur[CH_TAIL + 1];
    size_t n = 0, step;
    int ch, active = 0;

    /* The six chains are walked in step, one member of each per round:
     * their entries sit at unrelated places in the ring, so the loads of
     * one round miss the cache together instead of one after the other. */
    for (ch = CH_B0; ch <= CH_TAIL; ch++) {
        cur[ch] = live(ix, *head_of(ix, k, ch));
        active += cur[ch] != NULL;
    }
    for (step = 0; active > 0 && step < per_bucket; step++) {
        for (ch = CH_B0; ch <= CH_TAIL; ch++) {
            const struct ent *e = cur[ch];
            bool ok;

            if (!e) {
                continue;
            }
            if ((uint64_t)(uint32_t)(ix->seq - e->seq) > fresh) {
                cur[ch] = NULL; /* older than since: the rest is too */
                active--;
                continue;
            }
            cur[ch] = live(ix, e->next[ch]);
            active -= cur[ch] == NULL;
            if (ch <= CH_B3) {
                ok = __builtin_popcountll(e->k.sim ^ k->sim) <= max_bits;
            } else if (ch == CH_HEAD) {
                ok = e->k.head == k->head;
            } else {
                ok = e->k.tail == k->tail;
            }
            if (!ok || e->dead || e->k.id == k->id ||
                listed(skip, nskip, e->k.id) || listed(out, n, e->k.id)) {
                continue;
            }
            if (n == max) {
                return n;
            }
            out[n++] = e->k.id;
        }
    }
    return n;
}

bool nindex_exact(const struct nindex *ix, uint64_t h, uint64_t self,
                  const uint64_t *skip, size_t nskip, uint64_t *id)
{
    struct nindex_key k = {.exact = h};
    const struct ent *e = live(ix, *head_of(ix, &k, CH_EXACT));

    for (; e; e = live(ix, e->next[CH_EXACT])) {
        if (e->k.exact == h && !e->dead && e->k.id != self &&
            !listed(skip, nskip, e->k.id)) {
            *id = e->k.id;
            return true;
        }
    }
    return false;
}

const uint64_t *nindex_feats(const struct nindex *ix, uint64_t id, size_t *n)
{
    const struct ent *e = find_id(ix, id);

    if (!e || e->tlen == 0 || e->tpos + ix->tcap < ix->wpos) {
        return NULL;
    }
    *n = e->tlen;
    return ix->feat + e->tpos % ix->tcap;
}

void nindex_forget(struct nindex *ix, uint64_t id)
{
    const struct ent *e = find_id(ix, id);

    if (e) {
        ix->ring[e->seq & ix->mask].dead = true;
    }
}

void nindex_put_feats(struct nindex *ix, uint64_t id, const uint64_t *feat,
                      size_t n)
{
    const struct ent *e = find_id(ix, id);

    if (e) {
        keep(ix, &ix->ring[e->seq & ix->mask], feat, n);
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
