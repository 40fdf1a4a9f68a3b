/* score.c — per-code scores -> verdict, alternatives, confidence; the
 * result as JSON.
 *
 * A code's score is the sum of the contributions of its rules that fired
 * (a rule counts once; title evidence multiplies by title_weight). Codes
 * are ranked by score, ties broken by the order of the taxonomy table so
 * the same input always gives the same answer. The top code wins when it
 * reaches the threshold; otherwise the item is unclassified (it goes to a
 * person) and the alternatives list the best candidates for that person.
 *
 * Confidence, in [0, 1]:
 *   classified:   sat * (0.5 + 0.5 * margin), where
 *                 sat    = 1 - 2^(-top / threshold)  (0.5 at the threshold,
 *                          0.75 at twice it: more evidence, more certainty)
 *                 margin = (top - second) / top      (1 when no rival)
 *   unclassified: 1 - best / threshold (1 when nothing fired, near 0 when
 *                 the best code just missed the threshold).
 * Simple, monotone in the evidence and explainable in one sentence; it is
 * a ranking aid, not a calibrated probability.
 *
 * The JSON of a result is written once per item on the classify threads
 * and again for push answers, so its fixed keys are literal pieces copied
 * into the buffer ("key": and commas included) and only the values are
 * escaped or formatted; a capped buffer goes through the writer key by key
 * instead, so a cap still cuts the output where it always did. What is
 * fixed per code (code, name, major, departments) and per rule (rule id
 * and code of an evidence entry) is escaped once per rule set, on first
 * use, into struct score_json and copied from there.
 */
#include "classifiers/classifier_int.h"

#include <math.h>
#include <stdlib.h>

#include "classifiers/route.h"
#include "core/arena.h"
#include "core/jsonw.h"
#include "core/mem.h"
#include "core/ptrmap.h"

double score_confidence(double top, double second, double threshold,
                        bool classified)
{
    if (!classified) {
        double c = 1.0 - top / threshold;
        return c < 0 ? 0 : c > 1 ? 1 : c;
    }
    double sat = 1.0 - pow(2.0, -top / threshold);
    double margin = top > 0 ? (top - second) / top : 0;
    double c = sat * (0.5 + 0.5 * margin);
    return c < 0 ? 0 : c > 1 ? 1 : c;
}

struct ranked {
    double score;
    size_t index;
};

static int cmp_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->score != y->score) {
        return x->score > y->score ? -1 : 1;
    }
    return (x->index > y->index) - (x->index < y->index);
}

void score_verdict(const struct ruleset *rs, const double *code_score,
                   const uint32_t *touched, size_t ntouched,
                   struct cls_result *out)
{
    struct ranked top[CLS_MAX_ALTS + 1];
    size_t n = 0;
    /* Keep the best CLS_MAX_ALTS + 1 by insertion: ntouched is small. */
    for (size_t i = 0; i < ntouched; i++) {
        struct ranked r = {code_score[touched[i]], touched[i]};
        if (r.score <= 0) {
            continue;
        }
        size_t pos = n;
        while (pos > 0 && cmp_ranked(&r, &top[pos - 1]) < 0) {
            pos--;
        }
        if (pos >= CLS_MAX_ALTS + 1) {
            continue;
        }
        size_t last = n < CLS_MAX_ALTS + 1 ? n : CLS_MAX_ALTS;
        for (size_t k = last; k > pos; k--) {
            top[k] = top[k - 1];
        }
        top[pos] = r;
        if (n < CLS_MAX_ALTS + 1) {
            n++;
        }
    }
    out->best_score = n ? top[0].score : 0;
    bool classified = n > 0 && top[0].score >= rs->threshold;
    size_t first_alt = 0;
    if (classified) {
        out->top = &rs->taxa[top[0].index];
        out->score = top[0].score;
        first_alt = 1;
    }
    out->nalts = 0;
    for (size_t k = first_alt; k < n && out->nalts < CLS_MAX_ALTS; k++) {
        out->alts[out->nalts].taxon = &rs->taxa[top[k].index];
        out->alts[out->nalts].score = top[k].score;
        out->nalts++;
    }
    double second = classified && n > 1 ? top[1].score : 0;
    out->confidence =
        score_confidence(out->best_score, second, rs->threshold, classified);
}

/* Numbers are written here rather than with ig_jsonw_num/int (printf
 * twice per number): scores with 3 decimals, offsets as integers. */

/* A score or weight written at p (at most SCORE_MAX bytes); returns its
 * end, or NULL (nothing written) when v is outside what the 3-decimal
 * form covers (negative, huge, not finite): ig_jsonw_num's form then. */
