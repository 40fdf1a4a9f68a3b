/* route.c — one candidate through the router: place, units, priority, track.
 *
 * route_apply() scans the raw title and text for gazetteer names and
 * priority words (one pass over both lexicons) and, when a flag asks,
 * crowd numbers, and then derives the rest:
 *
 *   place  the most specific match (landmark/village/compound/road over a
 *          former town, over a town/street, over the district), the
 *          earliest one on a tie, title before text. Its towns are kept;
 *          when it lies in several, a town/street named elsewhere in the
 *          item narrows them (崧泽大道 + 徐泾镇 -> 徐泾镇), otherwise all
 *          stay: an ambiguous place is reported, never guessed.
 *   units  each department of the code in order, lead first: 属地管理 to
 *          the town's government when the town is known, 权属单位 to a
 *          placeholder for the reviewer, the rest from the directory;
 *          duplicates (城管部门 and 城管执法部门 are one bureau) merged.
 *   flags  a flag fires when each of its any: lines has a word in the
 *          title or text, none of its not: words appears and, with
 *          crowd: N, a crowd size whose lower bound reaches N is present.
 *   track  route_suggest_track() on the above.
 *
 * Scratch lives in the caller's struct route_scratch, or in the caller's
 * arena for route_apply() (and a few buffers for reason strings), so
 * routing is safe on any thread.
 */
#include "classifiers/route.h"

#include <stdio.h>
#include <string.h>

#include "classifiers/classifier.h"
#include "classifiers/classifier_int.h"
#include "classifiers/route_int.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/jsonw.h"
#include "core/mem.h"
#include "core/ptrmap.h"
#include "core/text.h"

#define MAX_PLACE_HITS 64

struct place_hit {
    uint32_t place;
    int field;
    size_t start, end;
};

struct place_scan {
    const struct router *rt;
    const char *f; /* the field being scanned */
    struct place_hit hits[MAX_PLACE_HITS];
    size_t n;
    int field;
};

/* Common surnames that are not also everyday function characters (于 in
 * 位于, 向 in 通向, 在 ... are left out on purpose). */
static const char surnames[] =
    "王李张刘陈杨黄吴周孙马胡郭何林罗高郑梁谢宋唐邓许韩冯曹彭曾肖田董袁"
    "潘蒋蔡杜叶程苏魏吕丁沈姚卢姜崔钟谭陆汪范廖贾韦邹孟熊秦邱尹薛闫段雷"
    "侯史陶黎贺顾毛郝龚邵钱严覃戴莫孔汤";

static bool after_surname(const char *f, size_t start)
{
    /* The previous character: back up over UTF-8 continuation bytes. */
    if (start == 0) {
        return false;
    }
    size_t p = start - 1;
    while (p > 0 && start - p < 4 && ((unsigned char)f[p] & 0xC0) == 0x80) {
        p--;
    }
    /* Every surname above is one 3-byte UTF-8 character. */
    if (start - p != 3) {
        return false;
    }
    for (size_t i = 0; i + 3 <= sizeof(surnames) - 1; i += 3) {
        if (memcmp(surnames + i, f + p, 3) == 0) {
            return true;
        }
    }
    return false;
}

static size_t on_place(void *ctx, uint32_t id, size_t start, size_t end)
{
    struct place_scan *ps = ctx;
    uint32_t place = id & ~RT_PLACE_WEAK;
    if ((id & RT_PLACE_WEAK) && after_surname(ps->f, start)) {
        /* 王华新 is a person: not a match, look on. */
        return 0;
    }
    /* Leftmost-longest: the longest name at a position wins and the scan
     * moves past it, so 朱家角镇 is one hit, not 朱家角 + 镇, and a
     * near-miss blocker (kind none) swallows its text. */
    if (ps->rt->places[place].kind != RT_KIND_NONE && ps->n < MAX_PLACE_HITS) {
        ps->hits[ps->n].place = place;
        ps->hits[ps->n].field = ps->field;
        ps->hits[ps->n].start = start;
        ps->hits[ps->n].end = end;
        ps->n++;
    }
    return end - start;
}

static bool has_town(const char *const *v, size_t n, const char *t)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i] == t) {
            return true;
        }
    }
    return false;
}

/* Picks the place among the hits of a scan of fields f[] (field index =
 * position). */
static void pick_place(const struct router *rt, const struct place_scan *ps,
                       const char *const *f, struct ig_arena *a,
                       struct route_result *out)
{
    if (ps->n == 0) {
        return;
    }
    /* The most specific place; hits are in title-then-text order, so the
     * first of the best rank is the earliest. */
    size_t best = 0;
    for (size_t i = 1; i < ps->n; i++) {
        if (rt->places[ps->hits[i].place].kind >
            rt->places[ps->hits[best].place].kind) {
            best = i;
        }
    }
    const struct place_hit *h = &ps->hits[best];
    const struct rt_place *p = &rt->places[h->place];
    out->has_place = true;
    out->place.text =
        ig_arena_strndup(a, f[h->field] + h->start, h->end - h->start);
    out->place.name = p->name;
    out->place.kind = route_kind_name(p->kind);
    out->place.field = h->field;
    out->place.start = h->start;
    out->place.end = h->end;

    /* Narrow an ambiguous place with the units named elsewhere. */
    const char *keep[ROUTE_MAX_TOWNS];
    size_t nkeep = 0;
    if (p->ntowns > 1) {
        for (size_t t = 0; t < p->ntowns; t++) {
            for (size_t i = 0; i < ps->n; i++) {
                const struct rt_place *q = &rt->places[ps->hits[i].place];
                if (i != best && q->ntowns == 1 && q->towns[0] == p->towns[t] &&
                    !has_town(keep, nkeep, p->towns[t])) {
                    keep[nkeep++] = p->towns[t];
                }
            }
        }
    }
    const char *const *src = nkeep ? keep : p->towns;
    size_t nsrc = nkeep ? nkeep : p->ntowns;
    for (size_t t = 0; t < nsrc && t < ROUTE_MAX_TOWNS; t++) {
        out->towns[out->ntowns++] = src[t];
    }
}

