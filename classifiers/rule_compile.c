/* rule_compile.c — a rules directory -> an immutable, shared ruleset.
 *
 * ruleset_load() reads taxonomy.tsv, settings.conf and every *.rules file
 * (sorted by name), parses them all (rule_parse.c), checks what needs the
 * whole set (codes against the taxonomy with a "did you mean", rule ids
 * unique across files, every pattern compiles), and only when there is no
 * error at all compiles: each distinct normalised keyword becomes one
 * literal and one pattern of the automaton (prefilter.c), each regex is
 * normalised (regex_lit.c), compiled with PCRE2_UTF | PCRE2_UCP |
 * PCRE2_CASELESS and JIT-ed, and its required literals are interned like
 * keywords. A literal -> rules index (CSR arrays) tells the matcher which
 * rules a hit makes candidates. Everything lives in the ruleset's arena;
 * PCRE2 code and the automaton are freed by arena destructors.
 *
 * The version string hashes (FNV-1a, 64 bit) the name and bytes of every
 * file read, so any edit to any rule file, the settings or the taxonomy
 * gives a new "rules-<hex8>".
 */
#include "classifiers/classifier_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcre2.h>

#include "classifiers/prefilter.h"
#include "classifiers/route.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/text.h"

#define MAX_RULES_FILE (16u * 1024u * 1024u)
#define DEFAULT_THRESHOLD 2.0
#define DEFAULT_TITLE_WEIGHT 1.5

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *u = p;
    for (size_t i = 0; i < n; i++) {
        h ^= u[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ---- taxonomy.tsv ---- */

static int load_taxonomy(struct ruleset *rs, const char *path, const char *text,
                         size_t len, struct ig_diags *d)
{
    struct ig_arena *a = rs->arena;
    int errors = 0;
    size_t cap = 160;
    rs->taxa = ig_arena_zalloc(a, cap * sizeof(struct taxon));
    struct rule_lines it = {.text = text, .len = len};
    const char *ls;
    size_t ll;
    while (rule_lines_next(&it, &ls, &ll)) {
        int lineno = it.lineno;
        char *line = ig_arena_strndup(a, ls, ll);
        if (line[0] == '#' || line[0] == '\0') {
            continue;
        }
        char *f[5];
        size_t nf = 0;
        char *p = line;
        while (nf < 5) {
            f[nf++] = p;
            char *t = strchr(p, '\t');
            if (t == NULL) {
                break;
            }
            *t = '\0';
            p = t + 1;
        }
        if (nf != 5 || !ig_utf8_valid(line, ll)) {
            ig_diags_add(d, IG_DIAG_ERROR, path, lineno, 1,
                         "expected 5 tab-separated UTF-8 columns: code, "
                         "major_code, major, name, departments");
            errors++;
            continue;
        }
        for (size_t k = 0; k < rs->ntaxa; k++) {
            if (strcmp(rs->taxa[k].code, f[0]) == 0) {
                ig_diags_add(d, IG_DIAG_ERROR, path, lineno, 1,
                             "duplicate code '%s'", f[0]);
                errors++;
            }
        }
        if (rs->ntaxa == cap) {
            struct taxon *nt =
                ig_arena_zalloc(a, 2 * cap * sizeof(struct taxon));
            memcpy(nt, rs->taxa, cap * sizeof(struct taxon));
            rs->taxa = nt;
            cap *= 2;
        }
        struct taxon *t = &rs->taxa[rs->ntaxa];
        t->code = f[0];
        t->major_code = f[1];
        t->major = f[2];
        t->name = f[3];
        t->index = rs->ntaxa;
        size_t nd = 1;
        for (const char *q = f[4]; *q; q++) {
            nd += *q == '|';
        }
        const char **dv = ig_arena_alloc(a, nd * sizeof(char *));
        nd = 0;
        for (char *q = f[4];;) {
            char *bar = strchr(q, '|');
            if (bar) {
                *bar = '\0';
            }
            if (*q) {
                dv[nd++] = q;
            }
            if (bar == NULL) {
                break;
            }
            q = bar + 1;
        }
        t->depts = dv;
        t->ndepts = nd;
        rs->ntaxa++;
    }
    if (rs->ntaxa == 0) {
        ig_diags_add(d, IG_DIAG_ERROR, path, 0, 0, "no codes in taxonomy");
        errors++;
    }
    return errors;
}

/* ---- settings.conf ---- */

static int load_settings(struct ruleset *rs, const char *path, const char *text,
                         size_t len, struct ig_diags *d)
{
    static const char *const names[] = {"threshold", "title_weight"};
    int errors = 0;
    struct rule_lines it = {.text = text, .len = len};
    const char *ls;
    size_t n;
    while (rule_lines_next(&it, &ls, &n)) {
        int lineno = it.lineno;
        char *line = ig_strndup(ls, n);
        char *hash = strchr(line, '#');
        if (hash) {
            *hash = '\0';
        }
        char *k = line;
        while (*k == ' ' || *k == '\t') {
            k++;
        }
        size_t ll = strlen(k);
        while (ll > 0 && strchr(" \t\r", k[ll - 1])) {
            k[--ll] = '\0';
        }
        if (*k == '\0') {
            ig_free(line);
            continue;
        }
        int kcol = (int)(k - line) + 1;
        char *eq = strchr(k, '=');
        if (eq == NULL) {
            ig_diags_add(d, IG_DIAG_ERROR, path, lineno, kcol,
                         "expected 'key = value'");
            errors++;
            ig_free(line);
            continue;
        }
        char *ke = eq;
        while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t')) {
            ke--;
        }
        *ke = '\0';
        char *v = eq + 1;
        while (*v == ' ' || *v == '\t') {
            v++;
        }
        int vcol = (int)(v - line) + 1;
        char *end = NULL;
        double x = strtod(v, &end);
        bool num_ok =
            end != v && *end == '\0' && isfinite(x) && x > 0 && x <= 1000;
        if (strcmp(k, "threshold") == 0) {
            if (num_ok) {
                rs->threshold = x;
            }
        } else if (strcmp(k, "title_weight") == 0) {
            if (num_ok) {
                rs->title_weight = x;
            }
        } else {
            const char *s = rule_closest(k, names, 2);
            ig_diags_add(d, IG_DIAG_ERROR, path, lineno, kcol,
                         "unknown setting '%s'%s%s%s", k,
                         s ? " (did you mean '" : "", s ? s : "",
                         s ? "'?)" : "");
            errors++;
            ig_free(line);
            continue;
        }
        if (!num_ok) {
            ig_diags_add(d, IG_DIAG_ERROR, path, lineno, vcol,
                         "'%s' must be a number above 0", k);
            errors++;
        }
        ig_free(line);
    }
    return errors;
}

/* ---- literal interning ---- */

struct interner {
    uint32_t *slots; /* lit index + 1; 0 = empty */
    size_t nslots;
    struct ruleset *rs;
    size_t cap;
};

static uint64_t hash_str(const char *s, size_t n)
{
    return fnv(0xcbf29ce484222325ull, s, n);
}

static void intern_grow(struct interner *in)
{
    size_t ns = in->nslots ? in->nslots * 2 : 1024;
    uint32_t *sl = ig_calloc(ns, sizeof(uint32_t));
    for (size_t i = 0; i < in->nslots; i++) {
        uint32_t v = in->slots[i];
        if (v) {
            size_t h = hash_str(in->rs->lits[v - 1], in->rs->lit_len[v - 1]) &
                       (ns - 1);
            while (sl[h]) {
                h = (h + 1) & (ns - 1);
            }
            sl[h] = v;
        }
    }
    ig_free(in->slots);
    in->slots = sl;
    in->nslots = ns;
}

static uint32_t intern(struct interner *in, const char *s)
{
    struct ruleset *rs = in->rs;
    size_t n = strlen(s);
    if (2 * (rs->nlits + 1) > in->nslots) {
        intern_grow(in);
    }
    size_t h = hash_str(s, n) & (in->nslots - 1);
    while (in->slots[h]) {
        uint32_t v = in->slots[h] - 1;
        if (rs->lit_len[v] == n && memcmp(rs->lits[v], s, n) == 0) {
            return v;
        }
        h = (h + 1) & (in->nslots - 1);
    }
    if (rs->nlits == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 256;
        rs->lits = ig_realloc(rs->lits, in->cap * sizeof(char *));
        rs->lit_len = ig_realloc(rs->lit_len, in->cap * sizeof(size_t));
    }
    rs->lits[rs->nlits] = s;
    rs->lit_len[rs->nlits] = n;
    in->slots[h] = (uint32_t)rs->nlits + 1;
    return (uint32_t)rs->nlits++;
}

static struct lit_list intern_words(struct interner *in,
                                    const struct prule_words *w)
{
    struct lit_list l;
    l.n = w->n;
    l.v = ig_arena_alloc(in->rs->arena, (w->n ? w->n : 1) * sizeof(uint32_t));
    for (size_t i = 0; i < w->n; i++) {
        l.v[i] = intern(in, w->w[i]);
    }
    return l;
}

/* ---- regexes ---- */

static void free_code(void *p)
{
    pcre2_code_free(p);
}

/* Compiles one rule pattern (normalised like the text it runs on). On a
 * syntax error, reports it at the pattern's column in d and returns NULL.
 * *pat_out is the normalised pattern (arena). */
static pcre2_code *compile_pattern(struct ruleset *rs,
                                   const struct prule_rx *src, const char *file,
                                   struct ig_diags *d, char **pat_out)
{
    char *pat = regex_normalise(src->src, rs->arena);
    int ec = 0;
    PCRE2_SIZE eo = 0;
    long vb = regex_version_brace(pat);
    if (vb >= 0) {
        size_t n = strcspn(pat + vb, "}") + 1;
        ig_diags_add(d, IG_DIAG_ERROR, file, src->line,
                     src->col + (int)ig_utf8_count(pat, (size_t)vb),
                     "'%.*s' is literal text for PCRE2 up to 10.42 but a "
                     "quantifier from 10.43 on: write {0,n} for \"at most "
                     "n\" (no spaces inside the braces), or \\{ for a "
                     "literal brace",
                     (int)n, pat + vb);
        *pat_out = pat;
        return NULL;
    }
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                      PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS |
                          PCRE2_NEVER_BACKSLASH_C | PCRE2_NO_UTF_CHECK,
                      &ec, &eo, NULL);
    if (code == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof(msg));
        ig_diags_add(d, IG_DIAG_ERROR, file, src->line,
                     src->col + (int)ig_utf8_count(pat, eo),
                     "regex does not compile: %s", (const char *)msg);
    }
    *pat_out = pat;
    return code;
}

