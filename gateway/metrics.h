/* metrics.h — counters, gauges and histograms, rendered as Prometheus text.
 *
 * A metric family is declared once (name, type, help); its series are
 * created on first use, keyed by a pre-formatted label string such as
 * `source="hotline",channel="hotline"` (label values are escaped by
 * metrics_label()). Series live in one open-addressing hash table, so an
 * increment costs one hash of a short string and no allocation after the
 * first time; a hot path keeps a handle (metrics_series()) and costs none. Histograms have fixed buckets chosen at
 * declaration.
 *
 * Not a general client library: no summaries, no expiry of series (the
 * label sets are bounded by configuration: sources, channels, codes,
 * rules, forwarders). A label whose values come from clients (the source
 * a pushed item names) goes through a capped value set
 * (metrics_values_get()), so its series stay bounded too. Loop thread
 * only.
 */
#ifndef IG_GATEWAY_METRICS_H
#define IG_GATEWAY_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct metrics;

enum metrics_type {
    METRICS_COUNTER = 0,
    METRICS_GAUGE = 1,
    METRICS_HISTOGRAM = 2,
};

#define METRICS_MAX_BUCKETS 16

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Declares a family. For histograms, bounds are the bucket upper limits in
 * increasing order (at most METRICS_MAX_BUCKETS; +Inf is implicit).
 * Returns IG_OK or IG_EINVAL (declared twice, bad bounds). */
int metrics_declare(struct metrics *m, const char *name, enum metrics_type type,
                    const char *help, const double *bounds, size_t nbounds);

/* Adds v to a counter (or a gauge). labels may be NULL or "". Unknown
 * families are ignored (and counted in intake_metrics_unknown_total). */
void metrics_add(struct metrics *m, const char *name, const char *labels,
                 double v);
static inline void metrics_inc(struct metrics *m, const char *name,
                               const char *labels)
{
    metrics_add(m, name, labels, 1.0);
}
/* Sets a gauge (or a counter mirrored from another module's stats). */
void metrics_set(struct metrics *m, const char *name, const char *labels,
                 double v);
/* Records one observation in a histogram. */
void metrics_observe(struct metrics *m, const char *name, const char *labels,
                     double v);
/* A handle on the series of family name with labels (created when
 * absent), for hot paths: updating through it costs no hashing. Valid
 * until metrics_free(). NULL for an unknown family (counted as above);
 * the two calls below ignore NULL and a handle of the wrong type. */
struct metrics_series;
struct metrics_series *metrics_series(struct metrics *m, const char *name,
                                      const char *labels);
void metrics_series_add(struct metrics_series *s, double v);
void metrics_series_observe(struct metrics_series *s, double v);

/* Returns the current value of a counter/gauge series (0 when absent). */
double metrics_get(const struct metrics *m, const char *name,
                   const char *labels);

/* Appends `k="v"` (with a leading comma when out is not empty) to out,
 * escaping \ " and newlines in v as the text format requires. */
void metrics_label(struct ig_buf *out, const char *k, const char *v);

/* A capped set of the values one label may take, for values that come
 * from outside (a pushed item's source). Values kept with
 * metrics_values_keep() (the configured sources) are always their own;
 * up to max others are taken as they first come; every value past those
 * is labelled `other` instead, so a client inventing values cannot grow
 * the series without bound, and its counts still add up. */
struct metrics_values;
/* other: the label value of everything past the cap (copied). */
struct metrics_values *metrics_values_new(size_t max, const char *other);
/* NULL is a no-op. */
void metrics_values_free(struct metrics_values *v);
/* Makes val its own label value for good, not counted against max (a
 * value taken earlier as it came frees its place). */
void metrics_values_keep(struct metrics_values *v, const char *val);
/* The label value for val: val when kept or taken (taken now when there
 * is room), else `other`. Borrowed, valid until metrics_values_free().
 * *first_over (may be NULL) is set to true the first time a value is
 * refused, false otherwise, so the caller can say so once. */
const char *metrics_values_get(struct metrics_values *v, const char *val,
                               bool *first_over);

/* Appends the exposition text of every family (families in declaration
 * order, series sorted by labels). Returns IG_OK or IG_E2BIG. */
int metrics_render(const struct metrics *m, struct ig_buf *out);

#endif
