/* match.c — one item through the rule set: normalise, scan once, evaluate
 * the candidate rules, score.
 *
 * Title and text are normalised into one buffer ("title \n text"; no
 * keyword can contain the newline, so no match spans the two fields), the
 * automaton runs once over it, and each hit marks the rules that literal
 * gates as candidates. Per-literal and per-rule state in the scratch is
 * stamped with a generation number, so starting the next item costs
 * nothing however large the rule set is: the work per item is the text
 * length plus the hits, not the number of rules. Only candidates are
 * evaluated, cheapest checks first (keyword groups, vetoes), and a rule's
 * regexes run only when everything else about it already holds. Each
 * regex call runs on at most CLS_REGEX_MAX_BYTES of a field under the
 * PCRE2 match, depth and heap limits of the scratch's match context, with
 * PCRE2_NO_UTF_CHECK (the normaliser's output is valid UTF-8 by
 * construction). A limit hit makes that rule an error for this item,
 * never a silent "no match"; the other rules still vote.
 */
#include "classifiers/classifier_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "classifiers/prefilter.h"
#include "classifiers/route.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/norm.h"
#include "core/text.h"

/* Occurrences kept per literal and item: enough for near: on any real
 * message; a 1 MiB item repeating one word stays bounded. */
#define MAX_HITS_PER_LIT 64
#define MAX_EV_PER_RULE 8
#define NONE UINT32_MAX

struct hit {
    uint32_t end;  /* normalised offset just past the literal */
    uint32_t next; /* next hit of the same literal, or NONE */
};

/* Evidence collected while evaluating, in normalised offsets. */
struct sev {
    uint32_t rule;
    uint32_t a, b;
    uint8_t veto;     /* 1: this span vetoed the rule */
    uint8_t field;    /* enum cls_field */
    const char *what; /* "any", "all", "near", "regex", "not", ... */
};

struct cls_scratch {
    struct ig_norm norm;
    size_t title_end, text_start;
    uint32_t gen;
    size_t nlits, nrules, ntaxa; /* sizes the arrays below fit */
    uint32_t *lit_gen, *lit_first, *lit_last, *lit_count;
    struct hit *hits;
    size_t nhits, caphits;
    uint32_t *rule_gen;
    uint32_t *side_gen; /* a near: side with a word seen: gen */
    size_t nsides;
    uint32_t *cand;
    size_t ncand;
    uint64_t *cand_bits; /* all zero between calls (sort_cand() clears) */
    double *code_score;
    uint32_t *code_gen;
    uint32_t *touched;
    size_t ntouched;
    struct sev *ev;
    size_t nev, capev;
    const struct ruleset *rs;
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *js;
    struct route_scratch *route; /* owned; made on first routed item */
};

struct cls_scratch *cls_scratch_new(void)
{
    struct cls_scratch *s = ig_calloc(1, sizeof(*s));
    ig_norm_init(&s->norm);
    s->md = pcre2_match_data_create(1, NULL);
    s->mc = pcre2_match_context_create(NULL);
    s->js = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
    if (s->md == NULL || s->mc == NULL || s->js == NULL) {
        abort(); /* out of memory, as in the core allocators */
    }
    pcre2_set_match_limit(s->mc, CLS_MATCH_LIMIT);
    pcre2_set_depth_limit(s->mc, CLS_DEPTH_LIMIT);
    pcre2_set_heap_limit(s->mc, CLS_HEAP_LIMIT_KIB);
    pcre2_jit_stack_assign(s->mc, NULL, s->js);
    return s;
}

void cls_scratch_free(struct cls_scratch *s)
{
    if (s == NULL) {
        return;
    }
    ig_norm_fini(&s->norm);
    ig_free(s->lit_gen);
    ig_free(s->lit_first);
    ig_free(s->lit_last);
    ig_free(s->lit_count);
    ig_free(s->hits);
    ig_free(s->rule_gen);
    ig_free(s->side_gen);
    ig_free(s->cand);
    ig_free(s->cand_bits);
    ig_free(s->code_score);
    ig_free(s->code_gen);
    ig_free(s->touched);
    ig_free(s->ev);
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mc);
    pcre2_jit_stack_free(s->js);
    route_scratch_free(s->route);
    ig_free(s);
}

