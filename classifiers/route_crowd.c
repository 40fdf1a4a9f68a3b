/* route_crowd.c — crowd sizes in digits and Chinese numerals.
 *
 * The plan's red line is "50人以上群体性事件", and complaints write crowd
 * sizes every way: 60余人, 五十多人, 上百名, 近百人, 三四十人, 数百人,
 * 1.2万人, 十几个村民. Each expression becomes a range [lo, hi] of people;
 * the red-line rule judges the LOWER bound against the line, so 四五十人
 * (40-50) and 近50人 (45-49) stay below and 五十多人 (51-59), 近百人
 * (90-99) and 上百名 (100+) are above. A number only counts when a person
 * classifier follows (人 名 位, 个 + a people noun, 号人 after anything but
 * a bare Arabic number): 500户 or 50米 are not
 * crowds, and a bare 千 or 万 (千人计划, 万人空巷) needs a modifier (上千人,
 * 千余人) to count. Ordinals (第50名) are skipped by the scanner.
 *
 * Parsing works on code points: an optional prefix (近 约 上 逾 超过 不到
 * ...), a numeral core (Arabic/full-width digits with an optional range,
 * 1,200-style thousands separators and 十/百/千/万 multiplier, or a
 * Chinese numeral with 几/数 and adjacent-digit ranges such as 三四十,
 * 十五六 or the idiom 三五), an optional suffix (多 余 来), the classifier,
 * and an optional 以上/以下/左右. Spaces may stand around Arabic digits
 * (约 60 名: typeset text puts them between Han and digits).
 */
#include "classifiers/route.h"
#include "classifiers/route_int.h"

#include <stdint.h>
#include <string.h>

#include "core/text.h"

#define CROWD_MAX 1000000000L

enum prefix { P_NONE, P_NEAR, P_ABOUT, P_OVER, P_UNDER, P_UP };
enum suffix { S_NONE, S_MORE, S_ABOUT };

struct cur {
    const char *s;
    size_t n, i;
};

static uint32_t peek_at(const struct cur *c, size_t at, size_t *len)
{
    if (at >= c->n) {
        *len = 0;
        return 0;
    }
    uint32_t cp;
    *len = ig_utf8_decode(c->s + at, c->n - at, &cp);
    return cp == IG_UTF8_INVALID ? 0 : cp;
}

static uint32_t peek(const struct cur *c, size_t *len)
{
    return peek_at(c, c->i, len);
}

static bool eat(struct cur *c, const char *lit)
{
    /* Nearly every try fails on the first byte: no strlen() for those. */
    if (c->i >= c->n || c->s[c->i] != lit[0]) {
        return false;
    }
    size_t l = strlen(lit);
    if (c->n - c->i >= l && memcmp(c->s + c->i, lit, l) == 0) {
        c->i += l;
        return true;
    }
    return false;
}

static bool eat_any(struct cur *c, const char *const *lits)
{
    for (size_t k = 0; lits[k]; k++) {
        if (eat(c, lits[k])) {
            return true;
        }
    }
    return false;
}

/* A space that typesetting puts between Han text and digits (盘古之白:
 * 约 60 名): ASCII space, no-break space, ideographic space. */
static bool is_space(uint32_t cp)
{
    return cp == ' ' || cp == 0xA0 || cp == 0x3000;
}

/* The offset after the spaces at c->i (c->i itself when there are none). */
static size_t after_spaces(const struct cur *c)
{
    size_t at = c->i, l;
    while (at < c->n && is_space(peek_at(c, at, &l))) {
        at += l;
    }
    return at;
}

/* Digit value of an ASCII or full-width digit, -1 otherwise. */
static int arabic(uint32_t cp)
{
    if (cp >= '0' && cp <= '9') {
        return (int)(cp - '0');
    }
    if (cp >= 0xFF10 && cp <= 0xFF19) {
        return (int)(cp - 0xFF10);
    }
    return -1;
}

/* Chinese digit value, -1 otherwise. */
static int han_digit(uint32_t cp)
{
    switch (cp) {
    case 0x96F6: /* 零 */
    case 0x3007: /* 〇 */
        return 0;
    case 0x4E00: /* 一 */
        return 1;
    case 0x4E8C: /* 二 */
    case 0x4E24: /* 两 */
        return 2;
    case 0x4E09: /* 三 */
        return 3;
    case 0x56DB: /* 四 */
        return 4;
    case 0x4E94: /* 五 */
        return 5;
    case 0x516D: /* 六 */
        return 6;
    case 0x4E03: /* 七 */
        return 7;
    case 0x516B: /* 八 */
        return 8;
    case 0x4E5D: /* 九 */
        return 9;
    default:
        return -1;
    }
}

