/* push.c — items pushed to the gateway (POST /v1/items) from JSON.
 *
 * The hotline's call-taking screen posts what the operator typed; the
 * gateway answers with the classification while the call is still on. The
 * body is one JSON object or an array of them:
 *
 *     {"id": "WO-2024-0001", "title": "...", "text": "...",
 *      "channel": "hotline", "source": "hotline-push", "url": "...",
 *      "published": "2024-05-01T09:30:00+08:00", "author": "...",
 *      "place": "...", "fields": {"k": "v", ...}}
 *
 * id and at least one of title/text are required; everything else is
 * optional. Bad items are skipped with a reason (the caller reports them
 * to the client by index), never guessed at. cJSON stays in connectors/;
 * the gateway only sees struct ig_item. Strings are sanitised to valid
 * UTF-8 without control characters, and capped (a field over its cap is
 * cut at a character boundary and the item flagged TRUNCATED).
 */
#include "connectors/push.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/item.h"
#include "core/mem.h"
#include "core/text.h"

/* A pushed work order is typed by a person; 64 KiB of text is far more
 * than a call produces, and keeps a hostile client from parking megabytes
 * per item in the pipeline. */
#define PUSH_TEXT_MAX (64 * 1024)
#define PUSH_FIELD_MAX 2048
#define PUSH_MAX_FIELDS 32

static const char *const push_channels[] = {"hotline", "letters", "media",
                                            "web", NULL};

/* Copies a JSON string into the item arena, sanitised and capped. */
static const char *take_str(struct ig_item *it, const cJSON *v, size_t cap)
{
    if (!cJSON_IsString(v) || !v->valuestring) {
        return NULL;
    }
    const char *s = v->valuestring;
    size_t n = strlen(s);
    if (n > cap) {
        n = ig_utf8_trim_len(s, n, cap);
        ig_item_flag(it, IG_ITEM_F_TRUNCATED, "a field was cut at its cap");
    }
    struct ig_buf b;
    ig_buf_init(&b, 0);
    int fixed = ig_utf8_sanitize(&b, s, n, true);
    if (fixed > 0) {
        ig_item_flag(it, IG_ITEM_F_REPAIRED,
                     "invalid UTF-8 or control characters replaced");
    }
    const char *out = ig_item_strndup(it, b.data ? b.data : "", b.len);
    ig_buf_fini(&b);
    return out;
}

static bool valid_channel(const char *c)
{
    for (const char *const *p = push_channels; *p; p++) {
        if (strcmp(*p, c) == 0) {
            return true;
        }
    }
    return false;
}

static int push_one(const cJSON *o, size_t idx, const char *source_id,
                    const char *channel, int64_t now,
                    struct connector_sink *sink)
{
    char why[160];
    struct ig_item *it = NULL;
    if (!cJSON_IsObject(o)) {
        snprintf(why, sizeof(why), "item %zu: not a JSON object", idx);
        goto skip;
    }
    it = ig_item_new();
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (cJSON_IsNumber(id)) {
        char num[32];
        snprintf(num, sizeof(num), "%.0f", id->valuedouble);
        it->ext_id = ig_item_strdup(it, num);
    } else {
        it->ext_id = take_str(it, id, 256);
    }
    if (!it->ext_id || !*it->ext_id) {
        snprintf(why, sizeof(why), "item %zu: missing \"id\"", idx);
        goto skip;
    }
    it->title = take_str(it, cJSON_GetObjectItemCaseSensitive(o, "title"),
                         PUSH_FIELD_MAX);
    it->text = take_str(it, cJSON_GetObjectItemCaseSensitive(o, "text"),
                        PUSH_TEXT_MAX);
    if ((!it->title || !*it->title) && (!it->text || !*it->text)) {
        snprintf(why, sizeof(why), "item %zu: needs \"title\" or \"text\"",
                 idx);
        goto skip;
    }
    const char *ch =
        take_str(it, cJSON_GetObjectItemCaseSensitive(o, "channel"), 32);
    if (ch && !valid_channel(ch)) {
        snprintf(why, sizeof(why),
                 "item %zu: channel must be hotline, letters, media or web",
                 idx);
        goto skip;
    }
    it->channel = ch ? ch : ig_item_strdup(it, channel);
    const char *src =
        take_str(it, cJSON_GetObjectItemCaseSensitive(o, "source"), 64);
    it->source_id = src && *src ? src : ig_item_strdup(it, source_id);
    it->url = take_str(it, cJSON_GetObjectItemCaseSensitive(o, "url"),
                       PUSH_FIELD_MAX);
    it->author =
        take_str(it, cJSON_GetObjectItemCaseSensitive(o, "author"), 256);
    it->place = take_str(it, cJSON_GetObjectItemCaseSensitive(o, "place"),
                         PUSH_FIELD_MAX);
    it->published =
        take_str(it, cJSON_GetObjectItemCaseSensitive(o, "published"), 64);
    if (!it->published) {
        ig_item_flag(it, IG_ITEM_F_NO_DATE, "no published time");
    }
    char iso[32];
    ig_time_iso(now, 0, iso);
    it->fetched = ig_item_strdup(it, iso);
    it->fetched_ts = now;
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(o, "fields");
    size_t nf = 0;
    const cJSON *f = NULL;
    cJSON_ArrayForEach(f, fields)
    {
        if (nf++ == PUSH_MAX_FIELDS) {
            ig_item_flag(it, IG_ITEM_F_TRUNCATED, "too many raw fields");
            break;
        }
        const char *v = take_str(it, f, PUSH_FIELD_MAX);
        if (f->string && v) {
            ig_item_add_field(it, f->string, v);
        }
    }
    sink->nitems++;
    return sink->emit(sink->ud, it);
skip:
    ig_item_free(it);
    sink->nskipped++;
    if (sink->diags) {
        ig_diags_add(sink->diags, IG_DIAG_ERROR, source_id, (int)idx + 1, 0,
                     "%s", why);
    }
    return IG_OK;
}

int connector_push_parse(const char *body, size_t len, const char *source_id,
                         const char *channel, size_t max_items,
                         struct connector_sink *sink)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) {
        return IG_EPARSE;
    }
    int rc = IG_OK;
    int64_t now = (int64_t)time(NULL);
    if (cJSON_IsArray(root)) {
        size_t n = (size_t)cJSON_GetArraySize(root);
        if (max_items && n > max_items) {
            rc = IG_E2BIG;
            goto out;
        }
        size_t i = 0;
        const cJSON *o = NULL;
        cJSON_ArrayForEach(o, root)
        {
            rc = push_one(o, i++, source_id, channel, now, sink);
            if (rc < 0) {
                goto out;
            }
        }
    } else if (cJSON_IsObject(root)) {
        rc = push_one(root, 0, source_id, channel, now, sink);
    } else {
        rc = IG_EPARSE;
    }
out:
    cJSON_Delete(root);
    return rc;
}
