/* test_nindex.c — the in-memory index of recent candidates: bucket
 * queries, the exact chain, the ring overwriting its oldest entries, the
 * feature cache wrapping, forgotten entries, the "being created" mark. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "gateway/nindex.h"
#include "gateway/simhash.h"

static struct nindex_key key(uint64_t id, uint64_t sim)
{
    struct nindex_key k = {.id = id,
                           .sim = sim,
                           .head = 0x1111000000000000ULL + id,
                           .tail = 0x2222000000000000ULL + id,
                           .exact = 0x9000 + id};

    return k;
}

static void bands_and_distance(void **state)
{
    struct nindex *ix = nindex_new(1024, 1 << 16);
    struct nindex_key a = key(1, 0x00000000ffff0000ULL);
    struct nindex_key far = key(2, 0xffffffffffff0000ULL); /* band 0 same */
    struct nindex_key q = key(3, 0x00000000ffff0007ULL);   /* 3 bits off a */
    uint64_t out[8];
    size_t n;

    (void)state;
    nindex_add(ix, &a, (uint64_t[]){1, 2, 3}, 3, false);
    nindex_add(ix, &far, NULL, 0, false);
    /* q shares bands 1-3 with a and band 3 with far (both 0x0000), but far
     * is 32 bits away: only a passes max_bits 12. */
    n = nindex_query(ix, &q, 12, 16, NULL, 0, out, 8);
    assert_int_equal(n, 1);
    assert_true(out[0] == 1);
    /* Not itself, not a skipped id. */
    n = nindex_query(ix, &a, 12, 16, NULL, 0, out, 8);
    assert_int_equal(n, 0);
    n = nindex_query(ix, &q, 64, 16, (uint64_t[]){1}, 1, out, 8);
    assert_int_equal(n, 1);
    assert_true(out[0] == 2);
    nindex_free(ix);
}

static void anchors_match_whatever_the_distance(void **state)
{
    struct nindex *ix = nindex_new(1024, 0);
    struct nindex_key a = key(1, 0x0123456789abcdefULL);
    struct nindex_key q = key(2, ~0x0123456789abcdefULL);
    uint64_t out[4];

    (void)state;
    nindex_add(ix, &a, NULL, 0, false);
    q.head = a.head;
    assert_int_equal(nindex_query(ix, &q, 12, 16, NULL, 0, out, 4), 1);
    /* Same bucket (top 16 bits), different anchor: no match. */
    q.head = a.head ^ 1;
    assert_int_equal(nindex_query(ix, &q, 12, 16, NULL, 0, out, 4), 0);
    nindex_free(ix);
}

static void exact_chain_and_creating(void **state)
{
    struct nindex *ix = nindex_new(1024, 0);
    struct nindex_key a = key(1, 1), b = key(2, 2);
    uint64_t id;

    (void)state;
    b.exact = a.exact;
    nindex_add(ix, &a, NULL, 0, false);
    nindex_add(ix, &b, NULL, 0, true);
    assert_true(nindex_exact(ix, a.exact, 99, NULL, 0, &id));
    assert_true(id == 2); /* newest first */
    assert_true(nindex_exact(ix, a.exact, 2, NULL, 0, &id));
    assert_true(id == 1);
    assert_false(nindex_exact(ix, a.exact, 2, (uint64_t[]){1}, 1, &id));
    assert_true(nindex_creating(ix, 2));
    assert_false(nindex_creating(ix, 1));
    nindex_settle(ix, 2);
    assert_false(nindex_creating(ix, 2));
    nindex_free(ix);
}

/* cap 1024: the 1025th entry overwrites the first, whose chains end. */
static void ring_forgets_the_oldest(void **state)
{
    struct nindex *ix = nindex_new(1000, 0); /* rounded up to 1024 */
    struct nindex_key k;
    uint64_t id, i;

    (void)state;
    assert_int_equal(nindex_cap(ix), 1024);
    for (i = 1; i <= 1024; i++) {
        k = key(i, i << 20);
        nindex_add(ix, &k, NULL, 0, false);
    }
    assert_true(nindex_exact(ix, 0x9000 + 1, 0, NULL, 0, &id));
    k = key(5000, 5000ULL << 20);
    nindex_add(ix, &k, NULL, 0, false);
    assert_false(nindex_exact(ix, 0x9000 + 1, 0, NULL, 0, &id));
    assert_true(nindex_exact(ix, 0x9000 + 2, 0, NULL, 0, &id));
    assert_true(nindex_exact(ix, 0x9000 + 5000, 0, NULL, 0, &id));
    assert_int_equal(nindex_added(ix), 1025);
    nindex_free(ix);
}

