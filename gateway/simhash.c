/* simhash.c — normalisation, hashing, bigram SimHash and Jaccard.
 *
 * The normaliser is deliberately simpler than the classifier's (it does no
 * traditional/simplified folding and no synonym work): deduplication asks
 * "are these the same words?", and every fold that merges more than what a
 * re-typing changes would merge distinct reports. Bigram keys are the two
 * code points packed into 64 bits, so Jaccard works on exact features and
 * only SimHash hashes them (splitmix64 finaliser: cheap and well mixed).
 */
#include "gateway/simhash.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/err.h"
#include "core/mem.h"
#include "core/text.h"

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint64_t simhash_hash64(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL ^ mix64(seed);
    size_t i;

    /* Eight bytes per round: the same chain of xor-multiply steps, with
     * less loop overhead (texts and anchors are hashed for every item). */
    for (i = 0; i + 8 <= n; i += 8) {
        h = (h ^ s[i]) * 0x100000001b3ULL;
        h = (h ^ s[i + 1]) * 0x100000001b3ULL;
        h = (h ^ s[i + 2]) * 0x100000001b3ULL;
        h = (h ^ s[i + 3]) * 0x100000001b3ULL;
        h = (h ^ s[i + 4]) * 0x100000001b3ULL;
        h = (h ^ s[i + 5]) * 0x100000001b3ULL;
        h = (h ^ s[i + 6]) * 0x100000001b3ULL;
        h = (h ^ s[i + 7]) * 0x100000001b3ULL;
    }
    for (; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    /* FNV-1a alone leaves the high bits weak for short inputs. */
    return mix64(h ^ n);
}

void simhash_hex64(uint64_t v, char out[17])
{
#if defined(__SSE2__)
    /* All sixteen digits at once (ids are written a few times per item:
     * keys, records, answers): the bytes most significant first, each
     * split into its high and low nibble side by side, a nibble n
     * becoming '0' + n, plus 'a' - '0' - 10 more above 9. */
    const __m128i nib = _mm_set1_epi8(0x0F);
    uint64_t be = __builtin_bswap64(v);
    __m128i b = _mm_loadl_epi64((const __m128i *)(const void *)&be);
    __m128i d = _mm_unpacklo_epi8(_mm_and_si128(_mm_srli_epi16(b, 4), nib),
                                  _mm_and_si128(b, nib));
    __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(d, _mm_set1_epi8(9)),
                                   _mm_set1_epi8('a' - '0' - 10));

    d = _mm_add_epi8(d, _mm_add_epi8(_mm_set1_epi8('0'), letter));
    _mm_storeu_si128((__m128i *)(void *)out, d);
#else
    /* Two digits per byte from a table. */
    static const char hex2[] =
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
        "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
        "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
        "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
        "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
        "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
        "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

    for (int i = 7; i >= 0; i--) {
        memcpy(out + 2 * i, hex2 + 2 * (v & 0xff), 2);
        v >>= 8;
    }
#endif
    out[16] = '\0';
}

/* Whitespace, punctuation and symbols: what re-typing a report changes
 * without changing what it says. Letters, digits and ideographs stay. */
static bool is_noise(uint32_t cp)
{
    if (cp < 0x80) {
        return !((cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
                 (cp >= 'A' && cp <= 'Z'));
    }
    if (cp < 0xC0) {
        return true; /* NBSP, Latin-1 punctuation */
    }
    if (cp == 0xD7 || cp == 0xF7) {
        return true; /* multiplication, division signs */
    }
    if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x2BFF)) {
        return true; /* spaces, general punctuation,
                        arrows, math, box drawing */
    }
    if (cp >= 0x3000 && cp <= 0x303F) {
        return true; /* CJK symbols and punctuation */
    }
    if (cp >= 0xFE10 && cp <= 0xFE6F) {
        return true; /* vertical, compatibility, small */
    }
    if (cp == 0xFEFF || (cp >= 0xFF01 && cp <= 0xFF0F) ||
        (cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40) ||
        (cp >= 0xFF5B && cp <= 0xFF65)) {
        return true; /* BOM, fullwidth punctuation */
    }
    if (cp >= 0x1F000 && cp <= 0x1FAFF) {
        return true; /* emoji and pictographs */
    }
    return false;
}