/* Chinese unit value (十 百 千 万), 0 otherwise. */
static long han_unit(uint32_t cp)
{
    switch (cp) {
    case 0x5341: /* 十 */
        return 10;
    case 0x767E: /* 百 */
        return 100;
    case 0x5343: /* 千 */
        return 1000;
    case 0x4E07: /* 万 */
        return 10000;
    default:
        return 0;
    }
}

#define CP_JI 0x51E0  /* 几 */
#define CP_SHU 0x6570 /* 数 */

static long clamp(double v)
{
    if (v < 0) {
        return 0;
    }
    return v > (double)CROWD_MAX ? CROWD_MAX : (long)v;
}

/* Arabic core: 60, 1.2万, 40-50, ５０. */
static bool parse_arabic(struct cur *c, long *lo, long *hi, long *step)
{
    double v[2] = {0, 0};
    int nv = 0;
    size_t l;
    for (;;) {
        int d = arabic(peek(c, &l));
        if (d < 0) {
            return false;
        }
        double x = 0;
        long zeros = 1;
        size_t group = 0; /* digits since the start or the last comma */
        for (;;) {
            while ((d = arabic(peek(c, &l))) >= 0) {
                x = x * 10 + d;
                zeros = d == 0 ? zeros * 10 : 1;
                if (x > 1e12) {
                    x = 1e12;
                }
                c->i += l;
                group++;
            }
            /* A thousands separator: 1,200人 (ASCII comma, then exactly
             * three ASCII digits; 1,2 is a list). */
            if (group >= 1 && group <= 3 && peek(c, &l) == ',' &&
                c->n - c->i >= 4 && c->s[c->i + 1] >= '0' &&
                c->s[c->i + 1] <= '9' && c->s[c->i + 2] >= '0' &&
                c->s[c->i + 2] <= '9' && c->s[c->i + 3] >= '0' &&
                c->s[c->i + 3] <= '9' && arabic(peek_at(c, c->i + 4, &l)) < 0) {
                c->i += 1;
                group = 0;
                continue;
            }
            break;
        }
        if (peek(c, &l) == '.' && arabic(peek_at(c, c->i + 1, &l)) >= 0) {
            double f = 0.1;
            c->i += 1;
            while ((d = arabic(peek(c, &l))) >= 0) {
                x += d * f;
                f /= 10;
                c->i += l;
            }
            zeros = 1;
        }
        v[nv++] = x;
        *step = zeros;
        /* A range: 40-50, 40~50, 40至50, 40到50. */
        static const char *const dash[] = {"-",  "~",  "～", "－",
                                           "至", "到", "—",  NULL};
        size_t save = c->i;
        if (nv == 1 && eat_any(c, dash) && arabic(peek(c, &l)) >= 0) {
            continue;
        }
        c->i = save;
        break;
    }
    size_t sp = after_spaces(c);
    long mult = han_unit(peek_at(c, sp, &l));
    if (mult) {
        c->i = sp + l;
        *step = mult;
    } else {
        mult = 1;
    }
    *lo = clamp(v[0] * (double)mult);
    *hi = clamp(v[nv - 1] * (double)mult);
    if (*hi < *lo) {
        *hi = *lo;
    }
    if (*step > 1 && *lo % *step != 0) {
        *step = 1;
    }
    return true;
}

enum tok_kind { T_DIGIT, T_RANGE, T_FUZZY, T_UNIT };
struct tok {
    enum tok_kind kind;
    int d1, d2;
    long unit;
};

/* Evaluates Chinese numeral tokens, taking the low or high reading of
 * ranges (三四十) and fuzzy digits (几十, 十几, 数百). */