/* Finds the place in fields f[0..nf) (field index = position). */
static void find_place(const struct router *rt, const char *const *f,
                       const size_t *flen, int nf, struct ig_arena *a,
                       struct route_result *out)
{
    struct place_scan ps;
    ps.rt = rt;
    ps.n = 0;
    for (int k = 0; k < nf; k++) {
        ps.field = k;
        ps.f = f[k];
        route_lex_scan(&rt->place_lex, f[k], flen[k], on_place, &ps);
    }
    pick_place(rt, &ps, f, a, out);
}

static void add_unit(struct route_result *out, const char *dept,
                     const char *unit, bool lead, bool resolved)
{
    for (size_t i = 0; i < out->nunits; i++) {
        if (strcmp(out->units[i].unit, unit) == 0) {
            return;
        }
    }
    if (out->nunits == ROUTE_MAX_UNITS) {
        out->dropped++;
        return;
    }
    struct route_unit *u = &out->units[out->nunits++];
    u->dept = dept;
    u->unit = unit;
    u->lead = lead;
    u->resolved = resolved;
}

static void resolve_units(const struct router *rt, const struct taxon *top,
                          struct ig_arena *a, struct route_result *out)
{
    const char *district[ROUTE_MAX_UNITS];
    size_t nd = 0;
    for (size_t i = 0; i < top->ndepts; i++) {
        const char *dn = top->depts[i];
        bool lead = i == 0;
        const struct rt_dept *dd = route_dept_of(rt, dn);
        if (!dd || dd->scope == RT_SCOPE_LOCAL) {
            /* Not in the directory (the loader checks taxonomy.tsv, so
             * only a taxon from elsewhere gets here): pass it through. */
            add_unit(out, dn, dn, lead, false);
            continue;
        }
        switch (dd->scope) {
        case RT_SCOPE_TOWN:
            if (out->ntowns == 1) {
                const struct rt_dept *gov = route_dept_of(rt, out->towns[0]);
                add_unit(out, dn, gov ? gov->unit : out->towns[0], lead, true);
            } else if (out->ntowns > 1) {
                struct ig_buf b;
                ig_buf_init(&b, 0);
                for (size_t t = 0; t < out->ntowns; t++) {
                    const struct rt_dept *gov =
                        route_dept_of(rt, out->towns[t]);
                    ig_buf_addf(&b, "%s%s", t ? "或" : "",
                                gov ? gov->unit : out->towns[t]);
                }
                add_unit(out, dn, ig_arena_strndup(a, b.data, b.len), lead,
                         false);
                ig_buf_fini(&b);
            } else {
                add_unit(out, dn, dd->unit, lead, false);
            }
            break;
        case RT_SCOPE_OWNER:
            add_unit(out, dn, dd->unit, lead, false);
            break;
        case RT_SCOPE_DISTRICT:
        case RT_SCOPE_ENTERPRISE:
        case RT_SCOPE_LOCAL:
            add_unit(out, dn, dd->unit, lead, true);
            if (!has_town(district, nd, dd->unit) && nd < ROUTE_MAX_UNITS) {
                district[nd++] = dd->unit;
            }
            break;
        }
    }
    /* has_town() compares pointers: one directory row, one unit; two rows
     * naming the same bureau are merged by add_unit's string compare, so
     * count distinct strings here as well. */
    size_t distinct = 0;
    for (size_t i = 0; i < nd; i++) {
        bool seen = false;
        for (size_t k = 0; k < i; k++) {
            seen |= strcmp(district[k], district[i]) == 0;
        }
        distinct += !seen;
    }
    out->ndistrict = distinct;
}

/* ---- priority flags --------------------------------------------------- */

#define MAX_FLAG_HITS 512
#define MAX_CROWDS 32

struct flag_hit {
    uint32_t flag;
    uint32_t group;
    uint32_t word;
    int field;
    size_t start, end;
};

struct flag_scan {
    uint16_t mask[RT_MAX_FLAGS + 1]; /* any-groups hit anywhere */
    bool vetoed[RT_MAX_FLAGS + 1];   /* a not: word anywhere */
    struct flag_hit hits[MAX_FLAG_HITS];
    size_t n;
    int field;
};

static size_t on_flag_word(void *ctx, uint32_t id, size_t start, size_t end)
{
    struct flag_scan *fs = ctx;
    uint32_t fl = RT_FLAG_ID_FLAG(id);
    uint32_t g = RT_FLAG_ID_GROUP(id);
    if (g == RT_FLAG_NOT_GROUP) {
        fs->vetoed[fl] = true;
    } else {
        fs->mask[fl] |= (uint16_t)(1u << g);
    }
    /* Past the cap, near: checks see only the first hits; a text with
     * more than 512 red-line words is flagged by those anyway. */
    if (fs->n < MAX_FLAG_HITS) {
        struct flag_hit *h = &fs->hits[fs->n++];
        h->flag = fl;
        h->group = g;
        h->word = RT_FLAG_ID_WORD(id);
        h->field = fs->field;
        h->start = start;
        h->end = end;
    }
    /* Keep looking at shorter words here: 火灾 and 火灾隐患 both count. */
    return 0;
}

static void add_reason(struct route_result *out, const char *r)
{
    if (out->nreasons == ROUTE_MAX_REASONS) {
        out->dropped++;
        return;
    }
    out->reasons[out->nreasons++] = r;
}

/* Distance in characters between two spans of one field (0 if they
 * touch or overlap). */
static size_t span_gap(const char *f, size_t s1, size_t e1, size_t s2,
                       size_t e2)
{
    if (e1 <= s2) {
        return ig_utf8_count(f + e1, s2 - e1);
    }
    if (e2 <= s1) {
        return ig_utf8_count(f + e2, s1 - e2);
    }
    return 0;
}

struct crowds {
    struct route_crowd v[2][MAX_CROWDS];
    size_t n[2];
    bool done;
};

static void crowds_get(struct crowds *c, const char *const f[2],
                       const size_t flen[2])
{
    if (!c->done) {
        for (int k = 0; k < 2; k++) {
            c->n[k] = route_crowd_list(f[k], flen[k], c->v[k], MAX_CROWDS);
        }
        c->done = true;
    }
}

