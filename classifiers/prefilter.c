/* prefilter.c — Aho-Corasick automaton over bytes (see prefilter.h).
 *
 * The classic construction: a trie of the patterns, failure links by
 * breadth-first search, then every missing transition filled in from the
 * failure state, giving a complete DFA, so the scan does exactly one table
 * load per input byte and never follows a failure link.
 *
 * The table is then laid out for the cache (it is read at a random row per
 * input byte, so its size, not the instruction count, sets the cost):
 *
 * - UTF-8 rows. When every pattern is UTF-8 (a lead byte and then exactly
 *   its continuation bytes), a state either sits between two characters
 *   or inside one, and only one kind of byte can follow it in UTF-8 text:
 *   a state inside a character needs a column per continuation byte (its
 *   other transitions are the start state's), one between characters a
 *   column per lead or ASCII byte (a continuation byte there leads back to
 *   the start state). So each state keeps one kind of row: 64 columns
 *   inside a character, about 20 between two (classes of the bytes the
 *   patterns use, plus one per UTF-8 length for the others), against ~80
 *   for every state before. The empty match is split in four states (no
 *   character open, or 1, 2, 3 continuation bytes still due) so that the
 *   next byte's kind is always known from the state.
 * - 16-bit entries. A row starts at a multiple of 16 entries and an entry
 *   holds the target row's offset / 16; states with outputs come last, so
 *   "has outputs" is "offset >= threshold" (no flag bit). Larger automata
 *   (more than 65,535 units; about 5x the shipped rule base) take 32-bit
 *   entries holding the offset itself.
 * Together: 1.3 MB instead of 4.1 MB for the shipped rules, which fits the
 * L2 cache of the machines we run on.
 *
 * prefilter_scan_utf8() relies on UTF-8 input (the normaliser's output);
 * prefilter_scan() takes any bytes: it tracks the UTF-8 position itself
 * and gives a byte that breaks it the transition the complete DFA has,
 * the start state's (a lead byte inside a character) or the start state
 * (a stray continuation byte). Sets with a pattern that is not UTF-8 get
 * one kind of row with a column per byte class, scanned the same way.
 *
 * Also measured and left out (callgrind with cache simulation, bench
 * items): numbering the states breadth first to pack the shallow, hot rows
 * together changed no miss count.
 *
 * Rejected: a double-array trie (smaller, but the failure-link walk costs
 * more than the memory saved at our sizes) and Vectorscan as the prefilter
 * (faster on long texts, but its per-call overhead and the ~1 s database
 * compile matter more for 100-1000 byte messages; see docs/classifier.md
 * for the measurements).
 */
#include "classifiers/prefilter.h"

#include <stdbool.h>
#include <string.h>

#include "core/mem.h"

/* In the 16-bit layout an entry is a row offset / UNIT, and rows are
 * placed at multiples of ROW16 entries (one 64-byte line). */
#define UNIT 16u
#define UNIT_SHIFT 4
#define ROW16 32u
#define ALIGN 64u
/* Entries past the last row: a UTF-8 row read with the other kind's column
 * (only on input that breaks the scan_utf8 precondition) stays inside the
 * table. */
#define PAD 64u

struct prefilter {
    uint8_t cls[256]; /* byte -> column, within its kind of row */
    bool utf8;        /* rows by UTF-8 position (else one kind) */
    bool wide;        /* uint32_t entries (else uint16_t) */
    uint32_t start;   /* row offset of the start state */
    uint32_t thr;     /* rows at offsets >= thr have outputs */
    uint32_t nstates; /* trie states (without the 3 extra start states) */
    uint32_t ncols;   /* columns: lead/ASCII + continuation classes */
    uint32_t ocol;    /* a row with outputs: where its out range is */
    size_t nent;      /* entries in delta */
    void *delta;      /* uint16_t or uint32_t, ALIGN-aligned; see above */
    void *mem;        /* delta's allocation */
    uint32_t *out;    /* (pattern id, length) pairs, per state with
                       * outputs, its failure chain's included */
    size_t nout;
    uint32_t nouts;
};