/* Makes the per-ruleset arrays fit rs; returns with a fresh generation. */
static void scratch_prepare(struct cls_scratch *s, const struct ruleset *rs)
{
    bool reset = false;
    if (s->nlits < rs->nlits || s->lit_gen == NULL) {
        size_t n = rs->nlits ? rs->nlits : 1;
        s->lit_gen = ig_realloc(s->lit_gen, n * sizeof(uint32_t));
        s->lit_first = ig_realloc(s->lit_first, n * sizeof(uint32_t));
        s->lit_last = ig_realloc(s->lit_last, n * sizeof(uint32_t));
        s->lit_count = ig_realloc(s->lit_count, n * sizeof(uint32_t));
        s->nlits = n;
        reset = true;
    }
    if (s->nrules < rs->nrules || s->rule_gen == NULL) {
        size_t n = rs->nrules ? rs->nrules : 1;
        s->rule_gen = ig_realloc(s->rule_gen, n * sizeof(uint32_t));
        s->cand = ig_realloc(s->cand, n * sizeof(uint32_t));
        ig_free(s->cand_bits);
        s->cand_bits = ig_calloc((n + 63) / 64, sizeof(uint64_t));
        s->nrules = n;
        reset = true;
    }
    if (s->nsides < rs->nsides || s->side_gen == NULL) {
        size_t n = rs->nsides ? rs->nsides : 1;
        s->side_gen = ig_realloc(s->side_gen, n * sizeof(uint32_t));
        s->nsides = n;
        reset = true;
    }
    if (s->ntaxa < rs->ntaxa || s->code_gen == NULL) {
        size_t n = rs->ntaxa ? rs->ntaxa : 1;
        s->code_score = ig_realloc(s->code_score, n * sizeof(double));
        s->code_gen = ig_realloc(s->code_gen, n * sizeof(uint32_t));
        s->touched = ig_realloc(s->touched, n * sizeof(uint32_t));
        s->ntaxa = n;
        reset = true;
    }
    s->gen++;
    if (reset || s->gen == 0 || s->rs != rs) {
        memset(s->lit_gen, 0, s->nlits * sizeof(uint32_t));
        memset(s->rule_gen, 0, s->nrules * sizeof(uint32_t));
        memset(s->side_gen, 0, s->nsides * sizeof(uint32_t));
        memset(s->code_gen, 0, s->ntaxa * sizeof(uint32_t));
        s->gen = 1;
        s->rs = rs;
    }
    s->nhits = 0;
    s->ncand = 0;
    s->ntouched = 0;
    s->nev = 0;
}

static void on_hit(void *ud, uint32_t lit, size_t end)
{
    struct cls_scratch *s = ud;
    const struct ruleset *rs = s->rs;
    if (s->lit_gen[lit] != s->gen) {
        s->lit_gen[lit] = s->gen;
        s->lit_count[lit] = 0;
        for (uint32_t k = rs->lit_rule_off[lit]; k < rs->lit_rule_off[lit + 1];
             k++) {
            uint32_t r = rs->lit_rule[k];
            if (s->rule_gen[r] != s->gen) {
                s->rule_gen[r] = s->gen;
                s->cand[s->ncand++] = r;
            }
        }
        for (uint32_t k = rs->lit_side_off[lit]; k < rs->lit_side_off[lit + 1];
             k++) {
            s->side_gen[rs->lit_side[k]] = s->gen;
        }
    }
    if (s->lit_count[lit] >= MAX_HITS_PER_LIT) {
        return;
    }
    if (s->nhits == s->caphits) {
        s->caphits = s->caphits ? 2 * s->caphits : 256;
        s->hits = ig_realloc(s->hits, s->caphits * sizeof(struct hit));
    }
    uint32_t h = (uint32_t)s->nhits++;
    s->hits[h].end = (uint32_t)end;
    s->hits[h].next = NONE;
    if (s->lit_count[lit]++ == 0) {
        s->lit_first[lit] = h;
    } else {
        s->hits[s->lit_last[lit]].next = h;
    }
    s->lit_last[lit] = h;
}