/* The n cached keys of id, unpacked into out; false when none. */
static bool feats(const struct nindex *ix, uint64_t id, uint64_t *out,
                  size_t *n)
{
    struct nindex_feat f;

    if (!nindex_feats(ix, id, &f)) {
        return false;
    }
    for (size_t i = 0; i < f.n; i++) {
        out[i] = simhash_unit_key(f.units, i, f.wide);
    }
    *n = f.n;
    return true;
}

static void feature_cache_wraps(void **state)
{
    struct nindex *ix = nindex_new(1024, 4096 * 4); /* 4096 packed keys */
    uint64_t f[512], p[1536];
    struct nindex_key k;
    size_t n, i;
    uint64_t id;

    (void)state;
    for (id = 1; id <= 20; id++) {
        for (i = 0; i < 512; i++) {
            f[i] = id * 1000 + i;
        }
        k = key(id, id);
        nindex_add(ix, &k, f, 512, false);
    }
    /* 20 x 512 features through 4096: the newest 8 are still there. */
    assert_true(feats(ix, 20, p, &n));
    assert_int_equal(n, 512);
    assert_true(p[0] == 20000 && p[511] == 20511);
    assert_true(feats(ix, 13, p, &n));
    assert_false(feats(ix, 1, p, &n));
    assert_false(feats(ix, 11, p, &n));
    /* Features computed later, for an entry added without. */
    k = key(77, 77);
    nindex_add(ix, &k, NULL, 0, false);
    assert_false(feats(ix, 77, p, &n));
    nindex_put_feats(ix, 77, (uint64_t[]){7, 8, 9}, 3);
    assert_true(feats(ix, 77, p, &n));
    assert_int_equal(n, 3);
    assert_true(p[2] == 9);
    /* More than a quarter of the cache: not kept. */
    for (i = 0; i < 512 * 3; i++) {
        p[i] = i;
    }
    nindex_put_feats(ix, 77, p, 512 * 3);
    assert_true(feats(ix, 77, p, &n));
    assert_int_equal(n, 3);
    /* 512 keys that do not pack take two units each: 1024, a quarter. */
    for (i = 0; i < 512; i++) {
        f[i] = (uint64_t)0x1f600 << 32 | i;
    }
    nindex_put_feats(ix, 77, f, 512);
    assert_true(feats(ix, 77, p, &n));
    assert_int_equal(n, 512);
    assert_memory_equal(p, f, sizeof(f));
    f[0] = (uint64_t)0x1f600 << 32;
    nindex_put_feats(ix, 77, f, 511); /* fits only packed: not kept */
    nindex_put_feats(ix, 77, (uint64_t[]){0x10000}, 1);
    assert_true(feats(ix, 77, p, &n));
    assert_int_equal(n, 1);
    assert_true(p[0] == 0x10000);
    nindex_free(ix);
}

/* Random key sets, packed and wide, of every length up to a quarter of a
 * small cache, through many wraps: whatever the cache still returns is
 * exactly the keys put there, and the newest entry's are always there. */
static void features_come_back_exactly(void **state)
{
    enum { NID = 64, MAXK = 256 };
    struct nindex *ix = nindex_new(1024, 4 * 4 * MAXK * 2 + 12);
    static uint64_t want[NID + 1][MAXK];
    size_t nwant[NID + 1] = {0}, n, i, round;
    uint64_t got[MAXK], rng = 5;

    (void)state;
    for (uint64_t id = 1; id <= NID; id++) {
        struct nindex_key k = key(id, id);

        nindex_add(ix, &k, NULL, 0, false);
    }
    for (round = 0; round < 20000; round++) {
        uint64_t id;
        bool wide;

        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        id = 1 + rng % NID;
        n = 1 + (rng >> 8) % MAXK;
        wide = (rng >> 20) % 4 == 0;
        for (i = 0; i < n; i++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            want[id][i] = (rng >> 11) & (wide ? 0x001FFFFF001FFFFFull
                                              : 0x0000FFFF0000FFFFull);
        }
        nwant[id] = n;
        nindex_put_feats(ix, id, want[id], n);
        assert_true(feats(ix, id, got, &n));
        assert_int_equal(n, nwant[id]);
        assert_memory_equal(got, want[id], n * sizeof(got[0]));
        for (uint64_t o = 1; o <= NID; o++) {
            if (feats(ix, o, got, &n)) {
                assert_int_equal(n, nwant[o]);
                assert_memory_equal(got, want[o], n * sizeof(got[0]));
            }
        }
    }
    nindex_free(ix);
}

