/* route_load.c — rules/places.tsv, departments.tsv, priority.conf -> router.
 *
 * Three small data files, read whole (capped at ROUTE_FILE_MAX), parsed
 * line by line into the router's arena. Every problem is reported as
 * file:line:col and loading goes on to find the rest; only a clean load
 * returns a router. Cross-checks run at the end: every town a place names
 * exists in the gazetteer, every town/street has a government in the
 * directory, and every department used by rules/taxonomy.tsv (when
 * present; the engine owns that file) resolves, so directory resolution
 * covers all 144 codes by construction. The formats are documented in
 * docs/routing.md.
 */
#include "classifiers/route.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifiers/classifier.h"
#include "classifiers/classifier_int.h"
#include "classifiers/route_int.h"
#include "core/arena.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/text.h"

#define ROUTE_FILE_MAX (4u * 1024u * 1024u)
#define ROUTE_MAX_FIELDS 8

struct load_state;

struct loader {
    struct load_state *st; /* tables being built */
    struct router *rt;
    struct ig_diags *d;
    const char *file; /* current file path, for diagnostics */
    int line;
    size_t errors;
};

static void err_at(struct loader *ld, int col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void err_at(struct loader *ld, int col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ig_diags_add(ld->d, IG_DIAG_ERROR, ld->file, ld->line, col, "%s", msg);
    ld->errors++;
}

/* Column (1-based, in characters) of p within line. */
static int col_of(const char *line, const char *p)
{
    return (int)ig_utf8_count(line, (size_t)(p - line)) + 1;
}

static void trim(char **s)
{
    char *p = *s;
    while (*p == ' ') {
        p++;
    }
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
        p[--n] = '\0';
    }
    *s = p;
}

/* rule_lines_next() over buf, a NUL-terminated copy of a file walked up
 * to its first NUL (set it->len to strlen(buf)): the line is cut in
 * place into a C string, or NULL at the end. */
static char *next_line(struct rule_lines *it, char *buf)
{
    const char *s;
    size_t n;
    if (!rule_lines_next(it, &s, &n)) {
        return NULL;
    }
    char *line = buf + (s - buf);
    line[n] = '\0';
    return line;
}

/* Opens dir/name and hands each meaningful line (not blank, not # comment)
 * to fn. A missing file is one error. */
typedef void (*line_fn)(struct loader *ld, char *line);

static int each_line(struct loader *ld, const char *dir, const char *name,
                     line_fn fn)
{
    char *path = ig_asprintf("%s/%s", dir, name);
    char *buf = NULL;
    size_t len = 0;
    ld->file = ig_arena_strdup(ld->rt->arena, path);
    ld->line = 0;
    int rc = ig_read_file(path, ROUTE_FILE_MAX, &buf, &len);
    if (rc < 0) {
        err_at(ld, 0, "cannot read: %s",
               rc == IG_E2BIG ? "file too large" : strerror(errno));
        goto out;
    }
    struct rule_lines it = {.text = buf, .len = strlen(buf)};
    char *line;
    while ((line = next_line(&it, buf)) != NULL) {
        ld->line = it.lineno;
        if (!ig_utf8_valid(line, strlen(line))) {
            err_at(ld, 0, "line is not valid UTF-8");
            continue;
        }
        char *p = line;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p == '\0' || *p == '#') {
            continue;
        }
        fn(ld, line);
    }
out:
    ig_free(buf);
    ig_free(path);
    return rc;
}

/* Splits a line at tabs into at most max fields. */
static size_t split_tabs(char *line, char **f, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        f[n++] = p;
        char *t = strchr(p, '\t');
        if (!t) {
            break;
        }
        *t = '\0';
        p = t + 1;
    }
    for (size_t i = 0; i < n; i++) {
        trim(&f[i]);
    }
    return n;
}

/* ---- places.tsv ------------------------------------------------------- */

static const struct {
    const char *name;
    enum rt_kind kind;
} kinds[] = {
    {"none", RT_KIND_NONE},       {"district", RT_KIND_DISTRICT},
    {"street", RT_KIND_STREET},   {"town", RT_KIND_TOWN},
    {"park", RT_KIND_PARK},       {"area", RT_KIND_AREA},
    {"road", RT_KIND_ROAD},       {"compound", RT_KIND_COMPOUND},
    {"village", RT_KIND_VILLAGE}, {"landmark", RT_KIND_LANDMARK},
};