static int compile_rx(struct ruleset *rs, struct interner *in,
                      const struct prule_rx *src, const char *file,
                      struct rx *out, struct ig_diags *d)
{
    char *pat;
    pcre2_code *code = compile_pattern(rs, src, file, d, &pat);
    if (code == NULL) {
        return -1;
    }
    /* JIT is an optimisation: where it is unavailable, the interpreter
     * runs under the same limits. */
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    ig_arena_defer(rs->arena, free_code, code);
    out->code = code;
    out->src = src->src;
    out->line = src->line;
    out->col = src->col;
    char **req = NULL;
    size_t nreq =
        regex_required(pat, rs->arena, &req, &out->also_src, &out->nalso_src);
    out->req.n = nreq;
    out->req.v =
        ig_arena_alloc(rs->arena, (nreq ? nreq : 1) * sizeof(uint32_t));
    for (size_t i = 0; i < nreq; i++) {
        out->req.v[i] = intern(in, req[i]);
    }
    return 0;
}

/* The further required sets of x (struct rx), interned: the sets other
 * than req itself. Called once every rule is compiled, so that literals
 * only these sets bring in come after every other literal. */
static void intern_also(struct ruleset *rs, struct interner *in, struct rx *x)
{
    x->also = ig_arena_alloc(rs->arena, (x->nalso_src ? x->nalso_src : 1) *
                                            sizeof(struct lit_list));
    x->nalso = 0;
    for (size_t k = 0; k < x->nalso_src; k++) {
        const struct regex_req *q = &x->also_src[k];
        struct lit_list l;
        l.n = q->n;
        l.v = ig_arena_alloc(rs->arena, (q->n ? q->n : 1) * sizeof(uint32_t));
        for (size_t i = 0; i < q->n; i++) {
            l.v[i] = intern(in, q->v[i]);
        }
        if (l.n == x->req.n &&
            memcmp(l.v, x->req.v, l.n * sizeof(uint32_t)) == 0) {
            continue; /* req itself */
        }
        x->also[x->nalso++] = l;
    }
}

