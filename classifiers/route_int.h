/* route_int.h — the router's compiled data, shared by route*.c only.
 *
 * Everything hangs off one arena owned by the router: the three tables
 * loaded from the rules directory and two keyword lexicons (gazetteer names
 * and priority words). Nobody outside classifiers/route*.c includes this.
 */
#ifndef IG_CLASSIFIERS_ROUTE_INT_H
#define IG_CLASSIFIERS_ROUTE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classifiers/route.h"
#include "core/ptrmap.h"

struct ig_arena;
struct route_json;
struct rt_reason;

/* A keyword lexicon: words indexed by their first code point, longest
 * first, so a scan looks at a handful of candidates per character instead
 * of trying every word (cost grows with the text, not the word count). */
struct route_lex_entry {
    const char *s; /* arena */
    uint32_t len;  /* bytes */
    uint32_t id;   /* caller's payload */
};

struct route_lex_slot {
    uint32_t cp;    /* first code point */
    uint32_t first; /* index into e */
    uint32_t count; /* 0 = empty slot */
};

struct route_lex {
    struct route_lex_entry *e; /* sorted by (first code point, len desc) */
    size_t n;
    struct route_lex_slot *slots;
    size_t mask; /* slots - 1 (power of two) */
    /* One bit per BMP code point: set when some word starts with it. Most
     * characters of a text start no word; the bit says so without a
     * probe of the slots. Code points above the BMP always probe. */
    uint64_t *first_bmp;           /* ROUTE_LEX_BMP_WORDS words, arena */
    struct route_lex_filter *filt; /* arena; see below */
};

#define ROUTE_LEX_BMP_WORDS (0x10000 / 64)

/* What a scan tests before it looks a character up. Most characters of a
 * text start no word: attn says so from the raw bytes of an ASCII
 * character or a 3-byte sequence, without decoding (word cp >> 6, bit
 * cp & 63 for the code points of a 3-byte sequence, the overlong and
 * surrogate ranges all ones so those take the strict path, then two words
 * for ASCII). Of the rest, most start no word either: one marks first
 * characters of one-character words, pair the hashed first two characters
 * of the longer ones (hashed as 3-byte UTF-8, so that two 3-byte
 * characters in a text are tested from their raw bytes), and has_one
 * (nonzero) says whether one has a bit at all. Filters of several
 * lexicons OR together (route_lex_filter_or()) for one scan over all of
 * them. */
#define ROUTE_LEX_ATTN_ASCII (0x10000 / 64)
#define ROUTE_LEX_ATTN_WORDS (ROUTE_LEX_ATTN_ASCII + 2)
#define ROUTE_LEX_PAIR_BITS 16
#define ROUTE_LEX_PAIR_WORDS ((1u << ROUTE_LEX_PAIR_BITS) / 64)

struct route_lex_filter {
    uint64_t attn[ROUTE_LEX_ATTN_WORDS];
    uint64_t one[ROUTE_LEX_BMP_WORDS];
    uint64_t pair[ROUTE_LEX_PAIR_WORDS];
    uint64_t has_one;
};

/* Builder: add words, then seal into the arena. */
struct route_lex_builder {
    struct route_lex_entry *e; /* heap, owned until sealed */
    size_t n, cap;
};

void route_lexb_add(struct route_lex_builder *b, struct ig_arena *a,
                    const char *s, size_t len, uint32_t id);
void route_lexb_seal(struct route_lex_builder *b, struct ig_arena *a,
                     struct route_lex *out);
void route_lexb_fini(struct route_lex_builder *b);

/* Calls cb for every word that occurs at each character boundary of s,
 * longest first. cb returns the number of bytes to skip past the start
 * (0: keep looking at shorter words at this position, then move one
 * character; >0: move on by that many bytes, e.g. past a place name). */
typedef size_t (*route_lex_cb)(void *ctx, uint32_t id, size_t start,
                               size_t end);
void route_lex_scan(const struct route_lex *lx, const char *s, size_t n,
                    route_lex_cb cb, void *ctx);

/* One lexicon of a combined scan, with its callback. */
struct route_lex_use {
    const struct route_lex *lx;
    route_lex_cb cb;
    void *ctx;
};
#define ROUTE_LEX_USE_MAX 2

/* route_lex_scan() of each of use[0..nuse) (nuse <= ROUTE_LEX_USE_MAX)
 * over s in one pass: each callback sees exactly the calls, in the same
 * order, that a scan of its lexicon alone would make. filt must cover all
 * the lexicons (route_lex_filter_or()). A callback's nonzero return must
 * be end - start of the word it was given, so every lexicon's positions
 * stay on the one character grid. */
void route_lex_scan_n(const struct route_lex_use *use, size_t nuse,
                      const struct route_lex_filter *filt, const char *s,
                      size_t n);
/* A filter (arena) that passes what the filters of a or b pass. */
struct route_lex_filter *route_lex_filter_or(const struct route_lex *a,
                                             const struct route_lex *b,
                                             struct ig_arena *ar);

