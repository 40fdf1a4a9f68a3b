/* test_spool.c — the on-disk spool: order, acks, segments, damaged tails
 * and kill -9 of a writer at random points (no loss, no duplicates). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "gateway/spool.h"
#include "tests/lib/test_dirs.h"

static char g_dir[256];

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");

    snprintf(g_dir, sizeof(g_dir), "%s/test-spool-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(g_dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_rm_tree(g_dir);
    return 0;
}

static char *spath(const char *name)
{
    static char p[512];

    snprintf(p, sizeof(p), "%s/q/%s", g_dir, name);
    return p;
}

static struct spool *open_q(const struct spool_opts *o,
                            struct spool_recovery *rec)
{
    char dir[300];
    struct spool *s = NULL;

    snprintf(dir, sizeof(dir), "%s/q", g_dir);
    assert_int_equal(spool_open(dir, o, &s, rec), IG_OK);
    return s;
}

static void append_n(struct spool *s, int from, int to)
{
    char buf[64];
    int i;

    for (i = from; i < to; i++) {
        int n = snprintf(buf, sizeof(buf), "rec-%d", i);

        assert_int_equal(spool_append(s, buf, (size_t)n, NULL), IG_OK);
    }
}

/* Consumes everything from the head, checking records are "rec-<i>" for
 * i = *next, *next + 1, ...; returns how many were read. */
static int drain(struct spool *s, int *next)
{
    struct spool_rec r[16];
    int total = 0;

    for (;;) {
        int n = spool_peek(s, r, 16), i;

        assert_true(n >= 0);
        if (n == 0) {
            return total;
        }
        for (i = 0; i < n; i++) {
            char want[64];

            snprintf(want, sizeof(want), "rec-%d", *next);
            assert_int_equal(r[i].len, strlen(want));
            assert_memory_equal(r[i].data, want, r[i].len);
            (*next)++;
        }
        assert_int_equal(spool_ack(s, r[n - 1].seq), IG_OK);
        total += n;
    }
}

static void order_ack_reopen(void **state)
{
    struct spool_opts o = {.fsync = SPOOL_FSYNC_ALWAYS};
    struct spool_recovery rec;
    struct spool_rec r[4];
    struct spool *s = open_q(&o, &rec);
    struct spool *s2 = NULL;
    char dir[300];
    int next = 0;
    uint64_t seq;

    (void)state;
    assert_int_equal(rec.records, 0);
    append_n(s, 0, 10);
    assert_int_equal(spool_records(s), 10);
    /* Peek does not consume. */
    assert_int_equal(spool_peek(s, r, 4), 4);
    assert_int_equal(spool_peek(s, r, 4), 4);
    assert_memory_equal(r[0].data, "rec-0", 5);
    assert_int_equal(spool_ack(s, r[2].seq), IG_OK); /* 0..2 done */
    assert_int_equal(spool_records(s), 7);
    /* A second opener is refused while the first holds the lock. */
    snprintf(dir, sizeof(dir), "%s/q", g_dir);
    assert_int_equal(spool_open(dir, &o, &s2, NULL), IG_EIO);
    spool_close(s);

    s = open_q(&o, &rec);
    assert_int_equal(rec.records, 7);
    assert_int_equal(rec.corrupt_bytes, 0);
    next = 3;
    assert_int_equal(drain(s, &next), 7);
    assert_int_equal(spool_records(s), 0);
    assert_int_equal(spool_bytes(s), 0);
    /* Sequence numbers keep growing across an emptied spool. */
    assert_int_equal(spool_append(s, "x", 1, &seq), IG_OK);
    assert_int_equal(seq, 11);
    spool_close(s);
    s = open_q(&o, &rec);
    assert_int_equal(rec.records, 1);
    assert_int_equal(spool_peek(s, r, 4), 1);
    assert_int_equal(r[0].seq, 11);
    spool_close(s);
}

static int count_files(const char *suffix)
{
    char cmd[400];
    FILE *p;
    int n = 0;

    snprintf(cmd, sizeof(cmd), "ls %s/q | grep -c -- '%s$'", g_dir, suffix);
    p = popen(cmd, "r");
    assert_non_null(p);
    if (fscanf(p, "%d", &n) != 1) {
        n = 0;
    }
    pclose(p);
    return n;
}