/* Sorts the candidate rules (distinct indexes below nrules) ascending.
 * A short list by insertion (qsort's merge sort allocates and costs more
 * than the rest of the evaluation); a long one, typical of a report that
 * names several hazards, through a bitmap of rule indexes, which comes out
 * in order and is left all zero again. */
static void sort_cand(struct cls_scratch *s, size_t nrules)
{
    if (s->ncand < 16) {
        for (size_t i = 1; i < s->ncand; i++) {
            uint32_t v = s->cand[i];
            size_t k = i;
            while (k > 0 && s->cand[k - 1] > v) {
                s->cand[k] = s->cand[k - 1];
                k--;
            }
            s->cand[k] = v;
        }
        return;
    }
    for (size_t i = 0; i < s->ncand; i++) {
        s->cand_bits[s->cand[i] >> 6] |= (uint64_t)1 << (s->cand[i] & 63);
    }
    size_t k = 0;
    for (size_t w = 0; w < (nrules + 63) / 64; w++) {
        uint64_t b = s->cand_bits[w];
        if (b == 0) {
            continue;
        }
        s->cand_bits[w] = 0;
        while (b) {
            s->cand[k++] = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(b));
            b &= b - 1;
        }
    }
}

static bool seen(const struct cls_scratch *s, uint32_t lit)
{
    return s->lit_gen[lit] == s->gen;
}

/* Records a span; field < 0 derives it from the offset (keywords never
 * touch the separator), a regex passes the field it ran on (its match may
 * be empty at the very end of the title). */
static void add_ev_f(struct cls_scratch *s, uint32_t rule, size_t a, size_t b,
                     bool veto, const char *what, int field);

static void add_ev(struct cls_scratch *s, uint32_t rule, size_t a, size_t b,
                   bool veto, const char *what)
{
    add_ev_f(s, rule, a, b, veto, what, -1);
}

static void add_ev_f(struct cls_scratch *s, uint32_t rule, size_t a, size_t b,
                     bool veto, const char *what, int field)
{
    if (s->nev == s->capev) {
        s->capev = s->capev ? 2 * s->capev : 64;
        s->ev = ig_realloc(s->ev, s->capev * sizeof(struct sev));
    }
    struct sev *e = &s->ev[s->nev++];
    e->rule = rule;
    e->a = (uint32_t)a;
    e->b = (uint32_t)b;
    e->veto = veto;
    e->what = what;
    if (field < 0) {
        field = a < s->title_end ? CLS_FIELD_TITLE : CLS_FIELD_TEXT;
    }
    e->field = (uint8_t)field;
}

/* Whether at most max characters (not bytes) lie between the normalised
 * spans [a1, b1) and [a2, b2) of t (none when they touch or overlap).
 * The byte gap often settles it, as the normaliser's UTF-8 is valid (a
 * character is 1 to 4 bytes); else characters are counted up to max + 1
 * only (a 1 MiB item must not make each question a walk through the
 * text). */
static bool chars_within(const char *t, size_t a1, size_t b1, size_t a2,
                         size_t b2, size_t max)
{
    size_t from, to, n = 0;
    if (b1 <= a2) {
        from = b1;
        to = a2;
    } else if (b2 <= a1) {
        from = b2;
        to = a1;
    } else {
        return true;
    }
    if (to - from <= max) {
        return true;
    }
    if (to - from > 4 * max) {
        return false;
    }
    for (size_t i = from; i < to && n <= max; i++) {
        n += ((unsigned char)t[i] & 0xC0) != 0x80;
    }
    return n <= max;
}

