/* prefilter.c — Aho-Corasick automaton over bytes (see prefilter.h).
 *
 * The classic construction: a trie of the patterns, failure links by
 * breadth-first search, then every missing transition filled in from the
 * failure state, giving a complete DFA, so the scan does exactly one table
 * load per input byte and never follows a failure link. Bytes that occur in
 * no pattern share one equivalence class (class 0), which shrinks the table
 * from 256 columns to about 110 for Chinese keyword sets (UTF-8 lead bytes
 * E4..E9, the 64 continuation bytes, some ASCII). A table entry holds the
 * target state's row offset with the top bit set when that state has
 * outputs (its own patterns plus those of its failure chain, flattened at
 * build time), so the hot loop is load, test, mask.
 *
 * Also measured and left out (callgrind with cache simulation, bench
 * items): numbering the states breadth first to pack the shallow, hot rows
 * together changed no miss count, and 16-bit entries (state numbers, a
 * multiply per byte) cut D1 misses by a tenth for a third more
 * instructions.
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

#define OUT_BIT 0x80000000u

struct prefilter {
    uint8_t cls[256]; /* byte -> equivalence class */
    uint32_t ncls;
    uint32_t nstates;
    uint32_t *delta;   /* nstates * ncls; row offset | OUT_BIT */
    uint32_t *out_off; /* nstates + 1; into out */
    uint32_t *out;     /* pattern ids, per state (with failure chain) */
    size_t nout;
};

struct prefilter *prefilter_build(const char *const *pats, const size_t *lens,
                                  size_t n)
{
    struct prefilter *p = ig_calloc(1, sizeof(*p));
    /* 1. Byte classes. */
    bool used[256] = {false};
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < lens[i]; k++) {
            used[(unsigned char)pats[i][k]] = true;
        }
        total += lens[i];
    }
    uint32_t nc = 1;
    for (int b = 0; b < 256; b++) {
        p->cls[b] = used[b] ? (uint8_t)nc++ : 0;
    }
    p->ncls = nc;
    /* 2. Trie; node 0 is the root, 0 as a child means "none". */
    size_t maxn = total + 1;
    uint32_t *tr = ig_calloc(maxn * nc, sizeof(uint32_t));
    uint32_t *head = ig_malloc(maxn * sizeof(uint32_t));
    uint32_t *pnext = ig_malloc((n ? n : 1) * sizeof(uint32_t));
    memset(head, 0xff, maxn * sizeof(uint32_t));
    uint32_t nn = 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t s = 0;
        for (size_t k = 0; k < lens[i]; k++) {
            uint32_t c = p->cls[(unsigned char)pats[i][k]];
            if (tr[(size_t)s * nc + c] == 0) {
                tr[(size_t)s * nc + c] = nn++;
            }
            s = tr[(size_t)s * nc + c];
        }
        pnext[i] = head[s];
        head[s] = (uint32_t)i;
    }
    /* 3. Failure links and DFA completion, breadth first. */
    uint32_t *fail = ig_calloc(nn, sizeof(uint32_t));
    uint32_t *queue = ig_malloc(nn * sizeof(uint32_t));
    uint32_t *cnt = ig_calloc(nn, sizeof(uint32_t));
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
    p->out_off = ig_malloc(((size_t)nn + 1) * sizeof(uint32_t));
    p->out = ig_malloc((nout ? nout : 1) * sizeof(uint32_t));
    /* Offsets in state order; fill in BFS order so the failure state's
     * list is complete before it is copied. */
    size_t off = 0;
    for (uint32_t u = 0; u < nn; u++) {
        p->out_off[u] = (uint32_t)off;
        off += cnt[u];
    }
    p->out_off[nn] = (uint32_t)off;
    for (size_t qi = 0; qi < qt; qi++) {
        uint32_t u = queue[qi];
        uint32_t o = p->out_off[u];
        for (uint32_t id = head[u]; id != UINT32_MAX; id = pnext[id]) {
            p->out[o++] = id;
        }
        if (u != 0) {
            uint32_t f = fail[u];
            memcpy(&p->out[o], &p->out[p->out_off[f]],
                   cnt[f] * sizeof(uint32_t));
        }
    }
    p->nout = nout;
    /* 5. Final table: row offsets with the output bit. */
    p->delta = ig_malloc((size_t)nn * nc * sizeof(uint32_t));
    for (size_t i = 0; i < (size_t)nn * nc; i++) {
        uint32_t v = tr[i];
        p->delta[i] = v * nc | (cnt[v] ? OUT_BIT : 0);
    }
    p->nstates = nn;
    ig_free(tr);
    ig_free(head);
    ig_free(pnext);
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
    ig_free(p->delta);
    ig_free(p->out_off);
    ig_free(p->out);
    ig_free(p);
}

/* Runs the automaton from *stp over u[i..len) until it enters a state
 * with outputs; returns the index of the byte that did (*stp is then that
 * entry, OUT_BIT set), or len. Out of line on purpose: inlined into the
 * scan, the callback call made the compiler keep the text, the table and
 * the length on the stack and reload them on every byte. */
__attribute__((noinline)) static size_t run(const struct prefilter *p,
                                            const unsigned char *u, size_t i,
                                            size_t len, uint32_t *stp)
{
    const uint32_t *delta = p->delta;
    const uint8_t *cls = p->cls;
    const unsigned char *q = u + i, *end = u + len;
    size_t st = *stp; /* size_t: no zero extension per step */
    /* Two bytes per round: one loop test for two table steps. */
    for (; q + 1 < end; q += 2) {
        st = delta[st + cls[q[0]]];
        if (st & OUT_BIT) {
            goto out;
        }
        st = delta[st + cls[q[1]]];
        if (st & OUT_BIT) {
            q++;
            goto out;
        }
    }
    if (q < end) {
        st = delta[st + cls[q[0]]];
        if (!(st & OUT_BIT)) {
            q++;
        }
    }
out:
    *stp = (uint32_t)st;
    return (size_t)(q - u);
}

void prefilter_scan(const struct prefilter *p, const char *s, size_t len,
                    prefilter_cb cb, void *ud)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t st = 0;
    for (size_t i = 0;; i++) {
        i = run(p, u, i, len, &st);
        if (i >= len) {
            break;
        }
        st &= ~OUT_BIT;
        uint32_t state = st / p->ncls;
        for (uint32_t k = p->out_off[state]; k < p->out_off[state + 1]; k++) {
            cb(ud, p->out[k], i + 1);
        }
    }
}

size_t prefilter_states(const struct prefilter *p)
{
    return p->nstates;
}

size_t prefilter_classes(const struct prefilter *p)
{
    return p->ncls;
}

size_t prefilter_bytes(const struct prefilter *p)
{
    return sizeof(*p) + (size_t)p->nstates * p->ncls * sizeof(uint32_t) +
           ((size_t)p->nstates + 1) * sizeof(uint32_t) +
           p->nout * sizeof(uint32_t);
}