/* A forgotten entry is no possible original and no exact match. */
static void forgotten_entries_are_skipped(void **state)
{
    struct nindex *ix = nindex_new(1024, 0);
    struct nindex_key a = key(1, 0xabcdULL), q = key(2, 0xabcdULL);
    uint64_t out[4], id;

    (void)state;
    q.exact = a.exact;
    nindex_add(ix, &a, NULL, 0, false);
    assert_int_equal(nindex_query(ix, &q, 12, 16, NULL, 0, out, 4), 1);
    assert_true(nindex_exact(ix, a.exact, 2, NULL, 0, &id));
    nindex_forget(ix, 1);
    assert_int_equal(nindex_query(ix, &q, 12, 16, NULL, 0, out, 4), 0);
    assert_false(nindex_exact(ix, a.exact, 2, NULL, 0, &id));
    nindex_free(ix);
}

/* The index against a plain model (every entry ever added, searched
 * linearly) under random adds (ids repeating, the ring wrapping several
 * times), forgets, settles and queries with random since, max_bits,
 * per_bucket, skip lists and max: query results in the same order, the
 * same exact lookups and "being created" marks. The model walks each
 * bucket newest first among the last cap entries, the six buckets in
 * step, as nindex_query_since() is documented to. */
struct ment {
    struct nindex_key k;
    bool dead, mine;
};

static bool m_live(size_t total, size_t cap, size_t s)
{
    return s + cap >= total && s < total;
}

static bool m_in_bucket(const struct nindex_key *a, const struct nindex_key *b,
                        int ch)
{
    if (ch < 4) {
        return ((a->sim >> (16 * ch)) & 0xffff) == ((b->sim >> (16 * ch)) & 0xffff);
    }
    return ch == 4 ? a->head >> 48 == b->head >> 48
                   : a->tail >> 48 == b->tail >> 48;
}

static long m_find(const struct ment *m, size_t total, size_t cap, uint64_t id)
{
    for (size_t s = total; s-- > 0 && m_live(total, cap, s);) {
        if (m[s].k.id == id) {
            return (long)s;
        }
    }
    return -1;
}

static bool m_listed(const uint64_t *v, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i] == id) {
            return true;
        }
    }
    return false;
}