#define SCORE_MAX 24
static char *fmt_score(char *p, double v)
{
    if (!isfinite(v) || v < 0 || v > 1e12) {
        return NULL;
    }
    /* llround() without the call: x is below 2^53, so its integer part t
     * converts back exactly and x - t is exact; a half rounds up, away
     * from zero, as llround() does. */
    double x = v * 1000.0;
    uint64_t m = (uint64_t)x;
    m += x - (double)m >= 0.5;
    unsigned frac = (unsigned)(m % 1000);
    p = ig_fmt_u64(p, m / 1000);
    if (frac) {
        /* up to 3 decimals, trailing zeros dropped: 0.5, 0.583, 2.25 */
        p[0] = '.';
        p[1] = (char)('0' + frac / 100);
        p[2] = (char)('0' + frac / 10 % 10);
        p[3] = (char)('0' + frac % 10);
        p += frac % 10 ? 4 : frac % 100 ? 3 : 2;
    }
    return p;
}

/* The JSON pieces below go straight into the writer's buffer: the keys
 * are literals, so "key": and the commas around them are copied as
 * they are instead of going through the writer one key at a time. Only
 * for a buffer without a cap (every caller's); under a cap the writer's
 * own calls keep where an overlong record is cut exactly as it was. */
static void put_score(struct ig_buf *b, double v)
{
    char t[SCORE_MAX];
    /* In place when there is room (nearly always), else through t. */
    bool direct = ig_buf_fits(b, sizeof(t));
    char *e = fmt_score(direct ? b->data + b->len : t, v);
    if (!e) {
        ig_json_num(b, v);
    } else if (direct) {
        b->len = (size_t)(e - b->data);
        b->data[b->len] = '\0';
    } else {
        ig_buf_add(b, t, (size_t)(e - t));
    }
}

/* A piece of prepared JSON: an offset and a length in score_json.text. */
struct piece {
    size_t off, len;
};

/* An evidence entry's start, by rule: {"rule":"<id>","code":"<code>". */
struct rule_slot {
    const char *rule; /* the rule's id (ruleset) */
    const char *code; /* its taxon's code (ruleset) */
    struct piece ev;
};

struct score_json {
    char *text;              /* owned: every piece */
    struct piece *head;      /* per taxon: "code":..,"departments":[..] */
    struct piece *alt;       /* per taxon: {"code":..,"name":.. */
    struct piece version;    /* ,"rules_version":".." */
    struct rule_slot *rules; /* owned: one per rule with an id and taxon */
    struct ig_ptrmap by_id;  /* rule id address -> index in rules */
};

static void score_json_free(void *p)
{
    struct score_json *j = p;
    if (j) {
        ig_free(j->text);
        ig_free(j->head);
        ig_free(j->alt);
        ig_free(j->rules);
        ig_ptrmap_fini(&j->by_id);
        ig_free(j);
    }
}

/* Notes the piece written to b since from. */
static void piece_end(struct piece *p, const struct ig_buf *b, size_t from)
{
    p->off = from;
    p->len = b->len - from;
}

static void *score_json_build(const void *arg)
{
    const struct ruleset *rs = arg;
    struct score_json *j = ig_calloc(1, sizeof(*j));
    struct ig_buf b;
    ig_buf_init(&b, 0);
    j->head = ig_calloc(rs->ntaxa ? rs->ntaxa : 1, sizeof(*j->head));
    j->alt = ig_calloc(rs->ntaxa ? rs->ntaxa : 1, sizeof(*j->alt));
    for (size_t i = 0; i < rs->ntaxa; i++) {
        const struct taxon *t = &rs->taxa[i];
        size_t from = b.len;
        IG_JSON_LIT(&b, "\"code\":");
        ig_json_str(&b, t->code);
        IG_JSON_LIT(&b, ",\"name\":");
        ig_json_str(&b, t->name);
        IG_JSON_LIT(&b, ",\"major\":");
        ig_json_str(&b, t->major);
        IG_JSON_LIT(&b, ",\"departments\":[");
        for (size_t k = 0; k < t->ndepts; k++) {
            if (k) {
                IG_JSON_LIT(&b, ",");
            }
            ig_json_str(&b, t->depts[k]);
        }
        IG_JSON_LIT(&b, "]");
        piece_end(&j->head[i], &b, from);
        from = b.len;
        IG_JSON_LIT(&b, "{\"code\":");
        ig_json_str(&b, t->code);
        IG_JSON_LIT(&b, ",\"name\":");
        ig_json_str(&b, t->name);
        piece_end(&j->alt[i], &b, from);
    }
    size_t from = b.len;
    IG_JSON_LIT(&b, ",\"rules_version\":");
    ig_json_str(&b, rs->version);
    piece_end(&j->version, &b, from);
    j->rules = ig_calloc(rs->nrules ? rs->nrules : 1, sizeof(*j->rules));
    ig_ptrmap_init(&j->by_id, rs->nrules, NULL);
    size_t nr = 0;
    for (size_t i = 0; i < rs->nrules; i++) {
        const struct rule_info *ri = &rs->rules[i].info;
        if (!ri->id || !ri->taxon ||
            !ig_ptrmap_add(&j->by_id, ri->id, (uint32_t)nr)) {
            continue;
        }
        struct rule_slot *sl = &j->rules[nr++];
        sl->rule = ri->id;
        sl->code = ri->taxon->code;
        from = b.len;
        IG_JSON_LIT(&b, "{\"rule\":");
        ig_json_str(&b, sl->rule);
        IG_JSON_LIT(&b, ",\"code\":");
        ig_json_str(&b, sl->code);
        piece_end(&sl->ev, &b, from);
    }
    j->text = ig_buf_take(&b);
    return j;
}

