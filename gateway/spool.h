/* spool.h — a local, append-only, checksummed on-disk queue.
 *
 * When a forwarder's target is unreachable its records go here and are
 * replayed in order when it returns. The spool is a directory of segment
 * files named after the sequence number of their first record
 * ("00000000000000000001.seg"); each record is
 *
 *     u32 magic "IGSP" | u32 payload length | u64 sequence number
 *     | u32 CRC32C of (length, sequence, payload) | payload
 *
 * all little-endian. Appends go to the last segment; a new segment starts
 * when the last one exceeds segment_bytes. Consumers read from the head
 * (spool_peek) and acknowledge (spool_ack): the acknowledged sequence is
 * written to the file "ack" (write to a temporary file, fsync, rename), and
 * segments whose records are all acknowledged are deleted.
 *
 * Crash safety (kill -9): a record is visible to readers only once fully
 * written; at open, every segment is scanned and the first record that is
 * short, has a bad magic or a bad checksum ends the valid data. The
 * damaged bytes from there on are moved aside to "<segment>.corrupt-<off>"
 * (".<n>" appended when that name is taken: nothing set aside earlier is
 * overwritten), reported in struct spool_recovery (the caller logs it)
 * and never silently dropped; the segment is truncated to its valid
 * prefix. A record between an append and an ack may be delivered twice
 * after a crash (at least once): consumers make delivery idempotent
 * (candidate ids).
 *
 * fsync policy: always (fdatasync after each append, before spool_append
 * returns), everysec (spool_tick(), on a 1 s timer, syncs once a tick;
 * new segments' directory entries are synced when created), never (the
 * OS decides). kill -9 loses nothing under any policy; a power cut may
 * lose the last second (everysec) or more (never).
 *
 * Not thread-safe: one owner thread (the loop thread of its forwarder).
 * The I/O is synchronous: spools are small and local.
 */
#ifndef IG_GATEWAY_SPOOL_H
#define IG_GATEWAY_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cfg.h"

struct spool;

enum spool_fsync {
    SPOOL_FSYNC_ALWAYS = 0,
    SPOOL_FSYNC_EVERYSEC = 1,
    SPOOL_FSYNC_NEVER = 2,
};

#define SPOOL_SEGMENT_DEFAULT (16 * 1024 * 1024)
#define SPOOL_RECORD_MAX (16 * 1024 * 1024) /* payload cap */

struct spool_opts {
    enum spool_fsync fsync;
    uint64_t segment_bytes; /* 0: SPOOL_SEGMENT_DEFAULT */
    uint64_t max_bytes;     /* cap of the whole spool; 0: no cap */
};

/* The [spool] section of gateway.conf (schema spool_cfg_schema): dir
 * (each forwarder spools into <dir>/<forwarder name>; "" = no spool),
 * fsync (always|everysec|never), segment_size, max_size. */
struct spool_cfg {
    char *dir;            /* owned */
    char *fsync;          /* owned: "everysec" */
    int64_t segment_size; /* bytes, 16 MiB */
    int64_t max_size;     /* bytes per forwarder spool, 1 GiB; 0: none */
};
extern const struct ig_cfg_field spool_cfg_schema[];

/* Converts a parsed spool_cfg to opts. Returns IG_OK or IG_EINVAL. */
int spool_cfg_opts(const struct spool_cfg *c, struct spool_opts *out);

/* What spool_open() found. */
struct spool_recovery {
    uint64_t records;       /* unacknowledged records found */
    uint64_t corrupt_bytes; /* bytes moved to *.corrupt files */
    unsigned corrupt_segments;
    char first_corrupt[512]; /* path of the first .corrupt file, or "" */
};

/* Parses "always", "everysec", "never". Returns IG_OK or IG_EINVAL. */
int spool_parse_fsync(const char *s, enum spool_fsync *out);

/* Opens (creating dir if needed, mode 0700) and recovers the spool.
 * rec may be NULL. Returns IG_OK and *out, or IG_EIO (errno kept). Any
 * thread, once per directory: a second opener of the same directory in
 * the same or another process gets IG_EIO (flock). */
int spool_open(const char *dir, const struct spool_opts *opts,
               struct spool **out, struct spool_recovery *rec);

/* Syncs (when the policy is not never) and closes. NULL is a no-op. */
void spool_close(struct spool *s);

/* Appends one record of n bytes (1 <= n <= SPOOL_RECORD_MAX). With fsync
 * always, the data is on disk when this returns. Returns IG_OK and, if seq
 * is non-NULL, its sequence number; IG_E2BIG (max_bytes or record cap),
 * IG_EINVAL or IG_EIO (the write or, with fsync always, the fdatasync
 * failed: the record's bytes are cut away, or cut before the next append
 * when the cut fails too; the record is not stored). */
int spool_append(struct spool *s, const void *p, size_t n, uint64_t *seq);

/* Syncs if the policy is everysec and data was appended since the last
 * sync; call from a 1 s timer (now_ms: a monotonic clock). Every tick
 * syncs, however early the timer fires; ticks less than half a second
 * apart are ignored. */
int spool_tick(struct spool *s, int64_t now_ms);
/* Syncs now, whatever the policy. */
int spool_sync(struct spool *s);

/* One record read from the head. */
struct spool_rec {
    uint64_t seq;
    const char *data; /* borrowed until the next peek, ack or close */
    size_t len;
};

/* Reads up to max unacknowledged records, oldest first, without consuming
 * them. Returns the number read (0: empty) or IG_EIO. Records returned by
 * one call stay valid until the next spool_peek/spool_ack/spool_close. */
int spool_peek(struct spool *s, struct spool_rec *out, size_t max);

/* Acknowledges every record with sequence <= seq (persisted in "ack"),
 * deletes the segments that became empty. Returns IG_OK or IG_EIO. On
 * IG_EIO with errno from writing "ack" (a full disk) the records are
 * acknowledged all the same (spool_peek does not return them again) and
 * "ack" is written by the next spool_ack or spool_close; a crash before
 * that replays them once more (at least once). */
int spool_ack(struct spool *s, uint64_t seq);

/* Unacknowledged records and their bytes (headers included). */
uint64_t spool_records(const struct spool *s);
uint64_t spool_bytes(const struct spool *s);
/* Successful fsync/fdatasync calls on segments and on the spool
 * directory since open (metrics and tests; "ack" is not counted). */
uint64_t spool_syncs(const struct spool *s);

/* CRC32C (Castagnoli), for the records and for tests. crc starts at 0. */
uint32_t spool_crc32c(uint32_t crc, const void *p, size_t n);

#endif