static void segments_roll_and_trim(void **state)
{
    struct spool_opts o = {.fsync = SPOOL_FSYNC_NEVER, .segment_bytes = 256};
    struct spool_recovery rec;
    struct spool *s = open_q(&o, &rec);
    int next = 0;

    (void)state;
    append_n(s, 0, 100);
    assert_true(count_files(".seg") > 5);
    spool_close(s);
    s = open_q(&o, &rec);
    assert_int_equal(rec.records, 100);
    assert_int_equal(drain(s, &next), 100);
    /* Fully acknowledged segments are gone, the last one too. */
    assert_int_equal(count_files(".seg"), 0);
    append_n(s, 100, 130);
    assert_int_equal(drain(s, &next), 30);
    spool_close(s);
}

static void cap_is_reported(void **state)
{
    struct spool_opts o = {.fsync = SPOOL_FSYNC_NEVER, .max_bytes = 100};
    struct spool *s = open_q(&o, NULL);

    (void)state;
    assert_int_equal(spool_append(s, "0123456789", 10, NULL), IG_OK);
    assert_int_equal(spool_append(s, "0123456789", 10, NULL), IG_OK);
    assert_int_equal(spool_append(s, "0123456789", 10, NULL), IG_OK);
    assert_int_equal(spool_append(s, "0123456789", 10, NULL), IG_E2BIG);
    assert_int_equal(spool_append(s, "", 0, NULL), IG_EINVAL);
    spool_close(s);
}

static const char *first_seg(void)
{
    static char name[64];
    char cmd[400];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "ls %s/q | grep '\\.seg$' | head -1", g_dir);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(name, sizeof(name), p));
    name[strcspn(name, "\n")] = '\0';
    pclose(p);
    return name;
}

static void torn_tail_detected(void **state)
{
    struct spool_opts o = {.fsync = SPOOL_FSYNC_ALWAYS};
    struct spool_recovery rec;
    struct spool *s = open_q(&o, NULL);
    struct stat st;
    char *seg;
    int fd, next = 0;

    (void)state;
    append_n(s, 0, 5);
    spool_close(s);
    /* A torn append: the header and half a payload of a sixth record. */
    seg = spath(first_seg());
    fd = open(seg, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(
        write(fd, "IGSP\x20\0\0\0\x06\0\0\0\0\0\0\0abcdabcdab", 26), 26);
    close(fd);
    assert_int_equal(stat(seg, &st), 0);

    s = open_q(&o, &rec);
    assert_int_equal(rec.records, 5);
    assert_int_equal(rec.corrupt_bytes, 26);
    assert_int_equal(rec.corrupt_segments, 1);
    assert_true(strstr(rec.first_corrupt, ".corrupt-") != NULL);
    assert_int_equal(count_files(".corrupt-[0-9]*"), 1);
    assert_int_equal(drain(s, &next), 5);
    /* Appends continue after the valid prefix. */
    append_n(s, 5, 7);
    assert_int_equal(drain(s, &next), 2);
    spool_close(s);
}

static void flipped_bit_detected(void **state)
{
    struct spool_opts o = {.fsync = SPOOL_FSYNC_ALWAYS};
    struct spool_recovery rec;
    struct spool *s = open_q(&o, NULL);
    char *seg;
    char c;
    int fd, next = 0;

    (void)state;
    append_n(s, 0, 10);
    spool_close(s);
    /* Damage a payload byte of the 4th record (records are 20 + 5 bytes):
     * that record and everything after it in the segment are set aside. */
    seg = spath(first_seg());
    fd = open(seg, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &c, 1, 3 * 25 + 22), 1);
    c ^= 0x10;
    assert_int_equal(pwrite(fd, &c, 1, 3 * 25 + 22), 1);
    close(fd);
    s = open_q(&o, &rec);
    assert_int_equal(rec.records, 3);
    assert_int_equal(rec.corrupt_bytes, 7 * 25);
    assert_int_equal(drain(s, &next), 3);
    spool_close(s);
}