static uint32_t fold(uint32_t cp)
{
    if (cp >= 0xFF10 && cp <= 0xFF5A) {
        cp -= 0xFEE0; /* fullwidth digits and letters */
    }
    if (cp >= 'A' && cp <= 'Z') {
        cp += 'a' - 'A';
    }
    return cp;
}

size_t simhash_normalise_to(const char *s, size_t n, char *out)
{
    size_t cap, nk;
    uint64_t key;

    /* The one normaliser loop, collecting no bigrams (max 0). */
    return simhash_normalise_keys(s, n, out, 0, &cap, &key, &nk);
}

int simhash_normalise(const char *s, size_t n, struct ig_buf *out)
{
    int rc = IG_OK;

    /* The output is never longer than the input: reserve once (up to the
     * buffer's cap) and write directly. */
    if (ig_buf_reserve(out, n) < 0) {
        rc = ig_buf_reserve(
            out, out->max_len > out->len ? out->max_len - out->len : 0);
        if (rc < 0) {
            return IG_E2BIG;
        }
        rc = IG_E2BIG;
        n = out->max_len - out->len; /* a prefix of the output fits */
    }
    out->len += simhash_normalise_to(s, n, out->data + out->len);
    return rc;
}

/* Bigram sets are kept distinct with a small open-addressing table
 * (linear probing, a power of two at least twice the key count): O(n) per
 * text, where sorting the keys was a visible share of the gateway's CPU
 * per item. No key is SET_EMPTY: code points stay below 2^21. */
#define SET_EMPTY UINT64_MAX
#define SET_STACK 1024 /* table slots kept on the stack */

static size_t set_size(size_t n)
{
    size_t m = 16;

    while (m < 2 * n) {
        m <<= 1;
    }
    return m;
}

/* Inserts k, probing from slot i; true when it was not there yet. */
static inline bool set_add_at(uint64_t *t, size_t mask, size_t i, uint64_t k)
{
    while (t[i] != SET_EMPTY) {
        if (t[i] == k) {
            return false;
        }
        i = (i + 1) & mask;
    }
    t[i] = k;
    return true;
}

/* True when k is in the table, probing from slot i. */
static inline bool set_has_at(const uint64_t *t, size_t mask, size_t i,
                              uint64_t k)
{
    while (t[i] != SET_EMPTY) {
        if (t[i] == k) {
            return true;
        }
        i = (i + 1) & mask;
    }
    return false;
}

static bool set_add(uint64_t *t, size_t mask, uint64_t k)
{
    return set_add_at(t, mask, (size_t)(mix64(k) & mask), k);
}

static bool set_has(const uint64_t *t, size_t mask, uint64_t k)
{
    return set_has_at(t, mask, (size_t)(mix64(k) & mask), k);
}

/* The distinct-bigram table of texts up to TLS_SLOTS / 2 code points:
 * one per thread, reused. A slot holds a key (below
 * 2^53: two code points) with the stamp of the call that put it there in
 * the top bits, and is empty unless that stamp is the current call's, so
 * no call clears the table (clearing 8-16 KiB per item was a third of the
 * function's time); the table is cleared when the stamps wrap. */
#define TLS_SLOTS 4096
#define STAMP_SHIFT 53
#define STAMP_MAX ((1u << (64 - STAMP_SHIFT)) - 1)
#define STAMP_MASK (~0ull << STAMP_SHIFT)
static _Thread_local uint64_t tls_slot[TLS_SLOTS];
static _Thread_local uint32_t tls_stamp;

size_t simhash_bigrams(const char *s, size_t n, uint64_t **out)
{
    uint64_t *keys = ig_malloc((n + 1) * sizeof(*keys));

    *out = keys;
    return simhash_bigrams_to(s, n, keys);
}

/* The distinct bigrams of the ncp code points in keys[] (one per
 * entry), in order of first appearance, written over them: bigram j is
 * written to keys[j] or before, once code points j and j + 1 are read.
 * One code point has no bigram; its unigram is the only feature. Returns
 * the count. */
