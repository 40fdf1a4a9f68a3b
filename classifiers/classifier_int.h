/* classifier_int.h — compiled-rule structs shared by the classifier files.
 *
 * Nobody outside classifiers/ includes this. A ruleset lives in one arena;
 * PCRE2 code and the automaton are tied to it with ig_arena_defer(). Rules
 * refer to literals by index: every distinct normalised keyword (and every
 * required literal extracted from a pattern) is one literal and one pattern
 * of the automaton.
 */
#ifndef IG_CLASSIFIERS_CLASSIFIER_INT_H
#define IG_CLASSIFIERS_CLASSIFIER_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "classifiers/classifier.h"

struct ig_arena;
struct ig_diags;
struct prefilter;
struct score_json;

/* A list of literal indexes. */
struct lit_list {
    uint32_t *v;
    size_t n;
};

struct near_cond {
    struct lit_list left, right;
    unsigned within; /* characters between the two words, at most */
    /* left's and right's numbers (ruleset.lit_side), UINT32_MAX for a
     * list shorter than NEAR_SIDE_MIN: going through it is as cheap */
    uint32_t side[2];
};
#define NEAR_SIDE_MIN 12

/* A local veto (a not: line with "within N"): a word of the list vetoes
 * the rule when it lies within N characters of the rule's evidence, in
 * the same field. */
struct veto_near {
    struct lit_list words;
    unsigned within;
};

struct rx {
    void *code;      /* pcre2_code_8 *, owned via the arena */
    const char *src; /* pattern as written (arena) */
    int line, col;
    struct lit_list req; /* any of these must be seen (empty: none) */
    /* Further sets of which one literal must be seen too, each required by
     * the pattern as req is (see regex_required()): checked before
     * the pattern runs, never a rule's gate. */
    struct lit_list *also;
    size_t nalso;
    struct regex_req *also_src; /* their literals, interned after every
                                 * rule so no other literal's id moves */
    size_t nalso_src;
};

struct crule {
    struct rule_info info;
    size_t taxon_index;
    struct lit_list *any; /* each group: at least one must be seen */
    size_t nany;
    struct lit_list all; /* every one must be seen */
    struct near_cond *near;
    size_t nnear;
    struct rx *rx; /* must all match */
    size_t nrx;
    struct lit_list nots;    /* any seen: veto */
    struct veto_near *lnots; /* any seen near the evidence: veto */
    size_t nlnots;
    struct rx *nrx_v; /* any matching: veto */
    size_t nnrx;
    bool always; /* no literal gate: evaluated on every item */
};

struct ruleset {
    atomic_int refs;
    struct ig_arena *arena;
    char *version;
    double threshold;
    double title_weight;
    struct taxon *taxa;
    size_t ntaxa;
    struct crule *rules;
    size_t nrules;
    const char **lits; /* normalised literal text */
    size_t *lit_len;
    size_t nlits;
    uint32_t *lit_rule_off; /* nlits + 1: rules gated by literal */
    uint32_t *lit_rule;
    /* literal -> the near: sides (left or right word lists) that hold it,
     * numbered over the rule set, so a match knows whether a side has a
     * word in the text without going through its list */
    uint32_t *lit_side_off; /* nlits + 1 */
    uint32_t *lit_side;
    size_t nsides;
    uint32_t *always; /* rules evaluated on every item */
    size_t nalways;
    struct prefilter *pf;
    struct router *router; /* NULL when no places.tsv */
    /* score.c: the fixed JSON pieces of taxa and rules, built on first
     * use (the one part of a loaded ruleset that is written later) */
    _Atomic(void *) json; /* struct score_json (ig_arena_once()) */
};

/* ---- lines of the files in a rules directory ---- */

/* Walks a file's bytes line by line. Every file of a rules directory is
 * read this way (rule files, taxonomy.tsv, settings.conf, the routing
 * tables), so they all agree on what a line is: the bytes up to a '\n'
 * or the end, one '\r' before the '\n' dropped (CRLF files read like LF
 * ones), and no empty last line after a final '\n'. Set text and len
 * (pos may skip a prefix such as a BOM), keep the rest zero. */
struct rule_lines {
    const char *text; /* borrowed */
    size_t len;
    size_t pos;
    int lineno; /* 1-based number of the line last returned */
};
/* The next line as *line (borrowed from it->text, not NUL-terminated)
 * and *line_len; false at the end. Inline: the router's files (route*.c)
 * use it too and are built without the rest of this module. */
