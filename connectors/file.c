/* file.c — JSON Lines from a local file or folder (kind `file`).
 *
 * For offline import and replay: `url` names a .jsonl file or a folder
 * whose *.jsonl files are read in name order. Each line is one JSON object
 * mapped to an item by JSON pointers; the defaults read the item shape the
 * gateway itself writes (id/ext_id, title, text, url, published, author,
 * place, channel), so a capture can be replayed as is.
 *
 * The cursor is "<file name>\t<byte offset>": the position after the last
 * complete line read. The next poll skips files sorting before that name
 * and resumes inside it, so lines appended later are picked up and nothing
 * is read twice; a file shorter than its offset (rewritten) is read from
 * the start. A line without its final newline is left for the next poll
 * (it may still be being written). A bad line is skipped and counted, the
 * rest of the file is still read. Lines longer than max_line are skipped.
 * Each line is read into its own json_safe tree in an arena that dies
 * once the line's item holds copies of what it needs.
 *
 * This kind reads files itself (read_local); it never follows anything
 * but `url`, and refuses non-regular files.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "connectors/connector.h"
#include "connectors/connector_int.h"
#include "connectors/date.h"
#include "connectors/json_safe.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/item.h"
#include "core/mem.h"
#include "core/text.h"

struct file_conf {
    char *id;
    char *alt_id;
    char *title;
    char *text;
    char *link;
    char *published;
    char *author;
    char *place;
    char *suffix;
    int64_t max_line;
};

#define OFF(f) offsetof(struct file_conf, f)

static const struct ig_cfg_field file_schema[] = {
    {"id", IG_CFG_STR, "/ext_id", OFF(id), "pointer to the item id", 0, NULL},
    {"alt_id", IG_CFG_STR, "/id", OFF(alt_id),
     "pointer tried when id is absent", 0, NULL},
    {"title", IG_CFG_STR, "/title", OFF(title), "pointer to the title", 0,
     NULL},
    {"text", IG_CFG_STR, "/text", OFF(text), "pointer to the text", 0, NULL},
    {"link", IG_CFG_STR, "/url", OFF(link), "pointer to the item URL", 0, NULL},
    {"published", IG_CFG_STR, "/published", OFF(published),
     "pointer to the ISO 8601 publication time", 0, NULL},
    {"author", IG_CFG_STR, "/author", OFF(author), "pointer to the author", 0,
     NULL},
    {"place", IG_CFG_STR, "/place", OFF(place), "pointer to the place", 0,
     NULL},
    {"suffix", IG_CFG_STR, ".jsonl", OFF(suffix),
     "file name suffix read from a folder", 0, NULL},
    {"max_line", IG_CFG_SIZE, "1MiB", OFF(max_line),
     "longest line accepted; longer lines are skipped", 0, NULL},
    {0},
};

struct filekind {
    struct file_conf cf;
};

static const char *path_of(const struct connector *c)
{
    const char *p = c->conf.url;
    return strncmp(p, "file://", 7) == 0 ? p + 7 : p;
}

static int file_init(struct connector *c, struct ig_diags *d)
{
    struct filekind *k = ig_calloc(1, sizeof(*k));
    c->ctx = k;
    int rc = connector_cfg_apply(c, file_schema, &k->cf, d);
    if (c->conf.url && strstr(c->conf.url, "://") &&
        strncmp(c->conf.url, "file://", 7) != 0) {
        connector_cfg_error(
            c, d, "url", "kind file reads a local path, got '%s'", c->conf.url);
        rc = IG_EINVAL;
    }
    return rc;
}

static void file_fini(struct connector *c)
{
    struct filekind *k = c->ctx;
    if (k) {
        ig_cfg_free(file_schema, &k->cf);
        ig_free(k);
    }
}

static void one_line(struct connector *c, struct filekind *k, const char *line,
                     size_t len, const char *name, size_t lineno,
                     struct connector_sink *sink, int *stop)
{
    const struct json_safe_node *rec = NULL;
    unsigned repairs = 0;
    char err[200];
    if (len == 0) {
        return;
    }
    struct ig_arena *a = ig_arena_new(json_safe_arena_size(len));
    if (json_safe_read(line, len, JSON_SAFE_DEPTH, a, &rec, &repairs, err,
                       sizeof(err)) < 0) {
        connector_skip(sink, c, "%s:%zu: %s", name, lineno, err);
        goto out;
    }
    if (rec->type != JSON_SAFE_T_OBJECT) {
        connector_skip(sink, c, "%s:%zu: not a JSON object", name, lineno);
        goto out;
    }
    const char *id = json_safe_text_at(rec, k->cf.id);
    if (!id || !*id) {
        id = json_safe_text_at(rec, k->cf.alt_id);
    }
    if (!id || !*id) {
        connector_skip(sink, c, "%s:%zu: no id", name, lineno);
        goto out;
    }
    struct ig_item *it = connector_item_new(c, 0);
    it->ext_id = ig_item_strdup(it, id);
    it->title = ig_item_strdup(it, json_safe_text_at(rec, k->cf.title));
    it->text = ig_item_strdup(it, json_safe_text_at(rec, k->cf.text));
    it->url = ig_item_strdup(it, json_safe_text_at(rec, k->cf.link));
    it->author = ig_item_strdup(it, json_safe_text_at(rec, k->cf.author));
    it->place = ig_item_strdup(it, json_safe_text_at(rec, k->cf.place));
    const char *ch = json_safe_text_at(rec, "/channel");
    if (ch && !c->conf.channel &&
        (strcmp(ch, "hotline") == 0 || strcmp(ch, "letters") == 0 ||
         strcmp(ch, "media") == 0 || strcmp(ch, "web") == 0)) {
        it->channel = ig_item_strdup(it, ch);
    }
    /* Any date shape the feeds use; zone-less times are +08:00. The
     * result is written back as ISO 8601 with the offset it stated. */
    const char *pub = json_safe_text_at(rec, k->cf.published);
    struct date_opts dop;
    date_opts_default(&dop);
    connector_item_read_time(it, pub, &dop, "published time");
    char where[64];
    snprintf(where, sizeof(where), "%zu", lineno);
    ig_item_add_field(it, "file", name);
    ig_item_add_field(it, "line", where);
    json_safe_flag_repaired(it, rec, repairs);
    int rc = connector_emit(sink, it);
    if (rc < 0) {
        *stop = rc;
    }
