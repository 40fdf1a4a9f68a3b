/* feed.c — helpers shared by the parsing kinds (rss, letters, web).
 *
 * Kept apart from the kinds so that any of them can be left out of a
 * build (IG_WITH_<KIND>) without taking the others' helpers along.
 */
#include "connectors/feed_int.h"

#include <string.h>

#include "connectors/connector_int.h"
#include "connectors/date.h"
#include "connectors/xml_safe.h"
#include "core/err.h"
#include "core/item.h"

size_t feed_max_field(void)
{
    return XML_SAFE_MAX_FIELD;
}

const char *const feed_cst_choices[] = {"china", "us", NULL};

int feed_date_opts(struct date_opts *o, const char *tz, const char *cst)
{
    date_opts_default(o);
    if (tz != NULL && tz[0] != '\0') {
        int off;
        if (date_parse_offset(tz, &off) < 0) {
            return IG_EINVAL;
        }
        o->local_offset_min = off;
    }
    o->cst_is_china = cst == NULL || strcmp(cst, "us") != 0;
    return IG_OK;
}

void feed_set_date(struct ig_item *it, const char *raw,
                   const struct date_opts *o)
{
    int64_t ts;
    int off;
    if (raw == NULL || raw[0] == '\0') {
        ig_item_flag(it, IG_ITEM_F_NO_DATE, "no publication date");
        return;
    }
    ig_item_add_field(it, "raw_date", raw);
    /* Year-less and relative dates ("11月27日", "3小时前") are read
     * against the time the document was fetched. */
    struct date_opts local = *o;
    if (local.now == 0) {
        local.now = it->fetched_ts;
    }
    if (date_parse(raw, strlen(raw), &local, &ts, &off) < 0) {
        ig_item_flag(it, IG_ITEM_F_NO_DATE, "unparseable publication date");
        return;
    }
    connector_item_set_time(it, ts, off);
}

void feed_id_from_link(struct ig_item *it)
{
    if (it->ext_id == NULL && it->url != NULL) {
        it->ext_id = it->url;
        ig_item_add_field(it, "id_from", "link");
    }
}

int feed_emit_record(struct connector *c, struct connector_sink *sink,
                     struct ig_item *it, const char *no_time_why)
{
    feed_id_from_link(it);
    if (it->published == NULL && !(it->flags & IG_ITEM_F_NO_DATE)) {
        ig_item_flag(it, IG_ITEM_F_NO_DATE, no_time_why);
    }
    int rc = connector_emit(sink, it);
    if (rc == IG_E2BIG) {
        xml_safe_report(sink, c->id, false, "item cap reached (%zu per poll)",
                        sink->max_items);
    }
    return rc;
}
