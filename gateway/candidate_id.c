/* candidate_id.c — the deterministic candidate id (see candidate.h).
 *
 * Kept apart from candidate.c so the deduplicator can compute ids without
 * pulling in the record writer and its classifier dependency.
 */
#include "gateway/candidate.h"

#include <string.h>

#include "core/buf.h"
#include "gateway/simhash.h"

/* Seed of the id hash; changing it changes every id (and so every
 * downstream idempotency key): never change it in a running district. */
#define CANDIDATE_ID_SEED 0x1a7a6e0c5a1dULL

void candidate_id(const char *source_id, const char *ext_id,
                  const char *text_hash, char out[CANDIDATE_ID_LEN + 1])
{
    struct ig_buf b;
    const char *key = ext_id && *ext_id ? ext_id : text_hash;
    /* A tag byte keeps an external id from colliding with a text hash. */
    const char tag = ext_id && *ext_id ? 'e' : 't';

    ig_buf_init(&b, 0);
    ig_buf_adds(&b, source_id ? source_id : "");
    ig_buf_addc(&b, '\0');
    ig_buf_addc(&b, tag);
    ig_buf_adds(&b, key ? key : "");
    simhash_hex64(simhash_hash64(b.data, b.len, CANDIDATE_ID_SEED), out);
    ig_buf_fini(&b);
}