static inline bool is_cont(unsigned b)
{
    return (b & 0xC0) == 0x80;
}

/* Bytes a UTF-8 sequence starting with (non-continuation) byte b has. */
static inline unsigned seq_len(unsigned b)
{
    return b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : b < 0xF8 ? 4 : 1;
}

static inline uint32_t entry(const struct prefilter *p, size_t i)
{
    return p->wide ? ((const uint32_t *)p->delta)[i]
                   : (uint32_t)((const uint16_t *)p->delta)[i] << UNIT_SHIFT;
}

/* The out range [*b, *e) of the row with outputs at offset st: right after
 * its columns, in its first cache line when it is a boundary row. */
static inline void out_range(const struct prefilter *p, size_t st, uint32_t *b,
                             uint32_t *e)
{
    if (p->wide) {
        const uint32_t *d = (const uint32_t *)p->delta + st + p->ocol;
        *b = d[0];
        *e = d[1];
    } else {
        const uint16_t *d = (const uint16_t *)p->delta + st + p->ocol;
        memcpy(b, d, 4);
        memcpy(e, d + 2, 4);
    }
}

static size_t round_up(size_t v, size_t u)
{
    return (v + u - 1) / u * u;
}

struct prefilter *prefilter_build(const char *const *pats, const size_t *lens,
                                  size_t n)
{
    struct prefilter *p = ig_calloc(1, sizeof(*p));
    /* 1. Byte classes of the construction (class 0: bytes in no pattern),
     * and whether every pattern is UTF-8 in shape. */
    bool used[256] = {false};
    size_t total = 0;
    bool utf8 = true;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *u = (const unsigned char *)pats[i];
        unsigned due = 0;
        for (size_t k = 0; k < lens[i]; k++) {
            used[u[k]] = true;
            if (is_cont(u[k])) {
                utf8 = utf8 && due > 0;
                due = due ? due - 1 : 0;
            } else {
                utf8 = utf8 && due == 0;
                due = seq_len(u[k]) - 1;
            }
        }
        utf8 = utf8 && due == 0;
        total += lens[i];
    }
    uint8_t fcls[256];
    uint32_t nc = 1;
    for (int b = 0; b < 256; b++) {
        fcls[b] = used[b] ? (uint8_t)nc++ : 0;
    }
    /* 2. Trie; node 0 is the root, 0 as a child means "none". due[]: the
     * continuation bytes still due after the node's string. */
    size_t maxn = total + 1;
    uint32_t *tr = ig_calloc(maxn * nc, sizeof(uint32_t));
    uint32_t *head = ig_malloc(maxn * sizeof(uint32_t));
    uint32_t *pnext = ig_malloc((n ? n : 1) * sizeof(uint32_t));
    uint8_t *due = ig_calloc(maxn + 3, 1);
    memset(head, 0xff, maxn * sizeof(uint32_t));
    uint32_t nn = 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t s = 0;
        for (size_t k = 0; k < lens[i]; k++) {
            unsigned char b = (unsigned char)pats[i][k];
            uint32_t c = fcls[b];
            if (tr[(size_t)s * nc + c] == 0) {
                tr[(size_t)s * nc + c] = nn;
                due[nn] = (uint8_t)(is_cont(b) ? (due[s] ? due[s] - 1u : 0u)
                                               : seq_len(b) - 1);
                nn++;
            }
            s = tr[(size_t)s * nc + c];
        }
        pnext[i] = head[s];
        head[s] = (uint32_t)i;
    }
    /* 3. Failure links and DFA completion, breadth first. */
    uint32_t *fail = ig_calloc(nn, sizeof(uint32_t));
    uint32_t *queue = ig_malloc(nn * sizeof(uint32_t));
    uint32_t *cnt = ig_calloc(nn + 3, sizeof(uint32_t));
    size_t qh = 0, qt = 0;
    queue[qt++] = 0;
    while (qh < qt) {
        uint32_t u = queue[qh++];
        for (uint32_t c = 0; c < nc; c++) {
            uint32_t v = tr[(size_t)u * nc + c];
            if (v != 0) {
                fail[v] = u == 0 ? 0 : tr[(size_t)fail[u] * nc + c];
                queue[qt++] = v;
            } else {
                tr[(size_t)u * nc + c] =
                    u == 0 ? 0 : tr[(size_t)fail[u] * nc + c];
            }
        }
    }
    /* 4. Outputs: a state's own patterns, then its failure state's. */
    size_t nout = 0;
    for (size_t qi = 0; qi < qt; qi++) {
        uint32_t u = queue[qi];
        uint32_t own = 0;
        for (uint32_t id = head[u]; id != UINT32_MAX; id = pnext[id]) {
            own++;
        }
        cnt[u] = own + (u == 0 ? 0 : cnt[fail[u]]);
        nout += cnt[u];
    }
    /* 5. Columns. UTF-8: lead/ASCII bytes of the patterns one each, the
     * other non-continuation bytes one per sequence length; continuation
     * bytes of the patterns one each, the others one. rep[] and rlen[]
     * keep a byte of each column. Otherwise the construction's classes. */
    unsigned char rep_b[256], rep_c[256];
    uint32_t nb = 0, ncc = 0;
    if (utf8) {
        int other_len[5] = {-1, -1, -1, -1, -1};
        int other_cont = -1;
        for (int b = 0; b < 256; b++) {
            if (is_cont((unsigned)b)) {
                if (used[b]) {
                    rep_c[ncc] = (unsigned char)b;
                    p->cls[b] = (uint8_t)ncc++;
                } else {
                    if (other_cont < 0) {
                        rep_c[ncc] = (unsigned char)b;
                        other_cont = (int)ncc++;
                    }
                    p->cls[b] = (uint8_t)other_cont;
                }
            } else if (used[b]) {
                rep_b[nb] = (unsigned char)b;
                p->cls[b] = (uint8_t)nb++;
            } else {
                unsigned l = seq_len((unsigned)b);
                if (other_len[l] < 0) {
                    rep_b[nb] = (unsigned char)b;
                    other_len[l] = (int)nb++;
                }
                p->cls[b] = (uint8_t)other_len[l];
            }
        }
    } else {
        for (int b = 0; b < 256; b++) {
            p->cls[b] = fcls[b];
        }
        for (uint32_t c = 0; c < nc; c++) {
            rep_b[c] = 0;
        }
        for (int b = 255; b >= 0; b--) {
            rep_b[fcls[b]] = (unsigned char)b;
        }
        nb = nc;
        memset(due, 0, maxn + 3);
    }
    p->ncols = nb + ncc;
    /* 6. Layout. States nn..nn+2 (UTF-8 only) are the empty match with 1,
     * 2, 3 continuation bytes due; their rows stand for the root's. Rows
     * without outputs first, the start state's at 0; a row with outputs
     * has its out range after its columns (at ocol: with UTF-8 patterns
     * every state with outputs is between two characters, as every
     * pattern ends there). */
    uint32_t ns = nn + (utf8 ? 3 : 0);
    for (uint32_t k = 0; k < (utf8 ? 3u : 0u); k++) {
        due[nn + k] = (uint8_t)(k + 1);
    }
    uint32_t *off = ig_malloc((size_t)ns * sizeof(uint32_t));
    size_t nent = 0;
    bool wide = false;
    p->ocol = nb;
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t unit = wide ? 1 : ROW16;
        size_t pos = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (uint32_t u = 0; u < ns; u++) {
                bool has_out = u < nn && cnt[u] > 0;
                if (has_out != (pass == 1)) {
                    continue;
                }
                if (pass == 1 && p->thr == 0) {
                    p->thr = (uint32_t)pos;
                }
                off[u] = (uint32_t)pos;
                size_t w = due[u] ? ncc : nb;
                if (has_out) {
                    w = (w > nb ? w : nb) + (wide ? 2 : 4);
                }
                pos = round_up(pos + w, unit);
            }
        }
        if (p->thr == 0) {
            p->thr = (uint32_t)round_up(pos + 1, unit); /* none has outputs */
        }
        nent = pos + PAD;
        if (wide || (pos / UNIT < 0xFFFF && p->thr / UNIT <= 0xFFFF)) {
            break;
        }
        wide = true;
        p->thr = 0;
    }
    p->wide = wide;
    p->utf8 = utf8;
    p->nent = nent;
    p->start = off[0];
    /* 7. Output lists, (pattern, length) pairs: own patterns, then along
     * the failure chain. */
    uint32_t *obeg = ig_calloc(ns, sizeof(uint32_t));
    p->out = ig_malloc((nout ? 2 * nout : 1) * sizeof(uint32_t));
    size_t o = 0;
    uint32_t nouts = 0;
    for (uint32_t u = 0; u < nn; u++) {
        if (cnt[u] == 0) {
            continue;
        }
        nouts++;
        obeg[u] = (uint32_t)o;
        for (uint32_t v = u; v != 0; v = fail[v]) {
            for (uint32_t id = head[v]; id != UINT32_MAX; id = pnext[id]) {
                p->out[2 * o] = id;
                p->out[2 * o + 1] = (uint32_t)lens[id];
                o++;
            }
        }
    }
    /* 8. Entries. */
    uint32_t *tmp = ig_calloc(nent, sizeof(uint32_t));
    for (uint32_t u = 0; u < ns; u++) {
        uint32_t orig = u < nn ? u : 0;
        unsigned d = due[u];
        uint32_t w = d ? ncc : nb;
        for (uint32_t j = 0; j < w; j++) {
            unsigned b = d ? rep_c[j] : rep_b[j];
            uint32_t t = tr[(size_t)orig * nc + fcls[b]];
            if (t == 0 && utf8) {
                /* the empty match, with what the byte leaves due */
                unsigned left = d ? d - 1 : seq_len(b) - 1;
                t = left ? nn + left - 1 : 0;
            }
            tmp[off[u] + j] = off[t];
        }
    }
    size_t esz = wide ? 4 : 2;
    p->mem = ig_malloc(nent * esz + ALIGN);
    p->delta =
        (void *)(((uintptr_t)p->mem + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1));
    if (wide) {
        memcpy(p->delta, tmp, nent * esz);
    } else {
        uint16_t *d16 = p->delta;
        for (size_t i = 0; i < nent; i++) {
            d16[i] = (uint16_t)(tmp[i] >> UNIT_SHIFT);
        }
    }
    for (uint32_t u = 0; u < nn; u++) {
        if (cnt[u] == 0) {
            continue;
        }
        uint32_t b = obeg[u], e = b + cnt[u];
        if (wide) {
            uint32_t *d = (uint32_t *)p->delta + off[u] + nb;
            d[0] = b;
            d[1] = e;
        } else {
            uint16_t *d = (uint16_t *)p->delta + off[u] + nb;
            memcpy(d, &b, 4);
            memcpy(d + 2, &e, 4);
        }
    }
    ig_free(tmp);
    p->nout = nout;
    p->nouts = nouts;
    p->nstates = nn;
    ig_free(obeg);
    ig_free(off);
    ig_free(tr);
    ig_free(head);
    ig_free(pnext);
    ig_free(due);
    ig_free(fail);
    ig_free(queue);
    ig_free(cnt);
    return p;
}