/* Hit h of literal lit, or the first one after it, that lies in the
 * title (want_title) or in the text; NONE when there is none. Hits are
 * in text order: title hits come first. */
static uint32_t field_hit(const struct cls_scratch *s, const struct ruleset *rs,
                          uint32_t lit, uint32_t h, bool want_title)
{
    for (; h != NONE; h = s->hits[h].next) {
        size_t start = s->hits[h].end - rs->lit_len[lit];
        if ((start < s->title_end) == want_title) {
            return h;
        }
        if (want_title) {
            return NONE; /* past the title */
        }
    }
    return NONE;
}

/* Finds a pair of words of lv[0..nl) and rv[0..nr) within `within`
 * characters in one field, trying pairs in list order. The title is
 * searched first: a pair repeated in title and text must be reported in
 * the title, or the rule would lose its title weight. */
static bool near_pair(struct cls_scratch *s, const struct ruleset *rs,
                      const uint32_t *lv, size_t nl, const uint32_t *rv,
                      size_t nr, unsigned within, size_t *oa, size_t *ob)
{
    for (int pass = 0; pass < 2; pass++) {
        bool want_title = pass == 0;
        if (want_title && s->title_end == 0) {
            continue;
        }
        for (size_t i = 0; i < nl; i++) {
            uint32_t l = lv[i];
            if (!seen(s, l)) {
                continue;
            }
            for (size_t j = 0; j < nr; j++) {
                uint32_t r = rv[j];
                if (!seen(s, r)) {
                    continue;
                }
                /* both in the same field */
                for (uint32_t h =
                         field_hit(s, rs, l, s->lit_first[l], want_title);
                     h != NONE;
                     h = field_hit(s, rs, l, s->hits[h].next, want_title)) {
                    size_t ae = s->hits[h].end, as = ae - rs->lit_len[l];
                    for (uint32_t g =
                             field_hit(s, rs, r, s->lit_first[r], want_title);
                         g != NONE;
                         g = field_hit(s, rs, r, s->hits[g].next, want_title)) {
                        size_t be = s->hits[g].end, bs = be - rs->lit_len[r];
                        if (chars_within(s->norm.s, as, ae, bs, be, within)) {
                            *oa = as < bs ? as : bs;
                            *ob = ae > be ? ae : be;
                            return true;
                        }
                    }
                }
            }
        }
    }
    return false;
}

#define NEAR_SEEN_MAX 32

/* Copies the words of l this item has into v, in list order. Returns
 * their count, or NEAR_SEEN_MAX + 1 as soon as v would overflow. */
static size_t seen_words(const struct cls_scratch *s, const struct lit_list *l,
                         uint32_t v[NEAR_SEEN_MAX])
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (seen(s, l->v[i])) {
            if (n == NEAR_SEEN_MAX) {
                return NEAR_SEEN_MAX + 1;
            }
            v[n++] = l->v[i];
        }
    }
    return n;
}

/* near_pair() on the words of each side that this item has: near: lists
 * run to dozens of words and few of them are ever seen, so the passes
 * then look at a handful instead of the whole lists twice, and a side
 * with none ends it at once. */
static bool near_ok(struct cls_scratch *s, const struct ruleset *rs,
                    const struct near_cond *nc, size_t *oa, size_t *ob)
{
    uint32_t lv[NEAR_SEEN_MAX], rv[NEAR_SEEN_MAX];
    /* most often a side has no word in the text: known without its list */
    for (int e = 0; e < 2; e++) {
        if (nc->side[e] != UINT32_MAX && s->side_gen[nc->side[e]] != s->gen) {
            return false;
        }
    }
    size_t nl = seen_words(s, &nc->left, lv);
    if (nl == 0) {
        return false;
    }
    size_t nr = nl > NEAR_SEEN_MAX ? nl : seen_words(s, &nc->right, rv);
    if (nr == 0) {
        return false;
    }
    if (nl > NEAR_SEEN_MAX || nr > NEAR_SEEN_MAX) {
        /* more words seen than the copies hold: the whole lists */
        return near_pair(s, rs, nc->left.v, nc->left.n, nc->right.v,
                         nc->right.n, nc->within, oa, ob);
    }
    return near_pair(s, rs, lv, nl, rv, nr, nc->within, oa, ob);
}