static size_t bigrams_in_place(uint64_t *keys, size_t ncp)
{
    size_t m = set_size(ncp), mask = m - 1, nk = 0;
    unsigned sh = 64u - (unsigned)__builtin_ctzll((unsigned long long)m);
    uint64_t *t, tag, prev;

    if (ncp <= 1) {
        return ncp;
    }
    if (m <= TLS_SLOTS) {
        if (++tls_stamp > STAMP_MAX) { /* the stamps wrapped: start over */
            memset(tls_slot, 0, sizeof(tls_slot));
            tls_stamp = 1;
        }
        t = tls_slot;
        tag = (uint64_t)tls_stamp << STAMP_SHIFT;
    } else {
        t = ig_calloc(m, sizeof(*t));
        tag = 1ull << STAMP_SHIFT;
    }
    prev = keys[0];
    for (size_t i = 1; i < ncp; i++) {
        uint64_t cp = keys[i], k = (prev << 32) | cp;
        /* Multiplicative hashing (top bits of k * 2^64/phi): a slot for
         * distinct keys, no need for a full mix. */
        size_t j = (size_t)((k * 0x9E3779B97F4A7C15ull) >> sh);

        for (;; j = (j + 1) & mask) {
            if (t[j] == (k | tag)) {
                break; /* seen */
            }
            if ((t[j] & STAMP_MASK) != tag) { /* empty */
                t[j] = k | tag;
                keys[nk++] = k;
                break;
            }
        }
        prev = cp;
    }
    if (t != tls_slot) {
        ig_free(t);
    }
    return nk;
}

size_t simhash_bigrams_to(const char *s, size_t n, uint64_t *keys)
{
    size_t i = 0, ncp = 0;

    while (i < n) {
        uint32_t cp;

        i += ig_utf8_decode(s + i, n - i, &cp);
        if (cp != IG_UTF8_INVALID) {
            keys[ncp++] = cp;
        }
    }
    return bigrams_in_place(keys, ncp);
}

/* The code point of the 3-byte sequence at u, known to be well-formed:
 * its bytes less their marks (E0, 80, 80), at their places. */
static inline uint32_t cp3(const unsigned char *u)
{
    return ((uint32_t)u[0] << 12) + ((uint32_t)u[1] << 6) + u[2] -
           ((0xE0u << 12) + (0x80u << 6) + 0x80u);
}

size_t simhash_normalise_keys(const char *s, size_t n, char *out, size_t max,
                              size_t *cap, uint64_t *keys, size_t *nkeys)
{
    size_t i = 0, len = 0, ncp = 0, end = 0;

    /* The normaliser (simhash_normalise_to() is this with max 0), which
     * knows each code point it writes: those of the output's first max
     * bytes go to keys[] (at most one per byte) and become bigrams there,
     * instead of decoding the output again. */
#define EMIT(cp_)                                                              \
    do {                                                                       \
        if (len <= max) {                                                      \
            keys[ncp++] = (cp_);                                               \
            end = len;                                                         \
        }                                                                      \
    } while (0)
    while (i < n) {
        uint32_t cp;
        size_t k;

        if ((unsigned char)s[i] < 0x80) { /* ASCII: letters and digits */
            char c = s[i++];

            if (c >= 'A' && c <= 'Z') {
                c = (char)(c + ('a' - 'A'));
            } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
                continue;
            }
            out[len++] = c;
            EMIT((uint32_t)(unsigned char)c);
            continue;
        }
        /* Five ideographs at a time (most of a Chinese text) while 16
         * bytes are left and all five fall within the first max bytes:
         * the UTF-8 shape in one block test; an E4 lead may still be
         * below U+4E00. */
        if (n - i >= 16 && len + 15 <= max &&
            ig_utf8_five3(s + i, 0xE4, 0xE9)) {
            const unsigned char *u = (const unsigned char *)s + i;
            uint64_t *c = keys + ncp; /* kept only if all are ideographs */

            c[0] = cp3(u);
            c[1] = cp3(u + 3);
            c[2] = cp3(u + 6);
            c[3] = cp3(u + 9);
            c[4] = cp3(u + 12);
            if (c[0] >= 0x4E00 && c[1] >= 0x4E00 && c[2] >= 0x4E00 &&
                c[3] >= 0x4E00 && c[4] >= 0x4E00) {
                memcpy(out + len, u, 15);
                ncp += 5;
                len += 15;
                end = len;
                i += 15;
                continue;
            }
        }
        /* One ideograph: E4..E9 and two continuation bytes (E4 ones
         * start at U+4000). */
        if (n - i >= 3 && (unsigned char)(s[i] - 0xE4) <= 5 &&
            ((unsigned char)s[i + 1] & 0xC0) == 0x80 &&
            ((unsigned char)s[i + 2] & 0xC0) == 0x80) {
            cp = cp3((const unsigned char *)s + i);
            if (cp >= 0x4E00) {
                memcpy(out + len, s + i, 3);
                len += 3;
                i += 3;
                EMIT(cp);
                continue;
            }
        }
        k = ig_utf8_decode(s + i, n - i, &cp);
        if (cp == IG_UTF8_INVALID || is_noise(fold(cp))) {
            i += k;
            continue;
        }
        if (fold(cp) != cp) {
            len += ig_utf8_encode(fold(cp), out + len);
        } else {
            memcpy(out + len, s + i, k); /* already valid */
            len += k;
        }
        i += k;
        EMIT(fold(cp));
    }
