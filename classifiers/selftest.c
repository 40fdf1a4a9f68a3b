/* selftest.c — the rule set checks itself: lint warnings and the example:
 * / counter: lines of every rule.
 *
 * Used by `intake rules check|test` and by the tests that load rules/. A
 * sample is classified by the whole rule set, exactly as a message would
 * be (text only, no title), so an example passes only when its rule fires
 * AND the verdict is the rule's code.
 */
#include "classifiers/classifier_int.h"

#include <string.h>

#include "core/arena.h"
#include "core/diag.h"

static bool in_list(const struct lit_list *l, uint32_t lit)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i] == lit) {
            return true;
        }
    }
    return false;
}

/* Whether lit is a veto word of c (a not: line, with or without
 * "within": next to itself, a word is always within reach). */
static bool is_veto(const struct crule *c, uint32_t lit)
{
    if (in_list(&c->nots, lit)) {
        return true;
    }
    for (size_t k = 0; k < c->nlnots; k++) {
        if (in_list(&c->lnots[k].words, lit)) {
            return true;
        }
    }
    return false;
}

/* Lints one positive word list: one-letter Latin words match almost
 * everything; a word that is also a veto word makes the line useless. */
static int lint_list(const struct ruleset *rs, const struct crule *c,
                     const struct lit_list *l, struct ig_diags *d)
{
    int n = 0;
    const struct rule_info *r = &c->info;
    for (size_t k = 0; k < l->n; k++) {
        uint32_t lit = l->v[k];
        if (rs->lit_len[lit] == 1) {
            ig_diags_add(d, IG_DIAG_WARNING, r->file, r->line, 1,
                         "rule '%s': the one-character word '%s' matches "
                         "inside almost any message",
                         r->id, rs->lits[lit]);
            n++;
        }
        if (is_veto(c, lit)) {
            ig_diags_add(d, IG_DIAG_WARNING, r->file, r->line, 1,
                         "rule '%s': '%s' is both a keyword and a 'not:' "
                         "word, so it can only veto",
                         r->id, rs->lits[lit]);
            n++;
        }
    }
    return n;
}

int ruleset_lint(const struct ruleset *rs, struct ig_diags *d)
{
    int n = 0;
    for (size_t i = 0; i < rs->nrules; i++) {
        const struct crule *c = &rs->rules[i];
        for (size_t k = 0; k < c->nany; k++) {
            n += lint_list(rs, c, &c->any[k], d);
        }
        n += lint_list(rs, c, &c->all, d);
        for (size_t k = 0; k < c->nnear; k++) {
            n += lint_list(rs, c, &c->near[k].left, d);
            n += lint_list(rs, c, &c->near[k].right, d);
        }
        const struct rule_info *r = &rs->rules[i].info;
        if (!r->has_required_literal) {
            ig_diags_add(d, IG_DIAG_WARNING, r->file, r->line, 1,
                         "rule '%s' is slow: no keyword line and no fixed "
                         "word in its pattern, so its regex runs on every "
                         "message (add an 'any:' line)",
                         r->id);
            n++;
        }
    }
    return n;
}

static bool rule_fired(const struct cls_result *res, size_t rule)
{
    for (size_t k = 0; k < res->nfired; k++) {
        if (res->fired[k].rule == rule && !res->fired[k].vetoed &&
            !res->fired[k].error) {
            return true;
        }
    }
    return false;
}

int ruleset_selftest(const struct ruleset *rs, struct ig_diags *d)
{
    int failures = 0;
    struct cls_scratch *s = cls_scratch_new();
    for (size_t i = 0; i < rs->nrules; i++) {
        const struct rule_info *r = &rs->rules[i].info;
        for (int kind = 0; kind < 2; kind++) {
            const struct rule_sample *v = kind ? r->counters : r->examples;
            size_t nv = kind ? r->ncounters : r->nexamples;
            for (size_t k = 0; k < nv; k++) {
                struct ig_arena *a = ig_arena_new(0);
                struct cls_result res;
                ruleset_classify(rs, s, NULL, 0, v[k].text, strlen(v[k].text),
                                 false, a, &res);
                const char *got = res.top ? res.top->code : "unclassified";
                bool is_code = res.top && strcmp(res.top->code, r->code) == 0;
                if (kind == 0 && !rule_fired(&res, i)) {
                    ig_diags_add(d, IG_DIAG_ERROR, r->file, v[k].line, 1,
                                 "example does not fire rule '%s' (verdict: "
                                 "%s)",
                                 r->id, got);
                    failures++;
                } else if (kind == 0 && !is_code) {
                    ig_diags_add(d, IG_DIAG_ERROR, r->file, v[k].line, 1,
                                 "example fires '%s' but is classified as "
                                 "%s, not %s (score %.3g, threshold %.3g)",
                                 r->id, got, r->code, res.best_score,
                                 rs->threshold);
                    failures++;
                } else if (kind == 1 && is_code) {
                    ig_diags_add(d, IG_DIAG_ERROR, r->file, v[k].line, 1,
                                 "counter is classified as %s (rule '%s' "
                                 "%s)",
                                 r->code, r->id,
                                 rule_fired(&res, i) ? "fired"
                                                     : "did not fire");
                    failures++;
                }
                ig_arena_free(a);
            }
        }
    }
    cls_scratch_free(s);
    return failures;
}