/* Evidence of one firing: the words hit and the crowd expression. */
struct firing {
    const struct flag_hit *w[2];
    const struct route_crowd *crowd;
    int crowd_field;
};

/* A flag with near: N: some hit of its first any: line has, within N
 * characters in the same field, a hit of each other any: line, a crowd
 * size reaching crowd: (if any) and no not: word. */
static bool fire_near(const struct rt_flag *fl, uint32_t idx,
                      const struct flag_scan *fs, const char *const f[2],
                      const size_t flen[2], struct crowds *cr,
                      struct firing *out)
{
    size_t nn = fl->near_chars;
    for (size_t i = 0; i < fs->n; i++) {
        const struct flag_hit *a = &fs->hits[i];
        if (a->flag != idx || a->group != 0) {
            continue;
        }
        const char *txt = f[a->field];
        bool ok = true;
        const struct flag_hit *second = NULL;
        for (uint32_t g = 1; ok && g < fl->ngroups; g++) {
            bool found = false;
            for (size_t j = 0; j < fs->n && !found; j++) {
                const struct flag_hit *h = &fs->hits[j];
                if (h->flag == idx && h->group == g && h->field == a->field &&
                    span_gap(txt, a->start, a->end, h->start, h->end) <= nn) {
                    found = true;
                    if (!second) {
                        second = h;
                    }
                }
            }
            ok = found;
        }
        for (size_t j = 0; ok && j < fs->n; j++) {
            const struct flag_hit *h = &fs->hits[j];
            if (h->flag == idx && h->group == RT_FLAG_NOT_GROUP &&
                h->field == a->field &&
                span_gap(txt, a->start, a->end, h->start, h->end) <= nn) {
                ok = false;
            }
        }
        const struct route_crowd *c = NULL;
        if (ok && fl->crowd_min) {
            crowds_get(cr, f, flen);
            for (size_t j = 0; j < cr->n[a->field]; j++) {
                const struct route_crowd *x = &cr->v[a->field][j];
                if (x->lo >= fl->crowd_min &&
                    span_gap(txt, a->start, a->end, x->start, x->end) <= nn &&
                    (!c || x->lo > c->lo)) {
                    c = x;
                }
            }
            ok = c != NULL;
        }
        if (ok) {
            out->w[0] = a;
            out->w[1] = second;
            out->crowd = c;
            out->crowd_field = a->field;
            return true;
        }
    }
    return false;
}

/* A flag without near: each any: line hit anywhere, no not: word
 * anywhere, and the largest crowd size reaching crowd:. */
static bool fire_anywhere(const struct rt_flag *fl, uint32_t idx,
                          const struct flag_scan *fs, const char *const f[2],
                          const size_t flen[2], struct crowds *cr,
                          struct firing *out)
{
    if (fs->vetoed[idx]) {
        return false;
    }
    memset(out, 0, sizeof(*out));
    for (size_t j = 0; j < fs->n; j++) {
        const struct flag_hit *h = &fs->hits[j];
        if (h->flag == idx && h->group < 2 && !out->w[h->group]) {
            out->w[h->group] = h;
        }
    }
    if (fl->crowd_min) {
        crowds_get(cr, f, flen);
        for (int k = 0; k < 2; k++) {
            for (size_t j = 0; j < cr->n[k]; j++) {
                if (!out->crowd || cr->v[k][j].lo > out->crowd->lo) {
                    out->crowd = &cr->v[k][j];
                    out->crowd_field = k;
                }
            }
        }
        if (!out->crowd || out->crowd->lo < fl->crowd_min) {
            return false;
        }
    }
    return true;
}

struct route_scratch {
    struct flag_scan fs;
    struct crowds cr;
};

struct route_scratch *route_scratch_new(void)
{
    return ig_malloc(sizeof(struct route_scratch));
}

void route_scratch_free(struct route_scratch *s)
{
    ig_free(s);
}

/* Ready for a scan: only the per-flag arrays need zeroing, and only for
 * the router's nflags flags (the lexicon names no other); hits are
 * written before they are read (memset of the whole struct was a tenth of
 * the time). */
static void flag_scan_reset(struct flag_scan *fs, size_t nflags)
{
    memset(fs->mask, 0, nflags * sizeof(fs->mask[0]));
    memset(fs->vetoed, 0, nflags * sizeof(fs->vetoed[0]));
    fs->n = 0;
}

/* The evidence of one reason: the flags of one red line that fired (they
 * share their reason string, route_load.c), their distinct words and the
 * largest crowd size. */
#define REASON_MAX_WORDS 6

struct reason_acc {
    const char *label; /* the flags' shared reason (router) */
    const char *words[REASON_MAX_WORDS];
    size_t nwords;
    const struct route_crowd *crowd;
    int crowd_field;
};

static void acc_word(const struct router *rt, struct reason_acc *ra,
                     const struct flag_hit *h)
{
    if (!h) {
        return;
    }
    /* One word may sit on both lines (火势) or in both flags: once. */
    const char *w = rt->flag_words[h->word];
    for (size_t k = 0; k < ra->nwords; k++) {
        if (strcmp(ra->words[k], w) == 0) {
            return;
        }
    }
    if (ra->nwords < REASON_MAX_WORDS) {
        ra->words[ra->nwords++] = w;
    }
}

/* The flags that fire on the words found by a scan into sc->fs. Flags of
 * one red line that both fire (an accident word near a casualty word, and
 * a named major accident) give one reason with the evidence of both: the
 * reviewer sees each red line once. */
