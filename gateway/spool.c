/* spool.c — append-only checksummed segments with an ack file.
 *
 * Layout and guarantees are in spool.h. How it works: the spool keeps an
 * array of segments (first/last sequence, size, record count) in sequence
 * order, an append fd on the last one, and a head position (segment,
 * offset) at the first unacknowledged record. Appends are one write(2) of
 * header + payload, so a kill -9 leaves either the whole record or a short
 * tail that the next open detects. Acks write the acknowledged sequence to
 * "ack" by rename, then move the head and delete fully acknowledged
 * segments, which are always a prefix of the array.
 *
 * Left out on purpose: compaction inside a segment (a segment is deleted
 * as a whole once acknowledged; segments are small), memory-mapping (reads
 * happen only while replaying, a few records at a time) and a separate
 * index (the scan at open is sequential I/O over a spool that is normally
 * empty). The sequence number in each record lets open() check that
 * records follow each other, so a record copied from elsewhere or a stale
 * segment cannot slip in.
 */
#include "gateway/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/mem.h"

#define SPOOL_MAGIC 0x50534749u /* "IGSP" little-endian */
#define SPOOL_HDR 20u           /* magic, len, seq, crc */

static const char *const fsync_names[] = {"always", "everysec", "never", NULL};

#define S(f) offsetof(struct spool_cfg, f)
const struct ig_cfg_field spool_cfg_schema[] = {
    {"dir", IG_CFG_STR, "spool", S(dir),
     "spool directory (relative: under state_dir); each forwarder uses "
     "<dir>/<name>; empty: no spool",
     0, NULL},
    {"fsync", IG_CFG_ENUM, "everysec", S(fsync),
     "always: fdatasync per record; everysec: once a second; never: the OS", 0,
     fsync_names},
    {"segment_size", IG_CFG_SIZE, "16M", S(segment_size),
     "a new segment file starts past this size", 0, NULL},
    {"max_size", IG_CFG_SIZE, "1G", S(max_size),
     "cap of one forwarder's spool; past it records are refused (EAGAIN "
     "to the source, which retries)",
     0, NULL},
    {0},
};
#undef S

struct seg {
    uint64_t first; /* sequence in the file name */
    uint64_t last;  /* last record's sequence; first - 1 when empty */
    uint64_t size;  /* bytes of valid records */
    char *path;     /* owned */
};

struct spool {
    char *dir; /* owned */
    int lockfd;
    struct spool_opts o;
    struct seg *segs; /* owned, sequence order */
    size_t nsegs, capsegs;
    int wfd; /* append fd of segs[nsegs-1], or -1 */
    uint64_t next_seq;
    uint64_t acked;          /* every seq <= acked is done */
    bool ack_unsaved;        /* "ack" holds less than acked */
    size_t head_seg;         /* first unacked record: segment index */
    uint64_t head_off;       /* and offset */
    uint64_t records, bytes; /* unacknowledged */
    bool dirty;              /* appended since the last sync */
    bool dir_unsynced;       /* a new segment's entry awaits its sync */
    int64_t last_sync_ms;
    uint64_t nsyncs;    /* successful segment and directory syncs */
    struct ig_buf rbuf; /* peek data */
};

/* --- CRC32C ------------------------------------------------------------ */

static uint32_t crc_table[256];

