/* route.h — routing: where it happens, who acts, how urgent, which track.
 *
 * A classified candidate (a B/S code from ruleset_classify()) still has to
 * reach the people who act on it. The router adds four things, all driven
 * by data files in the rules directory, editable without a rebuild:
 *
 *   place/town  gazetteer (rules/places.tsv): the best place named in the
 *               title or text and the town/street it belongs to; a place
 *               spanning two towns gives both, never a guess;
 *   units       department directory (rules/departments.tsv): the seed's
 *               generic departments (绿化市容部门, 属地管理, 权属单位 ...)
 *               resolved to the district's receiving units, lead first;
 *   priority    red-line flags (rules/priority.conf): politically sensitive
 *               incidents, terror attacks, mass incidents of 50 people or
 *               more (crowd sizes in digits and Chinese numerals), extreme
 *               individual violence, major work-safety / road-traffic /
 *               fire accidents; plus the multi-report hook;
 *   track       the seed's treatment track (一般整治 / 提级整治 / 分流治理 /
 *               挂牌治理) suggested with a reason: a suggestion for the
 *               review desk, never a decision.
 *
 * A router is loaded once per rules directory (ruleset_load() calls
 * route_load() for the same dir), immutable afterwards and shared
 * read-only: route_apply() may run on any thread at the same time.
 * Matching is done on the raw UTF-8 bytes, so spans are byte offsets into
 * the caller's original title/text.
 */
#ifndef IG_CLASSIFIERS_ROUTE_H
#define IG_CLASSIFIERS_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

struct ig_arena;
struct ig_buf;
struct ig_diags;
struct ig_jsonw;
struct taxon;
struct router;

/* Caps on one result: extra units and reasons are dropped and counted in
 * route_result.dropped (never silently); a place names at most
 * ROUTE_MAX_TOWNS towns (places.tsv is checked for it at load). */
#define ROUTE_MAX_TOWNS 8
#define ROUTE_MAX_UNITS 12
#define ROUTE_MAX_REASONS 8

enum route_level {
    ROUTE_LEVEL_NORMAL = 0,   /* no flag */
    ROUTE_LEVEL_ELEVATED = 1, /* repeated / unresolved complaints */
    ROUTE_LEVEL_HIGH = 2,     /* red line or several reports: top of queue */
};

enum route_track {
    ROUTE_TRACK_NONE = 0, /* no suggestion (unclassified, nothing flagged) */
    ROUTE_TRACK_GENERAL,  /* 一般整治: the town/street or owner clears it */
    ROUTE_TRACK_RAISED, /* 提级整治: beyond the town, up to the district */
    ROUTE_TRACK_DIVERTED, /* 分流治理: routed to the competent department */
    ROUTE_TRACK_LISTED, /* 挂牌治理: district-level, several departments */
};

/* The place a candidate names. Strings are borrowed from the router
 * (name, kind) or the result's arena (text). */
struct route_place {
    const char *text;  /* the matched original text */
    const char *name;  /* canonical gazetteer name (alias resolved) */
    const char *kind;  /* "street", "town", "park", "road", "compound",
                        * "village", "landmark" */
    int field;         /* 0 = title, 1 = text, 2 = location */
    size_t start, end; /* byte offsets into that field */
};

/* One responsible party: the seed's generic name and the receiving unit. */
struct route_unit {
    const char *dept; /* seed name, e.g. "绿化市容部门" (router/taxon) */
    const char *unit; /* e.g. "区绿化市容局", "朱家角镇人民政府",
                       * "权属单位（待确认）" (router or arena) */
    bool lead;        /* first responsible party of the code */
    bool resolved;    /* false: town unknown/ambiguous, owner unknown */
};

struct route_result {
    bool has_place;
    struct route_place place;
    const char *towns[ROUTE_MAX_TOWNS]; /* 0: none, 1: known, 2+: ambiguous */
    size_t ntowns;
    struct route_unit units[ROUTE_MAX_UNITS]; /* lead first, deduplicated */
    size_t nunits;
    enum route_level level;
    const char *reasons[ROUTE_MAX_REASONS]; /* arena or router */
    size_t nreasons;
    enum route_track track;
    const char *track_reason; /* arena or router; NULL when track NONE */
    unsigned reports;         /* as given to route_note_reports(); 0 */
    unsigned channels;
    size_t dropped;          /* towns/units/reasons over the caps */
    bool classified;         /* top was non-NULL (kept for re-suggesting) */
    const struct taxon *top; /* the verdict, for re-resolving units */
    size_t ndistrict;        /* distinct district-level units */
};

/* Loads rules/places.tsv, rules/departments.tsv and rules/priority.conf
 * from dir into a new immutable router. Every problem is added to d as
 * file:line:col (all of them, not just the first); on any error nothing is
 * returned. A missing file is an error. Returns IG_OK and sets *out (free
 * with route_free()), or IG_EIO / IG_EPARSE with *out = NULL. Any thread. */
int route_load(const char *dir, struct router **out, struct ig_diags *d);

/* Frees a router; NULL is a no-op. No route_apply() may be running. */
void route_free(struct router *rt);