/* Total size of the files set aside. */
static long corrupt_bytes_on_disk(void)
{
    char cmd[400];
    FILE *p;
    long n = 0;

    snprintf(cmd, sizeof(cmd), "cat %s/q/*.corrupt-* 2>/dev/null | wc -c",
             g_dir);
    p = popen(cmd, "r");
    assert_non_null(p);
    if (fscanf(p, "%ld", &n) != 1) {
        n = 0;
    }
    pclose(p);
    return n;
}

/* Flips a payload byte of the record at off in the first segment. */
static void flip_at(long off)
{
    int fd = open(spath(first_seg()), O_RDWR);
    char c;

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &c, 1, off + 22), 1);
    c ^= 0x10;
    assert_int_equal(pwrite(fd, &c, 1, off + 22), 1);
    close(fd);
}

/* Damage found twice at the same place of a segment (records appended
 * after the first recovery land where the first damage began): the bytes
 * set aside the first time are kept, not overwritten. */
static void second_damage_keeps_first_set_aside(void **state)
{
    struct spool_opts o = {.fsync = SPOOL_FSYNC_ALWAYS};
    struct spool_recovery rec;
    struct spool *s = open_q(&o, NULL);

    (void)state;
    append_n(s, 0, 10);
    spool_close(s);
    flip_at(3 * 25);
    s = open_q(&o, &rec);
    assert_int_equal(rec.corrupt_bytes, 7 * 25);
    append_n(s, 3, 5);
    spool_close(s);
    flip_at(3 * 25);
    s = open_q(&o, &rec);
    assert_int_equal(rec.records, 3);
    assert_int_equal(rec.corrupt_bytes, 2 * 25);
    spool_close(s);
    assert_int_equal(count_files(".corrupt-[0-9.]*"), 2);
    assert_int_equal(corrupt_bytes_on_disk(), 9 * 25);
}

/* "ack" cannot be written (a full disk; here a directory sits where
 * ack.tmp goes): the records are acknowledged all the same, so a consumer
 * does not get them again, and the close writes "ack". */
static void ack_unwritable_still_advances(void **state)
{
    struct spool_opts o = {.fsync = SPOOL_FSYNC_ALWAYS};
    struct spool_recovery rec;
    struct spool_rec r[4];
    struct spool *s = open_q(&o, NULL);
    char buf[32];
    FILE *fp;

    (void)state;
    append_n(s, 0, 6);
    assert_int_equal(mkdir(spath("ack.tmp"), 0700), 0);
    assert_int_equal(spool_peek(s, r, 4), 4);
    assert_int_equal(spool_ack(s, r[3].seq), IG_EIO);
    assert_int_equal(spool_records(s), 2);
    assert_int_equal(spool_peek(s, r, 4), 2);
    assert_memory_equal(r[0].data, "rec-4", 5);
    assert_int_equal(rmdir(spath("ack.tmp")), 0);
    spool_close(s);
    fp = fopen(spath("ack"), "r");
    assert_non_null(fp);
    assert_non_null(fgets(buf, sizeof(buf), fp));
    fclose(fp);
    assert_string_equal(buf, "4\n");
    s = open_q(&o, &rec);
    assert_int_equal(rec.records, 2);
    spool_close(s);
}

/* A write the disk cuts short (RLIMIT_FSIZE: a real short write, then
 * EFBIG) fails the append and cuts the partial record away: the next
 * append gets the same sequence number at the same place, peek reads every
 * record, and the next open finds no damage. A failed fdatasync under
 * fsync always goes through the same cut (spool.c cut_back()). */