static void check_flags(const struct router *rt, const char *const f[2],
                        const size_t flen[2], struct route_scratch *sc,
                        struct ig_arena *a, struct route_result *out)
{
    const struct flag_scan *fs = &sc->fs;
    struct crowds *cr = &sc->cr;
    struct reason_acc acc[ROUTE_MAX_REASONS];
    size_t nacc = 0;
    cr->done = false;
    for (uint32_t i = 0; i < rt->nflags; i++) {
        const struct rt_flag *fl = &rt->flags[i];
        uint16_t need = (uint16_t)((1u << fl->ngroups) - 1);
        if ((fs->mask[i] & need) != need) {
            continue;
        }
        struct firing fi;
        memset(&fi, 0, sizeof(fi));
        bool fired = fl->near_chars
                         ? fire_near(fl, i, fs, f, flen, cr, &fi)
                         : fire_anywhere(fl, i, fs, f, flen, cr, &fi);
        if (!fired) {
            continue;
        }
        if (fl->level > out->level) {
            out->level = fl->level;
        }
        struct reason_acc *ra = NULL;
        for (size_t k = 0; k < nacc && !ra; k++) {
            if (acc[k].label == fl->reason) {
                ra = &acc[k];
            }
        }
        if (!ra) {
            if (nacc == ROUTE_MAX_REASONS) {
                out->dropped++;
                continue;
            }
            ra = &acc[nacc++];
            memset(ra, 0, sizeof(*ra));
            ra->label = fl->reason;
        }
        acc_word(rt, ra, fi.w[0]);
        acc_word(rt, ra, fi.w[1]);
        if (fi.crowd && (!ra->crowd || fi.crowd->lo > ra->crowd->lo)) {
            ra->crowd = fi.crowd;
            ra->crowd_field = fi.crowd_field;
        }
    }
    /* The reason names the evidence: words hit and the crowd size. */
    for (size_t k = 0; k < nacc; k++) {
        const struct reason_acc *ra = &acc[k];
        struct ig_buf b;
        ig_buf_init(&b, 0);
        ig_buf_adds(&b, ra->label);
        const char *sep = "（";
        for (size_t w = 0; w < ra->nwords; w++) {
            ig_buf_addf(&b, "%s%s", sep, ra->words[w]);
            sep = "、";
        }
        if (ra->crowd) {
            ig_buf_addf(&b, "%s人数：%.*s，按%ld人计", sep,
                        (int)(ra->crowd->end - ra->crowd->start),
                        f[ra->crowd_field] + ra->crowd->start, ra->crowd->lo);
            sep = "、";
        }
        if (strcmp(sep, "、") == 0) {
            ig_buf_adds(&b, "）");
        }
        add_reason(out, ig_arena_strndup(a, b.data, b.len));
        ig_buf_fini(&b);
    }
}

/* ---- track ------------------------------------------------------------ */

const char *route_track_name(enum route_track t)
{
    switch (t) {
    case ROUTE_TRACK_GENERAL:
        return "一般整治";
    case ROUTE_TRACK_RAISED:
        return "提级整治";
    case ROUTE_TRACK_DIVERTED:
        return "分流治理";
    case ROUTE_TRACK_LISTED:
        return "挂牌治理";
    case ROUTE_TRACK_NONE:
        break;
    }
    return NULL;
}

const char *route_level_name(enum route_level l)
{
    switch (l) {
    case ROUTE_LEVEL_HIGH:
        return "high";
    case ROUTE_LEVEL_ELEVATED:
        return "elevated";
    case ROUTE_LEVEL_NORMAL:
        break;
    }
    return "normal";
}

static enum rt_scope lead_scope(const struct router *rt, const char *dept)
{
    const struct rt_dept *dd = rt ? route_dept_of(rt, dept) : NULL;
    if (dd) {
        return dd->scope;
    }
    /* Without a directory, the seed's two special names. */
    if (strcmp(dept, "属地管理") == 0) {
        return RT_SCOPE_TOWN;
    }
    if (strcmp(dept, "权属单位") == 0) {
        return RT_SCOPE_OWNER;
    }
    return RT_SCOPE_DISTRICT;
}

/* The concatenation of parts[] (NULL-terminated) in the arena: what
 * ig_arena_printf() with only %s conversions would make, without the
 * format machinery (the track reason is written for every routed item). */
static char *arena_cat(struct ig_arena *a, const char *const *parts)
{
    size_t n = 0;
    for (size_t k = 0; parts[k]; k++) {
        n += strlen(parts[k]);
    }
    char *out = ig_arena_alloc(a, n + 1);
    size_t o = 0;
    for (size_t k = 0; parts[k]; k++) {
        size_t l = strlen(parts[k]);
        memcpy(out + o, parts[k], l);
        o += l;
    }
    out[o] = '\0';
    return out;
}

/* The fixed parts of the track reasons: route_suggest_track() and the
 * reasons prepared at load (route_reasons_build()) put them together
 * alike, so both make the same bytes. */
static const char listed_tail[] =
    "：影响重大，需区层面多部门协同，建议报领导小组指定牵头"
    "和配合部门挂牌治理（待确认）";
static const char general_head[] = "牵头为属地（";
static const char general_tail[] = "），可由街镇即发现即消除，建议一般整治";
static const char raised_tail[] =
    "未能清零，建议提请区清零办会同区城运中心研判，按管辖流转至区相关"
    "委办局、行业主管部门提级整治";
static const char owner_reason[] =
    "牵头为权属单位（待确认），建议由区城运中心明确管辖后"
    "分流治理";
static const char diverted_head[] = "属";
static const char diverted_tail[] =
    "职责，建议经区城运中心按管辖流转，分流治理";

/* The reasons of one router string: the unit it names as a lead, or a
 * flag's reason as the first priority reason. */
struct rt_reason {
    const char *key;      /* a unit or a flag reason (router); NULL: empty */
    const char *listed;   /* first_reason + listed_tail */
    const char *general;  /* general_head + lead + general_tail */
    const char *diverted; /* diverted_head + lead + diverted_tail */
};

static void reason_add(struct router *rt, const char *key)
{
    if (!ig_ptrmap_add(&rt->reason_of, key, (uint32_t)rt->nreasons)) {
        return; /* there already */
    }
    struct rt_reason *r = &rt->reasons[rt->nreasons++];
    r->key = key;
    r->listed =
        arena_cat(rt->arena, (const char *const[]){key, listed_tail, NULL});
    r->general =
        arena_cat(rt->arena,
                  (const char *const[]){general_head, key, general_tail, NULL});
    r->diverted =
        arena_cat(rt->arena, (const char *const[]){diverted_head, key,
                                                   diverted_tail, NULL});
}

