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
    route_lexb_fini(b);
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
static size_t decode(const char *p, size_t n, uint32_t *cp)
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

void route_lex_scan(const struct route_lex *lx, const char *s, size_t n,
                    route_lex_cb cb, void *ctx)
{
    if (!lx->slots || lx->n == 0) {
        return;
    }
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t step = decode(s + i, n - i, &cp);
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
        i += skip > step ? skip : step;
    }
}