static void failed_append_leaves_no_partial_record(void **state)
{
    struct spool_opts o = {.fsync = SPOOL_FSYNC_ALWAYS};
    struct spool_recovery rec;
    struct spool *s = open_q(&o, NULL);
    struct rlimit old, cut;
    struct stat st;
    char big[100];
    uint64_t seq = 0;
    int next = 0;

    (void)state;
    append_n(s, 0, 3);
    assert_int_equal(stat(spath(first_seg()), &st), 0);
    memset(big, 'x', sizeof(big));
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    cut = old;
    cut.rlim_cur = (rlim_t)st.st_size + 50;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &cut), 0);
    assert_int_equal(spool_append(s, big, sizeof(big), NULL), IG_EIO);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_DFL);
    assert_int_equal(spool_records(s), 3);
    assert_int_equal(spool_append(s, "rec-3", 5, &seq), IG_OK);
    assert_int_equal(seq, 4);
    append_n(s, 4, 6);
    spool_close(s);
    s = open_q(&o, &rec);
    assert_int_equal(rec.corrupt_bytes, 0);
    assert_int_equal(rec.records, 6);
    assert_int_equal(drain(s, &next), 6);
    spool_close(s);
}

/* Bytes past the segment's known good end while no append fd is open —
 * what a failed append leaves when the cut after it fails too and the fd
 * is closed — are cut away when the segment is reopened for appending.
 * Appending behind them hid every later record from peek, and the next
 * open set them all aside as damage. */
static void reopen_cuts_leftover_tail(void **state)
{
    struct spool_opts o = {.fsync = SPOOL_FSYNC_ALWAYS};
    struct spool_recovery rec;
    struct spool *s = open_q(&o, NULL);
    int fd, next = 0;

    (void)state;
    append_n(s, 0, 3);
    spool_close(s);
    s = open_q(&o, &rec);
    assert_int_equal(rec.records, 3);
    /* The head of a fourth record that never completed. */
    fd = open(spath(first_seg()), O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "IGSP\x20\0\0\0\x04\0\0\0\0\0\0\0abcdab", 22),
                     22);
    close(fd);
    append_n(s, 3, 6);
    assert_int_equal(drain(s, &next), 6);
    append_n(s, 6, 8);
    spool_close(s);
    s = open_q(&o, &rec);
    assert_int_equal(rec.corrupt_bytes, 0);
    assert_int_equal(rec.records, 2);
    assert_int_equal(drain(s, &next), 2);
    spool_close(s);
}

/* everysec: a 1 s timer fires a little early as often as late; a tick
 * 995 ms after the last sync must sync, or every other tick is skipped
 * and data waits two seconds. now_ms is the caller's clock, so this is
 * deterministic. */
static void everysec_syncs_on_every_tick(void **state)
{
    struct spool_opts o = {.fsync = SPOOL_FSYNC_EVERYSEC};
    struct spool *s = open_q(&o, NULL);
    uint64_t base;
    int64_t t0;
    int k;

    (void)state;
    append_n(s, 0, 1);
    base = spool_syncs(s); /* the new segment's directory entry */
    t0 = ig_mono_ms();
    for (k = 1; k <= 6; k++) {
        append_n(s, k, k + 1);
        assert_int_equal(spool_tick(s, t0 + 995 * k), IG_OK);
    }
    assert_int_equal(spool_syncs(s), base + 6);
    spool_close(s);
}

/* everysec: the directory entry of each new segment is synced when the
 * segment is created (a power cut must not lose a whole segment), and
 * the old segment's data is synced before the next one begins. */
static void everysec_syncs_new_segment_entries(void **state)
{
    struct spool_opts o = {.fsync = SPOOL_FSYNC_EVERYSEC, .segment_bytes = 40};
    struct spool *s = open_q(&o, NULL);
    int next = 0;

    (void)state;
    append_n(s, 0, 1); /* 25 bytes: segment 1, its entry synced */
    assert_int_equal(spool_syncs(s), 1);
    append_n(s, 1, 2); /* past 40: data of 1 synced, segment 2 created */
    assert_int_equal(spool_syncs(s), 3);
    assert_int_equal(count_files(".seg"), 2);
    assert_int_equal(drain(s, &next), 2);
    spool_close(s);
}

/* The writer of the kill -9 test: appends rec-<i> from i = start on,
 * reporting "W i" after each append returned; every 7 appends it acks up
 * to 3 records from the head, reporting "A i" (the last index it is about
 * to ack) before and "a i" after the ack. */
