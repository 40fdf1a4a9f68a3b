/* nindex.h — the deduplicator's index of recent candidates, in gateway
 * memory: SimHash bands, head/tail anchors, exact-text hashes and a cache
 * of their bigram features (internal to gateway/dedup.c; its own header so the
 * structure can be tested on its own).
 *
 * Redis stays the authority (gateway/dedup.h): every candidate has its
 * record there, and the fingerprints of every candidate are appended to a
 * capped Redis stream from which the index is rebuilt when the gateway
 * starts. What the index saves is Redis work: asking "which recent
 * candidates could this item repeat?" costs a few hundred nanoseconds
 * here, against a script reading bucket hashes in Redis (tens of
 * microseconds of Redis CPU per item), and the features (character
 * bigram keys) of the candidates seen recently — the originals of most
 * reposts — are compared without a round trip and without re-reading
 * their texts.
 *
 * Layout. A ring of `cap` entries (a power of two), newest overwriting
 * oldest, each with a sequence number. Every bucket is a chain through
 * the ring, newest first: the four 16-bit SimHash bands and the head and
 * tail anchors (65536 heads each), the exact-text hash and the candidate
 * id (2 x cap heads each). A chain ends where it reaches an entry that has
 * since been overwritten. Features live in a ring of `feat_bytes`, most
 * texts' at 4 bytes a key (simhash.h); an entry's features are valid until
 * that ring wraps over them. All memory is
 * allocated and touched by nindex_new(): the resident size does not grow
 * with the number of items.
 *
 * Loop thread only (no locking); pure memory, no I/O.
 */
#ifndef IG_GATEWAY_NINDEX_H
#define IG_GATEWAY_NINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nindex;

/* The fingerprints of one candidate. id is the candidate id's 64 bits. */
struct nindex_key {
    uint64_t id;
    uint64_t sim;   /* SimHash of the character bigrams */
    uint64_t head;  /* hash of the first code points (dedup.c) */
    uint64_t tail;  /* hash of the last code points */
    uint64_t exact; /* hash of the whole normalised text */
};

/* Creates an index of cap entries (rounded up to a power of two, at least
 * 1024) and a feature cache of feat_bytes (0: none kept). Returns NULL
 * only for absurd sizes (cap > 2^30). */
struct nindex *nindex_new(size_t cap, size_t feat_bytes);
void nindex_free(struct nindex *ix);

/* Adds a candidate (the newest). Its n features (bigram keys; may be
 * NULL) are copied into the cache when they fit (a quarter of it at most,
 * packed when they pack).
 * mine marks a candidate this process is creating right now
 * (nindex_settle() ends that). */
void nindex_add(struct nindex *ix, const struct nindex_key *k,
                const uint64_t *feat, size_t n, bool mine);

/* Ends the "being created" mark of the newest entry with id. */
void nindex_settle(struct nindex *ix, uint64_t id);

/* True when the newest entry with id is still being created (nindex_add
 * with mine, not settled). */
bool nindex_creating(const struct nindex *ix, uint64_t id);

/* True when id has an entry in the index (not yet pushed out of the
 * ring). */
bool nindex_has(const struct nindex *ix, uint64_t id);

/* Possible originals of k: members of k's four band buckets within
 * max_bits of k->sim, and members of its anchor buckets with the same
 * anchor (whatever their SimHash distance); per_bucket newest members
 * looked at in each bucket, k->id and the ids in skip[0..nskip) left out,
 * each id once, newest first. Writes at most max ids to out, returns how
 * many. */
size_t nindex_query(const struct nindex *ix, const struct nindex_key *k,
                    int max_bits, size_t per_bucket, const uint64_t *skip,
                    size_t nskip, uint64_t *out, size_t max);

/* The same, only among entries added after the first `since` (a value of
 * nindex_added()): what a query made then has not seen. */
size_t nindex_query_since(const struct nindex *ix, const struct nindex_key *k,
                          int max_bits, size_t per_bucket, const uint64_t *skip,
                          size_t nskip, uint64_t since, uint64_t *out,
                          size_t max);

/* The newest candidate with exact hash h other than self and the ids in
 * skip[0..nskip): true and *id, or false. */
bool nindex_exact(const struct nindex *ix, uint64_t h, uint64_t self,
                  const uint64_t *skip, size_t nskip, uint64_t *id);

/* Cached features: n keys in units, packed or wide (simhash.h). */
struct nindex_feat {
    const uint32_t *units;
    size_t n;
    bool wide;
};

/* The cached features of candidate id (newest entry): true and *f, or
 * false. Borrowed: valid until the next nindex_add() or
 * nindex_put_feats(). */
bool nindex_feats(const struct nindex *ix, uint64_t id, struct nindex_feat *f);

/* Caches features for the newest entry with id (computed from a text read
 * from Redis); ignored when id is not in the index. */
void nindex_put_feats(struct nindex *ix, uint64_t id, const uint64_t *feat,
                      size_t n);

/* Leaves the newest entry with id out of queries and exact lookups from
 * now on (its record is gone from Redis, or has no text to compare). */
void nindex_forget(struct nindex *ix, uint64_t id);

/* Entries added so far (all time) and the capacity. */
uint64_t nindex_added(const struct nindex *ix);
size_t nindex_cap(const struct nindex *ix);

#endif