/* ---- the rule set ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_pf(void *p)
{
    prefilter_free(p);
}

static void free_arena(void *p)
{
    ig_arena_free(p);
}

/* Compiles a pattern only to report its errors with the others. */
static int check_rx(struct ruleset *rs, const struct prule_rx *src,
                    const char *file, struct ig_diags *d)
{
    char *pat;
    pcre2_code *code = compile_pattern(rs, src, file, d, &pat);
    if (code == NULL) {
        return 1;
    }
    pcre2_code_free(code);
    return 0;
}

static int check_rules(struct ruleset *rs, struct prule_list *pl,
                       struct ig_diags *d)
{
    int errors = 0;
    const char **codes = ig_malloc((rs->ntaxa + 1) * sizeof(char *));
    for (size_t i = 0; i < rs->ntaxa; i++) {
        codes[i] = rs->taxa[i].code;
    }
    for (size_t i = 0; i < pl->n; i++) {
        struct prule *r = &pl->v[i];
        if (r->code && ruleset_taxon(rs, r->code) == NULL) {
            const char *s = rule_closest(r->code, codes, rs->ntaxa);
            if (s) {
                ig_diags_add(
                    d, IG_DIAG_ERROR, r->file, r->code_line, r->code_col,
                    "unknown code '%s' (did you mean '%s'?)", r->code, s);
            } else {
                ig_diags_add(
                    d, IG_DIAG_ERROR, r->file, r->code_line, r->code_col,
                    "unknown code '%s' (not in taxonomy.tsv)", r->code);
            }
            errors++;
        }
        for (size_t k = 0; k < r->nrx_n; k++) {
            errors += check_rx(rs, &r->rx[k], r->file, d);
        }
        for (size_t k = 0; k < r->nnrx_n; k++) {
            errors += check_rx(rs, &r->nrx[k], r->file, d);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(pl->v[j].id, r->id) == 0) {
                ig_diags_add(d, IG_DIAG_ERROR, r->file, r->line, 7,
                             "duplicate rule id '%s' (first at %s:%d)", r->id,
                             pl->v[j].file, pl->v[j].line);
                errors++;
                break;
            }
        }
    }
    ig_free(codes);
    return errors;
}