static long eval_han(const struct tok *t, size_t nt, bool high, long *step)
{
    double total = 0, section = 0;
    int digit = -1;
    long last_unit = 0;
    bool after_zero = false;
    for (size_t k = 0; k < nt; k++) {
        switch (t[k].kind) {
        case T_DIGIT:
            if (t[k].d1 == 0) {
                after_zero = true;
            }
            digit = t[k].d1;
            break;
        case T_RANGE:
            digit = high ? t[k].d2 : t[k].d1;
            break;
        case T_FUZZY: {
            /* 几/数 before a unit is 2..9 (几十 = 20-90); trailing it is
             * 1..9 (十几 = 11-19), also before 万, which multiplies the
             * whole of 十几 (十几万 = 110000-190000). */
            bool before_unit = k + 1 < nt && t[k + 1].kind == T_UNIT &&
                               !(t[k + 1].unit == 10000 && section > 0);
            digit = high ? 9 : (before_unit ? 2 : 1);
            break;
        }
        case T_UNIT:
            if (t[k].unit == 10000) {
                /* 万 alone (万余人) is one 万. */
                double base = section + (digit > 0 ? digit : 0);
                total = (total + (base > 0 ? base : 1)) * 10000;
                section = 0;
            } else {
                section += (digit >= 0 ? digit : 1) * (double)t[k].unit;
            }
            digit = -1;
            last_unit = t[k].unit;
            after_zero = false;
            break;
        }
    }
    *step = 1;
    if (digit >= 0) {
        /* 一百五 is 150 and 三万五 is 35000 (the digit counts in tenths
         * of the last unit), but 一百零五 is 105. */
        if (last_unit >= 100 && !after_zero) {
            section += digit * (double)(last_unit / 10);
        } else {
            section += digit;
        }
    } else if (last_unit) {
        *step = last_unit;
    }
    return clamp(total + section);
}

static bool parse_han(struct cur *c, long *lo, long *hi, long *step,
                      bool *unit_only)
{
    struct tok t[16];
    size_t nt = 0;
    size_t l;
    for (;;) {
        uint32_t cp = peek(c, &l);
        int d = han_digit(cp);
        long u = han_unit(cp);
        if (nt == sizeof(t) / sizeof(t[0])) {
            return false;
        }
        if (d >= 0) {
            if (nt && t[nt - 1].kind == T_DIGIT && t[nt - 1].d1 > 0 &&
                (d == t[nt - 1].d1 + 1 || (t[nt - 1].d1 == 3 && d == 5))) {
                /* Adjacent digits are a range: 三四十, 十五六, 两三百;
                 * so is the idiom 三五 (三五百人: 300-500). */
                t[nt - 1].kind = T_RANGE;
                t[nt - 1].d2 = d;
            } else if (nt &&
                       (t[nt - 1].kind == T_DIGIT ||
                        t[nt - 1].kind == T_RANGE) &&
                       !(t[nt - 1].kind == T_DIGIT && t[nt - 1].d1 == 0)) {
                /* 二〇二二: a digit string, a year or a code, no crowd. */
                return false;
            } else {
                t[nt++] = (struct tok){T_DIGIT, d, d, 0};
            }
        } else if (u) {
            t[nt++] = (struct tok){T_UNIT, 0, 0, u};
        } else if (cp == CP_JI || (cp == CP_SHU && nt == 0)) {
            t[nt++] = (struct tok){T_FUZZY, 0, 0, 0};
        } else {
            break;
        }
        c->i += l;
    }
    if (nt == 0) {
        return false;
    }
    if (nt == 1 && t[0].kind == T_FUZZY) {
        /* 几个人: a few, below any line worth judging. */
        *lo = 2;
        *hi = 9;
        *step = 1;
        *unit_only = false;
        return true;
    }
    long s1, s2;
    *lo = eval_han(t, nt, false, &s1);
    *hi = eval_han(t, nt, true, &s2);
    *step = s1;
    /* 十人 and 百人 are people; a bare 千/万 is usually an idiom
     * (千人计划, 万人空巷). */
    *unit_only = nt == 1 && t[0].kind == T_UNIT && t[0].unit >= 1000;
    return true;
}

static const char *const people_nouns[] = {
    "农民工", "外来人员", "年轻人", "村民", "居民", "业主", "工人",
    "群众",   "学生",     "家长",   "员工", "商户", "民工", "老人",
    "孩子",   "小孩",     "男子",   "女子", "人员", "租户", "摊贩",
    "青年",   "市民",     "职工",   "师生", "乘客", "游客", "访民",
    "债主",   "路人",     "男女",   "人",   NULL};

/* The person classifier after the number. loose: the number is not a
 * bare Arabic integer, so 号人 counts (几百号人, 上百号人, 100多号人)
 * while 3号人员 or 12号人行天桥 are a number label. */
