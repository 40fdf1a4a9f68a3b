/* rule_words.h — the keywords of a loaded rule set, for linters.
 *
 * `intake rules check` reports a keyword claimed by several codes (an
 * ambiguity a rule author should know about). The compiled rules keep
 * their words only as literal indexes (classifier_int.h); this small
 * accessor hands them back as normalised text without exposing the
 * internal structs.
 */
#ifndef IG_CLASSIFIERS_RULE_WORDS_H
#define IG_CLASSIFIERS_RULE_WORDS_H

#include <stddef.h>

struct ruleset;

/* Which line of the rule a word came from. */
enum rule_word_kind {
    RULE_WORD_ANY = 0,
    RULE_WORD_ALL = 1,
    RULE_WORD_NEAR = 2,
    RULE_WORD_NOT = 3,
};

/* Called once per word; word is normalised, NUL-terminated and borrowed
 * from the rule set (valid while rs is referenced). group is the index of
 * the any:/near: line within the rule (0 for all:/not:). */
typedef void (*rule_word_cb)(void *arg, const char *word,
                             enum rule_word_kind kind, size_t group);

/* Calls fn for every keyword of rule i (i < ruleset_nrules(rs)): its any:
 * lines in order, then all:, near: (left then right words) and not:.
 * Literals extracted from regexes are not reported. Returns the number of
 * calls made; 0 when i is out of range. Any thread. */
size_t ruleset_rule_words(const struct ruleset *rs, size_t i, rule_word_cb fn,
                          void *arg);

#endif