/* A literal -> values index in CSR form (ruleset.lit_rule, lit_side),
 * built by walking the rules twice the same way: the first walk counts
 * the values of each literal, csr_fill() turns the counts into offsets,
 * the second walk stores the values in order. */
struct csr {
    uint32_t *off;  /* nlits + 1 offsets (arena) */
    uint32_t *v;    /* the values (arena); NULL during the first walk */
    uint32_t *fill; /* second walk: values stored per literal so far */
    size_t nlits;
};

static void csr_init(struct csr *c, struct ig_arena *a, size_t nlits)
{
    c->off = ig_arena_zalloc(a, (nlits + 1) * sizeof(uint32_t));
    c->v = NULL;
    c->fill = NULL;
    c->nlits = nlits;
}

/* Between the two walks. */
static void csr_fill(struct csr *c, struct ig_arena *a)
{
    for (size_t l = 0; l < c->nlits; l++) {
        c->off[l + 1] += c->off[l];
    }
    c->v = ig_arena_alloc(a, (c->off[c->nlits] + 1) * sizeof(uint32_t));
    c->fill = ig_calloc(c->nlits + 1, sizeof(uint32_t));
}

static void csr_put(struct csr *c, uint32_t lit, uint32_t value)
{
    if (c->v == NULL) {
        c->off[lit + 1]++;
    } else {
        c->v[c->off[lit] + c->fill[lit]++] = value;
    }
}