static bool classifier(struct cur *c, bool after_suffix, bool loose)
{
    if (eat(c, "个")) {
        return eat_any(c, people_nouns);
    }
    if (eat(c, "名") || eat(c, "位")) {
        return true;
    }
    if (loose && eat(c, "号人")) {
        /* 号人民路, 号人行道, 号人员, 号人工湖, 300多号人口 (population) */
        static const char *const not_people[] = {"民", "行", "员",
                                                 "工", "口", NULL};
        struct cur after = *c;
        return !eat_any(&after, not_people);
    }
    if (eat(c, "人")) {
        /* 50人民币 is money, 五十万人口 a population, 上百人次 a count of
         * visits over time: none of them people gathered at once. */
        static const char *const not_people[] = {"民币", "口", "次", NULL};
        struct cur after = *c;
        return !eat_any(&after, not_people);
    }
    /* 五十多村民: a people noun straight after 多/余. */
    return after_suffix && eat_any(c, people_nouns);
}

bool route_crowd_parse(const char *s, size_t n, long *lo, long *hi, size_t *len)
{
    struct cur c = {s, n, 0};
    enum prefix p = P_NONE;
    /* Idioms of a big crowd: 成百上千 (hundreds to thousands), 成千上万. */
    static const struct {
        const char *w;
        long lo, hi;
    } idioms[] = {{"成百上千", 100, 9999}, {"成千上万", 1000, 99999}};
    for (size_t k = 0; k < sizeof(idioms) / sizeof(idioms[0]); k++) {
        if (eat(&c, idioms[k].w)) {
            if (!classifier(&c, true, true)) {
                return false;
            }
            *lo = idioms[k].lo;
            *hi = idioms[k].hi;
            *len = c.i;
            return true;
        }
    }
    static const char *const near[] = {"将近", "接近", "近", NULL};
    static const char *const about[] = {"大约", "大概", "约", "多达", NULL};
    static const char *const over[] = {"超过", "逾", NULL};
    static const char *const under[] = {"不到", "不足", "不满", "未满", NULL};
    static const char *const up[] = {"上", "成", NULL};
    if (eat_any(&c, near)) {
        p = P_NEAR;
    } else if (eat_any(&c, about)) {
        p = P_ABOUT;
    } else if (eat_any(&c, over)) {
        p = P_OVER;
    } else if (eat_any(&c, under)) {
        p = P_UNDER;
    } else if (eat_any(&c, up)) {
        p = P_UP;
    }

    size_t l;
    if (p != P_NONE) {
        /* 约 60 名: spaces between a prefix and digits. */
        size_t sp = after_spaces(&c);
        if (sp != c.i && arabic(peek_at(&c, sp, &l)) >= 0) {
            c.i = sp;
        }
    }
    uint32_t cp = peek(&c, &l);
    long vlo, vhi, step;
    bool unit_only = false;
    bool digits = arabic(cp) >= 0;
    if (digits) {
        if (p == P_UP) {
            return false;
        }
        if (!parse_arabic(&c, &vlo, &vhi, &step)) {
            return false;
        }
    } else {
        /* 上/成 only go with a bare unit: 上百, 上千, 成百. */
        if (p == P_UP && !han_unit(cp)) {
            return false;
        }
        if (!parse_han(&c, &vlo, &vhi, &step, &unit_only)) {
            return false;
        }
    }

    enum suffix sf = S_NONE;
    if (digits) {
        /* 60 多人, 60 名: spaces after digits. */
        c.i = after_spaces(&c);
    }
    if (eat(&c, "多") || eat(&c, "余")) {
        sf = S_MORE;
    } else if (eat(&c, "来") || eat(&c, "把")) {
        sf = S_ABOUT; /* 百来人, 百把人: about a hundred */
    }
    /* 五十多万人, 50余万名: the 万 after 多/余. */
    long mult = 1;
    if (sf == S_MORE && eat(&c, "万")) {
        mult = 10000;
    }
    if (digits && sf != S_NONE) {
        c.i = after_spaces(&c);
    }
    /* A bare 千/万 (千人计划, 万人空巷) needs a modifier to count. */
    if (unit_only && p == P_NONE && sf == S_NONE) {
        return false;
    }
    if (!classifier(&c, sf != S_NONE, !digits || p != P_NONE || sf != S_NONE)) {
        return false;
    }

    long a = vlo, b = vhi;
    if (sf == S_MORE) {
        a = vlo + 1;
        b = vhi + (step > 1 ? step - 1 : 0);
        if (mult > 1) {
            a = vlo * mult + 1;
            b = (vhi + (step > 1 ? step : 1)) * mult - 1;
        }
    }
    switch (p) {
    case P_NEAR:
        a = vlo * 9 / 10;
        b = vhi > 0 ? vhi - 1 : 0;
        break;
    case P_OVER:
        a = vlo + 1;
        b = (b > a ? b : a) * 2;
        break;
    case P_UNDER:
        a = 0;
        b = vlo > 0 ? vlo - 1 : 0;
        break;
    case P_UP:
        b = vhi * 10 - 1;
        break;
    case P_ABOUT:
    case P_NONE:
        break;
    }
    if (eat(&c, "以上")) {
        b = b > a * 2 ? b : a * 2;
    } else if (eat(&c, "以下")) {
        a = 0;
    } else {
        (void)eat(&c, "左右");
    }
    if (b < a) {
        b = a;
    }
    *lo = clamp((double)a);
    *hi = clamp((double)b);
    *len = c.i;
    return true;
}

