/* date.c — a forgiving but validating date parser for feeds and pages.
 *
 * Design: rather than one strptime() format per shape (there are dozens,
 * and every new site brings one), the string is first normalised (CJK
 * date markers become separators, 上午/下午 and 오전/오후 become AM/PM,
 * parenthesised comments go) and then read as tokens: a date block
 * ("2022-09-25", "2022/9/25", "09-25"), a time block ("14:30:00.5+08:00"),
 * month and weekday names, AM/PM, numbers (day or year by position and
 * width) and a zone (numeric, "GMT+8", named, "Etc/GMT", Asia/Shanghai).
 * Every field is range-checked once at the end, so "2022年13月45日" and
 * "31 Jun" are rejected rather than wrapped by timegm(). Any token that is
 * not understood rejects the whole string: an unparseable date is kept as
 * raw text by the caller, which is better than a wrong instant.
 *
 * Left out: non-English month names other than CJK numerals (Greek,
 * Hungarian), ISO week and ordinal dates; feedparser's vectors for those are
 * counted in the test but not required.
 */
#include "connectors/date.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"

void date_opts_default(struct date_opts *o)
{
    o->local_offset_min = 480;
    o->cst_is_china = true;
    o->now = 0;
    o->min_year = 0;
    o->max_year = 0;
}

int64_t date_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* H. Hinnant's algorithm: exact for the whole proleptic calendar. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned mdays(int64_t y, unsigned m)
{
    static const unsigned d[] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

struct zone {
    const char *name;
    int off_min;
};

/* Named zones seen in feeds. "CST" is decided by the options. */
static const struct zone zones[] = {
    {"UT", 0},
    {"UTC", 0},
    {"GMT", 0},
    {"Z", 0},
    {"ETC/GMT", 0},
    {"ETC/UTC", 0},
    {"EST", -300},
    {"EDT", -240},
    {"CDT", -300},
    {"MST", -420},
    {"MDT", -360},
    {"PST", -480},
    {"PDT", -420},
    {"AT", -240},
    {"ET", -300},
    {"CT", -360},
    {"MT", -420},
    {"PT", -480},
    {"AST", -240},
    {"ADT", -180},
    {"MET", 60},
    {"MEST", 120},
    {"CET", 60},
    {"CEST", 120},
    {"BST", 60},
    {"EET", 120},
    {"EEST", 180},
    {"WET", 0},
    {"WEST", 60},
    {"JST", 540},
    {"KST", 540},
    {"HKT", 480},
    {"SGT", 480},
    {"AWST", 480},
    {"AEST", 600},
    {"AEDT", 660},
    {"NZST", 720},
    {"NZDT", 780},
    {"MSK", 180},
    {"IST", 330},
    {"BJT", 480},
    {"ASIA/SHANGHAI", 480},
    {"PRC", 480},
    {"ASIA/CHONGQING", 480},
    {"ASIA/HONG_KONG", 480},
    {"ASIA/TAIPEI", 480},
    {"ASIA/TOKYO", 540},
    {"ASIA/SEOUL", 540},
    {"EUROPE/LONDON", 0},
    {"AMERICA/NEW_YORK", -300},
    {"AMERICA/LOS_ANGELES", -480},
    {"AMERICA/CHICAGO", -360},
};

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const months_full[] = {
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december"};
static const char *const wdays[] = {"mon", "tue", "wed", "thu",
                                    "fri", "sat", "sun"};
static const char *const wdays_full[] = {
    "monday",   "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday",  "tues",      "thur",     "thurs"};

/* Parses "+HH:MM", "+HHMM", "+HH", "+H" at s (len n). */
static int numeric_offset(const char *s, size_t n, int *off)
{
    if (n < 2 || (s[0] != '+' && s[0] != '-')) {
        return IG_EINVAL;
    }
    int sign = s[0] == '-' ? -1 : 1;
    const char *p = s + 1;
    size_t m = n - 1;
    int h = 0;
    int mi = 0;
    if (m == 1 || m == 2) {
        for (size_t i = 0; i < m; i++) {
            if (!isdigit((unsigned char)p[i])) {
                return IG_EINVAL;
            }
            h = h * 10 + (p[i] - '0');
        }
    } else if (m == 4 || (m == 5 && p[2] == ':')) {
        const char *q = m == 5 ? p + 3 : p + 2;
        if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) ||
            !isdigit((unsigned char)q[0]) || !isdigit((unsigned char)q[1])) {
            return IG_EINVAL;
        }
        h = (p[0] - '0') * 10 + (p[1] - '0');
        mi = (q[0] - '0') * 10 + (q[1] - '0');
    } else {
        return IG_EINVAL;
    }
    if (h > 14 || mi > 59) {
        return IG_EINVAL;
    }
    *off = sign * (h * 60 + mi);
    return IG_OK;
}

