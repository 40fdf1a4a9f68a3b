/* metrics.c — Prometheus text exposition (see metrics.h).
 *
 * Series are found through an open-addressing table (linear probing, a
 * word-at-a-time hash of family index and labels, grown at 50 % load);
 * the capped value sets (metrics_values) are the same kind of table;
 * families are a small array, found by name through a fixed table of hashed
 * slots (a few updates per item made a scan of thirty names show in
 * profiles). Rendering
 * sorts a family's series by label text so the output is stable for tests and
 * diffs.
 */
#include "gateway/metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/mem.h"

#define METRICS_MAX_FAMILIES 96
/* Power of two, at least twice METRICS_MAX_FAMILIES: probes stay short. */
#define METRICS_FAM_SLOTS 256

struct family {
    char *name; /* owned */
    char *help; /* owned */
    enum metrics_type type;
    double bounds[METRICS_MAX_BUCKETS];
    size_t nbounds;
};

/* A series lives at one address from its creation to metrics_free(): the
 * table holds pointers, so a handle (metrics_series()) stays valid when
 * the table grows. */
struct metrics_series {
    int fam;                  /* family index */
    const struct family *fm;  /* its family (in struct metrics: fixed) */
    char *labels;             /* owned, "" for none */
    uint64_t hash;
    double value;                          /* counter/gauge; histogram sum */
    uint64_t count;                        /* histogram observations */
    uint64_t buckets[METRICS_MAX_BUCKETS]; /* per bucket, not cumulative */
};

struct metrics {
    struct family fam[METRICS_MAX_FAMILIES];
    size_t nfam;
    int16_t fam_slot[METRICS_FAM_SLOTS]; /* family index + 1; 0: empty */
    struct metrics_series **tab; /* owned, cap slots; NULL: empty */
    size_t cap, n;
    uint64_t unknown;
};

/* A string hashed eight bytes at a time (multiply-xorshift per word, the
 * tail zero-padded): label sets and family names are 20-60 bytes, and a
 * byte-at-a-time hash of them on every update showed in profiles. */
static uint64_t str_hash(uint64_t h, const char *s)
{
    size_t n = strlen(s), i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t w;

        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
    }
    if (i < n) {
        uint64_t w = 0;

        memcpy(&w, s + i, n - i);
        h = (h ^ w) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
    }
    h ^= n;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 31);
}

static uint64_t hash_of(int fam, const char *labels)
{
    return str_hash(1469598103934665603ull ^ (uint64_t)(unsigned)fam, labels);
}

struct metrics *metrics_new(void)
{
    struct metrics *m = ig_calloc(1, sizeof(*m));
    m->cap = 256;
    m->tab = ig_calloc(m->cap, sizeof(*m->tab));
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m) {
        return;
    }
    for (size_t i = 0; i < m->nfam; i++) {
        ig_free(m->fam[i].name);
        ig_free(m->fam[i].help);
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->tab[i]) {
            ig_free(m->tab[i]->labels);
            ig_free(m->tab[i]);
        }
    }
    ig_free(m->tab);
    ig_free(m);
}

static size_t name_slot(const char *name)
{
    return (size_t)(str_hash(1469598103934665603ull, name) &
                    (METRICS_FAM_SLOTS - 1));
}

static int find_family(const struct metrics *m, const char *name)
{
    for (size_t j = name_slot(name); m->fam_slot[j];
         j = (j + 1) & (METRICS_FAM_SLOTS - 1)) {
        int f = m->fam_slot[j] - 1;
        if (strcmp(m->fam[f].name, name) == 0) {
            return f;
        }
    }
    return -1;
}

