/* state.c — per-source state records, written atomically (see state.h).
 *
 * Write path: STATE/sources/.<id>.tmp is written, fsync'ed, renamed over
 * <id>.state, then the folder is fsync'ed so the rename itself is durable.
 * Read path: line by line, unknown keys ignored, a record without the
 * version line counted as broken.
 */
#include "gateway/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"

void source_state_init(struct source_state *st)
{
    memset(st, 0, sizeof(*st));
}

void source_state_fini(struct source_state *st)
{
    ig_free(st->cursor);
    ig_free(st->url);
    ig_free(st->etag);
    ig_free(st->last_modified);
    ig_free(st->body_hash);
    ig_free(st->kind);
    ig_free(st->id_s);
    ig_free(st->last_error_s);
    memset(st, 0, sizeof(*st));
}

static int mkdir_p(const char *dir)
{
    if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
        return IG_EIO;
    }
    return IG_OK;
}

int state_dir_prepare(const char *dir)
{
    if (mkdir_p(dir) < 0) {
        return IG_EIO;
    }
    char *sub = ig_asprintf("%s/sources", dir);
    int rc = mkdir_p(sub);
    ig_free(sub);
    return rc;
}

static void put(struct ig_buf *b, const char *key, const char *v)
{
    if (!v) {
        return;
    }
    ig_buf_adds(b, key);
    ig_buf_addc(b, '\t');
    for (const char *p = v; *p; p++) {
        if (*p == '\\') {
            ig_buf_adds(b, "\\\\");
        } else if (*p == '\t') {
            ig_buf_adds(b, "\\t");
        } else if (*p == '\n') {
            ig_buf_adds(b, "\\n");
        } else if (*p == '\r') {
            ig_buf_adds(b, "\\r");
        } else {
            ig_buf_addc(b, *p);
        }
    }
    ig_buf_addc(b, '\n');
}

static void put_int(struct ig_buf *b, const char *key, int64_t v)
{
    ig_buf_addf(b, "%s\t%lld\n", key, (long long)v);
}

int state_save(const char *dir, const char *id, const struct source_state *st)
{
    struct ig_buf b;
    ig_buf_init(&b, 0);
    put(&b, "version", "1");
    put(&b, "id", id);
    put(&b, "kind", st->kind);
    put(&b, "cursor", st->cursor);
    put(&b, "url", st->url);
    put(&b, "etag", st->etag);
    put(&b, "last_modified", st->last_modified);
    put(&b, "body_hash", st->body_hash);
    const struct source_health *h = &st->h;
    put_int(&b, "last_poll_ts", h->last_poll_ts);
    put_int(&b, "last_success_ts", h->last_success_ts);
    put_int(&b, "last_error_ts", h->last_error_ts);
    put(&b, "last_error", h->last_error);
    put_int(&b, "consecutive_failures", h->consecutive_failures);
    put_int(&b, "items_last_poll", h->items_last_poll);
    put_int(&b, "empty_polls", h->empty_polls);
    put_int(&b, "last_new_item_ts", h->last_new_item_ts);
    put_int(&b, "next_poll_ts", h->next_poll_ts);
    put_int(&b, "polls", h->polls);
    put_int(&b, "failures", h->failures);
    put_int(&b, "items_total", h->items_total);
    put_int(&b, "enabled", h->enabled);

    char *tmp = ig_asprintf("%s/sources/.%s.tmp", dir, id);
    char *fin = ig_asprintf("%s/sources/%s.state", dir, id);
    char *sub = ig_asprintf("%s/sources", dir);
    int rc = IG_EIO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        goto out;
    }
    size_t off = 0;
    while (off < b.len) {
        ssize_t w = write(fd, b.data + off, b.len - off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            close(fd);
            unlink(tmp);
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) < 0) {
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, fin) < 0) {
        unlink(tmp);
        goto out;
    }
    int dfd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    rc = IG_OK;
out:
    ig_free(tmp);
    ig_free(fin);
    ig_free(sub);
    ig_buf_fini(&b);
    return rc;
}

static char *unescape(const char *s)
{
    char *o = ig_malloc(strlen(s) + 1);
    char *w = o;
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            *w++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s;
        } else {
            *w++ = *s;
        }
    }
    *w = '\0';
    return o;
}