static inline bool rule_lines_next(struct rule_lines *it, const char **line,
                                   size_t *line_len)
{
    if (it->pos >= it->len) {
        return false;
    }
    const char *s = it->text + it->pos;
    size_t rest = it->len - it->pos;
    const char *nl = memchr(s, '\n', rest);
    size_t n = nl ? (size_t)(nl - s) : rest;
    it->pos += nl ? n + 1 : n;
    it->lineno++;
    if (n > 0 && s[n - 1] == '\r') {
        n--;
    }
    *line = s;
    *line_len = n;
    return true;
}

/* ---- rule_parse.c ---- */

/* A parsed (not yet compiled) rule, all strings in the parse arena. */
struct prule_words {
    char **w; /* normalised words */
    size_t n;
};

struct prule_near {
    struct prule_words left, right;
    unsigned within;
};

/* A not: line with "within N": its words veto the rule only within N
 * characters of the rule's evidence. */
struct prule_veto {
    struct prule_words words;
    unsigned within;
};

struct prule_rx {
    const char *src; /* as written */
    int line, col;
};

struct prule {
    const char *id, *code, *desc, *file;
    int line, code_line, code_col;
    double weight;
    struct prule_words *any;
    size_t nany;
    struct prule_words all, nots;
    struct prule_veto *lnots;
    size_t nlnots;
    struct prule_near *near;
    size_t nnear;
    struct prule_rx *rx, *nrx;
    size_t nrx_n, nnrx_n;
    struct rule_sample *ex, *ctr;
    size_t nex, nctr;
};

struct prule_list {
    struct prule *v;
    size_t n, cap;
};

/* Parses one rules file's bytes (name for diagnostics) and appends its
 * rules to out (allocated from a). Checks syntax and everything that does
 * not need the taxonomy or the other files. Returns the number of errors
 * added to d. */
int rule_parse_mem(const char *name, const char *text, size_t len,
                   struct ig_arena *a, struct prule_list *out,
                   struct ig_diags *d);
/* Splits a keyword line into normalised words (quotes keep spaces).
 * Returns the count, or -1 with *err_col (0-based char index) and *err set
 * on a syntax error (unterminated quote). */
int rule_split_words(const char *s, struct ig_arena *a, struct prule_words *out,
                     size_t *err_col, const char **err);
/* Closest of n candidates to s (ig_suggest_best()), or
 * NULL when none is close enough to suggest. */
const char *rule_closest(const char *s, const char *const *cand, size_t n);

/* ---- regex_lit.c ---- */

struct regex_req {
    char **v;
    size_t n;
};
/* What any match of pattern must contain, from one parse, into a:
 * *lits, literals of which a match contains at least one (already
 * normalised; the count is returned, 0 when none is found, e.g. `\d+` or
 * a branch without a fixed word); *sets (*nsets of them), every such set:
 * the runs and mandatory groups of the top-level sequence, the best of
 * which is *lits (none when the pattern is an alternation at its top
 * level). */
size_t regex_required(const char *pattern, struct ig_arena *a, char ***lits,
                      struct regex_req **sets, size_t *nsets);
/* Rewrites a pattern so it matches normalised text: traditional ->
 * simplified, full-width letters/digits -> ASCII, full-width punctuation ->
 * escaped ASCII, invisible characters dropped. Returns an arena string. */
char *regex_normalise(const char *pattern, struct ig_arena *a);
/* Where pattern has a brace that PCRE2 up to 10.42 (Debian 12's) reads as
 * literal text and 10.43 and later read as a quantifier: {,n} ("at most
 * n") and quantifiers with spaces ({1, 3}, { 2 }). A rule must mean the
 * same with either library, so the loader refuses them. Outside classes,
 * escapes, \Q..\E and comments only. Returns the byte offset of the '{',
 * or -1 when there is none. */
long regex_version_brace(const char *pattern);

/* ---- score.c ---- */

struct cls_scratch;
/* Sorts per-code scores into the verdict, alternatives and confidence. */
void score_verdict(const struct ruleset *rs, const double *code_score,
                   const uint32_t *touched, size_t ntouched,
                   struct cls_result *out);
/* Confidence from the top score, the runner-up and the threshold. */
double score_confidence(double top, double second, double threshold,
                        bool classified);

/* ---- route.c ---- */

struct route_result;
struct ig_jsonw;
/* route_result_json() of a result routed by rs's router (r may be NULL):
 * the same bytes, from pieces prepared once per router when w's buffer
 * has no cap. Any thread. */
void route_result_json_rs(const struct ruleset *rs,
                          const struct route_result *r, struct ig_jsonw *w);

/* ---- route_load.c ---- */

struct router;
/* Indexes by address the names routing looks up in rt's directory: the
 * departments of taxa and the towns of rt's places, so a routed item
 * pays one probe per name instead of a hash of its text. Call once, after
 * route_load() and before rt is shared; taxa must live as long as rt. */
void route_bind_taxa(struct router *rt, const struct taxon *taxa, size_t ntaxa);

#endif