static size_t m_query(const struct ment *m, size_t total, size_t cap,
                      const struct nindex_key *k, int max_bits, size_t per,
                      const uint64_t *skip, size_t nskip, size_t since,
                      uint64_t *out, size_t max)
{
    static size_t mem[6][64];
    size_t nm[6] = {0}, n = 0;

    for (int ch = 0; ch < 6; ch++) {
        for (size_t s = total; s-- > 0 && m_live(total, cap, s) && s >= since &&
                               nm[ch] < per;) {
            if (m_in_bucket(&m[s].k, k, ch)) {
                mem[ch][nm[ch]++] = s;
            }
        }
    }
    for (size_t step = 0; step < per; step++) {
        for (int ch = 0; ch < 6; ch++) {
            const struct ment *e;
            bool ok;

            if (step >= nm[ch]) {
                continue;
            }
            e = &m[mem[ch][step]];
            ok = ch < 4 ? __builtin_popcountll(e->k.sim ^ k->sim) <= max_bits
                 : ch == 4 ? e->k.head == k->head
                           : e->k.tail == k->tail;
            if (!ok || e->dead || e->k.id == k->id ||
                m_listed(skip, nskip, e->k.id) || m_listed(out, n, e->k.id)) {
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

static void matches_a_plain_model(void **state)
{
    enum { CAP = 1024, OPS = 6000 };
    static struct ment m[OPS];
    struct nindex *ix = nindex_new(CAP, 1 << 16);
    uint64_t rng = 3, out1[32], out2[32], skip[4];
    size_t total = 0;

    (void)state;
    for (int op = 0; op < OPS; op++) {
        unsigned r;

        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        r = (unsigned)(rng % 100);
        if (r < 45 || total == 0) {
            struct nindex_key k;
            uint64_t x = rng >> 8;

            /* Few distinct band values, anchors and ids: buckets fill. */
            k.id = 1 + (x % 1500);
            k.sim = (x >> 12) * 0x0001000100010001ULL ^ ((x >> 20) & 0x0f0f);
            k.sim = (k.sim & 0x0007000700070007ULL) | ((x >> 24) << 60);
            k.head = ((x >> 30) % 9) << 48 | (x >> 33) % 3;
            k.tail = ((x >> 36) % 11) << 48 | (x >> 40) % 2;
            k.exact = (x >> 44) % 300;
            m[total].k = k;
            m[total].dead = false;
            m[total].mine = (x >> 50) & 1;
            nindex_add(ix, &k, NULL, 0, m[total].mine);
            total++;
        } else if (r < 52) {
            uint64_t id = 1 + (rng >> 9) % 1500;
            long s = m_find(m, total, CAP, id);

            nindex_forget(ix, id);
            if (s >= 0) {
                m[s].dead = true;
            }
        } else if (r < 60) {
            uint64_t id = 1 + (rng >> 9) % 1500;
            long s = m_find(m, total, CAP, id);

            assert_int_equal(nindex_creating(ix, id), s >= 0 && m[s].mine);
            nindex_settle(ix, id);
            if (s >= 0) {
                m[s].mine = false;
            }
        } else if (r < 70) {
            uint64_t h = (rng >> 9) % 300, self = 1 + (rng >> 20) % 1500, id = 0;
            size_t nskip = (rng >> 40) % 3;
            bool got, want = false;
            uint64_t wid = 0;

            for (size_t i = 0; i < nskip; i++) {
                skip[i] = 1 + (rng >> (10 + 7 * i)) % 1500;
            }
            for (size_t s = total; s-- > 0 && m_live(total, CAP, s);) {
                if (m[s].k.exact == h && !m[s].dead && m[s].k.id != self &&
                    !m_listed(skip, nskip, m[s].k.id)) {
                    want = true;
                    wid = m[s].k.id;
                    break;
                }
            }
            got = nindex_exact(ix, h, self, skip, nskip, &id);
            assert_int_equal(got, want);
            if (want) {
                assert_true(id == wid);
            }
        } else {
            struct nindex_key k = m[(rng >> 8) % total].k;
            int bits = (int)((rng >> 20) % 20);
            size_t per = 1 + (rng >> 25) % 16, max = 1 + (rng >> 30) % 32;
            size_t nskip = (rng >> 36) % 3, n1, n2;
            size_t since = (rng >> 40) % 3 ? 0 : total - (rng >> 44) % (total + 1);

            k.id = (rng >> 50) % 2 ? k.id : 9999; /* itself or a newcomer */
            k.sim ^= (rng >> 52) & 0x0101;
            for (size_t i = 0; i < nskip; i++) {
                skip[i] = 1 + (rng >> (12 + 5 * i)) % 1500;
            }
            n1 = nindex_query_since(ix, &k, bits, per, skip, nskip, since, out1,
                                    max);
            n2 = m_query(m, total, CAP, &k, bits, per, skip, nskip, since, out2,
                         max);
            assert_int_equal(n1, n2);
            assert_memory_equal(out1, out2, n1 * sizeof(out1[0]));
        }
    }
    nindex_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bands_and_distance),
        cmocka_unit_test(anchors_match_whatever_the_distance),
        cmocka_unit_test(exact_chain_and_creating),
        cmocka_unit_test(ring_forgets_the_oldest),
        cmocka_unit_test(feature_cache_wraps),
        cmocka_unit_test(features_come_back_exactly),
        cmocka_unit_test(forgotten_entries_are_skipped),
        cmocka_unit_test(matches_a_plain_model),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
