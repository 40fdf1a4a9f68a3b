/* simhash.h — text fingerprints for deduplication: normalisation, a 64-bit
 * hash, character-bigram SimHash and bigram Jaccard similarity.
 *
 * Normalisation keeps what carries meaning across channels and drops what
 * a re-typing changes: whitespace, ASCII and CJK punctuation and symbols
 * are removed, fullwidth ASCII is folded to ASCII, Latin letters to lower
 * case. "南港路 23 号，井盖破损！" and "南港路23号井盖破损" normalise alike.
 *
 * Features are character bigrams (pairs of consecutive code points of the
 * normalised text): Chinese has no spaces to split words on, and a bigram
 * is roughly a word there. SimHash over distinct bigrams gives 64 bits
 * whose Hamming distance tracks bigram overlap; 4 bands of 16 bits turn
 * "probably similar" into an exact-match key lookup in Redis. SimHash alone
 * misjudges short texts (few features: two different 20-character
 * complaints may land 10 bits apart), so candidates are confirmed by the
 * Jaccard index of the bigram sets, which is exact.
 *
 * Pure functions, any thread.
 */
#ifndef IG_GATEWAY_SIMHASH_H
#define IG_GATEWAY_SIMHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define SIMHASH_BANDS 4

/* Appends the normalised form of s[0..n) (UTF-8; invalid bytes dropped) to
 * out. Returns IG_OK or IG_E2BIG (out's cap hit: out holds a prefix that
 * ends on a code point boundary, which is still a usable fingerprint). */
int simhash_normalise(const char *s, size_t n, struct ig_buf *out);

/* The same into out, which has room for n + 1 bytes (the output is never
 * longer than the input, plus a NUL). Returns the output's length. */
size_t simhash_normalise_to(const char *s, size_t n, char *out);

/* 64-bit hash (FNV-1a with a final avalanche mix) of n bytes, seeded. */
uint64_t simhash_hash64(const void *p, size_t n, uint64_t seed);

/* Writes the 16 lower-case hex digits of v and a NUL into out[17]. */
void simhash_hex64(uint64_t v, char out[17]);

/* Distinct bigram keys of normalised UTF-8 text s[0..n), in order of
 * first appearance, into *out (malloc'd; free with ig_free). A text of one
 * code point gives one unigram key; empty text gives none. Returns the
 * count. */
size_t simhash_bigrams(const char *s, size_t n, uint64_t **out);

/* The same into keys, which has room for n + 1 keys (never more). */
size_t simhash_bigrams_to(const char *s, size_t n, uint64_t *keys);

/* simhash_normalise_to() and simhash_bigrams_to() of its output's first
 * *cap bytes in one pass: normalises s[0..n) into out (room for n + 1
 * bytes) and returns the output's length; *cap is the largest code point
 * boundary of the output at or below max (ig_utf8_trim_len()), and keys
 * (room for min(n, max) + 1) receives the *nkeys distinct bigram keys of
 * out[0..*cap), exactly as simhash_bigrams() gives them. */
size_t simhash_normalise_keys(const char *s, size_t n, char *out, size_t max,
                              size_t *cap, uint64_t *keys, size_t *nkeys);

/* SimHash of a distinct key set (from simhash_bigrams), in any order. 0
 * for an empty set. */
uint64_t simhash_of(const uint64_t *keys, size_t n);

/* Jaccard index |A∩B| / |A∪B| of two distinct key sets, in any order;
 * 1.0 when both are empty. */
double simhash_jaccard(const uint64_t *a, size_t na, const uint64_t *b,
                       size_t nb);

/* A key set built once for many comparisons against it (an item against
 * each of its possible originals). */
struct simhash_set;

/* Builds the set of the n distinct keys (copied). */
struct simhash_set *simhash_set_new(const uint64_t *keys, size_t n);
void simhash_set_free(struct simhash_set *s);

/* Bigram keys in 32-bit units, as the near-duplicate cache (nindex.h)
 * keeps them: a key set is stored packed, a unit per key (the first code
 * point in the high half, the second in the low), when every key's two
 * code points are below 2^16 — Chinese, Latin, digits: nearly every text —
 * and wide otherwise, two units per key (the key's low 32 bits, then its
 * high 32 bits). Packed, the cache holds twice the texts. */
static inline bool simhash_key_packs(uint64_t k)
{
    return (k & 0xFFFF0000FFFF0000ull) == 0;
}

/* Writes keys[0..n) to out as units (n of them packed, 2n wide). */
static inline void simhash_units_put(const uint64_t *keys, size_t n, bool wide,
                                     uint32_t *out)
{
    for (size_t i = 0; i < n; i++) {
        if (wide) {
            out[2 * i] = (uint32_t)keys[i];
            out[2 * i + 1] = (uint32_t)(keys[i] >> 32);
        } else {
            out[i] = (uint32_t)(keys[i] >> 16 | (keys[i] & 0xFFFF));
        }
    }
}

/* Key i of units u. */
static inline uint64_t simhash_unit_key(const uint32_t *u, size_t i, bool wide)
{
    return wide ? (uint64_t)u[2 * i + 1] << 32 | u[2 * i]
                : (uint64_t)(u[i] >> 16) << 32 | (u[i] & 0xFFFF);
}

/* Keys the set and the nb keys in units u (packed, or wide) share —
 * exactly, when that is at least need; otherwise some number below need
 * (counting stops as soon as need can no longer be reached). */
size_t simhash_set_overlap(const struct simhash_set *s, const uint32_t *u,
                           size_t nb, bool wide, size_t need);

/* Band i (0..3) of h: bits 16i..16i+15. */
static inline unsigned simhash_band(uint64_t h, unsigned i)
{
    return (unsigned)((h >> (16 * i)) & 0xffffu);
}

/* Number of differing bits. */
static inline int simhash_distance(uint64_t a, uint64_t b)
{
    return __builtin_popcountll(a ^ b);
}

#endif