void route_reasons_build(struct router *rt)
{
    size_t n = rt->ndepts + rt->nflags;
    rt->reasons =
        ig_arena_alloc(rt->arena, (n ? n : 1) * sizeof(*rt->reasons));
    rt->nreasons = 0;
    ig_ptrmap_init(&rt->reason_of, n, rt->arena);
    for (size_t i = 0; i < rt->ndepts; i++) {
        if (rt->depts[i].unit) {
            reason_add(rt, rt->depts[i].unit);
        }
    }
    for (size_t i = 0; i < rt->nflags; i++) {
        if (rt->flags[i].reason) {
            reason_add(rt, rt->flags[i].reason);
        }
    }
}

/* The prepared reasons of key, NULL when it has none (a string of an
 * item's arena, or no table). */
static const struct rt_reason *reason_find(const struct router *rt,
                                           const char *key)
{
    uint32_t i;
    if (!rt || !rt->reasons || !ig_ptrmap_get(&rt->reason_of, key, &i)) {
        return NULL;
    }
    return &rt->reasons[i];
}

/* route_suggest_track(); with prepared, a reason the router has prepared
 * (or a static one) is borrowed instead of put together in a. */
static enum route_track suggest_track(const struct router *rt,
                                      const struct route_track_in *in,
                                      struct ig_arena *a, const char **reason,
                                      bool prepared)
{
    unsigned listed_min = rt ? rt->listed_min_units : 4;
    const char *lead = in->lead_unit ? in->lead_unit : in->lead_dept;
    enum route_track t = ROUTE_TRACK_NONE;
    const char *why = NULL;
    const struct rt_reason *rr = NULL;

    if (in->level == ROUTE_LEVEL_HIGH) {
        /* A red line or several reports: district level whatever the code
         * (many red-line events have no B/S code at all). */
        t = ROUTE_TRACK_LISTED;
        rr = prepared ? reason_find(rt, in->first_reason) : NULL;
        why = rr ? rr->listed
                 : arena_cat(a, (const char *const[]){in->first_reason
                                                          ? in->first_reason
                                                          : "优先事项",
                                                      listed_tail, NULL});
    } else if (!in->classified || !in->lead_dept) {
        t = ROUTE_TRACK_NONE;
    } else if (listed_min && in->ndistrict >= listed_min) {
        t = ROUTE_TRACK_LISTED;
        why = ig_arena_printf(
            a,
            "涉及%zu个区级部门，成因复杂、牵涉面广，建议挂牌治理，由领导"
            "小组指定牵头部门（待确认）",
            in->ndistrict);
    } else if (in->level == ROUTE_LEVEL_ELEVATED) {
        /* The plan's 提级整治: what a 街镇 or 区属企业 cannot clear goes
         * up to the district department with jurisdiction, through
         * 区清零办 and the operations centre. Only a district bureau as
         * the lead is itself where it goes up to. */
        const char *first = in->first_reason ? in->first_reason : "反复反映";
        t = ROUTE_TRACK_RAISED;
        if (lead_scope(rt, in->lead_dept) == RT_SCOPE_DISTRICT) {
            why = arena_cat(
                a, (const char *const[]){first, "：基层未能清零，建议上提至",
                                         lead, "提级整治", NULL});
        } else {
            why = arena_cat(
                a, (const char *const[]){first, "：", lead, raised_tail, NULL});
        }
    } else {
        switch (lead_scope(rt, in->lead_dept)) {
        case RT_SCOPE_TOWN:
        case RT_SCOPE_LOCAL:
            t = ROUTE_TRACK_GENERAL;
            rr = prepared ? reason_find(rt, lead) : NULL;
            why = rr ? rr->general
                     : arena_cat(a, (const char *const[]){general_head, lead,
                                                          general_tail, NULL});
            break;
        case RT_SCOPE_OWNER:
            t = ROUTE_TRACK_DIVERTED;
            why = prepared ? owner_reason : ig_arena_strdup(a, owner_reason);
            break;
        case RT_SCOPE_DISTRICT:
        case RT_SCOPE_ENTERPRISE:
            t = ROUTE_TRACK_DIVERTED;
            rr = prepared ? reason_find(rt, lead) : NULL;
            why = rr ? rr->diverted
                     : arena_cat(a, (const char *const[]){diverted_head, lead,
                                                          diverted_tail, NULL});
            break;
        }
    }
    *reason = why;
    return t;
}

enum route_track route_suggest_track(const struct router *rt,
                                     const struct route_track_in *in,
                                     struct ig_arena *a, const char **reason)
{
    return suggest_track(rt, in, a, reason, false);
}

static void suggest(const struct router *rt, struct ig_arena *a,
                    struct route_result *out)
{
    struct route_track_in in;
    memset(&in, 0, sizeof(in));
    in.classified = out->classified;
    in.level = out->level;
    if (out->nunits && out->units[0].lead) {
        in.lead_dept = out->units[0].dept;
        in.lead_unit = out->units[0].unit;
    }
    in.ndistrict = out->ndistrict;
    in.first_reason = out->nreasons ? out->reasons[0] : NULL;
    out->track = suggest_track(rt, &in, a, &out->track_reason, true);
}

int route_apply(const struct router *rt, const char *title, size_t tlen,
                const char *text, size_t len, const struct taxon *top,
                struct ig_arena *a, struct route_result *out)
{
    return route_apply_scratch(rt, title, tlen, text, len, top, NULL, a, out);
}