const char *route_kind_name(enum rt_kind k)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (kinds[i].kind == k) {
            return kinds[i].name;
        }
    }
    return "none";
}

static bool is_unit_kind(enum rt_kind k)
{
    return k == RT_KIND_STREET || k == RT_KIND_TOWN || k == RT_KIND_PARK;
}

/* Growable arrays while loading (heap; copied into the arena at the end).
 */
struct place_tmp {
    struct rt_place p;
    char *towns_raw; /* arena copy of the towns column, checked later */
    int towns_col;
};

struct names_tmp {
    const char *name; /* arena */
    size_t place;
    int line, col;
};

struct load_state {
    struct place_tmp *pl;
    size_t npl, cappl;
    struct names_tmp *nm; /* every name and alias, for duplicates */
    size_t nnm, capnm;
    struct rt_dept *dp;
    size_t ndp, capdp;
    struct rt_flag *fl;
    size_t nfl, capfl;
    const char **words;
    size_t nwords, capwords;
    struct route_lex_builder place_b, flag_b;
    struct rt_flag *cur_flag; /* flag block being read */
};

static struct load_state *ST(struct loader *ld)
{
    return ld->st;
}

#define GROW(arr, n, cap)                                                      \
    do {                                                                       \
        if ((n) == (cap)) {                                                    \
            (cap) = (cap) ? (cap)*2 : 32;                                      \
            (arr) = ig_realloc((arr), (cap) * sizeof(*(arr)));                 \
        }                                                                      \
    } while (0)

static void add_name(struct loader *ld, const char *name, size_t place, int col)
{
    struct load_state *st = ST(ld);
    /* ~alias: a name-like alias, see RT_PLACE_WEAK. */
    uint32_t weak = 0;
    if (name[0] == '~') {
        weak = RT_PLACE_WEAK;
        name++;
        if (!*name) {
            err_at(ld, col, "'~' needs an alias after it");
            return;
        }
    }
    for (size_t i = 0; i < st->nnm; i++) {
        if (strcmp(st->nm[i].name, name) == 0) {
            err_at(ld, col,
                   "'%s' is already defined at line %d; a place that lies "
                   "in two towns is one row listing both towns",
                   name, st->nm[i].line);
            return;
        }
    }
    GROW(st->nm, st->nnm, st->capnm);
    st->nm[st->nnm].name = ig_arena_strdup(ld->rt->arena, name);
    st->nm[st->nnm].place = place;
    st->nm[st->nnm].line = ld->line;
    st->nm[st->nnm].col = col;
    st->nnm++;
    route_lexb_add(&st->place_b, ld->rt->arena, name, strlen(name),
                   (uint32_t)place | weak);
}

static void place_line(struct loader *ld, char *line)
{
    struct load_state *st = ST(ld);
    char *f[ROUTE_MAX_FIELDS];
    size_t nf = split_tabs(line, f, ROUTE_MAX_FIELDS);
    if (nf < 3) {
        err_at(ld, 0,
               "expected name<TAB>kind<TAB>towns[<TAB>aliases[<TAB>note]]");
        return;
    }
    if (!*f[0]) {
        err_at(ld, 1, "empty place name");
        return;
    }
    enum rt_kind kind = RT_KIND_NONE;
    bool found = false;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(kinds[i].name, f[1]) == 0) {
            kind = kinds[i].kind;
            found = true;
        }
    }
    if (!found) {
        err_at(ld, col_of(line, f[1]),
               "unknown kind '%s' (street town park area road compound "
               "village landmark district none)",
               f[1]);
        return;
    }
    GROW(st->pl, st->npl, st->cappl);
    struct place_tmp *t = &st->pl[st->npl];
    memset(t, 0, sizeof(*t));
    t->p.name = ig_arena_strdup(ld->rt->arena, f[0]);
    t->p.kind = kind;
    t->p.line = ld->line;
    t->towns_raw = ig_arena_strdup(ld->rt->arena, f[2]);
    t->towns_col = col_of(line, f[2]);
    size_t idx = st->npl++;
    add_name(ld, f[0], idx, 1);
    if (nf >= 4 && *f[3] && strcmp(f[3], "-") != 0) {
        char *save = NULL;
        int col = col_of(line, f[3]);
        for (char *a = strtok_r(f[3], "|", &save); a;
             a = strtok_r(NULL, "|", &save)) {
            trim(&a);
            if (*a) {
                add_name(ld, a, idx, col);
            }
        }
    }
}

