/* route_lex.c — a small keyword lexicon for the router.
 *
 * The router matches a few hundred short words (place names, red-line
 * words) against raw UTF-8. Words are grouped by their first code point in
 * an open-addressing table; at each character of the text one hash probe
 * finds the few words that can start there, compared longest first. That
 * is enough for a few hundred words and keeps spans in original byte
 * offsets. The classifier's Aho-Corasick automaton was not reused: it is
 * built for the normalised text and owned by the engine, and the router's
 * lists are small and edited separately.
 *
 * Nearly every character of a text starts no word, so the scan's cost is
 * the per-character test, made on raw bytes (no decoding, no validation
 * beyond the lead and continuation bits): in a run of 3-byte characters a
 * bitmap of hashed first-two-character pairs, loaded with both characters
 * in one word, settles it; elsewhere an attention bitmap indexed by the
 * character. The router scans its two lexicons (places, red-line words)
 * in one pass over the text with the OR of their bitmaps.
 */
#include "classifiers/route_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/mem.h"
#include "core/text.h"

void route_lexb_add(struct route_lex_builder *b, struct ig_arena *a,
                    const char *s, size_t len, uint32_t id)
{
    if (len == 0) {
        return;
    }
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->e = ig_realloc(b->e, b->cap * sizeof(*b->e));
    }
    b->e[b->n].s = ig_arena_strndup(a, s, len);
    b->e[b->n].len = (uint32_t)len;
    b->e[b->n].id = id;
    b->n++;
}

static uint32_t first_cp(const char *s, size_t n)
{
    uint32_t cp;
    ig_utf8_decode(s, n, &cp);
    return cp;
}

static int entry_cmp(const void *pa, const void *pb)
{
    const struct route_lex_entry *x = pa;
    const struct route_lex_entry *y = pb;
    uint32_t cx = first_cp(x->s, x->len);
    uint32_t cy = first_cp(y->s, y->len);
    if (cx != cy) {
        return cx < cy ? -1 : 1;
    }
    if (x->len != y->len) {
        return x->len > y->len ? -1 : 1;
    }
    /* Equal words keep a stable, deterministic order by id. */
    return x->id < y->id ? -1 : (x->id > y->id);
}

static uint32_t cp_hash(uint32_t cp)
{
    return cp * 2654435761u;
}

/* The 3-byte UTF-8 form of cp as a little-endian load of it reads (lead
 * byte lowest). Only the low 16 bits of cp count: exact for the 3-byte
 * range, a harmless alias for the few others (the pair filter then lets
 * a little more through). */
static uint64_t utf8_3le(uint32_t cp)
{
    return (uint64_t)(0xE0 | ((cp >> 12) & 0x0F)) |
           (uint64_t)(0x80 | ((cp >> 6) & 0x3F)) << 8 |
           (uint64_t)(0x80 | (cp & 0x3F)) << 16;
}

/* ROUTE_LEX_PAIR_BITS bits of two characters given as a little-endian
 * load of their 3-byte forms; the shift drops the two bytes after them. */
static inline uint32_t pair_hash_raw(uint64_t x)
{
    return (uint32_t)(((x << 16) * 0x9E3779B97F4A7C15u) >>
                      (64 - ROUTE_LEX_PAIR_BITS));
}

/* ROUTE_LEX_PAIR_BITS bits of a word's first two code points. */
static uint32_t pair_hash(uint32_t c1, uint32_t c2)
{
    return pair_hash_raw(utf8_3le(c1) | utf8_3le(c2) << 24);
}