static void csr_fini(struct csr *c)
{
    ig_free(c->fill);
    c->fill = NULL;
}

/* How often a literal list is expected to have a hit: short words are
 * common (a 2-character word hits far more texts than a 4-character
 * one), so a list costs the sum of its words' weights by length. */
static unsigned list_cost(const struct ruleset *rs, const struct lit_list *l)
{
    unsigned c = 0;
    for (size_t m = 0; m < l->n; m++) {
        size_t chars = (rs->lit_len[l->v[m]] + 2) / 3; /* CJK: 3 bytes */
        c += chars >= 4 ? 1u : 64u >> (2 * (chars - 1));
    }
    return c;
}

static void pick_gate(const struct ruleset *rs, const struct lit_list *l,
                      const struct lit_list **best, unsigned *best_cost)
{
    if (l->n == 0) {
        return;
    }
    unsigned c = list_cost(rs, l);
    if (*best == NULL || c < *best_cost) {
        *best = l;
        *best_cost = c;
    }
}

/* The literals that make rule r a candidate. Every keyword line of a
 * rule must have a hit before anything else about it is looked at (each
 * any: group, each all: word, both sides of each near:, and each
 * pattern's required literals), so one such list is enough of a gate: the
 * rule is evaluated only when that list has a hit, and a rule gated out
 * could only have come to R_NO. The list least likely to hit is chosen, so
 * few rules are evaluated in vain. */
static const struct lit_list *
rule_gate(const struct ruleset *rs, const struct crule *r, struct lit_list *one)
{
    const struct lit_list *best = NULL;
    unsigned cost = 0;
    for (size_t k = 0; k < r->nany; k++) {
        pick_gate(rs, &r->any[k], &best, &cost);
    }
    for (size_t k = 0; k < r->all.n; k++) {
        struct lit_list w = {&r->all.v[k], 1};
        const struct lit_list *was = best;
        pick_gate(rs, &w, &best, &cost);
        if (best != was) {
            *one = w;
            best = one;
        }
    }
    for (size_t k = 0; k < r->nnear; k++) {
        pick_gate(rs, &r->near[k].left, &best, &cost);
        pick_gate(rs, &r->near[k].right, &best, &cost);
    }
    for (size_t k = 0; k < r->nrx; k++) {
        pick_gate(rs, &r->rx[k].req, &best, &cost);
    }
    return best;
}

