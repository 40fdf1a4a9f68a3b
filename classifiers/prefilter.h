/* prefilter.h — the multi-pattern literal matcher (Aho-Corasick over bytes).
 *
 * Every keyword of every rule (normalised UTF-8) is one pattern; one pass
 * over a text reports every occurrence of every pattern, overlapping ones
 * included, whatever the number of patterns. Built once per ruleset,
 * read-only afterwards (any number of threads may scan).
 */
#ifndef IG_CLASSIFIERS_PREFILTER_H
#define IG_CLASSIFIERS_PREFILTER_H

#include <stddef.h>
#include <stdint.h>

struct prefilter;

/* Called for each occurrence: pattern index and the byte offset just past
 * its end. Borrowed context; must not fail. */
typedef void (*prefilter_cb)(void *ud, uint32_t pat, size_t end);

/* Builds the automaton for n patterns (pats[i], lens[i] bytes; lens[i] > 0;
 * duplicates allowed, each reported). Never NULL (aborts on exhaustion).
 * The patterns are copied as needed. */
struct prefilter *prefilter_build(const char *const *pats, const size_t *lens,
                                  size_t n);
void prefilter_free(struct prefilter *p);
/* Reports every occurrence in s[0..len) (any bytes) through cb, in order
 * of end offset. */
void prefilter_scan(const struct prefilter *p, const char *s, size_t len,
                    prefilter_cb cb, void *ud);
/* The same for s in UTF-8 (every lead byte followed by exactly its
 * continuation bytes, as the normaliser writes), faster: it leaves the
 * checks of the UTF-8 position out. Other input never reads outside the
 * automaton, but its occurrences are then not the right ones. */
void prefilter_scan_utf8(const struct prefilter *p, const char *s, size_t len,
                         prefilter_cb cb, void *ud);
/* Size figures for docs and the benchmark: trie states, table columns
 * (byte classes) and bytes in all. */
size_t prefilter_states(const struct prefilter *p);
size_t prefilter_classes(const struct prefilter *p);
size_t prefilter_bytes(const struct prefilter *p);

#endif