/* Whether a word of v lies within v->within characters of one of the
 * rule's evidence spans ev[ev0..nev), in the same field; its span in
 * *oa..*ob. Every recorded occurrence of the word counts, so a veto word
 * repeated far away and close by still vetoes. */
static bool veto_near(const struct cls_scratch *s, const struct ruleset *rs,
                      const struct veto_near *v, size_t ev0, size_t *oa,
                      size_t *ob)
{
    for (size_t k = 0; k < v->words.n; k++) {
        uint32_t l = v->words.v[k];
        if (!seen(s, l)) {
            continue;
        }
        for (uint32_t h = s->lit_first[l]; h != NONE; h = s->hits[h].next) {
            size_t he = s->hits[h].end, hs = he - rs->lit_len[l];
            int field = hs < s->title_end ? CLS_FIELD_TITLE : CLS_FIELD_TEXT;
            for (size_t e = ev0; e < s->nev; e++) {
                const struct sev *x = &s->ev[e];
                if (x->field == field &&
                    chars_within(s->norm.s, hs, he, x->a, x->b, v->within)) {
                    *oa = hs;
                    *ob = he;
                    return true;
                }
            }
        }
    }
    return false;
}

/* Whether a literal of each set x requires was seen: without, x cannot
 * match and is not run. */
static bool req_seen(const struct cls_scratch *s, const struct rx *x)
{
    bool any = x->req.n == 0;
    for (size_t m = 0; m < x->req.n && !any; m++) {
        any = seen(s, x->req.v[m]);
    }
    for (size_t k = 0; k < x->nalso && any; k++) {
        any = false;
        for (size_t m = 0; m < x->also[k].n && !any; m++) {
            any = seen(s, x->also[k].v[m]);
        }
    }
    return any;
}

/* Runs one regex on both fields, when req_seen(). Returns 1 match (span
 * in *a..*b), 0 no match (or not run), -1 a PCRE2 limit or other
 * failure. */
static int run_rx(struct cls_scratch *s, const struct rx *x, size_t *a,
                  size_t *b, int *field, bool *truncated)
{
    if (!req_seen(s, x)) {
        return 0;
    }
    size_t starts[2] = {0, s->text_start};
    size_t ends[2] = {s->title_end, s->norm.len};
    for (int f = 0; f < 2; f++) {
        size_t len = ends[f] - starts[f];
        if (len == 0) {
            continue;
        }
        const char *subj = s->norm.s + starts[f];
        if (len > CLS_REGEX_MAX_BYTES) {
            len = ig_utf8_trim_len(subj, len, CLS_REGEX_MAX_BYTES);
            *truncated = true;
        }
        int rc = pcre2_match(x->code, (PCRE2_SPTR)subj, len, 0,
                             PCRE2_NO_UTF_CHECK, s->md, s->mc);
        if (rc >= 0) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
            *a = starts[f] + ov[0];
            *b = starts[f] + (ov[1] >= ov[0] ? ov[1] : ov[0]);
            *field = f;
            return 1;
        }
        if (rc != PCRE2_ERROR_NOMATCH) {
            return -1;
        }
    }
    return 0;
}

enum verdict { R_NO, R_FIRED, R_VETOED, R_ERROR };

