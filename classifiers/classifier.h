/* classifier.h — rule sets and classification: text in, B/S code out.
 *
 * A ruleset is loaded from a rules directory (taxonomy.tsv, settings.conf,
 * *.rules; the language is rules/README.md) into an immutable,
 * reference-counted object with its own arena: every keyword of every rule
 * goes into one Aho-Corasick automaton over normalised UTF-8 (core/norm.h),
 * regexes are compiled with PCRE2 (UTF, UCP, caseless) and JIT-ed once. A
 * reload builds a new ruleset and swaps the pointer; the old one is released
 * when its last reference drops. A broken rule set never replaces a working
 * one: ruleset_load() returns an error and every diagnostic.
 *
 * Classifying an item: both fields are normalised once into the scratch,
 * the automaton runs once over them, only rules whose literals were seen
 * are evaluated (their regexes run only then), the fired rules' weights are
 * summed per code and the verdict, alternatives, confidence and evidence
 * are written into an arena the caller owns (usually the item's).
 *
 * Threads: a ruleset is read-only after loading and may be shared by any
 * number of threads; each thread classifies with its own cls_scratch.
 * ruleset_ref()/ruleset_unref() are atomic.
 *
 * Introspection (for `intake rules check/test/diff` and the golden tests):
 * ruleset_nrules()/ruleset_rule() list the rules with their file, line,
 * examples and counters; cls_result.fired lists the rules that fired on an
 * item; ruleset_lint() and ruleset_selftest() report as diagnostics.
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
struct route_result;
struct router;

/* Caps. Longer fields are still scanned by the automaton in full; regexes
 * see the first CLS_REGEX_MAX_BYTES of each normalised field (counted in
 * cls_result.regex_truncated), so no item can stall the loop. */
#define CLS_REGEX_MAX_BYTES (64u * 1024u)
#define CLS_MATCH_LIMIT 300000u   /* PCRE2 match limit per regex call */
#define CLS_DEPTH_LIMIT 10000u    /* PCRE2 depth limit (interpreter) */
#define CLS_HEAP_LIMIT_KIB 20480u /* PCRE2 heap limit per call */
#define CLS_MAX_ALTS 3

/* Field an evidence span lies in. */
enum cls_field {
    CLS_FIELD_TITLE = 0,
    CLS_FIELD_TEXT = 1,
};

/* One row of the code table (rules/taxonomy.tsv). All strings belong to
 * the ruleset. */
struct taxon {
    const char *code;         /* "B01-03" */
    const char *major_code;   /* "B01" */
    const char *major;        /* "公共设施" */
    const char *name;         /* "雨水井盖" */
    const char *const *depts; /* lead first, as written in the plan */
    size_t ndepts;
    size_t index; /* position in the table (tie-break order) */
};

/* An example: or counter: line of a rule. */
struct rule_sample {
    const char *text; /* the message, as written after the key */
    int line;         /* line in the rule's file */
};

/* Read-only description of one rule, for linters and test runners. All
 * pointers belong to the ruleset. */
struct rule_info {
    const char *id;   /* "manhole-cover-broken" */
    const char *code; /* "B01-14" */
    const struct taxon *taxon;
    const char *desc; /* "" when none */
    double weight;
    const char *file; /* path as given to ruleset_load + name */
    int line;         /* line of the rule: key */
    const struct rule_sample *examples;
    size_t nexamples;
    const struct rule_sample *counters;
    size_t ncounters;
    size_t nwords; /* keywords on any/all/near/not lines */
    size_t nregex; /* regex: and not-regex: lines */
    /* false when the rule can only be gated by running its regex on every
     * message (no keyword line and no fixed word inside the pattern): the
     * linter reports it as slow. */
    bool has_required_literal;
};

struct cls_evidence {
    const char *rule; /* rule id (ruleset) */
    const char *code; /* code the rule votes for (ruleset) */
    enum cls_field field;
    size_t start, end; /* byte offsets into the ORIGINAL field */
    const char *match; /* the matched original text (arena) */
    double weight;     /* the rule's contribution to its code's score */
};

struct cls_alt {
    const struct taxon *taxon;
    double score;
};

/* A rule that fired (or was vetoed, or failed) on the item. */
struct cls_fired {
    size_t rule;    /* index for ruleset_rule() */
    const char *id; /* rule id (ruleset) */
    const struct taxon *taxon;
    double contribution; /* weight, times title_weight if seen in title */
    bool in_title;       /* some positive evidence lies in the title */
    bool vetoed;         /* a not:/not-regex: line matched: no vote */
    bool error;          /* a regex hit a PCRE2 limit: no vote */
};