static void crc_init(void)
{
    uint32_t i, j, c;

    for (i = 0; i < 256; i++) {
        c = i;
        for (j = 0; j < 8; j++) {
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
        crc_table[i] = c;
    }
}

uint32_t spool_crc32c(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i;

    /* The table is built once; a racing second build writes equal values.
     * Spools belong to one thread each anyway. */
    if (crc_table[1] == 0) {
        crc_init();
    }
    crc = ~crc;
    for (i = 0; i < n; i++) {
        crc = crc_table[(crc ^ s[i]) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

/* --- little helpers ---------------------------------------------------- */

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* CRC of (len, seq, payload): a header whose length or sequence was hit
 * by a torn write fails the check as surely as a damaged payload. */
static uint32_t rec_crc(const unsigned char *hdr, const void *p, size_t n)
{
    uint32_t c = spool_crc32c(0, hdr + 4, 12);

    return spool_crc32c(c, p, n);
}

static int full_pread(int fd, void *p, size_t n, uint64_t off)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = pread(fd, (char *)p + got, n - got, (off_t)(off + got));

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return r < 0 ? -1 : (int)0;
        }
        got += (size_t)r;
    }
    return 1;
}

static int full_write(int fd, const void *p, size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t r = write(fd, (const char *)p + done, n - done);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

/* Syncs a directory, so the entries created in it survive a power cut.
 * Returns 0 or -1 (errno set). */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc;

    if (fd < 0) {
        return -1;
    }
    rc = fsync(fd);
    close(fd);
    return rc;
}

int spool_parse_fsync(const char *s, enum spool_fsync *out)
{
    int i;

    for (i = 0; s && fsync_names[i]; i++) {
        if (strcmp(s, fsync_names[i]) == 0) {
            *out = (enum spool_fsync)i;
            return IG_OK;
        }
    }
    return IG_EINVAL;
}

int spool_cfg_opts(const struct spool_cfg *c, struct spool_opts *out)
{
    struct spool_opts o = {0};

    if (spool_parse_fsync(c->fsync ? c->fsync : "everysec", &o.fsync) < 0 ||
        c->segment_size < 0 || c->max_size < 0) {
        return IG_EINVAL;
    }
    o.segment_bytes = (uint64_t)c->segment_size;
    o.max_bytes = (uint64_t)c->max_size;
    *out = o;
    return IG_OK;
}

/* --- segments ---------------------------------------------------------- */

static struct seg *seg_push(struct spool *s, uint64_t first)
{
    struct seg *g;

    if (s->nsegs == s->capsegs) {
        s->capsegs = s->capsegs ? s->capsegs * 2 : 8;
        s->segs = ig_realloc(s->segs, s->capsegs * sizeof(*s->segs));
    }
    g = &s->segs[s->nsegs++];
    g->first = first;
    g->last = first - 1;
    g->size = 0;
    g->path = ig_asprintf("%s/%020" PRIu64 ".seg", s->dir, first);
    return g;
}

/* Moves bytes [off, size) of seg aside to "<seg>.corrupt-<off>" and cuts
 * the segment there. The copy and its directory entry (the file is new)
 * are synced before the cut, so a crash or power cut in between keeps the
 * bytes in at least one place. A name already taken
 * (damage found at the same place before: records appended after the
 * first cut land there again) gets ".<n>" appended: what an earlier open
 * set aside is never overwritten. */
static int quarantine(const char *dir, struct seg *g, int fd, uint64_t off,
                      uint64_t size, struct spool_recovery *rec)
{
    char *path = ig_asprintf("%s.corrupt-%" PRIu64, g->path, off);
    int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    char buf[65536];
    uint64_t pos = off;
    unsigned k;
    int rc = IG_EIO;

    for (k = 1; out < 0 && errno == EEXIST && k < 1000; k++) {
        ig_free(path);
        path = ig_asprintf("%s.corrupt-%" PRIu64 ".%u", g->path, off, k);
        out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (out < 0) {
        goto out;
    }
    while (pos < size) {
        size_t n =
            size - pos > sizeof(buf) ? sizeof(buf) : (size_t)(size - pos);

        if (full_pread(fd, buf, n, pos) != 1 || full_write(out, buf, n) < 0) {
            goto out;
        }
        pos += n;
    }
    if (fsync(out) < 0 || sync_dir(dir) < 0 || ftruncate(fd, (off_t)off) < 0 ||
        fsync(fd) < 0) {
        goto out;
    }
    if (rec) {
        rec->corrupt_bytes += size - off;
        rec->corrupt_segments++;
        if (!rec->first_corrupt[0]) {
            snprintf(rec->first_corrupt, sizeof(rec->first_corrupt), "%s",
                     path);
        }
    }
    rc = IG_OK;
out:
    if (out >= 0) {
        close(out);
    }
    ig_free(path);
    return rc;
}

/* Scans one segment: every valid record in sequence after *prev counts;
 * the first bad one ends the segment (quarantined). */
static int scan_seg(struct spool *s, struct seg *g, uint64_t *prev,
                    struct spool_recovery *rec)
{
    int fd = open(g->path, O_RDWR | O_CLOEXEC);
    struct stat st;
    uint64_t off = 0;
    unsigned char hdr[SPOOL_HDR];
    char *payload = NULL;
    size_t paycap = 0;
    int rc = IG_EIO;

    if (fd < 0 || fstat(fd, &st) < 0) {
        goto out;
    }
    while (off < (uint64_t)st.st_size) {
        uint32_t len, crc;
        uint64_t seq;

        if (full_pread(fd, hdr, SPOOL_HDR, off) != 1) {
            break; /* short header: torn tail */
        }
        len = get32(hdr + 4);
        seq = get64(hdr + 8);
        crc = get32(hdr + 16);
        if (get32(hdr) != SPOOL_MAGIC || len == 0 || len > SPOOL_RECORD_MAX ||
            off + SPOOL_HDR + len > (uint64_t)st.st_size ||
            (*prev && seq != *prev + 1) || (!*prev && seq == 0)) {
            break;
        }
        if (len > paycap) {
            paycap = len;
            payload = ig_realloc(payload, paycap);
        }
        if (full_pread(fd, payload, len, off + SPOOL_HDR) != 1 ||
            rec_crc(hdr, payload, len) != crc) {
            break;
        }
        if (g->last + 1 == g->first && seq != g->first) {
            break; /* file name and data disagree */
        }
        g->last = seq;
        *prev = seq;
        off += SPOOL_HDR + len;
        if (seq > s->acked) {
            s->records++;
            s->bytes += SPOOL_HDR + len;
        }
    }
    g->size = off;
    if (off < (uint64_t)st.st_size) {
        rc = quarantine(s->dir, g, fd, off, (uint64_t)st.st_size, rec);
        if (rc < 0) {
            goto out;
        }
    }
    rc = IG_OK;
out:
    if (fd >= 0) {
        close(fd);
    }
    ig_free(payload);
    return rc;
}

static int cmp_seg(const void *a, const void *b)
{
    const struct seg *x = a, *y = b;

    return x->first < y->first ? -1 : x->first > y->first;
}

static int list_segs(struct spool *s)
{
    DIR *d = opendir(s->dir);
    struct dirent *e;

    if (!d) {
        return IG_EIO;
    }
    while ((e = readdir(d)) != NULL) {
        char *end;
        unsigned long long first;

        if (strlen(e->d_name) != 24 || strcmp(e->d_name + 20, ".seg") != 0) {
            continue;
        }
        errno = 0;
        first = strtoull(e->d_name, &end, 10);
        if (errno || end != e->d_name + 20 || first == 0) {
            continue;
        }
        seg_push(s, (uint64_t)first);
    }
    closedir(d);
    if (s->nsegs > 1) {
        qsort(s->segs, s->nsegs, sizeof(*s->segs), cmp_seg);
    }
    return IG_OK;
}

static int read_ack(struct spool *s)
{
    char *path = ig_asprintf("%s/ack", s->dir);
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    int rc = IG_OK;

    if (f) {
        if (fscanf(f, "%llu", &v) != 1) {
            rc = IG_EIO; /* written by rename: never half a number */
        }
        fclose(f);
    } else if (errno != ENOENT) {
        rc = IG_EIO;
    }
    s->acked = v;
    ig_free(path);
    return rc;
}

static int write_ack(struct spool *s, uint64_t seq)
{
    char *tmp = ig_asprintf("%s/ack.tmp", s->dir);
    char *path = ig_asprintf("%s/ack", s->dir);
    char line[32];
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int n = snprintf(line, sizeof(line), "%" PRIu64 "\n", seq);
    int rc = IG_EIO;

    if (fd < 0 || full_write(fd, line, (size_t)n) < 0) {
        goto out;
    }
    /* Even with fsync never the ack is synced before the rename: a
     * renamed-but-empty ack file after a power cut would replay nothing
     * it should and everything it should not. */
    if (fsync(fd) < 0) {
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) < 0) {
        goto out;
    }
    rc = IG_OK;
out:
    if (fd >= 0) {
        close(fd);
    }
    ig_free(tmp);
    ig_free(path);
    return rc;
}

static void drop_seg(struct spool *s, size_t i)
{
    unlink(s->segs[i].path);
    ig_free(s->segs[i].path);
    memmove(&s->segs[i], &s->segs[i + 1],
            (s->nsegs - i - 1) * sizeof(*s->segs));
    s->nsegs--;
}

/* Deletes the acknowledged prefix of segments. The last segment is kept
 * while the append fd is open on it. */
static void trim(struct spool *s)
{
    while (s->nsegs > 0 && s->segs[0].last <= s->acked) {
        if (s->nsegs == 1 && s->wfd >= 0) {
            /* Everything is acknowledged: close and delete the write
             * segment too, so an idle spool holds no data. */
            close(s->wfd);
            s->wfd = -1;
        }
        drop_seg(s, 0);
        if (s->head_seg > 0) {
            s->head_seg--;
        } else {
            s->head_off = 0;
        }
    }
}

/* Moves the head to the first record with seq > s->acked. */
static int seek_head(struct spool *s)
{
    unsigned char hdr[SPOOL_HDR];

    while (s->head_seg < s->nsegs) {
        struct seg *g = &s->segs[s->head_seg];
        int fd;

        if (g->last <= s->acked || s->head_off >= g->size) {
            if (g->last <= s->acked || s->head_seg + 1 < s->nsegs) {
                s->head_seg++;
                s->head_off = 0;
                continue;
            }
            return IG_OK;
        }
        fd = open(g->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return IG_EIO;
        }
        while (s->head_off < g->size) {
            if (full_pread(fd, hdr, SPOOL_HDR, s->head_off) != 1) {
                close(fd);
                return IG_EIO;
            }
            if (get64(hdr + 8) > s->acked) {
                close(fd);
                return IG_OK;
            }
            s->head_off += SPOOL_HDR + get32(hdr + 4);
        }
        close(fd);
    }
    return IG_OK;
}

int spool_open(const char *dir, const struct spool_opts *opts,
               struct spool **out, struct spool_recovery *rec)
{
    struct spool *s = ig_calloc(1, sizeof(*s));
    char *lock = NULL;
    uint64_t prev = 0;
    size_t i;
    int rc = IG_EIO;

    if (rec) {
        memset(rec, 0, sizeof(*rec));
    }
    s->dir = ig_strdup(dir);
    s->lockfd = -1;
    s->wfd = -1;
    if (opts) {
        s->o = *opts;
    }
    if (!s->o.segment_bytes) {
        s->o.segment_bytes = SPOOL_SEGMENT_DEFAULT;
    }
    ig_buf_init(&s->rbuf, 0);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        goto out;
    }
    /* One owner per directory: two writers would interleave sequences. */
    lock = ig_asprintf("%s/lock", dir);
    s->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lockfd < 0 || flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
        goto out;
    }
    rc = read_ack(s);
    if (rc < 0) {
        goto out;
    }
    rc = list_segs(s);
    if (rc < 0) {
        goto out;
    }
    /* Scan every segment; sequences continue across segment files. */
    for (i = 0; i < s->nsegs; i++) {
        if (prev && s->segs[i].first != prev + 1) {
            prev = 0; /* a gap (a quarantined tail): restart the check */
        }
        rc = scan_seg(s, &s->segs[i], &prev, rec);
        if (rc < 0) {
            goto out;
        }
    }
    s->next_seq = s->acked + 1;
    for (i = 0; i < s->nsegs; i++) {
        if (s->segs[i].last + 1 > s->next_seq) {
            s->next_seq = s->segs[i].last + 1;
        }
        if (s->segs[i].first > s->next_seq) {
            s->next_seq = s->segs[i].first;
        }
    }
    trim(s);
    /* Empty leftovers (a torn first record) are deleted as well. */
    for (i = 0; i < s->nsegs;) {
        if (s->segs[i].size == 0) {
            drop_seg(s, i);
        } else {
            i++;
        }
    }
    rc = seek_head(s);
    if (rc < 0) {
        goto out;
    }
    if (rec) {
        rec->records = s->records;
    }
    s->last_sync_ms = ig_mono_ms();
    rc = IG_OK;
