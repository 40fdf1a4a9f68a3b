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
 */
#include "classifiers/classifier_int.h"

#include <math.h>
#include <stdlib.h>

#include "classifiers/route.h"
#include "core/jsonw.h"

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
static void put_u(struct ig_jsonw *w, const char *key, uint64_t v)
{
    char b[24];
    size_t n = sizeof(b);
    do {
        b[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    ig_jsonw_key(w, key);
    ig_jsonw_raw(w, b + n, sizeof(b) - n);
}

static void put_num(struct ig_jsonw *w, const char *key, double v)
{
    if (!isfinite(v) || v < 0 || v > 1e12) {
        ig_jsonw_knum(w, key, v);
        return;
    }
    uint64_t m = (uint64_t)llround(v * 1000.0);
    char b[40];
    size_t n = sizeof(b);
    unsigned frac = (unsigned)(m % 1000);
    uint64_t ip = m / 1000;
    if (frac) {
        /* up to 3 decimals, trailing zeros dropped: 0.5, 0.583, 2.25 */
        int digits = 3;
        while (frac % 10 == 0) {
            frac /= 10;
            digits--;
        }
        for (int d = 0; d < digits; d++) {
            b[--n] = (char)('0' + frac % 10);
            frac /= 10;
        }
        b[--n] = '.';
    }
    do {
        b[--n] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    ig_jsonw_key(w, key);
    ig_jsonw_raw(w, b + n, sizeof(b) - n);
}

void cls_result_json(const struct ruleset *rs, const struct cls_result *r,
                     struct ig_jsonw *w)
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
    if (rs->router) {
        route_result_json(r->route, w);
    }
}