void prefilter_free(struct prefilter *p)
{
    if (p == NULL) {
        return;
    }
    ig_free(p->mem);
    ig_free(p->out);
    ig_free(p);
}

/* Runs the automaton from *stp over u[i..len) until it enters a state
 * with outputs; returns the index of the byte that did (*stp is then that
 * state's row offset), or len. Out of line on purpose: inlined into the
 * scan, the callback call made the compiler keep the text, the table and
 * the length on the stack and reload them on every byte. Two bytes per
 * round: one loop test for two table steps. */
#define RUN_BODY(T, SHIFT)                                                     \
    const T *delta = p->delta;                                                 \
    const uint8_t *cls = p->cls;                                               \
    const size_t thr = p->thr;                                                 \
    const unsigned char *q = u + i, *end = u + len;                            \
    size_t st = *stp;                                                          \
    for (; q + 1 < end; q += 2) {                                              \
        st = (size_t)delta[st + cls[q[0]]] << (SHIFT);                         \
        if (st >= thr) {                                                       \
            goto out;                                                          \
        }                                                                      \
        st = (size_t)delta[st + cls[q[1]]] << (SHIFT);                         \
        if (st >= thr) {                                                       \
            q++;                                                               \
            goto out;                                                          \
        }                                                                      \
    }                                                                          \
    if (q < end) {                                                             \
        st = (size_t)delta[st + cls[q[0]]] << (SHIFT);                         \
        if (st < thr) {                                                        \
            q++;                                                               \
        }                                                                      \
    }                                                                          \
    out:                                                                       \
    *stp = st;                                                                 \
    return (size_t)(q - u);