out:
    ig_free(lock);
    if (rc < 0) {
        int e = errno;

        spool_close(s);
        errno = e;
        return rc;
    }
    *out = s;
    return IG_OK;
}

void spool_close(struct spool *s)
{
    size_t i;

    if (!s) {
        return;
    }
    if (s->wfd >= 0) {
        if (s->o.fsync != SPOOL_FSYNC_NEVER && s->dirty) {
            fdatasync(s->wfd);
        }
        close(s->wfd);
    }
    if (s->dir_unsynced) {
        sync_dir(s->dir);
    }
    if (s->ack_unsaved) {
        write_ack(s, s->acked);
    }
    if (s->lockfd >= 0) {
        close(s->lockfd);
    }
    for (i = 0; i < s->nsegs; i++) {
        ig_free(s->segs[i].path);
    }
    ig_free(s->segs);
    ig_buf_fini(&s->rbuf);
    ig_free(s->dir);
    ig_free(s);
}

/* Cuts the last segment back to its known good end (g->size) after a
 * failed append, whether the write or the fdatasync under fsync always
 * failed: the record was not stored, so none of its bytes may stay. Left
 * there, they sit before the next record, which reuses the sequence
 * number: peek reads at wrong offsets and the next open takes the
 * duplicate sequence for damage and sets every later record aside. When
 * the cut fails too the fd is closed and reopen() cuts before the next
 * append. */