/* Resolves each place's towns column once all rows are known. */
static void place_finish(struct loader *ld)
{
    struct load_state *st = ST(ld);
    for (size_t i = 0; i < st->npl; i++) {
        struct place_tmp *t = &st->pl[i];
        ld->line = t->p.line;
        const char *raw = t->towns_raw;
        if (is_unit_kind(t->p.kind)) {
            if (strcmp(raw, "-") != 0 && strcmp(raw, t->p.name) != 0) {
                err_at(ld, t->towns_col,
                       "a %s is its own unit: write '-' in the towns column",
                       route_kind_name(t->p.kind));
            }
            const char **v = ig_arena_alloc(ld->rt->arena, sizeof(*v));
            v[0] = t->p.name;
            t->p.towns = v;
            t->p.ntowns = 1;
            continue;
        }
        if (strcmp(raw, "-") == 0) {
            if (t->p.kind != RT_KIND_NONE && t->p.kind != RT_KIND_DISTRICT) {
                err_at(ld, t->towns_col,
                       "a %s needs the town(s) or street(s) it lies in",
                       route_kind_name(t->p.kind));
            }
            continue;
        }
        if (t->p.kind == RT_KIND_NONE || t->p.kind == RT_KIND_DISTRICT) {
            err_at(ld, t->towns_col, "a %s names no town: write '-'",
                   route_kind_name(t->p.kind));
            continue;
        }
        const char *v[ROUTE_MAX_TOWNS * 4];
        size_t nv = 0;
        char *copy = ig_strdup(raw);
        char *save = NULL;
        for (char *a = strtok_r(copy, "|", &save); a;
             a = strtok_r(NULL, "|", &save)) {
            trim(&a);
            const char *hit = NULL;
            for (size_t k = 0; k < st->npl; k++) {
                if (is_unit_kind(st->pl[k].p.kind) &&
                    strcmp(st->pl[k].p.name, a) == 0) {
                    hit = st->pl[k].p.name;
                }
            }
            if (!hit) {
                err_at(ld, t->towns_col,
                       "'%s' is not a town, street or park of the "
                       "gazetteer (use the full name, e.g. 徐泾镇)",
                       a);
            } else if (nv < sizeof(v) / sizeof(v[0])) {
                v[nv++] = hit;
            }
        }
        ig_free(copy);
        if (nv > ROUTE_MAX_TOWNS) {
            err_at(ld, t->towns_col, "at most %d towns per place",
                   ROUTE_MAX_TOWNS);
            nv = ROUTE_MAX_TOWNS;
        }
        const char **tv =
            ig_arena_alloc(ld->rt->arena, (nv ? nv : 1) * sizeof(*tv));
        memcpy(tv, v, nv * sizeof(*tv));
        t->p.towns = tv;
        t->p.ntowns = nv;
    }
}

/* ---- departments.tsv -------------------------------------------------- */

