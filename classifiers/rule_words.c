/* rule_words.c — hands a rule's keywords back as text (see rule_words.h).
 *
 * The compiled rule refers to literals by index into the rule set's
 * literal table; walking the index lists is all there is to it. Literals
 * that came from a regex's required words are not on any keyword line and
 * are not reported: they are not something the author wrote as a word.
 */
#include "classifiers/rule_words.h"

#include "classifiers/classifier_int.h"

static size_t emit(const struct ruleset *rs, const struct lit_list *l,
                   rule_word_cb fn, void *arg, enum rule_word_kind kind,
                   size_t group)
{
    for (size_t k = 0; k < l->n; k++) {
        fn(arg, rs->lits[l->v[k]], kind, group);
    }
    return l->n;
}

size_t ruleset_rule_words(const struct ruleset *rs, size_t i, rule_word_cb fn,
                          void *arg)
{
    if (rs == NULL || i >= rs->nrules || fn == NULL) {
        return 0;
    }
    const struct crule *r = &rs->rules[i];
    size_t n = 0;
    for (size_t g = 0; g < r->nany; g++) {
        n += emit(rs, &r->any[g], fn, arg, RULE_WORD_ANY, g);
    }
    n += emit(rs, &r->all, fn, arg, RULE_WORD_ALL, 0);
    for (size_t g = 0; g < r->nnear; g++) {
        n += emit(rs, &r->near[g].left, fn, arg, RULE_WORD_NEAR, g);
        n += emit(rs, &r->near[g].right, fn, arg, RULE_WORD_NEAR, g);
    }
    n += emit(rs, &r->nots, fn, arg, RULE_WORD_NOT, 0);
    for (size_t g = 0; g < r->nlnots; g++) {
        n += emit(rs, &r->lnots[g].words, fn, arg, RULE_WORD_NOT, 0);
    }
    return n;
}