int metrics_declare(struct metrics *m, const char *name, enum metrics_type type,
                    const char *help, const double *bounds, size_t nbounds)
{
    if (find_family(m, name) >= 0 || m->nfam == METRICS_MAX_FAMILIES ||
        nbounds > METRICS_MAX_BUCKETS) {
        return IG_EINVAL;
    }
    for (size_t i = 1; i < nbounds; i++) {
        if (!(bounds[i] > bounds[i - 1])) {
            return IG_EINVAL;
        }
    }
    size_t j = name_slot(name);
    while (m->fam_slot[j]) {
        j = (j + 1) & (METRICS_FAM_SLOTS - 1);
    }
    m->fam_slot[j] = (int16_t)(m->nfam + 1);
    struct family *f = &m->fam[m->nfam++];
    f->name = ig_strdup(name);
    f->help = ig_strdup(help ? help : "");
    f->type = type;
    f->nbounds = nbounds;
    if (nbounds) {
        memcpy(f->bounds, bounds, nbounds * sizeof(*bounds));
    }
    return IG_OK;
}

static void grow(struct metrics *m)
{
    struct metrics_series **old = m->tab;
    size_t ocap = m->cap;
    m->cap *= 2;
    m->tab = ig_calloc(m->cap, sizeof(*m->tab));
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i]) {
            continue;
        }
        size_t j = old[i]->hash & (m->cap - 1);
        while (m->tab[j]) {
            j = (j + 1) & (m->cap - 1);
        }
        m->tab[j] = old[i];
    }
    ig_free(old);
}

/* The slot of family fam's series with labels (hash h): the series', or
 * the empty one where it would go. */