/* The rule set's pieces, built by the first caller (several threads may
 * race; one set is kept, freed with the rule set's arena). The cache is
 * the one field written after loading (rs is const to every caller
 * otherwise). */
static const struct score_json *score_json_get(const struct ruleset *rs)
{
    struct ruleset *m = (struct ruleset *)(uintptr_t)rs;
    return ig_arena_once(m->arena, &m->json, score_json_build, score_json_free,
                         rs);
}

/* Whether t is a row of rs's own table (results built by hand in tests
 * may point elsewhere: those are written in full). */
static bool own_taxon(const struct ruleset *rs, const struct taxon *t)
{
    return t->index < rs->ntaxa && &rs->taxa[t->index] == t;
}

static const struct rule_slot *
rule_slot_find(const struct score_json *j, const char *rule, const char *code)
{
    uint32_t i;
    if (!ig_ptrmap_get(&j->by_id, rule, &i)) {
        return NULL;
    }
    return j->rules[i].code == code ? &j->rules[i] : NULL;
}

static void put_piece(struct ig_buf *b, const struct score_json *j,
                      const struct piece *p)
{
    ig_buf_add(b, j->text + p->off, p->len);
}

static void result_json_direct(const struct ruleset *rs,
                               const struct cls_result *r, struct ig_jsonw *w)
{
    struct ig_buf *b = w->out;
    const struct score_json *j = score_json_get(rs);
    const struct taxon *t = r->top;
    /* The writer puts the comma before the first key and notes that the
     * next key needs one. */
    if (t && own_taxon(rs, t)) {
        const struct piece *p = &j->head[t->index];
        ig_jsonw_raw(w, j->text + p->off, p->len);
        IG_JSON_LIT(b, ",\"score\":");
    } else if (t) {
        ig_jsonw_raw(w, "\"code\":", 7);
        ig_json_str(b, t->code);
        IG_JSON_LIT(b, ",\"name\":");
        ig_json_str(b, t->name);
        IG_JSON_LIT(b, ",\"major\":");
        ig_json_str(b, t->major);
        IG_JSON_LIT(b, ",\"departments\":[");
        for (size_t i = 0; i < t->ndepts; i++) {
            if (i) {
                IG_JSON_LIT(b, ",");
            }
            ig_json_str(b, t->depts[i]);
        }
        IG_JSON_LIT(b, "],\"score\":");
    } else {
        ig_jsonw_raw(w, "\"code\":", 7);
        IG_JSON_LIT(b, "null,\"name\":null,\"major\":null,\"departments\":null,"
                       "\"score\":");
    }
    put_score(b, r->score);
    IG_JSON_LIT(b, ",\"confidence\":");
    put_score(b, r->confidence);
    IG_JSON_LIT(b, ",\"alternatives\":[");
    for (size_t i = 0; i < r->nalts; i++) {
        const struct taxon *at = r->alts[i].taxon;
        if (i) {
            IG_JSON_LIT(b, ",");
        }
        if (own_taxon(rs, at)) {
            put_piece(b, j, &j->alt[at->index]);
        } else {
            IG_JSON_LIT(b, "{\"code\":");
            ig_json_str(b, at->code);
            IG_JSON_LIT(b, ",\"name\":");
            ig_json_str(b, at->name);
        }
        IG_JSON_LIT(b, ",\"score\":");
        put_score(b, r->alts[i].score);
        IG_JSON_LIT(b, "}");
    }
    IG_JSON_LIT(b, "],\"evidence\":[");
    for (size_t i = 0; i < r->nev; i++) {
        const struct cls_evidence *e = &r->ev[i];
        if (i) {
            IG_JSON_LIT(b, ",");
        }
        const struct rule_slot *sl = rule_slot_find(j, e->rule, e->code);
        if (sl) {
            put_piece(b, j, &sl->ev);
        } else {
            IG_JSON_LIT(b, "{\"rule\":");
            ig_json_str(b, e->rule);
            IG_JSON_LIT(b, ",\"code\":");
            ig_json_str(b, e->code);
        }
        if (e->field == CLS_FIELD_TITLE) {
            IG_JSON_LIT(b, ",\"field\":\"title\",\"start\":");
        } else {
            IG_JSON_LIT(b, ",\"field\":\"text\",\"start\":");
        }
        ig_buf_add_u64(b, e->start);
        IG_JSON_LIT(b, ",\"end\":");
        ig_buf_add_u64(b, e->end);
        IG_JSON_LIT(b, ",\"text\":");
        ig_json_str(b, e->match);
        IG_JSON_LIT(b, ",\"weight\":");
        put_score(b, e->weight);
        IG_JSON_LIT(b, "}");
    }
    IG_JSON_LIT(b, "]");
    if (ruleset_version(rs) == rs->version) {
        put_piece(b, j, &j->version);
    } else {
        IG_JSON_LIT(b, ",\"rules_version\":");
        ig_json_str(b, ruleset_version(rs));
    }
    if (r->regex_errors) {
        IG_JSON_LIT(b, ",\"regex_errors\":");
        ig_buf_add_u64(b, r->regex_errors);
    }
}