static void writer(int wfd, int start, enum spool_fsync pol)
{
    struct spool_opts o = {.fsync = pol, .segment_bytes = 4096};
    char dir[300], line[64];
    struct spool *s = NULL;
    int i, n;

    snprintf(dir, sizeof(dir), "%s/q", g_dir);
    if (spool_open(dir, &o, &s, NULL) < 0) {
        _exit(2);
    }
    for (i = start;; i++) {
        char buf[64];
        int len = snprintf(buf, sizeof(buf), "rec-%d", i);

        if (spool_append(s, buf, (size_t)len, NULL) < 0) {
            _exit(3);
        }
        n = snprintf(line, sizeof(line), "W %d\n", i);
        if (write(wfd, line, (size_t)n) != n) {
            _exit(4);
        }
        if (i % 7 == 0) {
            struct spool_rec r[3];
            int k = spool_peek(s, r, 3);
            int idx;

            if (k > 0) {
                idx = atoi(r[k - 1].data + 4);
                n = snprintf(line, sizeof(line), "A %d\n", idx);
                if (write(wfd, line, (size_t)n) != n) {
                    _exit(4);
                }
                if (spool_ack(s, r[k - 1].seq) < 0) {
                    _exit(5);
                }
                n = snprintf(line, sizeof(line), "a %d\n", idx);
                if (write(wfd, line, (size_t)n) != n) {
                    _exit(4);
                }
            }
        }
    }
}

static void kill9_loses_nothing(void **state)
{
    int round, next = 0;

    (void)state;
    srand(4242);
    for (round = 0; round < 24; round++) {
        enum spool_fsync pol =
            round % 3 == 0 ? SPOOL_FSYNC_ALWAYS : SPOOL_FSYNC_NEVER;
        int fds[2], wrote = next - 1, ack_try = -1, ack_done = -1;
        struct timespec ts = {0, (long)(rand() % 20000) * 1000L};
        struct spool_recovery rec;
        struct spool *s;
        char line[64];
        FILE *in;
        pid_t pid;
        int first, lo, hi;

        assert_int_equal(pipe(fds), 0);
        /* Make the pipe big so the writer rarely blocks on reporting. */
        fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            writer(fds[1], next, pol);
        }
        close(fds[1]);
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        in = fdopen(fds[0], "r");
        assert_non_null(in);
        while (fgets(line, sizeof(line), in)) {
            int v = atoi(line + 2);

            if (line[0] == 'W') {
                wrote = v;
            } else if (line[0] == 'A') {
                ack_try = v;
            } else if (line[0] == 'a') {
                ack_done = v;
            }
        }
        fclose(in);

        /* Recover and consume: the first record follows the last durable
         * ack (or an ack that landed unreported), and everything written
         * is there once, in order. */
        s = open_q(NULL, &rec);
        /* A single small write(2) is not torn by SIGKILL. */
        assert_int_equal(rec.corrupt_bytes, 0);
        {
            struct spool_rec r[1];
            int k = spool_peek(s, r, 1);

            assert_true(k >= 0);
            first = k > 0 ? atoi(r[0].data + 4) : wrote + 1;
        }
        lo = next > ack_done + 1 ? next : ack_done + 1;
        hi = next > ack_try + 1 ? next : ack_try + 1;
        assert_true(first >= lo);
        assert_true(first <= hi || first == wrote + 1);
        drain(s, &first);
        /* Everything reported written is there; at most one more (an
         * append that finished before its report). */
        assert_true(first - 1 >= wrote);
        assert_true(first - 1 <= wrote + 1);
        next = first;
        spool_close(s);
    }
    print_message("kill -9 rounds: %d records written and recovered\n", next);
    assert_true(next > 24);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(order_ack_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(segments_roll_and_trim, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(cap_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_tail_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(flipped_bit_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(second_damage_keeps_first_set_aside,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(ack_unwritable_still_advances, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(failed_append_leaves_no_partial_record,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(reopen_cuts_leftover_tail, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(everysec_syncs_on_every_tick, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(everysec_syncs_new_segment_entries,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(kill9_loses_nothing, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
