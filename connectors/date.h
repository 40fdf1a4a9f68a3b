/* date.h — publication dates in the shapes feeds and pages really use.
 *
 * RFC 822/1123 (named zones, missing weekday or seconds, comments),
 * RFC 3339 / W3C-DTF / ISO 8601 (with or without offset, fractions),
 * SQL style "2022-09-25 14:30:00", slashes, asctime, Unix epoch seconds or
 * milliseconds, Chinese/Korean "2022年9月25日 下午2:30", and, given "now",
 * year-less ("11月27日 23:58") and relative ones ("3小时前", "昨天 14:30",
 * "5 minutes ago"). Zone-less times are read in a configured local zone
 * (Asia/Shanghai, +08:00, by default for our sources).
 */
#ifndef IG_CONNECTORS_DATE_H
#define IG_CONNECTORS_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct date_opts {
    int local_offset_min; /* offset of zone-less times, e.g. 480 */
    bool cst_is_china;    /* "CST" = +08:00 (else US Central, -06:00) */
    int64_t now;          /* Unix seconds, for year-less dates; 0 = none */
    /* Years accepted, as the result reads in its offset (the written year,
     * or an epoch's year at local_offset_min); 0 = no bound. A source
     * whose times must be recent (the hotline: 1990..2100) sets these so
     * that a garbage time is refused rather than kept. */
    int min_year;
    int max_year;
};

/* Default options of our sources: +08:00, CST = China, no "now", no year
 * bounds. */
void date_opts_default(struct date_opts *o);

/* Parses s[0..n). On success returns IG_OK, *ts = Unix seconds (UTC) and
 * *offset_min = the offset the string stated (or the local offset used for
 * a zone-less time or an epoch number), for printing. Impossible dates
 * (month 13, 31 June, 25:00), years outside o's bounds and trailing garbage
 * are IG_EPARSE, never wrapped; a leap second (:60) reads as :59. The
 * outputs are written only on success. Any thread. */
int date_parse(const char *s, size_t n, const struct date_opts *o, int64_t *ts,
               int *offset_min);

/* Parses "+08:00", "-0500", "Z", "UTC", "Asia/Shanghai" into minutes.
 * Returns IG_OK or IG_EINVAL. */
int date_parse_offset(const char *s, int *offset_min);

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t date_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