static int zone_offset(const char *s, size_t n, bool cst_china, int *off)
{
    char up[32];
    if (n == 0 || n >= sizeof(up)) {
        return IG_EINVAL;
    }
    if (s[0] == '+' || s[0] == '-') {
        return numeric_offset(s, n, off);
    }
    for (size_t i = 0; i < n; i++) {
        up[i] = (char)toupper((unsigned char)s[i]);
    }
    up[n] = '\0';
    /* "GMT+8", "UTC-01:01": a base name followed by an offset. */
    for (size_t k = 0; k < 2; k++) {
        const char *base = k == 0 ? "GMT" : "UTC";
        if (n > 3 && strncmp(up, base, 3) == 0 &&
            (up[3] == '+' || up[3] == '-')) {
            return numeric_offset(s + 3, n - 3, off);
        }
    }
    if (strcmp(up, "CST") == 0) {
        *off = cst_china ? 480 : -360;
        return IG_OK;
    }
    for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
        if (strcmp(up, zones[i].name) == 0) {
            *off = zones[i].off_min;
            return IG_OK;
        }
    }
    return IG_EINVAL;
}

int date_parse_offset(const char *s, int *offset_min)
{
    return zone_offset(s, strlen(s), true, offset_min);
}

struct dt {
    int64_t year; /* -1 unset */
    int mon, day; /* 0 unset */
    int hour, min, sec;
    bool have_time;
    int ampm; /* 0 none, 1 am, 2 pm */
    bool have_zone;
    int off;
};