static void dept_line(struct loader *ld, char *line)
{
    struct load_state *st = ST(ld);
    char *f[ROUTE_MAX_FIELDS];
    size_t nf = split_tabs(line, f, ROUTE_MAX_FIELDS);
    if (nf < 3) {
        err_at(ld, 0, "expected name<TAB>unit<TAB>scope[<TAB>note]");
        return;
    }
    static const struct {
        const char *name;
        enum rt_scope scope;
    } scopes[] = {{"district", RT_SCOPE_DISTRICT},
                  {"enterprise", RT_SCOPE_ENTERPRISE},
                  {"town", RT_SCOPE_TOWN},
                  {"owner", RT_SCOPE_OWNER},
                  {"local", RT_SCOPE_LOCAL}};
    int scope = -1;
    for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
        if (strcmp(scopes[i].name, f[2]) == 0) {
            scope = (int)scopes[i].scope;
        }
    }
    if (scope < 0) {
        err_at(ld, col_of(line, f[2]),
               "unknown scope '%s' (district enterprise town owner local)",
               f[2]);
        return;
    }
    if (!*f[0] || !*f[1]) {
        err_at(ld, *f[0] ? col_of(line, f[1]) : 1, "empty name or unit");
        return;
    }
    for (size_t i = 0; i < st->ndp; i++) {
        if (strcmp(st->dp[i].name, f[0]) == 0) {
            err_at(ld, 1, "'%s' is already defined at line %d", f[0],
                   st->dp[i].line);
            return;
        }
    }
    GROW(st->dp, st->ndp, st->capdp);
    struct rt_dept *dd = &st->dp[st->ndp++];
    dd->name = ig_arena_strdup(ld->rt->arena, f[0]);
    dd->unit = ig_arena_strdup(ld->rt->arena, f[1]);
    dd->scope = (enum rt_scope)scope;
    dd->line = ld->line;
}

static const struct rt_dept *find_dept(const struct rt_dept *v, size_t n,
                                       const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].name, name) == 0) {
            return &v[i];
        }
    }
    return NULL;
}

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 16777619u;
    }
    return h;
}

/* The directory's hash index: a name's first row (as find_dept() would
 * find it), so a routed item pays one hash and one compare per name, not
 * a walk of the directory. */
static void index_depts(struct router *rt)
{
    size_t size = 16;
    while (size < 2 * rt->ndepts) {
        size *= 2;
    }
    rt->dept_slot = ig_arena_alloc(rt->arena, size * sizeof(*rt->dept_slot));
    memset(rt->dept_slot, 0xff, size * sizeof(*rt->dept_slot));
    rt->dept_mask = size - 1;
    for (size_t i = 0; i < rt->ndepts; i++) {
        size_t h = name_hash(rt->depts[i].name) & rt->dept_mask;
        bool dup = false;
        while (rt->dept_slot[h] != UINT32_MAX && !dup) {
            const char *have = rt->depts[rt->dept_slot[h]].name;
            dup = strcmp(have, rt->depts[i].name) == 0;
            h = (h + 1) & rt->dept_mask;
        }
        if (!dup) {
            rt->dept_slot[h] = (uint32_t)i;
        }
    }
}

const struct rt_dept *route_dept_find(const struct router *rt, const char *name)
{
    if (!rt->dept_slot) {
        return find_dept(rt->depts, rt->ndepts, name);
    }
    size_t h = name_hash(name) & rt->dept_mask;
    while (rt->dept_slot[h] != UINT32_MAX) {
        const struct rt_dept *d = &rt->depts[rt->dept_slot[h]];
        if (strcmp(d->name, name) == 0) {
            return d;
        }
        h = (h + 1) & rt->dept_mask;
    }
    return NULL;
}

static void dept_ref_add(struct router *rt, const char *name)
{
    const struct rt_dept *d = route_dept_find(rt, name);
    (void)ig_ptrmap_add(&rt->dept_of, name,
                        d ? (uint32_t)(d - rt->depts) : RT_NO_DEPT);
}

void route_bind_taxa(struct router *rt, const struct taxon *taxa, size_t ntaxa)
{
    size_t n = 0;
    for (size_t i = 0; i < rt->nplaces; i++) {
        n += rt->places[i].ntowns;
    }
    for (size_t i = 0; i < ntaxa; i++) {
        n += taxa[i].ndepts;
    }
    ig_ptrmap_init(&rt->dept_of, n, rt->arena);
    for (size_t i = 0; i < rt->nplaces; i++) {
        for (size_t k = 0; k < rt->places[i].ntowns; k++) {
            dept_ref_add(rt, rt->places[i].towns[k]);
        }
    }
    for (size_t i = 0; i < ntaxa; i++) {
        for (size_t k = 0; k < taxa[i].ndepts; k++) {
            dept_ref_add(rt, taxa[i].depts[k]);
        }
    }
}

