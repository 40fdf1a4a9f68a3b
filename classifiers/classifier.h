/* classifier.h — rule sets and classification: text in, B/S code out.
 *
 * DRAFT interface (owner: classifier engine). A ruleset is loaded from a
 * rules directory (taxonomy.tsv, *.rules, settings) into an immutable,
 * reference-counted object with its own arena: literals go into one
 * multi-pattern automaton, regexes are compiled with PCRE2 and JIT-ed once.
 * A reload builds a new ruleset and swaps the pointer; the old one is
 * released when its last reference drops. A broken rule set never replaces
 * a working one: ruleset_load() returns an error and every diagnostic.
 *
 * ruleset_classify() may be called from any thread with a per-thread
 * struct cls_scratch; the ruleset itself is read-only.
 */
#ifndef IG_CLASSIFIERS_CLASSIFIER_H
#define IG_CLASSIFIERS_CLASSIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ig_arena;
struct ig_diags;
struct ig_jsonw;
struct ruleset;
struct cls_scratch;

/* One row of the code table (rules/taxonomy.tsv). */
struct taxon {
    const char *code;         /* "B01-03" */
    const char *major_code;   /* "B01" */
    const char *major;        /* "公共设施" */
    const char *name;         /* "雨水井盖" */
    const char *const *depts; /* lead first, as written in the plan */
    size_t ndepts;
};

struct cls_evidence {
    const char *rule;     /* rule id */
    const char *code;     /* code the rule votes for */
    int field;            /* 0 = title, 1 = text */
    size_t start, end;    /* byte offsets into the original field */
    const char *match;    /* the matched original text (arena) */
    double weight;        /* contribution to the score */
};

struct cls_alt {
    const struct taxon *taxon;
    double score;
};

struct cls_result {
    const struct taxon *top;     /* NULL = unclassified */
    double score;                /* top score (0 when unclassified) */
    double confidence;           /* [0, 1] */
    struct cls_alt alts[3];      /* runners-up, best first */
    size_t nalts;
    struct cls_evidence *ev;     /* arena */
    size_t nev;
    unsigned regex_errors;       /* regexes that hit a PCRE2 limit */
    const char *explain;         /* human account, when asked; arena */
};

int ruleset_load(const char *dir, struct ruleset **out, struct ig_diags *d);
struct ruleset *ruleset_ref(struct ruleset *rs);
void ruleset_unref(struct ruleset *rs);
const char *ruleset_version(const struct ruleset *rs);
const struct taxon *ruleset_taxon(const struct ruleset *rs, const char *code);

struct cls_scratch *cls_scratch_new(void);
void cls_scratch_free(struct cls_scratch *s);

int ruleset_classify(const struct ruleset *rs, struct cls_scratch *s,
                     const char *title, size_t title_len, const char *text,
                     size_t text_len, bool explain, struct ig_arena *a,
                     struct cls_result *out);

/* Writes the classification fields (code, name, major, departments,
 * score, confidence, alternatives, evidence, rules_version) as keys of the
 * JSON object currently open in w. */
void cls_result_json(const struct ruleset *rs, const struct cls_result *r,
                     struct ig_jsonw *w);

#endif