static void put_u(struct ig_jsonw *w, const char *key, uint64_t v)
{
    ig_jsonw_key(w, key);
    ig_jsonw_uint(w, v);
}

static void put_num(struct ig_jsonw *w, const char *key, double v)
{
    char b[SCORE_MAX];
    char *e = fmt_score(b, v);
    if (!e) {
        ig_jsonw_knum(w, key, v);
        return;
    }
    ig_jsonw_key(w, key);
    ig_jsonw_raw(w, b, (size_t)(e - b));
}

/* The same keys through the writer, one at a time: for a capped buffer. */
static void result_json_capped(const struct ruleset *rs,
                               const struct cls_result *r, struct ig_jsonw *w)
{
    const struct taxon *t = r->top;
    ig_jsonw_kstr(w, "code", t ? t->code : NULL);
    ig_jsonw_kstr(w, "name", t ? t->name : NULL);
    ig_jsonw_kstr(w, "major", t ? t->major : NULL);
    ig_jsonw_key(w, "departments");
    if (t) {
        ig_jsonw_arr_open(w);
        for (size_t i = 0; i < t->ndepts; i++) {
            ig_jsonw_str(w, t->depts[i]);
        }
        ig_jsonw_arr_close(w);
    } else {
        ig_jsonw_null(w);
    }
    put_num(w, "score", r->score);
    put_num(w, "confidence", r->confidence);
    ig_jsonw_key(w, "alternatives");
    ig_jsonw_arr_open(w);
    for (size_t i = 0; i < r->nalts; i++) {
        ig_jsonw_obj_open(w);
        ig_jsonw_kstr(w, "code", r->alts[i].taxon->code);
        ig_jsonw_kstr(w, "name", r->alts[i].taxon->name);
        put_num(w, "score", r->alts[i].score);
        ig_jsonw_obj_close(w);
    }
    ig_jsonw_arr_close(w);
    ig_jsonw_key(w, "evidence");
    ig_jsonw_arr_open(w);
    for (size_t i = 0; i < r->nev; i++) {
        const struct cls_evidence *e = &r->ev[i];
        ig_jsonw_obj_open(w);
        ig_jsonw_kstr(w, "rule", e->rule);
        ig_jsonw_kstr(w, "code", e->code);
        ig_jsonw_kstr(w, "field",
                      e->field == CLS_FIELD_TITLE ? "title" : "text");
        put_u(w, "start", e->start);
        put_u(w, "end", e->end);
        ig_jsonw_kstr(w, "text", e->match);
        put_num(w, "weight", e->weight);
        ig_jsonw_obj_close(w);
    }
    ig_jsonw_arr_close(w);
    ig_jsonw_kstr(w, "rules_version", ruleset_version(rs));
    if (r->regex_errors) {
        put_u(w, "regex_errors", r->regex_errors);
    }
}

void cls_result_json(const struct ruleset *rs, const struct cls_result *r,
                     struct ig_jsonw *w)
{
    if (w->out->max_len == 0) {
        result_json_direct(rs, r, w);
    } else {
        result_json_capped(rs, r, w);
    }
    if (rs->router) {
        route_result_json_rs(rs, r->route, w);
    }
}
