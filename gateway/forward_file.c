/* forward_file.c — the `file` forwarder: JSON Lines to a file or stdout.
 *
 * One candidate per line, appended with O_APPEND; a batch is one write(2),
 * so a reader tailing the file (or a pipe behind stdout) sees whole lines.
 * With fsync = true each batch is flushed to disk before it counts as
 * delivered. A failed write is IG_EAGAIN (a full disk can be freed); the
 * generic layer retries and then spools. A retry writes the whole batch
 * again, so a failed attempt first cuts the file back to its size before
 * the batch: a write cut short (ENOSPC) would otherwise leave the lines it
 * got out twice and the line it cut torn. stdout cannot be cut back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/log.h"
#include "core/mem.h"
#include "gateway/forward_int.h"

struct file_cfg {
    char *path;
    bool fsync;
};

struct file_ctx {
    int fd;
    bool own_fd;
};

#define F(f) offsetof(struct file_cfg, f)
static const struct ig_cfg_field file_schema[] = {
    {"path", IG_CFG_STR, NULL, F(path),
     "output file (relative to the config's directory); - for stdout",
     IG_CFG_F_REQUIRED, NULL},
    {"fsync", IG_CFG_BOOL, "false", F(fsync),
     "fdatasync after every batch before it counts as delivered", 0, NULL},
    {0},
};
#undef F

static int file_init(struct forwarder *f, struct ig_diags *d)
{
    struct file_cfg *c = forwarder_cfg(f);
    const struct forwarder_env *env = forwarder_env(f);
    struct file_ctx *x = ig_calloc(1, sizeof(*x));
    char *path;

    if (strcmp(c->path, "-") == 0) {
        x->fd = STDOUT_FILENO;
        forwarder_set_ctx(f, x);
        return IG_OK;
    }
    path = c->path[0] == '/' || !env->base_dir
               ? ig_strdup(c->path)
               : ig_asprintf("%s/%s", env->base_dir, c->path);
    x->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (x->fd < 0) {
        ig_diags_add(d, IG_DIAG_ERROR, NULL, 0, 0,
                     "[forward %s]: cannot open %s: %s", forwarder_name(f),
                     path, strerror(errno));
        ig_free(path);
        ig_free(x);
        return IG_EIO;
    }
    ig_free(path);
    x->own_fd = true;
    forwarder_set_ctx(f, x);
    return IG_OK;
}

static void file_send(struct forwarder *f, struct fwd_batch *b)
{
    struct file_cfg *c = forwarder_cfg(f);
    struct file_ctx *x = forwarder_ctx(f);
    struct ig_buf out;
    struct stat fst;
    size_t i, done = 0;
    int st = IG_OK, err = 0;
    off_t start = -1;

    /* O_APPEND and one writer: the batch starts at the current size. */
    if (x->own_fd && fstat(x->fd, &fst) == 0) {
        start = fst.st_size;
    }
    ig_buf_init(&out, 0);
    for (i = 0; i < forwarder_batch_len(b); i++) {
        const struct fwd_rec *r = forwarder_batch_rec(b, i);

        ig_buf_add(&out, r->json, r->len);
        ig_buf_addc(&out, '\n');
    }
    while (done < out.len) {
        ssize_t n = write(x->fd, out.data + done, out.len - done);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            st = IG_EAGAIN;
            err = errno;
            break;
        }
        done += (size_t)n;
    }
    if (st == IG_OK && c->fsync && x->own_fd && fdatasync(x->fd) < 0) {
        st = IG_EAGAIN;
        err = errno;
    }
    /* Not delivered: nothing of the batch may stay for the retry to
     * repeat. If the cut fails too, the retry duplicates (at least
     * once) rather than loses. */
    if (st != IG_OK && start >= 0 && ftruncate(x->fd, start) < 0) {
        ig_error(forwarder_comp(f),
                 "cutting a failed batch off %s failed: %s; its records "
                 "may be written twice",
                 c->path, strerror(errno));
    }
    ig_buf_fini(&out);
    forwarder_batch_done(b, st, 0, st == IG_OK ? NULL : strerror(err));
}

static void file_fini(struct forwarder *f)
{
    struct file_ctx *x = forwarder_ctx(f);

    if (x && x->own_fd) {
        close(x->fd);
    }
    ig_free(x);
}

const struct forwarder_ops forwarder_file_ops = {
    .kind = "file",
    .schema = file_schema,
    .cfg_size = sizeof(struct file_cfg),
    .init = file_init,
    .send = file_send,
    .fini = file_fini,
};