void route_lexb_seal(struct route_lex_builder *b, struct ig_arena *a,
                     struct route_lex *out)
{
    memset(out, 0, sizeof(*out));
    qsort(b->e, b->n, sizeof(*b->e), entry_cmp);
    out->n = b->n;
    out->e = ig_arena_alloc(a, (b->n ? b->n : 1) * sizeof(*out->e));
    if (b->n) {
        memcpy(out->e, b->e, b->n * sizeof(*out->e));
    }
    /* Table size: a power of two at least twice the entry count, so probe
     * chains stay short. */
    size_t size = 16;
    while (size < 2 * b->n) {
        size *= 2;
    }
    out->slots = ig_arena_zalloc(a, size * sizeof(*out->slots));
    out->mask = size - 1;
    out->first_bmp =
        ig_arena_zalloc(a, ROUTE_LEX_BMP_WORDS * sizeof(*out->first_bmp));
    for (size_t i = 0; i < out->n;) {
        uint32_t cp = first_cp(out->e[i].s, out->e[i].len);
        size_t j = i;
        while (j < out->n && first_cp(out->e[j].s, out->e[j].len) == cp) {
            j++;
        }
        size_t h = cp_hash(cp) & out->mask;
        while (out->slots[h].count) {
            h = (h + 1) & out->mask;
        }
        out->slots[h].cp = cp;
        out->slots[h].first = (uint32_t)i;
        out->slots[h].count = (uint32_t)(j - i);
        if (cp < 0x10000) {
            out->first_bmp[cp >> 6] |= (uint64_t)1 << (cp & 63);
        }
        i = j;
    }
    /* The filter (see route_int.h). A word whose second character is not
     * a whole valid one (a broken word) is filed as one character long:
     * its first character then always gets the full look. */
    struct route_lex_filter *f = ig_arena_zalloc(a, sizeof(*f));
    memcpy(f->attn, out->first_bmp, sizeof(f->attn[0]) * ROUTE_LEX_BMP_WORDS);
    for (size_t w = 0; w < 0x800 / 64; w++) {
        f->attn[w] = UINT64_MAX;
    }
    for (size_t w = 0xD800 / 64; w <= 0xDFFF / 64; w++) {
        f->attn[w] = UINT64_MAX;
    }
    f->attn[ROUTE_LEX_ATTN_ASCII] = out->first_bmp[0];
    f->attn[ROUTE_LEX_ATTN_ASCII + 1] = out->first_bmp[1];
    for (size_t i = 0; i < out->n; i++) {
        const struct route_lex_entry *e = &out->e[i];
        uint32_t c1, c2 = IG_UTF8_INVALID;
        size_t l1 = ig_utf8_decode(e->s, e->len, &c1);
        if (c1 >= 0x10000) {
            continue; /* looked up whatever follows */
        }
        if (l1 < e->len) {
            ig_utf8_decode(e->s + l1, e->len - l1, &c2);
        }
        if (c2 == IG_UTF8_INVALID) {
            f->one[c1 >> 6] |= (uint64_t)1 << (c1 & 63);
            f->has_one = 1;
        } else {
            uint32_t h = pair_hash(c1, c2);
            f->pair[h >> 6] |= (uint64_t)1 << (h & 63);
        }
    }
    out->filt = f;
    route_lexb_fini(b);
}

struct route_lex_filter *route_lex_filter_or(const struct route_lex *a,
                                             const struct route_lex *b,
                                             struct ig_arena *ar)
{
    struct route_lex_filter *t = ig_arena_alloc(ar, sizeof(*t));
    const uint64_t *x = (const uint64_t *)a->filt;
    const uint64_t *y = (const uint64_t *)b->filt;
    uint64_t *z = (uint64_t *)t;
    for (size_t w = 0; w < sizeof(*t) / sizeof(uint64_t); w++) {
        z[w] = x[w] | y[w];
    }
    return t;
}

void route_lexb_fini(struct route_lex_builder *b)
{
    ig_free(b->e);
    b->e = NULL;
    b->n = b->cap = 0;
}

static const struct route_lex_slot *lookup(const struct route_lex *lx,
                                           uint32_t cp)
{
    size_t h = cp_hash(cp) & lx->mask;
    while (lx->slots[h].count) {
        if (lx->slots[h].cp == cp) {
            return &lx->slots[h];
        }
        h = (h + 1) & lx->mask;
    }
    return NULL;
}

/* ig_utf8_decode() with the two common cases inline: ASCII and a
 * well-formed 3-byte sequence (all CJK). Anything else goes the strict
 * way. */
