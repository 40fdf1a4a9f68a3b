/* parse_run.c — drive a parsing kind on bytes (see parse_run.h). */
#include "tests/lib/parse_run.h"
#include "tests/lib/test_dirs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/connector.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/mem.h"

static int collect(void *ud, struct ig_item *it)
{
    struct parse_run *r = ud;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->items = ig_realloc(r->items, r->cap * sizeof(*r->items));
    }
    r->items[r->n++] = it;
    return IG_OK;
}

int parse_run_init(struct parse_run *r, const char *kind, const char *url,
                   const char *extra)
{
    struct ig_buf cfg;
    const struct connector_ops *ops = connector_kind(kind);
    int rc;

    memset(r, 0, sizeof(*r));
    ig_cfg_doc_init(&r->doc);
    ig_diags_init(&r->diags);
    r->sink.emit = collect;
    r->sink.ud = r;
    r->sink.diags = &r->diags;
    if (ops == NULL) {
        return IG_EINVAL;
    }
    ig_buf_init(&cfg, 0);
    ig_buf_addf(&cfg, "[source test]\n%s", extra ? extra : "");
    rc = ig_cfg_parse_mem(&r->doc, "test.conf", cfg.data, cfg.len, &r->diags);
    ig_buf_fini(&cfg);
    if (rc < 0 || r->doc.n == 0) {
        return rc < 0 ? rc : IG_EINVAL;
    }
    ig_cfg_defaults(connector_common_schema, &r->c.conf);
    ig_free(r->c.conf.kind);
    r->c.conf.kind = ig_strdup(kind);
    ig_free(r->c.conf.url);
    r->c.conf.url = url ? ig_strdup(url) : NULL;
    r->sink.max_items = (size_t)r->c.conf.max_items;
    rc = connector_setup(&r->c, ops, "test", &r->doc.s[0], &r->diags);
    r->ready = rc == IG_OK;
    return rc;
}

int parse_run_body(struct parse_run *r, const char *body, size_t len,
                   const char *content_type, const char *url)
{
    struct connector_resp resp = {
        .status = 200,
        .body = body,
        .len = len,
        .content_type = content_type,
        .url = url,
        .fetched_ts = 1664090000,
    };
    ig_free(r->sink.error);
    r->sink.error = NULL;
    r->rc = connector_parse(&r->c, &resp, &r->sink);
    return r->rc;
}

void parse_run_fini(struct parse_run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        ig_item_free(r->items[i]);
    }
    ig_free(r->items);
    if (r->c.ops != NULL) {
        connector_teardown(&r->c);
    }
    ig_cfg_free(connector_common_schema, &r->c.conf);
    ig_free(r->sink.error);
    ig_diags_fini(&r->diags);
    ig_cfg_doc_fini(&r->doc);
    memset(r, 0, sizeof(*r));
}

char *parse_read_file(const char *path, size_t *len)
{
    char *buf = NULL;

    return ig_read_file(path, 0, &buf, len) == IG_OK ? buf : NULL;
}

static size_t skip_ws(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] == ' ' || u[0] == '\t' || u[0] == '\n' || u[0] == '\r') {
        return 1;
    }
    if (u[0] == 0xC2 && u[1] == 0xA0) {
        return 2;
    }
    if (u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80) {
        return 3;
    }
    return 0;
}

bool parse_text_eq_nows(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    for (;;) {
        size_t k;
        while ((k = skip_ws(a)) > 0) {
            a += k;
        }
        while ((k = skip_ws(b)) > 0) {
            b += k;
        }
        if (*a == '\0' || *b == '\0') {
            return *a == *b;
        }
        if (*a != *b) {
            return false;
        }
        a++;
        b++;
    }
}

static const char *str_of(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(j, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

size_t parse_zh_each(int (*fn)(void *ud, const struct zh_entry *e), void *ud,
                     size_t *failures)
{
    char path[4096];
    size_t len, checked = 0;
    char *text, *save = NULL, *line;

    snprintf(path, sizeof(path), "%s/feeds/zh/expected.jsonl",
             test_shared_dir());
    text = parse_read_file(path, &len);
    if (!text) {
        printf("# cannot read %s\n", path);
        (*failures)++;
        return 0;
    }
    for (line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        struct zh_entry e = {.j = j};
        char *body;
        int bad;

        if (!j || !str_of(j, "file")) {
            printf("# bad manifest line: %.80s\n", line);
            (*failures)++;
            cJSON_Delete(j);
            continue;
        }
        e.file = str_of(j, "file");
        e.url = str_of(j, "url");
        e.format = str_of(j, "format");
        e.content_type = str_of(j, "content_type");
        e.items = cJSON_GetObjectItem(j, "items");
        snprintf(path, sizeof(path), "%s/feeds/zh/%s", test_shared_dir(),
                 e.file);
        body = parse_read_file(path, &e.len);
        e.body = body;
        bad = body ? fn(ud, &e) : 1;
        if (!body) {
            printf("# cannot read %s\n", path);
        }
        if (bad >= 0) {
            checked++;
            *failures += (size_t)bad;
        }
        ig_free(body);
        cJSON_Delete(j);
    }
    ig_free(text);
    return checked;
}