/* True when a number may not start right after cp (we would be inside a
 * number, or in an ordinal: 第50名). */
static bool blocks_start(uint32_t cp)
{
    return arabic(cp) >= 0 || han_digit(cp) >= 0 || han_unit(cp) ||
           cp == CP_JI || cp == CP_SHU || cp == '.' || cp == 0x7B2C /* 第 */;
}

/* Cheap filter before a parse: a crowd expression starts with a digit, a
 * numeral or the first character of a prefix (将近 接近 近 大约 大概 约
 * 多达 超过 逾 不到 不足 不满 未满 上 成). */
static bool may_start(uint32_t cp)
{
    if (arabic(cp) >= 0 || han_digit(cp) >= 0 || han_unit(cp) || cp == CP_JI ||
        cp == CP_SHU) {
        return true;
    }
    /* A switch, not a search of the prefix string: this runs on every
     * character of a text a crowd: flag looks at. */
    switch (cp) {
    case 0x5C06: /* 将 */
    case 0x63A5: /* 接 */
    case 0x8FD1: /* 近 */
    case 0x5927: /* 大 */
    case 0x7EA6: /* 约 */
    case 0x591A: /* 多 */
    case 0x8D85: /* 超 */
    case 0x903E: /* 逾 */
    case 0x4E0D: /* 不 */
    case 0x672A: /* 未 */
    case 0x4E0A: /* 上 */
    case 0x6210: /* 成 */
        return true;
    default:
        return false;
    }
}

size_t route_crowd_list(const char *s, size_t n, struct route_crowd *out,
                        size_t max)
{
    size_t k = 0;
    uint32_t prev = 0;
    size_t i = 0;
    while (i < n && k < max) {
        uint32_t cp;
        size_t step = ig_utf8_decode(s + i, n - i, &cp);
        long lo, hi;
        size_t len;
        if (may_start(cp) && !blocks_start(prev) &&
            route_crowd_parse(s + i, n - i, &lo, &hi, &len)) {
            out[k].lo = lo;
            out[k].hi = hi;
            out[k].start = i;
            out[k].end = i + len;
            k++;
            /* Step past the expression: it ends on a classifier, never
             * on a numeral, so the next one may start right after. */
            i += len;
            prev = 0;
            continue;
        }
        /* 第 60 名 is still an ordinal: spaces after 第 keep it. */
        if (!(is_space(cp) && prev == 0x7B2C)) {
            prev = cp;
        }
        i += step;
    }
    return k;
}

long route_crowd_max(const char *s, size_t n, const char **where, size_t *wlen)
{
    struct route_crowd v[64];
    size_t nv = route_crowd_list(s, n, v, sizeof(v) / sizeof(v[0]));
    size_t best = 0;
    for (size_t i = 1; i < nv; i++) {
        if (v[i].lo > v[best].lo) {
            best = i;
        }
    }
    if (where) {
        *where = nv ? s + v[best].start : NULL;
    }
    if (wlen) {
        *wlen = nv ? v[best].end - v[best].start : 0;
    }
    return nv ? v[best].lo : 0;
}