static int load_file(const char *path, struct source_state *st)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return errno == ENOENT ? IG_ENOENT : IG_EIO;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    bool ok = false;
    struct source_health *h = &st->h;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n') {
            line[--n] = '\0';
        }
        char *tab = strchr(line, '\t');
        if (!tab) {
            continue;
        }
        *tab = '\0';
        const char *k = line;
        char *v = unescape(tab + 1);
        char **sp = NULL;
        int64_t *ip = NULL;
        if (strcmp(k, "version") == 0) {
            ok = strcmp(v, "1") == 0;
        } else if (strcmp(k, "id") == 0) {
            sp = &st->id_s;
        } else if (strcmp(k, "kind") == 0) {
            sp = &st->kind;
        } else if (strcmp(k, "cursor") == 0) {
            sp = &st->cursor;
        } else if (strcmp(k, "url") == 0) {
            sp = &st->url;
        } else if (strcmp(k, "etag") == 0) {
            sp = &st->etag;
        } else if (strcmp(k, "last_modified") == 0) {
            sp = &st->last_modified;
        } else if (strcmp(k, "body_hash") == 0) {
            sp = &st->body_hash;
        } else if (strcmp(k, "last_error") == 0) {
            sp = &st->last_error_s;
        } else if (strcmp(k, "last_poll_ts") == 0) {
            ip = &h->last_poll_ts;
        } else if (strcmp(k, "last_success_ts") == 0) {
            ip = &h->last_success_ts;
        } else if (strcmp(k, "last_error_ts") == 0) {
            ip = &h->last_error_ts;
        } else if (strcmp(k, "consecutive_failures") == 0) {
            ip = &h->consecutive_failures;
        } else if (strcmp(k, "items_last_poll") == 0) {
            ip = &h->items_last_poll;
        } else if (strcmp(k, "empty_polls") == 0) {
            ip = &h->empty_polls;
        } else if (strcmp(k, "last_new_item_ts") == 0) {
            ip = &h->last_new_item_ts;
        } else if (strcmp(k, "next_poll_ts") == 0) {
            ip = &h->next_poll_ts;
        } else if (strcmp(k, "polls") == 0) {
            ip = &h->polls;
        } else if (strcmp(k, "failures") == 0) {
            ip = &h->failures;
        } else if (strcmp(k, "items_total") == 0) {
            ip = &h->items_total;
        } else if (strcmp(k, "enabled") == 0) {
            h->enabled = strcmp(v, "1") == 0;
        }
        if (sp) {
            ig_free(*sp);
            *sp = v;
            v = NULL;
        } else if (ip) {
            *ip = strtoll(v, NULL, 10);
        }
        ig_free(v);
    }
    free(line);
    fclose(f);
    if (!ok) {
        source_state_fini(st);
        return IG_EPARSE;
    }
    h->id = st->id_s;
    h->kind = st->kind;
    h->last_error = st->last_error_s;
    return IG_OK;
}

int state_load(const char *dir, const char *id, struct source_state *st)
{
    source_state_init(st);
    char *p = ig_asprintf("%s/sources/%s.state", dir, id);
    int rc = load_file(p, st);
    ig_free(p);
    if (rc == IG_OK && !st->id_s) {
        st->id_s = ig_strdup(id);
        st->h.id = st->id_s;
    }
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int state_each(const char *dir,
               void (*fn)(void *ud, const struct source_state *st), void *ud)
{
    char *sub = ig_asprintf("%s/sources", dir);
    DIR *d = opendir(sub);
    if (!d) {
        ig_free(sub);
        return IG_EIO;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 7 ||
            strcmp(de->d_name + l - 6, ".state") != 0) {
            continue;
        }
        names = ig_realloc(names, (n + 1) * sizeof(*names));
        names[n++] = ig_strndup(de->d_name, l - 6);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_str);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        struct source_state st;
        if (state_load(dir, names[i], &st) == IG_OK) {
            fn(ud, &st);
            count++;
        }
        source_state_fini(&st);
        ig_free(names[i]);
    }
    ig_free(names);
    ig_free(sub);
    return count;
}