#undef EMIT
    out[len] = '\0';
    *cap = end;
    *nkeys = bigrams_in_place(keys, ncp);
    return len;
}

/* Carry-save adder: adds three bit vectors position-wise into a sum bit
 * (l) and a carry bit (h). */
#define CSA(h, l, a, b, c)                                                   \
    do {                                                                     \
        uint64_t u_ = (a) ^ (b), a_ = (a), b_ = (b), c_ = (c);                \
        (h) = (a_ & b_) | (u_ & c_);                                         \
        (l) = u_ ^ c_;                                                       \
    } while (0)

/* Adds w (weight 1) to the bit-sliced counters plane[] (plane p = bit p of
 * the 64 per-position counts). */
static void plane_add(uint64_t *plane, uint64_t w, size_t from)
{
    for (size_t p = from; w; p++) {
        uint64_t t = plane[p] & w;

        plane[p] ^= w;
        w = t;
    }
}

uint64_t simhash_of(const uint64_t *keys, size_t n)
{
    /* Counts, for each of the 64 bit positions, how many features have
     * it set: sixteen features at a time through a tree of carry-save
     * adders (Harley-Seal), whose carries of weight 16 go to bit-sliced
     * counters; about five word operations per feature instead of 64
     * counter updates. No count exceeds n, so the planes above top (the
     * highest bit of n) stay empty. */
    uint64_t plane[64], last[16] = {0}, h;
    uint64_t ones = 0, twos = 0, fours = 0, eights = 0;
    size_t i = 0;
    int top;

    if (n == 0) {
        return 0;
    }
    top = 63 - __builtin_clzll((unsigned long long)n);
    memset(plane, 0, (size_t)(top + 1) * sizeof(plane[0]));
    for (; i < n; i += 16) {
        uint64_t twosA, twosB, foursA, foursB, eightsA, eightsB, sixteens;
        const uint64_t *k = keys + i;

        if (n - i < 16) {
            /* The last ones as a block padded with zero keys: mix64(0)
             * is 0, a feature that sets no bit. */
            memcpy(last, k, (n - i) * sizeof(*k));
            k = last;
        }
        CSA(twosA, ones, ones, mix64(k[0]), mix64(k[1]));
        CSA(twosB, ones, ones, mix64(k[2]), mix64(k[3]));
        CSA(foursA, twos, twos, twosA, twosB);
        CSA(twosA, ones, ones, mix64(k[4]), mix64(k[5]));
        CSA(twosB, ones, ones, mix64(k[6]), mix64(k[7]));
        CSA(foursB, twos, twos, twosA, twosB);
        CSA(eightsA, fours, fours, foursA, foursB);
        CSA(twosA, ones, ones, mix64(k[8]), mix64(k[9]));
        CSA(twosB, ones, ones, mix64(k[10]), mix64(k[11]));
        CSA(foursA, twos, twos, twosA, twosB);
        CSA(twosA, ones, ones, mix64(k[12]), mix64(k[13]));
        CSA(twosB, ones, ones, mix64(k[14]), mix64(k[15]));
        CSA(foursB, twos, twos, twosA, twosB);
        CSA(eightsB, fours, fours, foursA, foursB);
        CSA(sixteens, eights, eights, eightsA, eightsB);
        plane_add(plane, sixteens, 4);
    }
    /* The partial sums of weight 1, 2, 4 and 8 on top. */
    plane_add(plane, ones, 0);
    plane_add(plane, twos, 1);
    plane_add(plane, fours, 2);
    plane_add(plane, eights, 3);
    /* A bit is set in the SimHash when more features have it set than
     * not: 2 * count > n, i.e. count >= t = n / 2 + 1, compared for all 64
     * positions at once from the top plane down (t <= n: no higher). */
    {
        uint64_t t = n / 2 + 1, gt = 0, eq = ~0ull;

        for (int p = top; p >= 0; p--) {
            if ((t >> p) & 1) {
                eq &= plane[p];
            } else {
                gt |= eq & plane[p];
                eq &= ~plane[p];
            }
        }
        h = gt | eq;
    }
    return h;
}