/* Routes one candidate. title/text are the original fields (title may be
 * NULL with tlen 0); top is the classifier's verdict (NULL = unclassified).
 * Strings of *out come from the router, the taxon or arena a, so *out lives
 * as long as all three. Returns IG_OK (never fails on any input bytes; text
 * beyond ROUTE_SCAN_MAX bytes is not scanned), IG_EINVAL on NULL rt/out.
 * Any thread; rt is only read. */
#define ROUTE_SCAN_MAX (256u * 1024u)
int route_apply(const struct router *rt, const char *title, size_t tlen,
                const char *text, size_t len, const struct taxon *top,
                struct ig_arena *a, struct route_result *out);

/* Per-thread working memory for route_apply_scratch(): the priority-word
 * scan (about 20 KiB) that route_apply() otherwise takes from arena a for
 * every call. Belongs to one thread; reusable across routers. */
struct route_scratch;
struct route_scratch *route_scratch_new(void);
/* NULL is a no-op. */
void route_scratch_free(struct route_scratch *s);
/* route_apply() with its working memory from s instead of arena a (only
 * the strings of *out still come from a). Same results and contract; s
 * must not be used by another call at the same time. */
int route_apply_scratch(const struct router *rt, const char *title, size_t tlen,
                        const char *text, size_t len, const struct taxon *top,
                        struct route_scratch *s, struct ig_arena *a,
                        struct route_result *out);

/* The multi-report hook: the gateway calls it when its dedup stage has
 * seen the same hazard `reports` times over `channels` distinct channels
 * (hotline, letters, web ...) within its window. When the counts reach the
 * thresholds of rules/priority.conf (multi-report-reports or
 * multi-report-channels), raises r to ROUTE_LEVEL_HIGH with a reason and
 * re-suggests the track. Returns 1 if it raised the level, 0 if not.
 * Reasons/strings come from arena a. Any thread. */
int route_note_reports(const struct router *rt, struct route_result *r,
                       unsigned reports, unsigned channels, struct ig_arena *a);

/* The location hook: items that carry an address field of their own (a
 * hotline ticket's 事发地址, ig_item.place) are better located by it than
 * by the text. The gateway calls this after classifying, with that field.
 * If the location names a place of the gazetteer: when the text's place
 * lies in some of the same towns, the text's place stays and its towns
 * are narrowed to those; otherwise the location's place replaces it
 * (field 2). Then the units (属地管理) and the track are re-derived.
 * Returns 1 if the place or towns changed, 0 if not (no place in the
 * location, or nothing new), IG_EINVAL on NULL arguments. Strings come
 * from arena a. Any thread. */
int route_note_location(const struct router *rt, struct route_result *r,
                        const char *location, size_t len, struct ig_arena *a);

/* Writes "place", "town", "units", "priority" and "track" as keys of the
 * JSON object currently open in w (see docs/routing.md):
 *   "place": {"text","name","kind","field","start","end"} | null
 *            (field "title", "text" or "location"),
 *   "town": ["徐泾镇"] (empty: unknown; 2+: ambiguous),
 *   "units": [{"dept","unit","role":"lead"|"support","resolved"}],
 *   "priority": {"level":"high"|"elevated"|"normal","reasons":[...]},
 *   "track": {"suggestion":"挂牌治理","reason":"..."} | null.
 * r may be NULL (all keys written empty/null). */
void route_result_json(const struct route_result *r, struct ig_jsonw *w);

/* Appends a human-readable account of r to out for --explain, one line
 * each for place/town, units, priority and track, every line starting
 * with "route: " or two spaces. r may be NULL (nothing appended). Returns
 * IG_OK or IG_E2BIG if out's cap was hit. Any thread. */
int route_result_explain(const struct route_result *r, struct ig_buf *out);

/* The track rule on its own (table-driven tests, the review desk): */
struct route_track_in {
    bool classified; /* a B/S code was assigned */
    enum route_level level;
    const char *lead_dept;    /* seed name of the lead party, NULL if none */
    const char *lead_unit;    /* its resolved unit, NULL if none */
    size_t ndistrict;         /* distinct district-level units (not town, not
                               * owner) among the responsible parties */
    const char *first_reason; /* the first priority reason, NULL if none */
};
/* Suggests a track and a reason (the reason from arena a). rt supplies
 * the thresholds (NULL: built-in defaults, listed-min-units 4). Returns
 * the track; *reason is NULL for ROUTE_TRACK_NONE. Any thread. */
enum route_track route_suggest_track(const struct router *rt,
                                     const struct route_track_in *in,
                                     struct ig_arena *a, const char **reason);

/* Names for output: "一般整治" ..., NULL for NONE; "high" ... */
const char *route_track_name(enum route_track t);
const char *route_level_name(enum route_level l);

/* Crowd sizes: parses the number expression at s (n bytes), e.g. "60余人",
 * "五十多人", "上百名", "近百人", "三四十人", "数百人", "1.2万人", and
 * reports the range [*lo, *hi] of people it stands for and its length in
 * bytes. Returns true when s starts with a number followed by a person
 * classifier (人 名 位 个+people noun ...). Pure function; any thread. */
bool route_crowd_parse(const char *s, size_t n, long *lo, long *hi,
                       size_t *len);

/* Scans text for crowd sizes and returns the largest lower bound found
 * (0 if none); where and wlen (optional) get the expression. */
long route_crowd_max(const char *s, size_t n, const char **where, size_t *wlen);

#endif