static size_t slot_of(const struct metrics *m, int fam, const char *labels,
                      uint64_t h)
{
    size_t j = h & (m->cap - 1);
    while (m->tab[j]) {
        const struct metrics_series *s = m->tab[j];
        if (s->hash == h && s->fam == fam && strcmp(s->labels, labels) == 0) {
            break;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return j;
}

static const struct metrics_series *
find_series(const struct metrics *m, int fam, const char *labels)
{
    if (!labels) {
        labels = "";
    }
    return m->tab[slot_of(m, fam, labels, hash_of(fam, labels))];
}

/* Finds the series, creating it when absent. */
static struct metrics_series *lookup(struct metrics *m, int fam,
                                     const char *labels)
{
    if (!labels) {
        labels = "";
    }
    uint64_t h = hash_of(fam, labels);
    size_t j = slot_of(m, fam, labels, h);
    if (m->tab[j]) {
        return m->tab[j];
    }
    if ((m->n + 1) * 2 > m->cap) {
        grow(m);
        j = slot_of(m, fam, labels, h);
    }
    struct metrics_series *s = ig_calloc(1, sizeof(*s));
    s->fam = fam;
    s->fm = &m->fam[fam];
    s->labels = ig_strdup(labels);
    s->hash = h;
    m->tab[j] = s;
    m->n++;
    return s;
}

void metrics_add(struct metrics *m, const char *name, const char *labels,
                 double v)
{
    int f = find_family(m, name);
    if (f < 0 || m->fam[f].type == METRICS_HISTOGRAM) {
        m->unknown++;
        return;
    }
    lookup(m, f, labels)->value += v;
}

void metrics_set(struct metrics *m, const char *name, const char *labels,
                 double v)
{
    int f = find_family(m, name);
    if (f < 0 || m->fam[f].type == METRICS_HISTOGRAM) {
        m->unknown++;
        return;
    }
    lookup(m, f, labels)->value = v;
}

void metrics_observe(struct metrics *m, const char *name, const char *labels,
                     double v)
{
    int f = find_family(m, name);
    if (f < 0 || m->fam[f].type != METRICS_HISTOGRAM) {
        m->unknown++;
        return;
    }
    metrics_series_observe(lookup(m, f, labels), v);
}

struct metrics_series *metrics_series(struct metrics *m, const char *name,
                                      const char *labels)
{
    int f = find_family(m, name);
    if (f < 0) {
        m->unknown++;
        return NULL;
    }
    return lookup(m, f, labels);
}

void metrics_series_add(struct metrics_series *s, double v)
{
    if (s && s->fm->type != METRICS_HISTOGRAM) {
        s->value += v;
    }
}

void metrics_series_observe(struct metrics_series *s, double v)
{
    if (!s || s->fm->type != METRICS_HISTOGRAM) {
        return;
    }
    s->value += v;
    s->count++;
    for (size_t i = 0; i < s->fm->nbounds; i++) {
        if (v <= s->fm->bounds[i]) {
            s->buckets[i]++;
            return;
        }
    }
}

double metrics_get(const struct metrics *m, const char *name,
                   const char *labels)
{
    int f = find_family(m, name);
    if (f < 0) {
        return 0;
    }
    const struct metrics_series *s = find_series(m, f, labels);
    if (!s) {
        return 0;
    }
    return m->fam[f].type == METRICS_HISTOGRAM ? (double)s->count : s->value;
}

void metrics_label(struct ig_buf *out, const char *k, const char *v)
{
    if (out->len) {
        ig_buf_addc(out, ',');
    }
    ig_buf_adds(out, k);
    ig_buf_add(out, "=\"", 2);
    const char *p = v ? v : "";
    for (;;) {
        /* Runs without anything to escape go in at once. */
        size_t run = strcspn(p, "\\\"\n");
        ig_buf_add(out, p, run);
        p += run;
        if (!*p) {
            break;
        }
        ig_buf_add(out, *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : "\\n", 2);
        p++;
    }
    ig_buf_addc(out, '"');
}

static int cmp_series(const void *a, const void *b)
{
    const struct metrics_series *x = *(const struct metrics_series *const *)a;
    const struct metrics_series *y = *(const struct metrics_series *const *)b;
    return strcmp(x->labels, y->labels);
}

static void num(struct ig_buf *out, double v)
{
    if (isinf(v)) {
        ig_buf_adds(out, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 1e15) {
        ig_buf_addf(out, "%.0f", v);
    } else {
        ig_buf_addf(out, "%.9g", v);
    }
}

static void series_name(struct ig_buf *out, const char *name,
                        const char *suffix, const char *labels,
                        const char *extra)
{
    ig_buf_addf(out, "%s%s", name, suffix);
    bool has = labels && *labels;
    if (has || extra) {
        ig_buf_addc(out, '{');
        if (has) {
            ig_buf_adds(out, labels);
        }
        if (extra) {
            ig_buf_addf(out, "%s%s", has ? "," : "", extra);
        }
        ig_buf_addc(out, '}');
    }
    ig_buf_addc(out, ' ');
}

static const char *type_name(enum metrics_type t)
{
    switch (t) {
    case METRICS_COUNTER:
        return "counter";
    case METRICS_GAUGE:
        return "gauge";
    default:
        return "histogram";
    }
}

int metrics_render(const struct metrics *m, struct ig_buf *out)
{
    struct metrics_series **v = ig_malloc((m->n + 1) * sizeof(*v));
    int rc = IG_OK;
    for (size_t f = 0; f < m->nfam; f++) {
        const struct family *fm = &m->fam[f];
        size_t nv = 0;
        for (size_t i = 0; i < m->cap; i++) {
            if (m->tab[i] && m->tab[i]->fam == (int)f) {
                v[nv++] = m->tab[i];
            }
        }
        qsort(v, nv, sizeof(*v), cmp_series);
        ig_buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", fm->name, fm->help,
                    fm->name, type_name(fm->type));
        for (size_t i = 0; i < nv; i++) {
            const struct metrics_series *s = v[i];
            if (fm->type != METRICS_HISTOGRAM) {
                series_name(out, fm->name, "", s->labels, NULL);
                num(out, s->value);
                ig_buf_addc(out, '\n');
                continue;
            }
            uint64_t cum = 0;
            for (size_t b = 0; b < fm->nbounds; b++) {
                char le[48];
                cum += s->buckets[b];
                snprintf(le, sizeof(le), "le=\"%g\"", fm->bounds[b]);
                series_name(out, fm->name, "_bucket", s->labels, le);
                ig_buf_addf(out, "%llu\n", (unsigned long long)cum);
            }
            series_name(out, fm->name, "_bucket", s->labels, "le=\"+Inf\"");
            ig_buf_addf(out, "%llu\n", (unsigned long long)s->count);
            series_name(out, fm->name, "_sum", s->labels, NULL);
            num(out, s->value);
            ig_buf_addc(out, '\n');
            series_name(out, fm->name, "_count", s->labels, NULL);
            ig_buf_addf(out, "%llu\n", (unsigned long long)s->count);
        }
    }
    ig_buf_addf(out,
                "# HELP intake_metrics_unknown_total updates of undeclared "
                "metrics (a bug)\n# TYPE intake_metrics_unknown_total "
                "counter\nintake_metrics_unknown_total %llu\n",
                (unsigned long long)m->unknown);
    if (out->max_len && out->len >= out->max_len) {
        rc = IG_E2BIG;
    }
    ig_free(v);
    return rc;
}

/* ---------------------------------------------------------------------
 * Capped label value sets
 * ------------------------------------------------------------------- */

struct value {
    char *s; /* owned */
    uint64_t hash;
    bool kept; /* kept for good, not counted in taken */
};

struct metrics_values {
    struct value **tab; /* owned, cap slots; NULL: empty */
    size_t cap, n;
    size_t taken, max; /* values taken as they came, and the cap on them */
    char *other;       /* owned */
    bool over;         /* a value was refused already */
};

struct metrics_values *metrics_values_new(size_t max, const char *other)
{
    struct metrics_values *v = ig_calloc(1, sizeof(*v));
    v->cap = 64;
    v->tab = ig_calloc(v->cap, sizeof(*v->tab));
    v->max = max;
    v->other = ig_strdup(other);
    return v;
}

void metrics_values_free(struct metrics_values *v)
{
    if (!v) {
        return;
    }
    for (size_t i = 0; i < v->cap; i++) {
        if (v->tab[i]) {
            ig_free(v->tab[i]->s);
            ig_free(v->tab[i]);
        }
    }
    ig_free(v->tab);
    ig_free(v->other);
    ig_free(v);
}

/* The slot of val (hash h): its entry's, or the empty one where it would
 * go. */
static size_t value_slot(const struct metrics_values *v, const char *val,
                         uint64_t h)
{
    size_t j = h & (v->cap - 1);
    while (v->tab[j] &&
           (v->tab[j]->hash != h || strcmp(v->tab[j]->s, val) != 0)) {
        j = (j + 1) & (v->cap - 1);
    }
    return j;
}

/* Adds val at its slot j (absent), growing the table first if needed. */
static struct value *value_add(struct metrics_values *v, const char *val,
                               uint64_t h, size_t j)
{
    if ((v->n + 1) * 2 > v->cap) {
        struct value **old = v->tab;
        size_t ocap = v->cap;
        v->cap *= 2;
        v->tab = ig_calloc(v->cap, sizeof(*v->tab));
        for (size_t i = 0; i < ocap; i++) {
            if (old[i]) {
                size_t k = old[i]->hash & (v->cap - 1);
                while (v->tab[k]) {
                    k = (k + 1) & (v->cap - 1);
                }
                v->tab[k] = old[i];
            }
        }
        ig_free(old);
        j = value_slot(v, val, h);
    }
    struct value *e = ig_calloc(1, sizeof(*e));
    e->s = ig_strdup(val);
    e->hash = h;
    v->tab[j] = e;
    v->n++;
    return e;
}

void metrics_values_keep(struct metrics_values *v, const char *val)
{
    uint64_t h = str_hash(0, val);
    size_t j = value_slot(v, val, h);
    struct value *e = v->tab[j];
    if (!e) {
        e = value_add(v, val, h, j);
    } else if (!e->kept) {
        v->taken--;
    }
    e->kept = true;
}

const char *metrics_values_get(struct metrics_values *v, const char *val,
                               bool *first_over)
{
    if (first_over) {
        *first_over = false;
    }
    uint64_t h = str_hash(0, val);
    size_t j = value_slot(v, val, h);
    if (v->tab[j]) {
        return v->tab[j]->s;
    }
    if (v->taken < v->max) {
        v->taken++;
        return value_add(v, val, h, j)->s;
    }
    if (!v->over && first_over) {
        *first_over = true;
    }
    v->over = true;
    return v->other;
}