int route_apply_scratch(const struct router *rt, const char *title, size_t tlen,
                        const char *text, size_t len, const struct taxon *top,
                        struct route_scratch *s, struct ig_arena *a,
                        struct route_result *out)
{
    if (!rt || !out || !a) {
        return IG_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    const char *f[2] = {title ? title : "", text ? text : ""};
    size_t flen[2] = {title ? tlen : 0, text ? len : 0};
    for (int k = 0; k < 2; k++) {
        /* Beyond the cap nothing is scanned (a place or red line that far
         * into a 1 MiB item is not worth stalling for); cut on a character
         * boundary so no span ends mid-sequence. */
        if (flen[k] > ROUTE_SCAN_MAX) {
            flen[k] = ig_utf8_trim_len(f[k], flen[k], ROUTE_SCAN_MAX);
        }
    }
    /* One pass per field finds the place names and the red-line words. */
    struct place_scan ps;
    ps.rt = rt;
    ps.n = 0;
    struct route_lex_use use[2] = {{&rt->place_lex, on_place, &ps},
                                   {&rt->flag_lex, on_flag_word, NULL}};
    size_t nuse = 1;
    const struct route_lex_filter *filt = rt->place_lex.filt;
    if (rt->nflags) {
        /* About 20 KiB: the caller's scratch, else the arena; not a small
         * thread stack. */
        if (!s) {
            s = ig_arena_alloc(a, sizeof(*s));
        }
        flag_scan_reset(&s->fs, rt->nflags);
        use[1].ctx = &s->fs;
        nuse = 2;
        filt = rt->both;
    }
    for (int k = 0; k < 2; k++) {
        ps.field = k;
        ps.f = f[k];
        if (s) {
            s->fs.field = k;
        }
        route_lex_scan_n(use, nuse, filt, f[k], flen[k]);
    }
    pick_place(rt, &ps, f, a, out);
    out->classified = top != NULL;
    out->top = top;
    if (top) {
        resolve_units(rt, top, a, out);
    }
    if (rt->nflags) {
        check_flags(rt, f, flen, s, a, out);
    }
    suggest(rt, a, out);
    return IG_OK;
}

int route_note_location(const struct router *rt, struct route_result *r,
                        const char *location, size_t len, struct ig_arena *a)
{
    if (!rt || !r || !a) {
        return IG_EINVAL;
    }
    if (!location || len == 0) {
        return 0;
    }
    if (len > ROUTE_SCAN_MAX) {
        len = ig_utf8_trim_len(location, len, ROUTE_SCAN_MAX);
    }
    const char *f[3] = {"", "", location};
    size_t flen[3] = {0, 0, len};
    struct route_result loc;
    memset(&loc, 0, sizeof(loc));
    find_place(rt, f, flen, 3, a, &loc);
    if (!loc.has_place || loc.ntowns == 0) {
        /* Nothing, or only the district: the text knows better. */
        return 0;
    }
    /* The text's place, narrowed to the towns the location agrees with. */
    const char *keep[ROUTE_MAX_TOWNS];
    size_t nkeep = 0;
    for (size_t i = 0; i < r->ntowns; i++) {
        if (has_town(loc.towns, loc.ntowns, r->towns[i])) {
            keep[nkeep++] = r->towns[i];
        }
    }
    if (r->has_place && nkeep) {
        if (nkeep == r->ntowns) {
            return 0;
        }
        memcpy(r->towns, keep, nkeep * sizeof(keep[0]));
        r->ntowns = nkeep;
    } else {
        r->has_place = true;
        r->place = loc.place;
        memcpy(r->towns, loc.towns, loc.ntowns * sizeof(loc.towns[0]));
        r->ntowns = loc.ntowns;
    }
    /* Re-derive what depends on the town. */
    if (r->top) {
        r->nunits = 0;
        r->ndistrict = 0;
        resolve_units(rt, r->top, a, r);
    }
    suggest(rt, a, r);
    return 1;
}

int route_note_reports(const struct router *rt, struct route_result *r,
                       unsigned reports, unsigned channels, struct ig_arena *a)
{
    if (!rt || !r || !a) {
        return 0;
    }
    r->reports = reports;
    r->channels = channels;
    enum route_level want = ROUTE_LEVEL_NORMAL;
    const char *why = NULL;
    if ((rt->multi_reports && reports >= rt->multi_reports) ||
        (rt->multi_channels && channels >= rt->multi_channels)) {
        want = ROUTE_LEVEL_HIGH;
        why = ig_arena_printf(a, "短时间内多人多渠道反映（%u次、%u个渠道）",
                              reports, channels);
    } else if (reports >= 2) {
        want = ROUTE_LEVEL_ELEVATED;
        why = ig_arena_printf(a, "重复反映（%u次）", reports);
    }
    if (want <= r->level) {
        return 0;
    }
    /* The new reason goes first: it is why the level changed. */
    if (r->nreasons == ROUTE_MAX_REASONS) {
        r->nreasons--;
        r->dropped++;
    }
    memmove(&r->reasons[1], &r->reasons[0],
            r->nreasons * sizeof(r->reasons[0]));
    r->reasons[0] = why;
    r->nreasons++;
    bool raised = want == ROUTE_LEVEL_HIGH;
    r->level = want;
    suggest(rt, a, r);
    return raised ? 1 : 0;
}

/* ---- explain ---------------------------------------------------------- */

int route_result_explain(const struct route_result *r, struct ig_buf *out)
{
    static const char *const fields[] = {"title", "text", "location"};
    int rc = IG_OK;
    if (!r) {
        return IG_OK;
    }
    if (r->has_place) {
        int fi = r->place.field >= 0 && r->place.field < 3 ? r->place.field : 1;
        rc |= ig_buf_addf(out, "route: place %s (%s, %s[%zu..%zu] \"%s\")",
                          r->place.name, r->place.kind, fields[fi],
                          r->place.start, r->place.end, r->place.text);
    } else {
        rc |= ig_buf_adds(out, "route: no place named");
    }
    if (r->ntowns == 0) {
        rc |= ig_buf_adds(out, " -> town unknown\n");
    } else {
        rc |= ig_buf_adds(out, " -> ");
        for (size_t i = 0; i < r->ntowns; i++) {
            rc |= ig_buf_addf(out, "%s%s", i ? " or " : "", r->towns[i]);
        }
        rc |= ig_buf_adds(out, r->ntowns > 1 ? " (ambiguous)\n" : "\n");
    }
    for (size_t i = 0; i < r->nunits; i++) {
        const struct route_unit *u = &r->units[i];
        rc |= ig_buf_addf(out, "  unit   %s -> %s%s%s\n", u->dept, u->unit,
                          u->lead ? " (lead)" : "",
                          u->resolved ? "" : " [unresolved]");
    }
    rc |= ig_buf_addf(out, "  priority %s\n", route_level_name(r->level));
    for (size_t i = 0; i < r->nreasons; i++) {
        rc |= ig_buf_addf(out, "    %s\n", r->reasons[i]);
    }
    if (r->track != ROUTE_TRACK_NONE) {
        rc |= ig_buf_addf(out, "  track  %s (suggested): %s\n",
                          route_track_name(r->track), r->track_reason);
    } else {
        rc |= ig_buf_adds(out, "  track  none suggested (human review)\n");
    }
    return rc ? IG_E2BIG : IG_OK;
}

/* ---- JSON ------------------------------------------------------------- */

/* route_result_json() writes every key and value through the writer. For
 * a routed candidate of a rule set (route_result_json_rs()) into a buffer
 * without a cap, the keys and punctuation are literal pieces instead and
 * the strings a result borrows (gazetteer names, towns, departments and
 * units, flag reasons, kind/level/track names) are copied from their
 * quoted, escaped forms, prepared once per router and found by address;
 * only the strings of the result's own arena (the matched text, joined
 * units, track reasons) are escaped per item. Under a cap the writer's
 * own calls keep where an overlong record is cut exactly as it was. */

/* One borrowed string's JSON form: a piece of text. */
struct str_piece {
    uint32_t off, len; /* "..." in route_json.text */
};

struct route_json {
    char *text;               /* owned: every piece */
    struct str_piece *pieces; /* owned */
    struct ig_ptrmap by_addr; /* string address -> index in pieces */
};

static void route_json_free(void *p)
{
    struct route_json *j = p;
    if (j) {
        ig_free(j->text);
        ig_free(j->pieces);
        ig_ptrmap_fini(&j->by_addr);
        ig_free(j);
    }
}

static void str_add(struct route_json *j, struct ig_buf *b, const char *s)
{
    uint32_t i = (uint32_t)j->by_addr.n;
    if (!ig_ptrmap_add(&j->by_addr, s, i)) {
        return; /* NULL, or there already */
    }
    size_t from = b->len;
    ig_json_str(b, s);
    j->pieces[i].off = (uint32_t)from;
    j->pieces[i].len = (uint32_t)(b->len - from);
}

static void *route_json_build(const void *arg)
{
    const struct ruleset *rs = arg;
    const struct router *rt = rs->router;
    size_t n = (size_t)RT_KIND_LANDMARK + 1 + 3 + 5;
    for (size_t i = 0; i < rt->nplaces; i++) {
        n += 1 + rt->places[i].ntowns;
    }
    n += 2 * rt->ndepts + rt->nflags;
    for (size_t i = 0; i < rs->ntaxa; i++) {
        n += rs->taxa[i].ndepts;
    }
    n += 1 + 3 * rt->nreasons;
    struct route_json *j = ig_calloc(1, sizeof(*j));
    j->pieces = ig_calloc(n, sizeof(*j->pieces));
    ig_ptrmap_init(&j->by_addr, n, NULL);
    struct ig_buf b;
    ig_buf_init(&b, 0);
    for (int k = RT_KIND_NONE; k <= RT_KIND_LANDMARK; k++) {
        str_add(j, &b, route_kind_name((enum rt_kind)k));
    }
    str_add(j, &b, route_level_name(ROUTE_LEVEL_NORMAL));
    str_add(j, &b, route_level_name(ROUTE_LEVEL_ELEVATED));
    str_add(j, &b, route_level_name(ROUTE_LEVEL_HIGH));
    for (int t = ROUTE_TRACK_NONE; t <= ROUTE_TRACK_LISTED; t++) {
        str_add(j, &b, route_track_name((enum route_track)t));
    }
    for (size_t i = 0; i < rt->nplaces; i++) {
        str_add(j, &b, rt->places[i].name);
        for (size_t k = 0; k < rt->places[i].ntowns; k++) {
            str_add(j, &b, rt->places[i].towns[k]);
        }
    }
    for (size_t i = 0; i < rt->ndepts; i++) {
        str_add(j, &b, rt->depts[i].name);
        str_add(j, &b, rt->depts[i].unit);
    }
    for (size_t i = 0; i < rt->nflags; i++) {
        str_add(j, &b, rt->flags[i].reason);
    }
    for (size_t i = 0; i < rs->ntaxa; i++) {
        for (size_t k = 0; k < rs->taxa[i].ndepts; k++) {
            str_add(j, &b, rs->taxa[i].depts[k]);
        }
    }
    str_add(j, &b, owner_reason);
    for (size_t i = 0; i < rt->nreasons; i++) {
        const struct rt_reason *rr = &rt->reasons[i];
        str_add(j, &b, rr->listed);
        str_add(j, &b, rr->general);
        str_add(j, &b, rr->diverted);
    }
    j->text = ig_buf_take(&b);
    return j;
}

/* The router's pieces, built by the first caller (several threads may
 * race; one set is kept, freed with the router's arena). The rule set's
 * department names are keyed here too: a rule set and its router are
 * loaded and freed together. */
static const struct route_json *route_json_get(const struct ruleset *rs)
{
    return ig_arena_once(rs->router->arena, &rs->router->json,
                         route_json_build, route_json_free, rs);
}

/* s as a JSON string: its prepared piece when it has one, else escaped. */
static void put_str(struct ig_buf *b, const struct route_json *j, const char *s)
{
    uint32_t i;
    if (ig_ptrmap_get(&j->by_addr, s, &i)) {
        ig_buf_add(b, j->text + j->pieces[i].off, j->pieces[i].len);
        return;
    }
    ig_json_str(b, s);
}

static void result_json_direct(const struct route_json *j,
                               const struct route_result *r, struct ig_jsonw *w)
{
    struct ig_buf *b = w->out;
    /* The writer puts the comma before the first key and notes that the
     * next key needs one; the rest is appended as it is. */
    if (r->has_place) {
        ig_jsonw_raw(
            w, "\"place\":{\"text\":", sizeof("\"place\":{\"text\":") - 1);
        ig_json_str(b, r->place.text);
        IG_JSON_LIT(b, ",\"name\":");
        put_str(b, j, r->place.name);
        IG_JSON_LIT(b, ",\"kind\":");
        put_str(b, j, r->place.kind);
        if (r->place.field == 0) {
            IG_JSON_LIT(b, ",\"field\":\"title\",\"start\":");
        } else if (r->place.field == 2) {
            IG_JSON_LIT(b, ",\"field\":\"location\",\"start\":");
        } else {
            IG_JSON_LIT(b, ",\"field\":\"text\",\"start\":");
        }
        ig_json_int(b, (int64_t)r->place.start);
        IG_JSON_LIT(b, ",\"end\":");
        ig_json_int(b, (int64_t)r->place.end);
        IG_JSON_LIT(b, "},\"town\":[");
    } else {
        ig_jsonw_raw(w, "\"place\":null,\"town\":[",
                     sizeof("\"place\":null,\"town\":[") - 1);
    }
    for (size_t i = 0; i < r->ntowns; i++) {
        if (i) {
            IG_JSON_LIT(b, ",");
        }
        put_str(b, j, r->towns[i]);
    }
    IG_JSON_LIT(b, "],\"units\":[");
    for (size_t i = 0; i < r->nunits; i++) {
        const struct route_unit *u = &r->units[i];
        if (i) {
            IG_JSON_LIT(b, ",{\"dept\":");
        } else {
            IG_JSON_LIT(b, "{\"dept\":");
        }
        put_str(b, j, u->dept);
        IG_JSON_LIT(b, ",\"unit\":");
        put_str(b, j, u->unit);
        if (u->lead) {
            IG_JSON_LIT(b, ",\"role\":\"lead\",\"resolved\":");
        } else {
            IG_JSON_LIT(b, ",\"role\":\"support\",\"resolved\":");
        }
        if (u->resolved) {
            IG_JSON_LIT(b, "true}");
        } else {
            IG_JSON_LIT(b, "false}");
        }
    }
    IG_JSON_LIT(b, "],\"priority\":{\"level\":");
    put_str(b, j, route_level_name(r->level));
    IG_JSON_LIT(b, ",\"reasons\":[");
    for (size_t i = 0; i < r->nreasons; i++) {
        if (i) {
            IG_JSON_LIT(b, ",");
        }
        put_str(b, j, r->reasons[i]);
    }
    IG_JSON_LIT(b, "]");
    if (r->reports) {
        IG_JSON_LIT(b, ",\"reports\":");
        ig_json_int(b, (int64_t)r->reports);
        IG_JSON_LIT(b, ",\"channels\":");
        ig_json_int(b, (int64_t)r->channels);
    }
    if (r->track != ROUTE_TRACK_NONE) {
        IG_JSON_LIT(b, "},\"track\":{\"suggestion\":");
        put_str(b, j, route_track_name(r->track));
        IG_JSON_LIT(b, ",\"reason\":");
        put_str(b, j, r->track_reason);
        IG_JSON_LIT(b, "}");
    } else {
        IG_JSON_LIT(b, "},\"track\":null");
    }
}

void route_result_json_rs(const struct ruleset *rs,
                          const struct route_result *r, struct ig_jsonw *w)
{
    if (r && rs->router && w->out->max_len == 0) {
        result_json_direct(route_json_get(rs), r, w);
    } else {
        route_result_json(r, w);
    }
}

void route_result_json(const struct route_result *r, struct ig_jsonw *w)
{
    ig_jsonw_key(w, "place");
    if (r && r->has_place) {
        ig_jsonw_obj_open(w);
        ig_jsonw_kstr(w, "text", r->place.text);
        ig_jsonw_kstr(w, "name", r->place.name);
        ig_jsonw_kstr(w, "kind", r->place.kind);
        static const char *const fields[] = {"title", "text", "location"};
        int fi = r->place.field >= 0 && r->place.field < 3 ? r->place.field : 1;
        ig_jsonw_kstr(w, "field", fields[fi]);
        ig_jsonw_kint(w, "start", (int64_t)r->place.start);
        ig_jsonw_kint(w, "end", (int64_t)r->place.end);
        ig_jsonw_obj_close(w);
    } else {
        ig_jsonw_null(w);
    }

    ig_jsonw_key(w, "town");
    ig_jsonw_arr_open(w);
    for (size_t i = 0; r && i < r->ntowns; i++) {
        ig_jsonw_str(w, r->towns[i]);
    }
    ig_jsonw_arr_close(w);

    ig_jsonw_key(w, "units");
    ig_jsonw_arr_open(w);
    for (size_t i = 0; r && i < r->nunits; i++) {
        ig_jsonw_obj_open(w);
        ig_jsonw_kstr(w, "dept", r->units[i].dept);
        ig_jsonw_kstr(w, "unit", r->units[i].unit);
        ig_jsonw_kstr(w, "role", r->units[i].lead ? "lead" : "support");
        ig_jsonw_kbool(w, "resolved", r->units[i].resolved);
        ig_jsonw_obj_close(w);
    }
    ig_jsonw_arr_close(w);

    ig_jsonw_key(w, "priority");
    ig_jsonw_obj_open(w);
    ig_jsonw_kstr(w, "level",
                  route_level_name(r ? r->level : ROUTE_LEVEL_NORMAL));
    ig_jsonw_key(w, "reasons");
    ig_jsonw_arr_open(w);
    for (size_t i = 0; r && i < r->nreasons; i++) {
        ig_jsonw_str(w, r->reasons[i]);
    }
    ig_jsonw_arr_close(w);
    if (r && r->reports) {
        ig_jsonw_kint(w, "reports", r->reports);
        ig_jsonw_kint(w, "channels", r->channels);
    }
    ig_jsonw_obj_close(w);

    ig_jsonw_key(w, "track");
    if (r && r->track != ROUTE_TRACK_NONE) {
        ig_jsonw_obj_open(w);
        ig_jsonw_kstr(w, "suggestion", route_track_name(r->track));
        ig_jsonw_kstr(w, "reason", r->track_reason);
        ig_jsonw_obj_close(w);
    } else {
        ig_jsonw_null(w);
    }
}