static int build(struct ruleset *rs, struct prule_list *pl, struct ig_diags *d)
{
    struct ig_arena *a = rs->arena;
    struct interner in = {NULL, 0, rs, 0};
    int errors = 0;
    rs->nrules = pl->n;
    rs->rules = ig_arena_zalloc(a, (pl->n ? pl->n : 1) * sizeof(struct crule));
    for (size_t i = 0; i < pl->n; i++) {
        struct prule *p = &pl->v[i];
        struct crule *r = &rs->rules[i];
        const struct taxon *t = ruleset_taxon(rs, p->code);
        r->taxon_index = t->index;
        r->info.id = p->id;
        r->info.code = t->code;
        r->info.taxon = t;
        r->info.desc = p->desc;
        r->info.weight = p->weight;
        r->info.file = p->file;
        r->info.line = p->line;
        r->info.examples = p->ex;
        r->info.nexamples = p->nex;
        r->info.counters = p->ctr;
        r->info.ncounters = p->nctr;
        r->info.nregex = p->nrx_n + p->nnrx_n;
        r->nany = p->nany;
        r->any = ig_arena_alloc(a, (p->nany ? p->nany : 1) *
                                       sizeof(struct lit_list));
        size_t nw = p->all.n + p->nots.n;
        for (size_t k = 0; k < p->nany; k++) {
            r->any[k] = intern_words(&in, &p->any[k]);
            nw += p->any[k].n;
        }
        r->all = intern_words(&in, &p->all);
        r->nots = intern_words(&in, &p->nots);
        r->nlnots = p->nlnots;
        r->lnots = ig_arena_alloc(a, (p->nlnots ? p->nlnots : 1) *
                                         sizeof(struct veto_near));
        for (size_t k = 0; k < p->nlnots; k++) {
            r->lnots[k].words = intern_words(&in, &p->lnots[k].words);
            r->lnots[k].within = p->lnots[k].within;
            nw += p->lnots[k].words.n;
        }
        r->nnear = p->nnear;
        r->near = ig_arena_alloc(a, (p->nnear ? p->nnear : 1) *
                                        sizeof(struct near_cond));
        for (size_t k = 0; k < p->nnear; k++) {
            r->near[k].left = intern_words(&in, &p->near[k].left);
            r->near[k].right = intern_words(&in, &p->near[k].right);
            r->near[k].within = p->near[k].within;
            nw += p->near[k].left.n + p->near[k].right.n;
        }
        r->info.nwords = nw;
        r->nrx = p->nrx_n;
        r->rx =
            ig_arena_zalloc(a, (p->nrx_n ? p->nrx_n : 1) * sizeof(struct rx));
        for (size_t k = 0; k < p->nrx_n; k++) {
            if (compile_rx(rs, &in, &p->rx[k], p->file, &r->rx[k], d) < 0) {
                errors++;
            }
        }
        r->nnrx = p->nnrx_n;
        r->nrx_v =
            ig_arena_zalloc(a, (p->nnrx_n ? p->nnrx_n : 1) * sizeof(struct rx));
        for (size_t k = 0; k < p->nnrx_n; k++) {
            if (compile_rx(rs, &in, &p->nrx[k], p->file, &r->nrx_v[k], d) < 0) {
                errors++;
            }
        }
        bool gated = p->nany > 0 || p->all.n > 0 || p->nnear > 0;
        for (size_t k = 0; k < r->nrx && !gated; k++) {
            gated = r->rx[k].req.n > 0;
        }
        r->always = !gated;
        r->info.has_required_literal = gated;
    }
    for (size_t i = 0; i < rs->nrules && !errors; i++) {
        struct crule *r = &rs->rules[i];
        for (size_t k = 0; k < r->nrx; k++) {
            intern_also(rs, &in, &r->rx[k]);
        }
        for (size_t k = 0; k < r->nnrx; k++) {
            intern_also(rs, &in, &r->nrx_v[k]);
        }
    }
    ig_free(in.slots);
    if (errors) {
        return errors;
    }
    /* literal -> rules gated by it (CSR), through rule_gate(). */
    struct csr gate;
    csr_init(&gate, a, rs->nlits);
    size_t nalways = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            csr_fill(&gate, a);
            rs->always = ig_arena_alloc(a, (nalways + 1) * sizeof(uint32_t));
            rs->nalways = 0;
        }
        for (size_t i = 0; i < rs->nrules; i++) {
            struct crule *r = &rs->rules[i];
            if (r->always) {
                if (pass == 0) {
                    nalways++;
                } else {
                    rs->always[rs->nalways++] = (uint32_t)i;
                }
                continue;
            }
            struct lit_list one;
            const struct lit_list *g = rule_gate(rs, r, &one);
            for (size_t m = 0; g && m < g->n; m++) {
                csr_put(&gate, g->v[m], (uint32_t)i);
            }
        }
    }
    csr_fini(&gate);
    rs->lit_rule_off = gate.off;
    rs->lit_rule = gate.v;
    /* literal -> near: sides holding it (CSR) */
    struct csr sides;
    csr_init(&sides, a, rs->nlits);
    rs->nsides = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            csr_fill(&sides, a);
        }
        uint32_t side = 0;
        for (size_t i = 0; i < rs->nrules; i++) {
            struct crule *r = &rs->rules[i];
            for (size_t k = 0; k < r->nnear; k++) {
                const struct lit_list *sl[2] = {&r->near[k].left,
                                                &r->near[k].right};
                for (int e = 0; e < 2; e++) {
                    if (sl[e]->n < NEAR_SIDE_MIN) {
                        r->near[k].side[e] = UINT32_MAX; /* scanned */
                        continue;
                    }
                    r->near[k].side[e] = side++;
                    for (size_t m = 0; m < sl[e]->n; m++) {
                        csr_put(&sides, sl[e]->v[m], r->near[k].side[e]);
                    }
                }
            }
        }
        rs->nsides = side;
    }
    csr_fini(&sides);
    rs->lit_side_off = sides.off;
    rs->lit_side = sides.v;
    /* The automaton over every literal. */
    rs->pf = prefilter_build(rs->lits, rs->lit_len, rs->nlits);
    ig_arena_defer(a, free_pf, rs->pf);
    return 0;
}