const struct rt_dept *route_dept_of(const struct router *rt, const char *name)
{
    uint32_t i;
    if (ig_ptrmap_get(&rt->dept_of, name, &i)) {
        return i == RT_NO_DEPT ? NULL : &rt->depts[i];
    }
    return route_dept_find(rt, name);
}

/* ---- priority.conf ---------------------------------------------------- */

static bool parse_uint(const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static void add_words(struct loader *ld, char *val, int col, unsigned group)
{
    struct load_state *st = ST(ld);
    size_t flag = st->nfl - 1;
    size_t before = st->nwords;
    char *save = NULL;
    for (char *w = strtok_r(val, " \t", &save); w;
         w = strtok_r(NULL, " \t", &save)) {
        GROW(st->words, st->nwords, st->capwords);
        st->words[st->nwords] = ig_arena_strdup(ld->rt->arena, w);
        route_lexb_add(&st->flag_b, ld->rt->arena, w, strlen(w),
                       RT_FLAG_ID(st->nwords, flag, group));
        st->nwords++;
    }
    if (st->nwords == before) {
        err_at(ld, col, "no words on this line");
    }
}

static void prio_line(struct loader *ld, char *line)
{
    struct load_state *st = ST(ld);
    char *p = line;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    char *colon = strchr(p, ':');
    if (!colon) {
        const char *fw = strstr(p, "：");
        err_at(ld, col_of(line, p), "expected 'key: value'%s",
               fw ? " (the colon after the key is ASCII ':', not '：')" : "");
        return;
    }
    *colon = '\0';
    char *key = p;
    char *val = colon + 1;
    trim(&key);
    trim(&val);
    int vcol = col_of(line, val);
    struct rt_flag *fl = st->cur_flag;

    if (strcmp(key, "set") == 0) {
        char *save = NULL;
        char *name = strtok_r(val, " \t", &save);
        char *num = name ? strtok_r(NULL, " \t", &save) : NULL;
        long v = 0;
        if (!num || !parse_uint(num, 1000000, &v)) {
            err_at(ld, vcol, "expected 'set: NAME NUMBER'");
            return;
        }
        if (strcmp(name, "multi-report-reports") == 0) {
            ld->rt->multi_reports = (unsigned)v;
        } else if (strcmp(name, "multi-report-channels") == 0) {
            ld->rt->multi_channels = (unsigned)v;
        } else if (strcmp(name, "listed-min-units") == 0) {
            ld->rt->listed_min_units = (unsigned)v;
        } else {
            err_at(ld, vcol,
                   "unknown setting '%s' (multi-report-reports "
                   "multi-report-channels listed-min-units)",
                   name);
        }
        return;
    }
    if (strcmp(key, "flag") == 0) {
        if (st->nfl >= RT_MAX_FLAGS) {
            err_at(ld, vcol, "too many flags (at most %d)", RT_MAX_FLAGS);
            st->cur_flag = NULL;
            return;
        }
        if (!*val || strchr(val, ' ')) {
            err_at(ld, vcol, "a flag id is one word");
        }
        GROW(st->fl, st->nfl, st->capfl);
        fl = &st->fl[st->nfl++];
        memset(fl, 0, sizeof(*fl));
        fl->id = ig_arena_strdup(ld->rt->arena, val);
        fl->level = ROUTE_LEVEL_HIGH;
        fl->line = ld->line;
        st->cur_flag = fl;
        return;
    }
    if (!fl) {
        err_at(ld, col_of(line, key),
               "'%s:' outside a flag block (start one with 'flag: ID')", key);
        return;
    }
    if (strcmp(key, "level") == 0) {
        if (strcmp(val, "high") == 0) {
            fl->level = ROUTE_LEVEL_HIGH;
        } else if (strcmp(val, "elevated") == 0) {
            fl->level = ROUTE_LEVEL_ELEVATED;
        } else {
            err_at(ld, vcol, "level is 'high' or 'elevated'");
        }
    } else if (strcmp(key, "reason") == 0) {
        fl->reason = ig_arena_strdup(ld->rt->arena, val);
    } else if (strcmp(key, "any") == 0) {
        if (fl->ngroups >= RT_FLAG_MAX_GROUPS) {
            err_at(ld, vcol, "at most %d any: lines per flag",
                   RT_FLAG_MAX_GROUPS);
            return;
        }
        add_words(ld, val, vcol, fl->ngroups++);
    } else if (strcmp(key, "not") == 0) {
        fl->has_not = true;
        add_words(ld, val, vcol, RT_FLAG_NOT_GROUP);
    } else if (strcmp(key, "near") == 0) {
        long v = 0;
        if (!parse_uint(val, 10000, &v) || v == 0) {
            err_at(ld, vcol, "near: takes a positive number of characters");
        }
        fl->near_chars = (unsigned)v;
    } else if (strcmp(key, "crowd") == 0) {
        if (!parse_uint(val, 100000000, &fl->crowd_min) || fl->crowd_min == 0) {
            err_at(ld, vcol, "crowd: takes a positive number of people");
        }
    } else {
        err_at(ld, col_of(line, key),
               "unknown key '%s' (set flag level reason any not crowd "
               "near)",
               key);
    }
}

static void prio_finish(struct loader *ld)
{
    struct load_state *st = ST(ld);
    for (size_t i = 0; i < st->nfl; i++) {
        ld->line = st->fl[i].line;
        if (!st->fl[i].reason) {
            err_at(ld, 0, "flag '%s' has no reason: line", st->fl[i].id);
        }
        if (st->fl[i].near_chars && st->fl[i].ngroups == 0) {
            err_at(ld, 0,
                   "flag '%s': near: needs an any: line to measure "
                   "from",
                   st->fl[i].id);
        }
        if (st->fl[i].ngroups == 0 && st->fl[i].crowd_min == 0) {
            err_at(ld, 0, "flag '%s' needs an any: or crowd: line",
                   st->fl[i].id);
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(st->fl[k].id, st->fl[i].id) == 0) {
                err_at(ld, 0, "flag '%s' is already defined at line %d",
                       st->fl[i].id, st->fl[k].line);
            }
        }
        /* Flags of one red line (work-safety, work-safety-named) share
         * one reason string, so route_apply() sees by its address that
         * their firings are one reason (route.c, check_flags()). */
        for (size_t k = 0; k < i && st->fl[i].reason; k++) {
            if (st->fl[k].reason &&
                strcmp(st->fl[k].reason, st->fl[i].reason) == 0) {
                st->fl[i].reason = st->fl[k].reason;
                break;
            }
        }
    }
}