/* Gazetteer kinds, in increasing specificity (the rank). */
enum rt_kind {
    RT_KIND_NONE = 0, /* a near-miss blocker: matches, names no place */
    RT_KIND_DISTRICT, /* 青浦区: the district itself, no town */
    RT_KIND_STREET,   /* 街道 */
    RT_KIND_TOWN,     /* 镇 */
    RT_KIND_PARK,     /* 青浦工业园区 */
    RT_KIND_AREA,     /* a former town or community inside a town */
    RT_KIND_ROAD,
    RT_KIND_COMPOUND,
    RT_KIND_VILLAGE,
    RT_KIND_LANDMARK,
};

/* Lexicon id bit of a weak alias (written ~华新 in places.tsv): a short
 * alias that is also a common given name (王华新, 邓华新) only counts when
 * the character before it is not a common surname. */
#define RT_PLACE_WEAK 0x80000000u

struct rt_place {
    const char *name; /* canonical name */
    enum rt_kind kind;
    const char *const *towns; /* town/street/park names it lies in */
    size_t ntowns;
    int line; /* places.tsv line, for diagnostics */
};

enum rt_scope {
    RT_SCOPE_DISTRICT = 0, /* a district bureau (区绿化市容局) */
    RT_SCOPE_ENTERPRISE,   /* a utility or company (供电公司) */
    RT_SCOPE_TOWN,         /* 属地管理: the candidate's town/street */
    RT_SCOPE_OWNER,        /* 权属单位: owner to be identified */
    RT_SCOPE_LOCAL,        /* a town/street government, keyed by its name */
};

struct rt_dept {
    const char *name; /* the seed's generic name, or a town's name */
    const char *unit; /* receiving unit (or placeholder text) */
    enum rt_scope scope;
    int line;
};

/* One priority flag of rules/priority.conf. */
#define RT_FLAG_MAX_GROUPS 14
#define RT_FLAG_NOT_GROUP 15

struct rt_flag {
    const char *id;
    unsigned near_chars; /* 0: anywhere; else every condition within N
                          * characters of a hit of the first any: line */
    const char *reason;  /* flags with the same reason text share one
                          * pointer (one red line, one reason) */
    enum route_level level;
    unsigned ngroups; /* any: lines, all of which must hit */
    bool has_not;
    long crowd_min; /* 0 = no crowd condition */
    int line;
};

struct router {
    struct ig_arena *arena;
    struct rt_place *places;
    size_t nplaces;
    struct rt_dept *depts;
    size_t ndepts;
    uint32_t *dept_slot; /* name hash -> depts index (UINT32_MAX: empty) */
    size_t dept_mask;    /* dept_slot size - 1 */
    struct rt_flag *flags;
    size_t nflags;
    const char **flag_words;       /* lexicon id -> the word, for reasons */
    struct route_lex place_lex;    /* id = place index */
    struct route_lex flag_lex;     /* id = (word index << 8) | (flag << 4) |
                                    * group; see route_load.c */
    struct route_lex_filter *both; /* place_lex + flag_lex, one scan */
    /* settings (priority.conf "set:" lines) */
    unsigned multi_reports;
    unsigned multi_channels;
    unsigned listed_min_units;
    /* route.c: the JSON pieces of the strings results borrow, built on
     * first use (the one part of a loaded router that is written later) */
    _Atomic(void *) json; /* struct route_json (ig_arena_once()) */
    /* route.c: track reasons prepared at load, by the address of the
     * unit they name as the lead or of the flag reason they start with
     * (route_reasons_build()) */
    struct rt_reason *reasons;
    size_t nreasons;
    struct ig_ptrmap reason_of; /* key address -> index in reasons */
    /* route_bind_taxa(): the names routing looks up (a taxon's
     * departments, a place's towns), by address -> the index of their
     * directory row (route_dept_find()), RT_NO_DEPT when not in it; empty
     * until then (a router loaded on its own looks names up by text) */
    struct ig_ptrmap dept_of;
};

#define RT_NO_DEPT UINT32_MAX

#define RT_FLAG_ID(word, flag, group)                                          \
    (((uint32_t)(word) << 12) | ((uint32_t)(flag) << 4) | (uint32_t)(group))
#define RT_FLAG_ID_WORD(id) ((id) >> 12)
#define RT_FLAG_ID_FLAG(id) (((id) >> 4) & 0xffu)
#define RT_FLAG_ID_GROUP(id) ((id)&0xfu)
#define RT_MAX_FLAGS 255

/* "town", "landmark" ... for a kind. */
const char *route_kind_name(enum rt_kind k);

/* One crowd-size expression found in a text. */
struct route_crowd {
    long lo, hi;
    size_t start, end; /* byte span */
};
/* Lists up to max crowd expressions of s in text order; returns how many
 * (the scan stops at max). */
size_t route_crowd_list(const char *s, size_t n, struct route_crowd *out,
                        size_t max);

const struct rt_dept *route_dept_find(const struct router *rt,
                                      const char *name);
/* route_dept_find() of a name by its address first: one probe, no hash
 * of the text, for the names route_bind_taxa() indexed. */
const struct rt_dept *route_dept_of(const struct router *rt, const char *name);

/* Prepares the track reasons of rt's units and flag reasons in its arena
 * (route.c), once its tables are sealed. */
void route_reasons_build(struct router *rt);

#endif