static void cut_back(struct spool *s, const struct seg *g)
{
    if (ftruncate(s->wfd, (off_t)g->size) < 0) {
        close(s->wfd);
        s->wfd = -1;
    }
}

/* Opens the append fd on an existing segment. Bytes past g->size are what
 * a failed append left when cut_back() could not remove them: they are
 * cut now, or O_APPEND would write the next record behind them. */
static int reopen(struct spool *s, const struct seg *g)
{
    struct stat st;

    s->wfd = open(g->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (s->wfd < 0) {
        return IG_EIO;
    }
    if (fstat(s->wfd, &st) < 0 || ((uint64_t)st.st_size > g->size &&
                                   ftruncate(s->wfd, (off_t)g->size) < 0)) {
        close(s->wfd);
        s->wfd = -1;
        return IG_EIO;
    }
    return IG_OK;
}

/* Opens the append fd, starting a new segment when there is none or the
 * last one is full. */
static int writable(struct spool *s, size_t need)
{
    struct seg *g = s->nsegs ? &s->segs[s->nsegs - 1] : NULL;

    if (g && s->wfd >= 0 && g->size + need <= s->o.segment_bytes) {
        return IG_OK;
    }
    if (g && s->wfd < 0 && g->size + need <= s->o.segment_bytes) {
        return reopen(s, g);
    }
    if (g && g->size == 0) {
        /* An empty segment is reused rather than followed by another. */
        return s->wfd < 0 ? reopen(s, g) : IG_OK;
    }
    /* The full segment's data reaches the disk before the next segment
     * begins: once the fd is closed, nothing would sync it any more.
     * When that fails the segment stays open and the append fails (the
     * caller keeps the record); the tick or the next append tries
     * again. */
    if (g && s->o.fsync != SPOOL_FSYNC_NEVER && s->dirty) {
        if (s->wfd < 0 && reopen(s, g) < 0) {
            return IG_EIO;
        }
        if (fdatasync(s->wfd) < 0) {
            return IG_EIO;
        }
        s->nsyncs++;
        s->dirty = false;
    }
    if (s->wfd >= 0) {
        close(s->wfd);
        s->wfd = -1;
    }
    g = seg_push(s, s->next_seq);
    s->wfd =
        open(g->path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (s->wfd < 0) {
        ig_free(g->path);
        s->nsegs--;
        return IG_EIO;
    }
    /* The new file's directory entry: without its sync a power cut can
     * lose the whole segment, whatever was synced inside it. Under always
     * the record counts as stored only when it is on disk, so a failure
     * undoes the segment and fails the append; under everysec the next
     * tick syncs it again. */
    if (s->o.fsync != SPOOL_FSYNC_NEVER) {
        if (sync_dir(s->dir) == 0) {
            s->nsyncs++;
        } else if (s->o.fsync == SPOOL_FSYNC_ALWAYS) {
            close(s->wfd);
            s->wfd = -1;
            unlink(g->path);
            ig_free(g->path);
            s->nsegs--;
            return IG_EIO;
        } else {
            s->dir_unsynced = true;
        }
    }
    return IG_OK;
}

int spool_append(struct spool *s, const void *p, size_t n, uint64_t *seq)
{
    unsigned char hdr[SPOOL_HDR];
    struct seg *g;
    struct ig_buf b;
    int rc;

    if (!s || !p || n == 0) {
        return IG_EINVAL;
    }
    if (n > SPOOL_RECORD_MAX ||
        (s->o.max_bytes && s->bytes + SPOOL_HDR + n > s->o.max_bytes)) {
        return IG_E2BIG;
    }
    rc = writable(s, SPOOL_HDR + n);
    if (rc < 0) {
        return rc;
    }
    g = &s->segs[s->nsegs - 1];
    put32(hdr, SPOOL_MAGIC);
    put32(hdr + 4, (uint32_t)n);
    put64(hdr + 8, s->next_seq);
    put32(hdr + 16, rec_crc(hdr, p, n));
    /* One write: a kill -9 leaves all of the record or a torn tail. */
    ig_buf_init(&b, 0);
    ig_buf_add(&b, hdr, SPOOL_HDR);
    ig_buf_add(&b, p, n);
    if (full_write(s->wfd, b.data, b.len) < 0) {
        cut_back(s, g);
        ig_buf_fini(&b);
        return IG_EIO;
    }
    ig_buf_fini(&b);
    if (s->o.fsync == SPOOL_FSYNC_ALWAYS) {
        if (fdatasync(s->wfd) < 0) {
            /* Not on disk: the caller is told it failed and keeps the
             * record, so it must not stay in the file either. */
            cut_back(s, g);
            return IG_EIO;
        }
        s->nsyncs++;
    }
    s->dirty = s->o.fsync != SPOOL_FSYNC_ALWAYS;
    g->size += SPOOL_HDR + n;
    g->last = s->next_seq;
    if (s->head_seg >= s->nsegs) {
        s->head_seg = s->nsegs - 1;
        s->head_off = g->size - SPOOL_HDR - n;
    }
    s->records++;
    s->bytes += SPOOL_HDR + n;
    if (seq) {
        *seq = s->next_seq;
    }
    s->next_seq++;
    return IG_OK;
}

int spool_sync(struct spool *s)
{
    if (s->dir_unsynced) {
        if (sync_dir(s->dir) < 0) {
            return IG_EIO;
        }
        s->nsyncs++;
        s->dir_unsynced = false;
    }
    if (s->wfd >= 0 && s->dirty) {
        if (fdatasync(s->wfd) < 0) {
            return IG_EIO;
        }
        s->nsyncs++;
        s->dirty = false;
    }
    return IG_OK;
}

/* Shortest gap between two syncs of spool_tick(). Not 1000: the caller's
 * 1 s timer runs its callback a few ms early as often as late, and a gap
 * of 999 ms measured at callback time skipped that tick, so data waited
 * two seconds for every other sync. Half a period keeps one sync per tick
 * whatever the jitter and still limits a caller that ticks too often. */
#define SPOOL_TICK_MIN_MS 500

int spool_tick(struct spool *s, int64_t now)
{
    if (s->o.fsync != SPOOL_FSYNC_EVERYSEC ||
        now - s->last_sync_ms < SPOOL_TICK_MIN_MS) {
        return IG_OK;
    }
    s->last_sync_ms = now;
    return spool_sync(s);
}

int spool_peek(struct spool *s, struct spool_rec *out, size_t max)
{
    unsigned char hdr[SPOOL_HDR];
    size_t segi = s->head_seg, n = 0, i;
    uint64_t off = s->head_off;
    size_t offs[64];
    char *payload = NULL;
    size_t paycap = 0;
    int fd = -1;

    ig_buf_reset(&s->rbuf);
    if (max > 64) {
        max = 64; /* offsets live on the stack; callers loop anyway */
    }
    while (n < max && segi < s->nsegs) {
        struct seg *g = &s->segs[segi];
        uint32_t len;

        if (off >= g->size) {
            segi++;
            off = 0;
            if (fd >= 0) {
                close(fd);
                fd = -1;
            }
            continue;
        }
        if (fd < 0) {
            fd = open(g->path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                goto bad;
            }
        }
        if (full_pread(fd, hdr, SPOOL_HDR, off) != 1) {
            goto bad;
        }
        len = get32(hdr + 4);
        if (get32(hdr) != SPOOL_MAGIC || len > SPOOL_RECORD_MAX) {
            goto bad;
        }
        if (len > paycap) {
            paycap = len;
            payload = ig_realloc(payload, paycap);
        }
        if (full_pread(fd, payload, len, off + SPOOL_HDR) != 1 ||
            rec_crc(hdr, payload, len) != get32(hdr + 16)) {
            goto bad;
        }
        offs[n] = s->rbuf.len;
        ig_buf_add(&s->rbuf, hdr, SPOOL_HDR);
        ig_buf_add(&s->rbuf, payload, len);
        off += SPOOL_HDR + len;
        n++;
    }
    if (fd >= 0) {
        close(fd);
    }
    ig_free(payload);
    for (i = 0; i < n; i++) {
        const unsigned char *h = (const unsigned char *)s->rbuf.data + offs[i];

        out[i].seq = get64(h + 8);
        out[i].len = get32(h + 4);
        out[i].data = (const char *)h + SPOOL_HDR;
    }
    return (int)n;
bad:
    /* Validated at open: damage now means the disk changed under us. */
    if (fd >= 0) {
        close(fd);
    }
    ig_free(payload);
    errno = EIO;
    return IG_EIO;
}

int spool_ack(struct spool *s, uint64_t seq)
{
    unsigned char hdr[SPOOL_HDR];
    int rc, e;

    if (seq >= s->next_seq) {
        seq = s->next_seq - 1;
    }
    if (seq <= s->acked) {
        return IG_OK;
    }
    /* Count down the records from the head up to seq. */
    while (s->head_seg < s->nsegs && s->records > 0) {
        struct seg *g = &s->segs[s->head_seg];
        int fd;

        if (s->head_off >= g->size) {
            if (s->head_seg + 1 >= s->nsegs) {
                break;
            }
            s->head_seg++;
            s->head_off = 0;
            continue;
        }
        fd = open(g->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return IG_EIO;
        }
        while (s->head_off < g->size) {
            uint32_t len;

            if (full_pread(fd, hdr, SPOOL_HDR, s->head_off) != 1) {
                close(fd);
                return IG_EIO;
            }
            if (get64(hdr + 8) > seq) {
                break;
            }
            len = get32(hdr + 4);
            s->head_off += SPOOL_HDR + len;
            s->records--;
            s->bytes -= SPOOL_HDR + len;
        }
        close(fd);
        if (s->head_off < g->size) {
            break;
        }
    }
    /* The records are done whether or not "ack" can be written now (a
     * full disk): were they left at the head, the consumer would deliver
     * them again and again. An "ack" that lags behind costs at most a
     * second delivery after a restart (at least once); the next ack or
     * the close writes it. Deleting their segments loses nothing either,
     * and frees the disk the write may be waiting for. */
    s->acked = seq;
    rc = write_ack(s, seq);
    e = errno;
    s->ack_unsaved = rc < 0;
    trim(s);
    errno = e;
    return rc;
}

uint64_t spool_records(const struct spool *s)
{
    return s->records;
}

uint64_t spool_bytes(const struct spool *s)
{
    return s->bytes;
}

uint64_t spool_syncs(const struct spool *s)
{
    return s->nsyncs;
}