/* ---- cross-checks ----------------------------------------------------- */

static void check_units(struct loader *ld, const char *dir)
{
    struct load_state *st = ST(ld);
    ld->file = ig_arena_printf(ld->rt->arena, "%s/departments.tsv", dir);
    for (size_t i = 0; i < st->npl; i++) {
        if (!is_unit_kind(st->pl[i].p.kind)) {
            continue;
        }
        const struct rt_dept *dd = find_dept(st->dp, st->ndp, st->pl[i].p.name);
        if (!dd || dd->scope != RT_SCOPE_LOCAL) {
            ld->line = 0;
            err_at(ld, 0,
                   "no 'local' row for %s (places.tsv line %d): its "
                   "government receives 属地管理 tasks",
                   st->pl[i].p.name, st->pl[i].p.line);
        }
    }
    size_t ntown = 0;
    for (size_t i = 0; i < st->ndp; i++) {
        ntown += st->dp[i].scope == RT_SCOPE_TOWN;
    }
    if (ntown == 0) {
        ld->line = 0;
        err_at(ld, 0, "no row with scope 'town' (属地管理)");
    }
}

/* Every department of rules/taxonomy.tsv must resolve. */
static void check_taxonomy(struct loader *ld, const char *dir)
{
    struct load_state *st = ST(ld);
    char *path = ig_asprintf("%s/taxonomy.tsv", dir);
    char *buf = NULL;
    size_t len = 0;
    if (ig_read_file(path, ROUTE_FILE_MAX, &buf, &len) < 0) {
        /* The engine reports a missing taxonomy. */
        goto out;
    }
    ld->file = ig_arena_strdup(ld->rt->arena, path);
    ld->line = 0;
    struct rule_lines it = {.text = buf, .len = strlen(buf)};
    char *line;
    while ((line = next_line(&it, buf)) != NULL) {
        ld->line = it.lineno;
        if (*line == '#' || *line == '\0') {
            continue;
        }
        char *f[ROUTE_MAX_FIELDS];
        size_t nf = split_tabs(line, f, ROUTE_MAX_FIELDS);
        if (nf < 5) {
            continue;
        }
        char *save = NULL;
        for (char *dn = strtok_r(f[4], "|", &save); dn;
             dn = strtok_r(NULL, "|", &save)) {
            trim(&dn);
            const struct rt_dept *dd = find_dept(st->dp, st->ndp, dn);
            if (!dd || dd->scope == RT_SCOPE_LOCAL) {
                err_at(ld, col_of(line, dn),
                       "department '%s' of %s has no row in "
                       "departments.tsv",
                       dn, f[0]);
            }
        }
    }
out:
    ig_free(buf);
    ig_free(path);
}