static inline size_t decode(const char *p, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)p;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    if ((u[0] & 0xF0) == 0xE0 && n >= 3 && (u[1] & 0xC0) == 0x80 &&
        (u[2] & 0xC0) == 0x80) {
        uint32_t c = ((uint32_t)(u[0] & 0x0F) << 12) |
                     ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
        /* Overlong forms and surrogates are invalid: strict path. */
        if (c >= 0x800 && (c < 0xD800 || c > 0xDFFF)) {
            *cp = c;
            return 3;
        }
    }
    return ig_utf8_decode(p, n, cp);
}

/* The words of lx at s[i..n) whose first character (cp, step bytes) was
 * just decoded, longest first; returns the callback's skip (0: none). */
static size_t probe(const struct route_lex *lx, const char *s, size_t n,
                    size_t i, uint32_t cp, size_t step, route_lex_cb cb,
                    void *ctx)
{
    const struct route_lex_slot *sl = NULL;
    if (cp < 0x10000) {
        if ((lx->first_bmp[cp >> 6] >> (cp & 63)) & 1) {
            sl = lookup(lx, cp);
        }
    } else if (cp != IG_UTF8_INVALID) {
        sl = lookup(lx, cp);
    }
    size_t skip = 0;
    for (uint32_t k = 0; sl && k < sl->count && !skip; k++) {
        const struct route_lex_entry *e = &lx->e[sl->first + k];
        /* All words here share the first character: reject on the
         * last byte of the second one (high entropy in CJK) before
         * paying for memcmp. */
        if (e->len > n - i ||
            (e->len >= step + 3 && s[i + step + 2] != e->s[step + 2])) {
            continue;
        }
        if (memcmp(s + i + step, e->s + step, e->len - step) == 0) {
            skip = cb(ctx, e->id, i, i + e->len);
        }
    }
    return skip;
}

struct scan {
    struct route_lex_use u[ROUTE_LEX_USE_MAX];
    size_t next[ROUTE_LEX_USE_MAX]; /* a lexicon's next position */
    size_t nu;
    const struct route_lex_filter *f;
};

static bool bit(const uint64_t *bm, uint32_t v)
{
    return (bm[v >> 6] >> (v & 63)) & 1;
}

/* The character cp (step bytes) at s[i] passed the attention test: rule
 * it out by the two-character filter if possible, else probe each lexicon
 * due here. Returns the next position. Kept out of line so the scan loop
 * keeps its few values in registers. */
__attribute__((noinline)) static size_t look_at(struct scan *sc, const char *s,
                                                size_t n, size_t i, uint32_t cp,
                                                size_t step)
{
    if (cp < 0x10000 && !bit(sc->f->one, cp)) {
        /* Only words of two or more characters can start here: the text's
         * second character must pair with this one. */
        uint32_t c2;
        if (i + step >= n) {
            return i + step;
        }
        decode(s + i + step, n - i - step, &c2);
        if (c2 == IG_UTF8_INVALID || !bit(sc->f->pair, pair_hash(cp, c2))) {
            return i + step;
        }
    }
    for (size_t k = 0; k < sc->nu; k++) {
        if (i < sc->next[k]) {
            continue;
        }
        const struct route_lex_use *u = &sc->u[k];
        size_t skip = probe(u->lx, s, n, i, cp, step, u->cb, u->ctx);
        sc->next[k] = i + (skip > step ? skip : step);
    }
    return i + step;
}

/* p[0] | p[1] << 8 in one load (GCC does not merge the two). */
static inline unsigned two_bytes(const unsigned char *p)
{
    uint16_t w;
    memcpy(&w, p, 2);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap16(w);
#endif
    return w;
}

/* b[0..8) as one little-endian word. */
static inline uint64_t load_le64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* Two 3-byte sequences in a row, as load_le64() reads them: the lead
 * bytes' top four bits 1110, the continuation bytes' top two 10. */
#define PAIR3_MASK 0xC0C0F0C0C0F0u
#define PAIR3_BITS 0x8080E08080E0u

/* From b[i], a lead byte of a 3-byte sequence, passes over each 3-byte
 * sequence followed by another that the pair filter rules out; returns
 * the first position it cannot pass, a lead byte of a 3-byte sequence
 * too, below n - 2. */