int ruleset_load(const char *dir, struct ruleset **out, struct ig_diags *d)
{
    *out = NULL;
    struct ruleset *rs = ig_calloc(1, sizeof(*rs));
    atomic_init(&rs->refs, 1);
    rs->arena = ig_arena_new(64 * 1024);
    rs->threshold = DEFAULT_THRESHOLD;
    rs->title_weight = DEFAULT_TITLE_WEIGHT;
    size_t errors_before = d->nerrors;
    int rc = IG_OK;
    uint64_t h = 0xcbf29ce484222325ull;
    char **names = NULL;
    size_t nnames = 0, capnames = 0;
    struct prule_list pl = {NULL, 0, 0};
    struct ig_arena *pa = ig_arena_new(64 * 1024);

    /* 1. taxonomy */
    char *path = ig_asprintf("%s/taxonomy.tsv", dir);
    char *text = NULL;
    size_t len = 0;
    rc = ig_read_file(path, MAX_RULES_FILE, &text, &len);
    if (rc < 0) {
        ig_diags_add(d, IG_DIAG_ERROR, path, 0, 0, "cannot read: %s",
                     rc == IG_ENOENT ? "no such file" : ig_strerror(rc));
        ig_free(path);
        goto out;
    }
    h = fnv(h, "taxonomy.tsv", 13);
    h = fnv(h, text, len);
    load_taxonomy(rs, ig_arena_strdup(rs->arena, path), text, len, d);
    ig_free(path);
    /* The taxonomy's strings point into the arena copy made per line. */
    ig_free(text);

    /* 2. settings (optional) */
    path = ig_asprintf("%s/settings.conf", dir);
    rc = ig_read_file(path, MAX_RULES_FILE, &text, &len);
    if (rc == IG_OK) {
        h = fnv(h, "settings.conf", 14);
        h = fnv(h, text, len);
        load_settings(rs, path, text, len, d);
        ig_free(text);
    } else if (rc != IG_ENOENT) {
        ig_diags_add(d, IG_DIAG_ERROR, path, 0, 0, "cannot read: %s",
                     ig_strerror(rc));
    }
    rc = IG_OK;
    ig_free(path);

    /* 3. rule files, sorted by name */
    DIR *dh = opendir(dir);
    if (dh == NULL) {
        ig_diags_add(d, IG_DIAG_ERROR, dir, 0, 0, "cannot open directory");
        rc = IG_EIO;
        goto out;
    }
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl > 6 && strcmp(de->d_name + nl - 6, ".rules") == 0 &&
            de->d_name[0] != '.') {
            if (nnames == capnames) {
                capnames = capnames ? capnames * 2 : 16;
                names = ig_realloc(names, capnames * sizeof(char *));
            }
            names[nnames++] = ig_strdup(de->d_name);
        }
    }
    closedir(dh);
    if (nnames > 1) {
        qsort(names, nnames, sizeof(char *), cmp_str);
    }
    for (size_t i = 0; i < nnames; i++) {
        path = ig_asprintf("%s/%s", dir, names[i]);
        int r2 = ig_read_file(path, MAX_RULES_FILE, &text, &len);
        if (r2 < 0) {
            ig_diags_add(d, IG_DIAG_ERROR, path, 0, 0, "cannot read: %s",
                         ig_strerror(r2));
            ig_free(path);
            continue;
        }
        h = fnv(h, names[i], strlen(names[i]) + 1);
        h = fnv(h, text, len);
        rule_parse_mem(path, text, len, pa, &pl, d);
        ig_free(text);
        ig_free(path);
    }

    /* 4. whole-set checks, then compile */
    if (rs->ntaxa > 0) {
        check_rules(rs, &pl, d);
    }
    if (d->nerrors > errors_before) {
        rc = IG_EPARSE;
        goto out;
    }
    /* Parsed strings are referenced by the compiled rules: keep the parse
     * arena alive as long as the ruleset. */
    ig_arena_defer(rs->arena, free_arena, pa);
    pa = NULL;
    if (build(rs, &pl, d) != 0) {
        rc = IG_EPARSE;
        goto out;
    }
    /* 5. routing data, when the directory has it (route.h) */
    path = ig_asprintf("%s/places.tsv", dir);
    bool has_routing = access(path, F_OK) == 0;
    ig_free(path);
    if (has_routing && route_load(dir, &rs->router, d) != IG_OK) {
        rc = IG_EPARSE;
        goto out;
    }
    if (rs->router) {
        route_bind_taxa(rs->router, rs->taxa, rs->ntaxa);
    }
    /* Routing data changes the output too: it is part of the version. */
    static const char *const route_files[] = {"places.tsv", "departments.tsv",
                                              "priority.conf"};
    for (size_t i = 0; has_routing && i < 3; i++) {
        path = ig_asprintf("%s/%s", dir, route_files[i]);
        if (ig_read_file(path, MAX_RULES_FILE, &text, &len) == IG_OK) {
            h = fnv(h, route_files[i], strlen(route_files[i]) + 1);
            h = fnv(h, text, len);
            ig_free(text);
        }
        ig_free(path);
    }
    uint32_t v = (uint32_t)(h ^ (h >> 32));
    rs->version = ig_arena_printf(rs->arena, "rules-%08x", v);
    *out = rs;
    rs = NULL;