/* Reads up to maxd digits at *p; returns the count. */
static int digits(const char **p, const char *end, int maxd, long *v)
{
    int n = 0;
    *v = 0;
    while (*p < end && n < maxd && isdigit((unsigned char)**p)) {
        *v = *v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    return n;
}

/* Time "H:M[:S[.frac]]" optionally followed by a zone. */
static int parse_time(const char *p, const char *end, struct dt *t,
                      bool cst_china)
{
    long h;
    long m;
    long s = 0;
    if (digits(&p, end, 2, &h) == 0 || p >= end || *p != ':') {
        return IG_EINVAL;
    }
    p++;
    if (digits(&p, end, 2, &m) == 0) {
        return IG_EINVAL;
    }
    if (p < end && *p == ':') {
        p++;
        if (digits(&p, end, 2, &s) == 0) {
            return IG_EINVAL;
        }
        if (p < end && (*p == '.' || *p == ',')) {
            p++;
            long frac;
            if (digits(&p, end, 9, &frac) == 0) {
                return IG_EINVAL;
            }
        }
    }
    t->hour = (int)h;
    t->min = (int)m;
    t->sec = (int)s;
    t->have_time = true;
    if (p < end) {
        if (t->have_zone) {
            return IG_EINVAL;
        }
        if (zone_offset(p, (size_t)(end - p), cst_china, &t->off) < 0) {
            return IG_EINVAL;
        }
        t->have_zone = true;
    }
    return IG_OK;
}

/* Date block: YYYY-MM-DD, YYYY/MM/DD, YYYY-MM, YY-MM-DD, MM-DD, YYYYMMDD,
 * YYMMDD, optionally followed by 'T' and a time. */
static int parse_date_block(const char *p, const char *end, struct dt *t,
                            bool cst_china)
{
    long a;
    long b = 0;
    long c = 0;
    int na = digits(&p, end, 8, &a);
    if (na == 8 && (p == end || *p == 'T')) {
        t->year = a / 10000;
        t->mon = (int)(a / 100 % 100);
        t->day = (int)(a % 100);
    } else if (na == 6 && p == end) {
        t->year = 2000 + a / 10000;
        t->mon = (int)(a / 100 % 100);
        t->day = (int)(a % 100);
    } else if (p < end && (*p == '-' || *p == '/' || *p == '.')) {
        char sep = *p++;
        int nb = digits(&p, end, 3, &b);
        if (nb == 0) {
            return IG_EINVAL;
        }
        if (p < end && *p == sep) {
            p++;
            if (digits(&p, end, 2, &c) == 0) {
                return IG_EINVAL;
            }
            if (na == 4) {
                t->year = a;
            } else if (na == 2) {
                t->year = a < 50 ? 2000 + a : 1900 + a;
            } else {
                return IG_EINVAL;
            }
            t->mon = (int)b;
            t->day = (int)c;
        } else if (na == 4) {
            t->year = a;
            t->mon = (int)b;
            t->day = 1;
        } else if (na <= 2 && nb <= 2) {
            t->mon = (int)a; /* month-day without a year */
            t->day = (int)b;
        } else {
            return IG_EINVAL;
        }
    } else if (na == 4 && p == end) {
        t->year = a;
        t->mon = 1;
        t->day = 1;
    } else {
        return IG_EINVAL;
    }
    if (p < end) {
        if (*p != 'T' && *p != 't') {
            return IG_EINVAL;
        }
        return parse_time(p + 1, end, t, cst_china);
    }
    return IG_OK;
}

static int name_index(const char *s, size_t n, const char *const *tab,
                      size_t ntab)
{
    for (size_t i = 0; i < ntab; i++) {
        if (strlen(tab[i]) == n && strncasecmp(s, tab[i], n) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static int month_of(const char *s, size_t n)
{
    int i = name_index(s, n, months, 12);
    if (i < 0) {
        i = name_index(s, n, months_full, 12);
    }
    if (i < 0 && n == 4 && strncasecmp(s, "sept", 4) == 0) {
        i = 8;
    }
    return i < 0 ? 0 : i + 1;
}

/* True when a dash-separated part of s is a month name. */
static bool has_month_word(const char *s, size_t n)
{
    size_t a = 0;
    while (a < n) {
        size_t b = a;
        while (b < n && s[b] != '-') {
            b++;
        }
        if (b > a && month_of(s + a, b - a) != 0) {
            return true;
        }
        a = b + 1;
    }
    return false;
}

static bool is_weekday(const char *s, size_t n)
{
    return name_index(s, n, wdays, 7) >= 0 ||
           name_index(s, n, wdays_full, 10) >= 0;
}

/* Copies s to out with CJK markers turned into ASCII separators and
 * comments removed. Returns false when the result does not fit. */
static bool normalise(const char *s, size_t n, char *out, size_t outsz,
                      bool *korean)
{
    static const struct {
        const char *from;
        const char *to;
    } map[] = {
        {"年", "-"},           {"月", "-"},
        {"日", " "},           {"号", " "},
        {"時", ":"},           {"时", ":"},
        {"点", ":"},           {"分", " "},
        {"秒", " "},           {"上午", " AM "},
        {"下午", " PM "},      {"晚上", " PM "},
        {"凌晨", " AM "},      {"早上", " AM "},
        {"中午", " PM "},      {"년", "-"},
        {"월", "-"},           {"일", " "},
        {"오전", " AM "},      {"오후", " PM "},
        {"\xE3\x80\x80", " "}, /* U+3000 ideographic space */
        {"\xC2\xA0", " "},     /* U+00A0 */
    };
    size_t o = 0;
    int paren = 0;
    for (size_t i = 0; i < n;) {
        bool done = false;
        for (size_t k = 0; k < sizeof(map) / sizeof(map[0]); k++) {
            size_t fl = strlen(map[k].from);
            if (i + fl <= n && memcmp(s + i, map[k].from, fl) == 0) {
                size_t tl = strlen(map[k].to);
                if (o + tl >= outsz) {
                    return false;
                }
                if (paren == 0) {
                    memcpy(out + o, map[k].to, tl);
                    o += tl;
                }
                /* Hangul markers: Korean sites mean KST. */
                if ((unsigned char)map[k].from[0] == 0xEB ||
                    (unsigned char)map[k].from[0] == 0xEC) {
                    *korean = true;
                }
                i += fl;
                done = true;
                break;
            }
        }
        if (done) {
            continue;
        }
        char c = s[i++];
        if (c == '(') {
            paren++;
            continue;
        }
        if (c == ')' && paren > 0) {
            paren--;
            continue;
        }
        if (paren > 0) {
            continue;
        }
        if (o + 1 >= outsz) {
            return false;
        }
        out[o++] = c == ',' || c == '\t' || c == '\n' || c == '\r' ? ' ' : c;
    }
    out[o] = '\0';
    return true;
}

static int apply_token(const char *p, size_t n, struct dt *t,
                       const struct date_opts *o)
{
    /* Labels in front of a date on Chinese pages ("发表于", "时间：")
     * are skipped: a token's leading non-ASCII and punctuation run is
     * not part of it. */
    while (n > 0 &&
           ((unsigned char)p[0] >= 0x80 ||
            (!isalnum((unsigned char)p[0]) && p[0] != '+' && p[0] != '-'))) {
        p++;
        n--;
    }
    if (n == 0) {
        return IG_OK;
    }
    const char *end = p + n;
    unsigned char c0 = (unsigned char)p[0];

    /* Date block (digits then '-' '/' '.') or compact 6/8 digits. */
    if (isdigit(c0)) {
        size_t k = 0;
        while (k < n && isdigit((unsigned char)p[k])) {
            k++;
        }
        if (k < n && (p[k] == '-' || p[k] == '/' || p[k] == '.' ||
                      (p[k] == 'T' && k == 8))) {
            if (t->mon != 0) {
                return IG_EINVAL;
            }
            int rc = parse_date_block(p, end, t, o->cst_is_china);
            if (rc < 0 && has_month_word(p, n)) {
                return IG_EAGAIN; /* "25-Sep-2022": split and retry */
            }
            return rc;
        }
        if (k < n && p[k] == ':') {
            if (t->have_time) {
                return IG_EINVAL;
            }
            return parse_time(p, end, t, o->cst_is_china);
        }
        if (k < n) {
            /* "2:30PM" style: digits, time, letters. */
            return IG_EINVAL;
        }
        long v = 0;
        for (size_t i = 0; i < k; i++) {
            v = v * 10 + (p[i] - '0');
        }
        if ((k == 8 || k == 6) && t->mon == 0 && t->year < 0) {
            return parse_date_block(p, end, t, o->cst_is_china);
        }
        if ((k == 12 || k == 14) && t->mon == 0 && t->year < 0 &&
            !t->have_time) {
            /* yyyymmddHHMM[SS], as database exports write it. */
            int rc = parse_date_block(p, p + 8, t, o->cst_is_china);
            const char *q = p + 8;
            long hh;
            long mi;
            long ss = 0;
            digits(&q, end, 2, &hh);
            digits(&q, end, 2, &mi);
            if (k == 14) {
                digits(&q, end, 2, &ss);
            }
            t->hour = (int)hh;
            t->min = (int)mi;
            t->sec = (int)ss;
            t->have_time = true;
            return rc;
        }
        if (k == 4 && t->year < 0) {
            t->year = v;
            return IG_OK;
        }
        if (k <= 2 && t->day == 0) {
            t->day = (int)v;
            return IG_OK;
        }
        if (k == 2 && t->year < 0 && t->mon != 0) {
            t->year = v < 50 ? 2000 + v : 1900 + v;
            return IG_OK;
        }
        return IG_EINVAL;
    }
    if (c0 == '+' || c0 == '-') {
        if (t->have_zone) {
            return IG_EINVAL;
        }
        if (numeric_offset(p, n, &t->off) < 0) {
            return IG_EINVAL;
        }
        t->have_zone = true;
        return IG_OK;
    }
    /* Words: AM/PM (possibly glued to a time: "PM2:30"), names, zones. */
    if (n >= 2 &&
        (strncasecmp(p, "AM", 2) == 0 || strncasecmp(p, "PM", 2) == 0) &&
        (n == 2 || isdigit((unsigned char)p[2]))) {
        t->ampm = toupper(c0) == 'A' ? 1 : 2;
        if (n > 2) {
            return apply_token(p + 2, n - 2, t, o);
        }
        return IG_OK;
    }
    if (n == 4 &&
        (strncasecmp(p, "a.m.", 4) == 0 || strncasecmp(p, "p.m.", 4) == 0)) {
        t->ampm = toupper(c0) == 'A' ? 1 : 2;
        return IG_OK;
    }
    /* Trailing '.' after a month abbreviation ("Sept."). */
    size_t wn = n;
    if (wn > 1 && p[wn - 1] == '.') {
        wn--;
    }
    int m = month_of(p, wn);
    if (m != 0) {
        if (t->mon != 0) {
            return IG_EINVAL;
        }
        t->mon = m;
        return IG_OK;
    }
    if (is_weekday(p, wn)) {
        return IG_OK;
    }
    int zoff;
    if (zone_offset(p, n, o->cst_is_china, &zoff) == 0) {
        /* "+0800 CST": the numeric offset came first and wins. */
        if (!t->have_zone) {
            t->have_zone = true;
            t->off = zoff;
        }
        return IG_OK;
    }
    /* "Sep-25-2022": month name and numbers glued with dashes. */
    if (memchr(p, '-', n) != NULL && has_month_word(p, n)) {
        return IG_EAGAIN;
    }
    return IG_EINVAL;
}

/* Relative dates of forum pages: "刚刚", "5分钟前", "3 hours ago",
 * "昨天 14:30", "今天 09:05". Needs o->now. Returns IG_OK when s is one. */
static int relative_date(const char *s, size_t n, const struct date_opts *o,
                         int64_t *ts, int *offset_min)
{
    static const struct {
        const char *suffix;
        int64_t unit_s;
    } ago[] = {
        {"秒前", 1},           {"秒钟前", 1},        {"分钟前", 60},
        {"分前", 60},          {"小时前", 3600},     {"个小时前", 3600},
        {"天前", 86400},       {"周前", 604800},     {"seconds ago", 1},
        {"second ago", 1},     {"minutes ago", 60},  {"minute ago", 60},
        {"mins ago", 60},      {"min ago", 60},      {"hours ago", 3600},
        {"hour ago", 3600},    {"days ago", 86400},  {"day ago", 86400},
        {"weeks ago", 604800}, {"week ago", 604800},
    };
    static const struct {
        const char *word;
        int days;
    } dayw[] = {{"今天", 0}, {"昨天", 1}, {"前天", 2}};
    int64_t off = o->local_offset_min;

    if (o->now == 0) {
        return IG_EPARSE;
    }
    if ((n == 6 && memcmp(s, "刚刚", 6) == 0) ||
        (n == 8 && strncasecmp(s, "just now", 8) == 0)) {
        *ts = o->now;
        *offset_min = (int)off;
        return IG_OK;
    }
    /* "N unit ago". */
    size_t k = 0;
    int64_t v = 0;
    while (k < n && k < 6 && isdigit((unsigned char)s[k])) {
        v = v * 10 + (s[k] - '0');
        k++;
    }
    if (k > 0) {
        size_t j = k;
        while (j < n && s[j] == ' ') {
            j++;
        }
        for (size_t i = 0; i < sizeof(ago) / sizeof(ago[0]); i++) {
            size_t sl = strlen(ago[i].suffix);
            if (n - j == sl && strncasecmp(s + j, ago[i].suffix, sl) == 0) {
                *ts = o->now - v * ago[i].unit_s;
                *offset_min = (int)off;
                return IG_OK;
            }
        }
        return IG_EPARSE;
    }
    /* "昨天 14:30": a day word, then an optional time. */
    for (size_t i = 0; i < sizeof(dayw) / sizeof(dayw[0]); i++) {
        size_t wl = strlen(dayw[i].word);
        if (n < wl || memcmp(s, dayw[i].word, wl) != 0) {
            continue;
        }
        long h = 0;
        long m = 0;
        long sec = 0;
        const char *p = s + wl;
        const char *end = s + n;
        while (p < end && *p == ' ') {
            p++;
        }
        if (p < end) {
            if (digits(&p, end, 2, &h) == 0 || p >= end || *p != ':') {
                return IG_EPARSE;
            }
            p++;
            if (digits(&p, end, 2, &m) != 2) {
                return IG_EPARSE;
            }
            if (p < end && *p == ':') {
                p++;
                if (digits(&p, end, 2, &sec) != 2) {
                    return IG_EPARSE;
                }
            }
            if (p != end || h > 23 || m > 59 || sec > 59) {
                return IG_EPARSE;
            }
        }
        int64_t local = o->now + off * 60;
        int64_t day = (local >= 0 ? local / 86400 : (local - 86399) / 86400) -
                      dayw[i].days;
        *ts = day * 86400 + h * 3600 + m * 60 + sec - off * 60;
        *offset_min = (int)off;
        return IG_OK;
    }
    return IG_EPARSE;
}

static int parse_any(const char *s, size_t n, const struct date_opts *o,
                     int64_t *ts, int *offset_min)
{
    char buf[128];
    bool korean = false;
    struct dt t = {.year = -1};
    size_t len;

    while (n > 0 && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        n--;
    }
    if (n == 0 || n >= sizeof(buf) / 2) {
        return IG_EPARSE;
    }

    if (relative_date(s, n, o, ts, offset_min) == IG_OK) {
        return IG_OK;
    }

    /* Unix epoch seconds (10 digits) or milliseconds (13 digits). */
    {
        size_t k = 0;
        while (k < n && isdigit((unsigned char)s[k])) {
            k++;
        }
        if (k == n && (k == 9 || k == 10 || k == 13)) {
            int64_t v = 0;
            for (size_t i = 0; i < k; i++) {
                v = v * 10 + (s[i] - '0');
            }
            if (k == 13) {
                v /= 1000;
            }
            *ts = v;
            *offset_min = o->local_offset_min;
            return IG_OK;
        }
    }

    if (!normalise(s, n, buf, sizeof(buf), &korean)) {
        return IG_EPARSE;
    }
    len = strlen(buf);
    /* "2022-9-25" after CJK markers may end in '-': "2022-9-25 " came from
     * 年月日; a dangling '-' ("11-27-") is trimmed per token below. */
    for (size_t i = 0; i < len;) {
        while (i < len && buf[i] == ' ') {
            i++;
        }
        size_t j = i;
        while (j < len && buf[j] != ' ') {
            j++;
        }
        if (j > i) {
            size_t tl = j - i;
            if (tl > 1 && buf[i + tl - 1] == '-' &&
                isdigit((unsigned char)buf[i])) {
                tl--;
            }
            int rc = apply_token(buf + i, tl, &t, o);
            if (rc == IG_EAGAIN) {
                /* Split "25-Sep-2022" at its dashes and read the parts. */
                size_t a = i;
                size_t e = i + tl;
                while (a < e) {
                    size_t b = a;
                    while (b < e && buf[b] != '-') {
                        b++;
                    }
                    if (b > a && apply_token(buf + a, b - a, &t, o) != IG_OK) {
                        return IG_EPARSE;
                    }
                    a = b + 1;
                }
                rc = IG_OK;
            }
            if (rc < 0) {
                return IG_EPARSE;
            }
        }
        i = j;
    }

    /* Year-less dates ("11月27日"): the most recent such day. */
    bool yearless = false;
    if (t.year < 0) {
        if (o->now == 0 || t.mon == 0) {
            return IG_EPARSE;
        }
        yearless = true;
        int64_t local = o->now + (int64_t)o->local_offset_min * 60;
        int64_t days = local / 86400;
        /* civil_from_days for the current year only. */
        int64_t y = 1970 + days / 366;
        while (date_days_from_civil(y + 1, 1, 1) <= days) {
            y++;
        }
        t.year = y;
    }
    if (t.mon < 1 || t.mon > 12) {
        return IG_EPARSE;
    }
    if (t.day == 0) {
        t.day = 1;
    }
    if (t.year < 1 || t.year > 9999 || t.day < 1 ||
        (unsigned)t.day > mdays(t.year, (unsigned)t.mon)) {
        return IG_EPARSE;
    }
    if (t.ampm != 0) {
        if (t.hour < 1 || t.hour > 12) {
            return IG_EPARSE;
        }
        if (t.ampm == 1 && t.hour == 12) {
            t.hour = 0;
        } else if (t.ampm == 2 && t.hour != 12) {
            t.hour += 12;
        }
    }
    if (t.hour > 23 || t.min > 59 || t.sec > 60) {
        return IG_EPARSE;
    }
    if (t.sec == 60) {
        t.sec = 59;
    }
    int off = t.have_zone ? t.off : (korean ? 540 : o->local_offset_min);
    int64_t v =
        date_days_from_civil(t.year, (unsigned)t.mon, (unsigned)t.day) * 86400 +
        t.hour * 3600 + t.min * 60 + t.sec - (int64_t)off * 60;
    if (yearless && v > o->now + 86400) {
        if (t.mon == 2 && t.day == 29) {
            return IG_EPARSE;
        }
        v = date_days_from_civil(t.year - 1, (unsigned)t.mon, (unsigned)t.day) *
                86400 +
            t.hour * 3600 + t.min * 60 + t.sec - (int64_t)off * 60;
    }
    *ts = v;
    *offset_min = off;
    return IG_OK;
}

/* True when ts, read at offset off_min, falls in o's years. Checked on the
 * result rather than per form, so epochs, relative and written dates obey
 * one rule. */
static bool years_ok(const struct date_opts *o, int64_t ts, int off_min)
{
    int64_t local = ts + (int64_t)off_min * 60;
    if (o->min_year > 0 &&
        local < date_days_from_civil(o->min_year, 1, 1) * 86400) {
        return false;
    }
    if (o->max_year > 0 &&
        local >= date_days_from_civil((int64_t)o->max_year + 1, 1, 1) * 86400) {
        return false;
    }
    return true;
}

int date_parse(const char *s, size_t n, const struct date_opts *o, int64_t *ts,
               int *offset_min)
{
    int64_t v;
    int off;
    int rc = parse_any(s, n, o, &v, &off);
    if (rc < 0) {
        return rc;
    }
    if (!years_ok(o, v, off)) {
        return IG_EPARSE;
    }
    *ts = v;
    *offset_min = off;
    return IG_OK;
}