double simhash_jaccard(const uint64_t *a, size_t na, const uint64_t *b,
                       size_t nb)
{
    uint64_t stack[SET_STACK], *t;
    size_t m, i, inter = 0;

    if (na == 0 && nb == 0) {
        return 1.0;
    }
    if (na > nb) { /* the table holds the smaller set */
        const uint64_t *x = a;
        size_t nx = na;

        a = b;
        na = nb;
        b = x;
        nb = nx;
    }
    m = set_size(na);
    t = m <= SET_STACK ? stack : ig_malloc(m * sizeof(*t));
    memset(t, 0xff, m * sizeof(*t));
    for (i = 0; i < na; i++) {
        set_add(t, m - 1, a[i]);
    }
    for (i = 0; i < nb; i++) {
        inter += set_has(t, m - 1, b[i]);
    }
    if (t != stack) {
        ig_free(t);
    }
    return (double)inter / (double)(na + nb - inter);
}

/* A prebuilt set: an open-addressing table (multiplicative hashing, linear
 * probing). A 256-bit signature of the keys, tested before each probe,
 * cost more than it saved: the originals compared are mostly close to the
 * threshold, so most keys passed it and were probed all the same, and a
 * count of misses that stops the pass settles unrelated ones after about
 * nb - need probes. */
struct simhash_set {
    size_t n, mask;
    unsigned sh;
    uint64_t t[]; /* mask + 1 slots */
};

static inline size_t sset_slot(const struct simhash_set *s, uint64_t k)
{
    return (size_t)((k * 0x9E3779B97F4A7C15ULL) >> s->sh);
}

struct simhash_set *simhash_set_new(const uint64_t *keys, size_t n)
{
    size_t m = set_size(n), i;
    struct simhash_set *s = ig_malloc(sizeof(*s) + m * sizeof(s->t[0]));

    s->n = n;
    s->mask = m - 1;
    s->sh = 64u - (unsigned)__builtin_ctzll((unsigned long long)m);
    memset(s->t, 0xff, m * sizeof(s->t[0]));
    for (i = 0; i < n; i++) {
        set_add_at(s->t, s->mask, sset_slot(s, keys[i]), keys[i]);
    }
    return s;
}

void simhash_set_free(struct simhash_set *s)
{
    ig_free(s);
}

size_t simhash_set_overlap(const struct simhash_set *s, const uint32_t *u,
                           size_t nb, bool wide, size_t need)
{
    size_t i, miss = 0, slack;

    if (need > s->n || need > nb) {
        return 0; /* the overlap is at most the smaller set */
    }
    /* One pass over the keys, counting those the set lacks: once more
     * than nb - need are missing, the overlap cannot reach need, and
     * nb - miss (below need) bounds it. */
    slack = nb - need;
    for (i = 0; i < nb; i++) {
        uint64_t k = simhash_unit_key(u, i, wide);

        if (!set_has_at(s->t, s->mask, sset_slot(s, k), k)) {
            if (++miss > slack) {
                break;
            }
        }
    }
    return nb - miss;
}