out:
    for (size_t i = 0; i < nnames; i++) {
        ig_free(names[i]);
    }
    ig_free(names);
    ig_free(pl.v);
    ig_arena_free(pa);
    if (rs) {
        ruleset_unref(rs);
    }
    return rc;
}

struct ruleset *ruleset_ref(struct ruleset *rs)
{
    if (rs) {
        atomic_fetch_add(&rs->refs, 1);
    }
    return rs;
}

void ruleset_unref(struct ruleset *rs)
{
    if (rs == NULL) {
        return;
    }
    if (atomic_fetch_sub(&rs->refs, 1) == 1) {
        route_free(rs->router);
        ig_arena_free(rs->arena);
        ig_free(rs->lits);
        ig_free(rs->lit_len);
        ig_free(rs);
    }
}

const char *ruleset_version(const struct ruleset *rs)
{
    return rs->version;
}

const struct taxon *ruleset_taxon(const struct ruleset *rs, const char *code)
{
    if (code == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < rs->ntaxa; i++) {
        if (strcmp(rs->taxa[i].code, code) == 0) {
            return &rs->taxa[i];
        }
    }
    return NULL;
}

size_t ruleset_ntaxa(const struct ruleset *rs)
{
    return rs->ntaxa;
}

const struct taxon *ruleset_taxon_at(const struct ruleset *rs, size_t i)
{
    return i < rs->ntaxa ? &rs->taxa[i] : NULL;
}

size_t ruleset_nrules(const struct ruleset *rs)
{
    return rs->nrules;
}

const struct rule_info *ruleset_rule(const struct ruleset *rs, size_t i)
{
    return i < rs->nrules ? &rs->rules[i].info : NULL;
}

long ruleset_rule_find(const struct ruleset *rs, const char *id)
{
    for (size_t i = 0; i < rs->nrules; i++) {
        if (strcmp(rs->rules[i].info.id, id) == 0) {
            return (long)i;
        }
    }
    return -1;
}

const struct router *ruleset_router(const struct ruleset *rs)
{
    return rs->router;
}

double ruleset_threshold(const struct ruleset *rs)
{
    return rs->threshold;
}

double ruleset_title_weight(const struct ruleset *rs)
{
    return rs->title_weight;
}