void route_free(struct router *rt)
{
    if (!rt) {
        return;
    }
    ig_arena_free(rt->arena);
    ig_free(rt);
}

int route_load(const char *dir, struct router **out, struct ig_diags *d)
{
    int rc = IG_OK;
    *out = NULL;
    struct router *rt = ig_calloc(1, sizeof(*rt));
    rt->arena = ig_arena_new(64 * 1024);
    rt->multi_reports = 3;
    rt->multi_channels = 2;
    rt->listed_min_units = 4;
    struct load_state st;
    memset(&st, 0, sizeof(st));
    struct loader ld = {&st, rt, d, NULL, 0, 0};
    bool io = false;

    io |= each_line(&ld, dir, "places.tsv", place_line) < 0;
    place_finish(&ld);
    io |= each_line(&ld, dir, "departments.tsv", dept_line) < 0;
    io |= each_line(&ld, dir, "priority.conf", prio_line) < 0;
    prio_finish(&ld);
    if (!io) {
        check_units(&ld, dir);
        check_taxonomy(&ld, dir);
    }
    if (ld.errors) {
        rc = io ? IG_EIO : IG_EPARSE;
        goto out;
    }

    /* Seal: copy the tables into the arena, build the lexicons. */
    rt->nplaces = st.npl;
    rt->places =
        ig_arena_alloc(rt->arena, (st.npl ? st.npl : 1) * sizeof(*rt->places));
    for (size_t i = 0; i < st.npl; i++) {
        rt->places[i] = st.pl[i].p;
    }
    rt->ndepts = st.ndp;
    rt->depts =
        ig_arena_alloc(rt->arena, (st.ndp ? st.ndp : 1) * sizeof(*rt->depts));
    if (st.ndp) {
        memcpy(rt->depts, st.dp, st.ndp * sizeof(*rt->depts));
    }
    index_depts(rt);
    rt->nflags = st.nfl;
    rt->flags =
        ig_arena_alloc(rt->arena, (st.nfl ? st.nfl : 1) * sizeof(*rt->flags));
    if (st.nfl) {
        memcpy(rt->flags, st.fl, st.nfl * sizeof(*rt->flags));
    }
    rt->flag_words = ig_arena_alloc(rt->arena, (st.nwords ? st.nwords : 1) *
                                                   sizeof(*rt->flag_words));
    if (st.nwords) {
        memcpy(rt->flag_words, st.words, st.nwords * sizeof(*rt->flag_words));
    }
    route_lexb_seal(&st.place_b, rt->arena, &rt->place_lex);
    route_lexb_seal(&st.flag_b, rt->arena, &rt->flag_lex);
    rt->both = route_lex_filter_or(&rt->place_lex, &rt->flag_lex, rt->arena);
    route_reasons_build(rt);
    *out = rt;
    rt = NULL;
out:
    route_lexb_fini(&st.place_b);
    route_lexb_fini(&st.flag_b);
    ig_free(st.pl);
    ig_free(st.nm);
    ig_free(st.dp);
    ig_free(st.fl);
    ig_free(st.words);
    route_free(rt);
    return rc;
}