struct cls_result {
    const struct taxon *top; /* NULL = unclassified */
    double score;            /* top score (0 when unclassified) */
    double best_score;       /* best code's score even if < threshold */
    double confidence;       /* [0, 1], see docs/classifier.md */
    /* runners-up, best first; when unclassified, the best candidates */
    struct cls_alt alts[CLS_MAX_ALTS];
    size_t nalts;
    struct cls_evidence *ev; /* arena; fired (not vetoed) rules only */
    size_t nev;
    struct cls_fired *fired; /* arena; in rule order */
    size_t nfired;
    unsigned regex_errors; /* regex calls that hit a PCRE2 limit */
    bool regex_truncated;  /* a field exceeded CLS_REGEX_MAX_BYTES */
    const char *explain;   /* human account when asked, else NULL */
    /* Place, town, units, priority, track (classifiers/route.h); arena.
     * NULL when the rules directory has no routing data (places.tsv). */
    struct route_result *route;
};

/* Loads the rule set in dir: taxonomy.tsv, settings.conf (optional) and
 * every *.rules file (sorted by name). Every problem goes to d as
 * file:line:col (all of them, not just the first). Returns IG_OK and sets
 * *out (one reference, owned by the caller), or IG_EPARSE / IG_EIO / IG_ENOENT
 * with *out = NULL. Any thread; slow (compiles regexes). */
int ruleset_load(const char *dir, struct ruleset **out, struct ig_diags *d);
/* Takes another reference; returns rs. NULL-safe. Any thread. */
struct ruleset *ruleset_ref(struct ruleset *rs);
/* Drops a reference; the last one frees. NULL is a no-op. Any thread. */
void ruleset_unref(struct ruleset *rs);
/* "rules-<hex8>": a hash of taxonomy, settings and every rule file's name
 * and bytes; changes when any of them changes. Owned by rs. */
const char *ruleset_version(const struct ruleset *rs);
/* The taxon for code, or NULL. */
const struct taxon *ruleset_taxon(const struct ruleset *rs, const char *code);
/* The table in file order: i < ruleset_ntaxa(). */
size_t ruleset_ntaxa(const struct ruleset *rs);
const struct taxon *ruleset_taxon_at(const struct ruleset *rs, size_t i);
/* Rules in load order (files sorted by name, then file order). */
size_t ruleset_nrules(const struct ruleset *rs);
const struct rule_info *ruleset_rule(const struct ruleset *rs, size_t i);
/* Index of the rule with that id, or -1. */
long ruleset_rule_find(const struct ruleset *rs, const char *id);
/* The router loaded with the rule set (places.tsv, departments.tsv,
 * priority.conf in the same directory), or NULL when there is none. */
const struct router *ruleset_router(const struct ruleset *rs);
/* settings.conf values in effect. */
double ruleset_threshold(const struct ruleset *rs);
double ruleset_title_weight(const struct ruleset *rs);

/* Style and speed warnings for a loaded rule set, added to d as warnings
 * with file:line: rules without a required literal (their regex would run
 * on every message), one-character Latin keywords (they match inside
 * almost anything), keywords that are also the rule's veto words. Returns
 * the number of warnings added. */
int ruleset_lint(const struct ruleset *rs, struct ig_diags *d);

/* Runs every example: and counter: line of every rule through the whole
 * rule set. An example fails when the rule itself does not fire on it or
 * the verdict is not the rule's code; a counter fails when the verdict is
 * the rule's code. Each failure is an error in d at the line of the sample
 * ("example not classified as B01-14: got S04-02 (rule x did not fire)").
 * Returns the number of failures (0 = all pass). */
int ruleset_selftest(const struct ruleset *rs, struct ig_diags *d);

/* Per-thread working memory (normalised text, automaton hits, PCRE2 match
 * data and JIT stack). Reusable across rulesets. Never NULL. */
struct cls_scratch *cls_scratch_new(void);
void cls_scratch_free(struct cls_scratch *s);

/* Classifies one item. title/text may be NULL (treated as empty), need not
 * be valid UTF-8 and may hold NULs. Everything in *out that is not owned by
 * rs is allocated from a (valid until the arena is freed). explain asks for
 * out->explain. Returns IG_OK (a regex limit hit is counted in
 * out->regex_errors, not an error). Any thread, with its own scratch. */
int ruleset_classify(const struct ruleset *rs, struct cls_scratch *s,
                     const char *title, size_t title_len, const char *text,
                     size_t text_len, bool explain, struct ig_arena *a,
                     struct cls_result *out);

/* Writes the classification fields (code, name, major, departments,
 * score, confidence, alternatives, evidence, rules_version, and
 * regex_errors when non-zero) as keys of the JSON object currently open in
 * w, then the routing keys (place, town, units, priority, track) when the
 * rule set has a router. The code fields are null when unclassified. */
void cls_result_json(const struct ruleset *rs, const struct cls_result *r,
                     struct ig_jsonw *w);

#endif