static enum verdict eval_rule(struct cls_scratch *s, const struct ruleset *rs,
                              uint32_t ri, unsigned *rx_errors, bool *truncated)
{
    const struct crule *r = &rs->rules[ri];
    size_t ev0 = s->nev;
    /* 1. keyword groups */
    for (size_t g = 0; g < r->nany; g++) {
        /* Evidence: the earliest word of the group, the longest of
         * those starting there (窨井盖 rather than 井盖). */
        uint32_t best = NONE;
        uint32_t bl = 0;
        size_t bs = 0;
        for (size_t k = 0; k < r->any[g].n; k++) {
            uint32_t l = r->any[g].v[k];
            if (seen(s, l)) {
                uint32_t h = s->lit_first[l];
                size_t st = s->hits[h].end - rs->lit_len[l];
                if (best == NONE || st < bs ||
                    (st == bs && s->hits[h].end > s->hits[best].end)) {
                    best = h;
                    bl = l;
                    bs = st;
                }
            }
        }
        if (best == NONE) {
            s->nev = ev0;
            return R_NO;
        }
        add_ev(s, ri, s->hits[best].end - rs->lit_len[bl], s->hits[best].end,
               false, "any");
    }
    for (size_t k = 0; k < r->all.n; k++) {
        uint32_t l = r->all.v[k];
        if (!seen(s, l)) {
            s->nev = ev0;
            return R_NO;
        }
        uint32_t h = s->lit_first[l];
        add_ev(s, ri, s->hits[h].end - rs->lit_len[l], s->hits[h].end, false,
               "all");
    }
    for (size_t k = 0; k < r->nnear; k++) {
        size_t a, b;
        if (!near_ok(s, rs, &r->near[k], &a, &b)) {
            s->nev = ev0;
            return R_NO;
        }
        add_ev(s, ri, a, b, false, "near");
    }
    /* 2. veto words: cheaper than any regex */
    for (size_t k = 0; k < r->nots.n; k++) {
        uint32_t l = r->nots.v[k];
        if (seen(s, l)) {
            uint32_t h = s->lit_first[l];
            add_ev(s, ri, s->hits[h].end - rs->lit_len[l], s->hits[h].end, true,
                   "not");
            return R_VETOED;
        }
    }
    /* 3. patterns, only now */
    for (size_t k = 0; k < r->nrx; k++) {
        const struct rx *x = &r->rx[k];
        size_t a, b;
        int f;
        int rc = run_rx(s, x, &a, &b, &f, truncated);
        if (rc < 0) {
            (*rx_errors)++;
            s->nev = ev0;
            return R_ERROR;
        }
        if (rc == 0) {
            s->nev = ev0;
            return R_NO;
        }
        add_ev_f(s, ri, a, b, false, "regex", f);
    }
    /* 4. veto words near the evidence, now that all of it is known */
    for (size_t k = 0; k < r->nlnots; k++) {
        size_t a, b;
        if (veto_near(s, rs, &r->lnots[k], ev0, &a, &b)) {
            add_ev(s, ri, a, b, true, "not-near");
            return R_VETOED;
        }
    }
    for (size_t k = 0; k < r->nnrx; k++) {
        const struct rx *x = &r->nrx_v[k];
        size_t a, b;
        int f;
        int rc = run_rx(s, x, &a, &b, &f, truncated);
        if (rc < 0) {
            (*rx_errors)++;
            s->nev = ev0;
            return R_ERROR;
        }
        if (rc == 1) {
            add_ev_f(s, ri, a, b, true, "not-regex", f);
            return R_VETOED;
        }
    }
    return R_FIRED;
}

/* Original-text span of the evidence e. */
static void orig_span(const struct cls_scratch *s, const struct sev *e,
                      const char *title, size_t tl, const char *text, size_t xl,
                      enum cls_field *f, size_t *oa, size_t *ob)
{
    *f = (enum cls_field)e->field;
    if (*f == CLS_FIELD_TITLE) {
        ig_norm_span(&s->norm, title, tl, e->a, e->b, oa, ob);
    } else {
        ig_norm_span(&s->norm, text, xl, e->a, e->b, oa, ob);
    }
}