out:
    ig_arena_free(a);
}

/* Reads name from offset *off; advances *off past complete lines. */
static int read_one(struct connector *c, struct filekind *k, const char *path,
                    const char *name, int64_t *off, struct connector_sink *sink)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return connector_fail(sink, IG_EIO, "%s: %s", name, strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return connector_fail(sink, IG_EIO, "%s: not a regular file", name);
    }
    if (*off > st.st_size) {
        *off = 0; /* rewritten since: read it again */
    }
    if (fseeko(f, (off_t)*off, SEEK_SET) < 0) {
        fclose(f);
        return connector_fail(sink, IG_EIO, "%s: seek failed", name);
    }
    struct ig_buf line;
    ig_buf_init(&line, (size_t)k->cf.max_line);
    size_t lineno = 0;
    bool too_long = false;
    int stop = IG_OK;
    int64_t pos = *off;
    char chunk[8192];
    size_t cn = 0, ci = 0;
    while (stop == IG_OK) {
        if (ci == cn) {
            cn = fread(chunk, 1, sizeof(chunk), f);
            ci = 0;
            if (cn == 0) {
                break;
            }
        }
        char ch = chunk[ci++];
        pos++;
        if (ch != '\n') {
            if (!too_long && ig_buf_addc(&line, ch) < 0) {
                too_long = true;
            }
            continue;
        }
        lineno++;
        if (too_long) {
            connector_skip(sink, c, "%s: line %zu is longer than max_line",
                           name, lineno);
        } else {
            size_t l = line.len;
            if (l && line.data[l - 1] == '\r') {
                l--;
            }
            one_line(c, k, line.data ? line.data : "", l, name, lineno, sink,
                     &stop);
            if (stop == IG_E2BIG) {
                break; /* the cap refused this line: the next poll's */
            }
        }
        /* The cursor only ever covers complete lines. */
        *off = pos;
        too_long = false;
        ig_buf_reset(&line);
    }
    int err = ferror(f);
    ig_buf_fini(&line);
    fclose(f);
    if (stop < 0) {
        return stop; /* IG_E2BIG: *off is before the refused line */
    }
    if (err) {
        return connector_fail(sink, IG_EIO, "%s: read error", name);
    }
    return IG_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int file_read_local(struct connector *c, struct connector_sink *sink)
{
    struct filekind *k = c->ctx;
    const char *path = path_of(c);
    struct stat st;
    ig_free(c->pending_cursor);
    c->pending_cursor = NULL;
    if (stat(path, &st) < 0) {
        return connector_fail(sink, IG_EIO, "%s: %s", path, strerror(errno));
    }
    /* Committed position. */
    char *cur_name = NULL;
    int64_t cur_off = 0;
    if (c->cursor) {
        const char *tab = strrchr(c->cursor, '\t');
        if (tab) {
            cur_name = ig_strndup(c->cursor, (size_t)(tab - c->cursor));
            cur_off = strtoll(tab + 1, NULL, 10);
        }
    }
    char **names = NULL;
    size_t n = 0;
    char *dir = NULL;
    if (S_ISDIR(st.st_mode)) {
        DIR *dp = opendir(path);
        if (!dp) {
            ig_free(cur_name);
            return connector_fail(sink, IG_EIO, "%s: %s", path,
                                  strerror(errno));
        }
        struct dirent *de;
        size_t sl = strlen(k->cf.suffix);
        while ((de = readdir(dp)) != NULL) {
            size_t l = strlen(de->d_name);
            if (de->d_name[0] == '.' || l <= sl ||
                strcmp(de->d_name + l - sl, k->cf.suffix) != 0) {
                continue;
            }
            names = ig_realloc(names, (n + 1) * sizeof(*names));
            names[n++] = ig_strdup(de->d_name);
        }
        closedir(dp);
        qsort(names, n, sizeof(*names), cmp_str);
        dir = ig_strdup(path);
    } else {
        const char *slash = strrchr(path, '/');
        names = ig_malloc(sizeof(*names));
        names[n++] = ig_strdup(slash ? slash + 1 : path);
        dir = slash ? ig_strndup(path, (size_t)(slash - path)) : ig_strdup(".");
    }
    int rc = IG_OK;
    const char *last = cur_name;
    int64_t last_off = cur_off;
    for (size_t i = 0; i < n && rc == IG_OK; i++) {
        int cmp = cur_name ? strcmp(names[i], cur_name) : 1;
        if (cmp < 0) {
            continue; /* read in an earlier poll */
        }
        int64_t off = cmp == 0 ? cur_off : 0;
        char *full = ig_asprintf("%s/%s", dir, names[i]);
        rc = read_one(c, k, full, names[i], &off, sink);
        ig_free(full);
        last = names[i];
        last_off = off;
    }
    /* At max_items the poll ends with the lines taken so far; the cursor
     * stops before the first line refused, and the next poll goes on
     * from there (the scheduler brings it forward). */
    if (rc == IG_E2BIG) {
        rc = IG_OK;
    }
    if (rc == IG_OK && last) {
        c->pending_cursor = ig_asprintf("%s\t%lld", last, (long long)last_off);
    }
    for (size_t i = 0; i < n; i++) {
        ig_free(names[i]);
    }
    ig_free(names);
    ig_free(dir);
    ig_free(cur_name);
    return rc;
}

const struct connector_ops connector_file = {
    .kind = "file",
    .channel = "web",
    .schema = file_schema,
    .init = file_init,
    .read_local = file_read_local,
    .fini = file_fini,
};