static inline size_t skip_pairs(const uint64_t *pair, const unsigned char *b,
                                size_t i, size_t n)
{
    while (i + 8 <= n) {
        uint64_t x = load_le64(b + i);
        if ((x & PAIR3_MASK) != PAIR3_BITS || bit(pair, pair_hash_raw(x))) {
            break;
        }
        i += 3;
    }
    return i;
}

/* look_at() for a character not decoded yet (ASCII, or not a plain
 * 3-byte sequence), decoded exactly as a single-lexicon scan did. */
__attribute__((noinline)) static size_t look(struct scan *sc, const char *s,
                                             size_t n, size_t i)
{
    uint32_t cp;
    size_t step = decode(s + i, n - i, &cp);
    return look_at(sc, s, n, i, cp, step);
}

/* Most characters start no word of any lexicon. In a run of 3-byte
 * sequences (nearly all of a Chinese text) the pair filter on the raw
 * bytes of a character and the next passes over them without decoding,
 * when no lexicon has one-character words: a pair the filter does not
 * know starts no word, and neither does an overlong form or a surrogate
 * (the strict way would find none there) or its continuation bytes.
 * Elsewhere the attention test on the raw bytes of an ASCII character or
 * a well-formed 3-byte sequence does the same for one character. The
 * rest (a word may start here, or 2-/4-byte and invalid sequences) go to
 * look_at() or look(). A position where no lexicon is probed needs no
 * bookkeeping: a single-lexicon scan would have found nothing there and
 * moved one character on. */
void route_lex_scan_n(const struct route_lex_use *use, size_t nuse,
                      const struct route_lex_filter *filt, const char *s,
                      size_t n)
{
    struct scan sc;
    sc.nu = 0;
    sc.f = filt;
    for (size_t k = 0; k < nuse && k < ROUTE_LEX_USE_MAX; k++) {
        if (use[k].lx->slots && use[k].lx->n) {
            sc.u[sc.nu] = use[k];
            sc.next[sc.nu] = 0;
            sc.nu++;
        }
    }
    if (sc.nu == 0) {
        return;
    }
    const uint64_t *attn = filt->attn;
    const bool by_pair = !filt->has_one;
    const unsigned char *b = (const unsigned char *)s;
    /* Up to lim a 3-byte sequence fits; the last two bytes go to look(). */
    size_t lim = n > 2 ? n - 2 : 0;
    size_t i = 0;
    while (i < lim) {
        unsigned c0 = b[i];
        if (c0 < 0x80) {
            if (!bit(attn + ROUTE_LEX_ATTN_ASCII, c0)) {
                i++;
                continue;
            }
        } else if ((c0 & 0xF0) == 0xE0) {
            if (by_pair) {
                i = skip_pairs(filt->pair, b, i, n);
                c0 = b[i];
            }
            /* The two continuation bytes, tested together. */
            unsigned w = two_bytes(b + i + 1);
            if ((w & 0xC0C0u) == 0x8080u) {
                uint32_t hi = ((c0 & 0x0F) << 6) | (w & 0x3F);
                if (!((attn[hi] >> ((w >> 8) & 0x3F)) & 1)) {
                    i += 3;
                    continue;
                }
                /* Overlong forms and surrogates: the strict way. */
                if (hi >= 0x800 / 64 &&
                    (hi < 0xD800 / 64 || hi > 0xDFFF / 64)) {
                    uint32_t cp = hi << 6 | ((w >> 8) & 0x3F);
                    i = look_at(&sc, s, n, i, cp, 3);
                    continue;
                }
            }
        }
        i = look(&sc, s, n, i);
    }
    while (i < n) {
        i = look(&sc, s, n, i);
    }
}

void route_lex_scan(const struct route_lex *lx, const char *s, size_t n,
                    route_lex_cb cb, void *ctx)
{
    struct route_lex_use u = {lx, cb, ctx};
    if (lx->filt) {
        route_lex_scan_n(&u, 1, lx->filt, s, n);
    }
}