static void explain(const struct ruleset *rs, const struct cls_scratch *s,
                    const char *title, size_t tl, const char *text, size_t xl,
                    struct cls_result *out, struct ig_arena *a)
{
    struct ig_buf b;
    ig_buf_init(&b, 0);
    if (out->top) {
        ig_buf_addf(&b,
                    "verdict: %s %s (%s), score %.3g >= threshold %.3g, "
                    "confidence %.2f\n",
                    out->top->code, out->top->name, out->top->major, out->score,
                    rs->threshold, out->confidence);
    } else if (out->best_score > 0) {
        ig_buf_addf(&b,
                    "verdict: unclassified: best score %.3g is below "
                    "threshold %.3g\n",
                    out->best_score, rs->threshold);
    } else {
        ig_buf_addf(&b, "verdict: unclassified: no rule fired\n");
    }
    for (size_t i = 0; i < out->nfired; i++) {
        const struct cls_fired *fr = &out->fired[i];
        const struct crule *r = &rs->rules[fr->rule];
        const char *st = fr->error    ? "error "
                         : fr->vetoed ? "vetoed"
                                      : "fired ";
        ig_buf_addf(&b, "  %s %s -> %s", st, r->info.id, r->info.code);
        if (!fr->error && !fr->vetoed) {
            ig_buf_addf(&b, " +%.3g%s", fr->contribution,
                        fr->in_title ? " (title)" : "");
        }
        ig_buf_addf(&b, "  [%s:%d]\n", r->info.file, r->info.line);
        if (fr->error) {
            ig_buf_adds(&b, "      a pattern hit the PCRE2 match limit: "
                            "rule skipped for this item\n");
        }
        for (size_t k = 0; k < s->nev; k++) {
            const struct sev *e = &s->ev[k];
            if (e->rule != fr->rule) {
                continue;
            }
            enum cls_field f;
            size_t oa, ob;
            orig_span(s, e, title, tl, text, xl, &f, &oa, &ob);
            const char *src = f == CLS_FIELD_TITLE ? title : text;
            ig_buf_addf(&b, "      %-9s %s[%zu..%zu] \"", e->what,
                        f == CLS_FIELD_TITLE ? "title" : "text", oa, ob);
            size_t n = ob - oa;
            if (n > 120) {
                n = ig_utf8_trim_len(src + oa, n, 120);
            }
            ig_buf_add(&b, src + oa, n);
            ig_buf_adds(&b, n < ob - oa ? "...\"\n" : "\"\n");
        }
    }
    if (out->top && out->nalts > 0) {
        ig_buf_addf(&b, "why: %s leads %s by %.3g\n", out->top->code,
                    out->alts[0].taxon->code, out->score - out->alts[0].score);
    } else if (out->top) {
        ig_buf_addf(&b, "why: no other code scored\n");
    }
    for (size_t i = 0; i < out->nalts; i++) {
        ig_buf_addf(&b, "  alternative %s %s: %.3g\n", out->alts[i].taxon->code,
                    out->alts[i].taxon->name, out->alts[i].score);
    }
    if (out->regex_errors) {
        ig_buf_addf(&b, "regex errors: %u\n", out->regex_errors);
    }
    route_result_explain(out->route, &b);
    out->explain = ig_arena_strndup(a, b.data ? b.data : "", b.len);
    ig_buf_fini(&b);
}