__attribute__((noinline)) static size_t run16(const struct prefilter *p,
                                              const unsigned char *u, size_t i,
                                              size_t len, size_t *stp)
{
    RUN_BODY(uint16_t, UNIT_SHIFT)
}

__attribute__((noinline)) static size_t run32(const struct prefilter *p,
                                              const unsigned char *u, size_t i,
                                              size_t len, size_t *stp)
{
    RUN_BODY(uint32_t, 0)
}

/* Reports the outputs of the state at row offset st, the byte at i
 * having entered it. A hit longer than the text so far cannot happen on
 * the input the scan is made for; it is dropped rather than passed on. */
static inline void report(const struct prefilter *p, size_t st, size_t i,
                          prefilter_cb cb, void *ud)
{
    uint32_t b, e;
    out_range(p, st, &b, &e);
    for (uint32_t j = b; j < e; j++) {
        if (p->out[2 * j + 1] <= i + 1) {
            cb(ud, p->out[2 * j], i + 1);
        }
    }
}

void prefilter_scan_utf8(const struct prefilter *p, const char *s, size_t len,
                         prefilter_cb cb, void *ud)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t st = p->start;
    size_t (*run)(const struct prefilter *, const unsigned char *, size_t,
                  size_t, size_t *) = p->wide ? run32 : run16;
    for (size_t i = 0;; i++) {
        i = run(p, u, i, len, &st);
        if (i >= len) {
            break;
        }
        report(p, st, i, cb, ud);
    }
}

void prefilter_scan(const struct prefilter *p, const char *s, size_t len,
                    prefilter_cb cb, void *ud)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t st = p->start;
    unsigned due = 0; /* continuation bytes the text still owes */
    for (size_t i = 0; i < len; i++) {
        unsigned b = u[i];
        if (p->utf8) {
            if (is_cont(b)) {
                if (due == 0) {
                    st = p->start; /* a stray one: no pattern goes on */
                    continue;
                }
                due--;
            } else {
                if (due) {
                    st = p->start; /* a character cut short */
                }
                due = seq_len(b) - 1;
            }
        }
        st = entry(p, st + p->cls[b]);
        if (st >= p->thr) {
            report(p, st, i, cb, ud);
        }
    }
}

size_t prefilter_states(const struct prefilter *p)
{
    return p->nstates;
}

size_t prefilter_classes(const struct prefilter *p)
{
    return p->ncols;
}

size_t prefilter_bytes(const struct prefilter *p)
{
    return sizeof(*p) + p->nent * (p->wide ? 4 : 2) +
           2 * p->nout * sizeof(uint32_t);
}
