/* candidate_id.c — the deterministic candidate id (see candidate.h).
 *
 * Kept apart from candidate.c so the deduplicator can compute ids without
 * pulling in the record writer and its classifier dependency.
 */
#include "gateway/candidate.h"

#include <string.h>

#include "core/mem.h"
#include "gateway/simhash.h"

/* Seed of the id hash; changing it changes every id (and so every
 * downstream idempotency key): never change it in a running district. */
#define CANDIDATE_ID_SEED 0x1a7a6e0c5a1dULL

void candidate_id(const char *source_id, const char *ext_id,
                  const char *text_hash, char out[CANDIDATE_ID_LEN + 1])
{
    const char *key = ext_id && *ext_id ? ext_id : text_hash;
    /* A tag byte keeps an external id from colliding with a text hash. */
    const char tag = ext_id && *ext_id ? 'e' : 't';
    const char *src = source_id ? source_id : "";
    size_t ls = strlen(src), lk = key ? strlen(key) : 0, n = ls + 2 + lk;
    /* source NUL tag key, hashed at once; on the stack nearly always (an
     * id per item made a malloc/free pair per item). */
    char stack[256];
    char *b = n <= sizeof(stack) ? stack : ig_malloc(n);

    memcpy(b, src, ls);
    b[ls] = '\0';
    b[ls + 1] = tag;
    if (lk) {
        memcpy(b + ls + 2, key, lk);
    }
    simhash_hex64(simhash_hash64(b, n, CANDIDATE_ID_SEED), out);
    if (b != stack) {
        ig_free(b);
    }
}