int ruleset_classify(const struct ruleset *rs, struct cls_scratch *s,
                     const char *title, size_t title_len, const char *text,
                     size_t text_len, bool want_explain, struct ig_arena *a,
                     struct cls_result *out)
{
    memset(out, 0, sizeof(*out));
    if (title == NULL) {
        title = "";
        title_len = 0;
    }
    if (text == NULL) {
        text = "";
        text_len = 0;
    }
    scratch_prepare(s, rs);
    /* 1. normalise both fields into one buffer */
    ig_norm_reset(&s->norm);
    int rc = ig_norm_add(&s->norm, title, title_len);
    if (rc < 0) {
        return rc;
    }
    s->title_end = s->norm.len;
    ig_norm_addc(&s->norm, '\n', (uint32_t)title_len);
    s->text_start = s->norm.len;
    rc = ig_norm_add(&s->norm, text, text_len);
    if (rc < 0) {
        return rc;
    }
    /* 2. one pass of the automaton */
    /* the normaliser's output is UTF-8 by construction */
    prefilter_scan_utf8(rs->pf, s->norm.s, s->norm.len, on_hit, s);
    for (size_t i = 0; i < rs->nalways; i++) {
        uint32_t r = rs->always[i];
        if (s->rule_gen[r] != s->gen) {
            s->rule_gen[r] = s->gen;
            s->cand[s->ncand++] = r;
        }
    }
    /* Rule order makes the fired list deterministic. */
    sort_cand(s, rs->nrules);
    /* 3. evaluate candidates */
    struct cls_fired *fired =
        ig_arena_alloc(a, (s->ncand ? s->ncand : 1) * sizeof(*fired));
    size_t nfired = 0;
    for (size_t i = 0; i < s->ncand; i++) {
        uint32_t ri = s->cand[i];
        size_t ev0 = s->nev;
        enum verdict v =
            eval_rule(s, rs, ri, &out->regex_errors, &out->regex_truncated);
        if (v == R_NO) {
            continue;
        }
        const struct crule *r = &rs->rules[ri];
        struct cls_fired *f = &fired[nfired++];
        memset(f, 0, sizeof(*f));
        f->rule = ri;
        f->id = r->info.id;
        f->taxon = r->info.taxon;
        f->vetoed = v == R_VETOED;
        f->error = v == R_ERROR;
        if (v != R_FIRED) {
            continue;
        }
        for (size_t k = ev0; k < s->nev; k++) {
            if (s->ev[k].field == CLS_FIELD_TITLE) {
                f->in_title = true;
            }
        }
        f->contribution = r->info.weight * (f->in_title ? rs->title_weight : 1);
        uint32_t c = (uint32_t)r->taxon_index;
        if (s->code_gen[c] != s->gen) {
            s->code_gen[c] = s->gen;
            s->code_score[c] = 0;
            s->touched[s->ntouched++] = c;
        }
        s->code_score[c] += f->contribution;
    }
    out->fired = fired;
    out->nfired = nfired;
    /* 4. verdict */
    score_verdict(rs, s->code_score, s->touched, s->ntouched, out);
    /* 5. evidence of the rules that voted, in original offsets */
    size_t nev = 0;
    out->ev =
        ig_arena_alloc(a, (s->nev ? s->nev : 1) * sizeof(struct cls_evidence));
    /* Evidence was collected in candidate order, which is fired order. */
    size_t fi = 0, per_rule = 0;
    for (size_t k = 0; k < s->nev; k++) {
        const struct sev *e = &s->ev[k];
        if (fi < nfired && out->fired[fi].rule != e->rule) {
            per_rule = 0;
            while (fi < nfired && out->fired[fi].rule != e->rule) {
                fi++;
            }
        }
        if (fi == nfired) {
            break;
        }
        if (out->fired[fi].vetoed || out->fired[fi].error ||
            per_rule >= MAX_EV_PER_RULE) {
            continue;
        }
        per_rule++;
        struct cls_evidence *o = &out->ev[nev++];
        orig_span(s, e, title, title_len, text, text_len, &o->field, &o->start,
                  &o->end);
        const char *src = o->field == CLS_FIELD_TITLE ? title : text;
        o->match = ig_arena_strndup(a, src + o->start, o->end - o->start);
        o->rule = out->fired[fi].id;
        o->code = out->fired[fi].taxon->code;
        o->weight = out->fired[fi].contribution;
    }
    out->nev = nev;
    /* 6. routing: place, units, priority, track */
    if (rs->router) {
        /* route_apply_scratch() clears it first thing */
        out->route = ig_arena_alloc(a, sizeof(*out->route));
        if (!s->route) {
            s->route = route_scratch_new();
        }
        route_apply_scratch(rs->router, title, title_len, text, text_len,
                            out->top, s->route, a, out->route);
    }
    if (want_explain) {
        explain(rs, s, title, title_len, text, text_len, out, a);
    }
    return IG_OK;
}
