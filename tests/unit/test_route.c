/* test_route.c — the router on the shipped rules/ data: places, crowd
 * sizes, the department directory for all 144 codes, red-line flags, the
 * multi-report hook, the track table, load diagnostics and JSON.
 *
 * Sentences here are written for the tests (not taken from the corpus).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "classifiers/classifier.h"
#include "classifiers/route.h"
#include "classifiers/route_int.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/diag.h"
#include "core/err.h"
#include "core/jsonw.h"
#include "core/mem.h"
#include "core/text.h"
#include "tests/lib/test_dirs.h"

static struct router *RT;
static char RULES[4096];

static int setup(void **state)
{
    const char *src = test_source_dir();
    snprintf(RULES, sizeof(RULES), "%s/rules", src);
    struct ig_diags d;
    ig_diags_init(&d);
    int rc = route_load(RULES, &RT, &d);
    if (rc < 0) {
        ig_diags_print(&d, stderr);
    }
    ig_diags_fini(&d);
    return rc < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    route_free(RT);
    return 0;
}

/* Routes text (no title) with an optional taxon. */
static void route(const char *text, const struct taxon *top, struct ig_arena *a,
                  struct route_result *r)
{
    assert_int_equal(route_apply(RT, NULL, 0, text, strlen(text), top, a, r),
                     IG_OK);
}

/* ---- places ----------------------------------------------------------- */

struct place_case {
    const char *text;
    const char *name;  /* expected canonical place, NULL = none */
    const char *towns; /* expected towns joined by |, "" = none */
};

static const struct place_case place_cases[] = {
    /* Every street, town and the park, full name and alias. */
    {"夏阳街道某小区门口井盖松动", "夏阳街道", "夏阳街道"},
    {"家住夏阳，楼下路灯不亮", "夏阳街道", "夏阳街道"},
    {"盈浦街道菜场旁边垃圾堆了好几天", "盈浦街道", "盈浦街道"},
    {"盈浦这边的公厕没人打扫", "盈浦街道", "盈浦街道"},
    {"香花桥街道有人占道经营", "香花桥街道", "香花桥街道"},
    {"香花桥一带晚上有人露天烧垃圾", "香花桥街道", "香花桥街道"},
    {"朱家角镇老街河道有油污", "朱家角镇", "朱家角镇"},
    {"周末去朱家角，看到桥栏杆断了", "朱家角镇", "朱家角镇"},
    {"练塘镇一处农田被倾倒建筑垃圾", "练塘镇", "练塘镇"},
    {"练塘那边有人电鱼", "练塘镇", "练塘镇"},
    {"金泽镇某村民房违法搭建", "金泽镇", "金泽镇"},
    {"金泽的公交站牌被撞歪了", "金泽镇", "金泽镇"},
    {"赵巷镇路口红绿灯坏了", "赵巷镇", "赵巷镇"},
    {"赵巷附近一辆废弃车停了半年", "赵巷镇", "赵巷镇"},
    {"徐泾镇地铁站出口积水严重", "徐泾镇", "徐泾镇"},
    {"徐泾某工地夜间施工扰民", "徐泾镇", "徐泾镇"},
    {"华新镇一家饭店油烟扰民", "华新镇", "华新镇"},
    {"华新这边有人非法收废品", "华新镇", "华新镇"},
    {"重固镇的健身器材坏了", "重固镇", "重固镇"},
    {"重固有一段护栏倒了", "重固镇", "重固镇"},
    {"白鹤镇有人焚烧秸秆", "白鹤镇", "白鹤镇"},
    {"白鹤那里的河道漂满垃圾", "白鹤镇", "白鹤镇"},
    {"青浦工业园区一家厂区门口堆物", "青浦工业园区", "青浦工业园区"},
    {"青浦工业园里的路灯全黑", "青浦工业园区", "青浦工业园区"},
    /* Specific places beat town names and carry their town. */
    {"国家会展中心附近乱停车很多", "国家会展中心", "徐泾镇"},
    {"进博会期间四叶草周边黑车拉客", "国家会展中心", "徐泾镇"},
    {"东方绿舟门口有人散发小广告", "东方绿舟", "朱家角镇"},
    {"陈云纪念馆旁边的绿地被占", "陈云纪念馆", "练塘镇"},
    {"福泉山遗址边上有人挖土", "福泉山遗址", "重固镇"},
    {"西岑这边的垃圾箱房满了", "西岑", "金泽镇"},
    /* Ambiguous places give both towns, unless a town is named too. */
    {"淀山湖边上发现大片死鱼", "淀山湖", "朱家角镇|金泽镇"},
    {"金泽镇淀山湖边上发现大片死鱼", "淀山湖", "金泽镇"},
    {"崧泽大道上有个大坑", "崧泽大道", "徐泾镇|赵巷镇"},
    {"赵巷镇崧泽大道上有个大坑", "崧泽大道", "赵巷镇"},
    {"318国道边上有人倾倒垃圾", "沪青平公路",
     "徐泾镇|赵巷镇|夏阳街道|盈浦街道|朱家角镇|金泽镇"},
    {"朱家角沪青平公路边上有人倾倒垃圾", "沪青平公路", "朱家角镇"},
    {"青浦镇老城区里面的下水道堵了", "青浦镇", "夏阳街道|盈浦街道"},
    /* Near-misses: the district is not a town, a bird is not 白鹤镇. */
    {"青浦这边到处是共享单车乱停", "青浦区", ""},
    {"青浦区有人在路边烧垃圾", "青浦区", ""},
    {"河边飞来一只白鹤，很漂亮", NULL, ""},
    {"昆山淀山湖镇的工厂排污", NULL, ""},
    {"虹口青浦路上有个井盖没了", NULL, ""},
    {"小区门口井盖不见了", NULL, ""},
    /* A short alias after a surname is a person (~alias in places.tsv). */
    {"村书记邓华新不作为，群众意见很大", NULL, ""},
    {"反映人王白鹤称路灯坏了", NULL, ""},
    {"位于华新的一个工厂偷排废水", "华新镇", "华新镇"},
    {"邓华新说华新镇的路坏了", "华新镇", "华新镇"},
    {"", NULL, ""},
};

static void join_towns(const struct route_result *r, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < r->ntowns; i++) {
        if (i) {
            strncat(out, "|", cap - strlen(out) - 1);
        }
        strncat(out, r->towns[i], cap - strlen(out) - 1);
    }
}

static void test_places(void **state)
{
    for (size_t i = 0; i < sizeof(place_cases) / sizeof(place_cases[0]); i++) {
        const struct place_case *c = &place_cases[i];
        struct ig_arena *a = ig_arena_new(0);
        struct route_result r;
        route(c->text, NULL, a, &r);
        char towns[256];
        join_towns(&r, towns, sizeof(towns));
        if (c->name) {
            if (!r.has_place || strcmp(r.place.name, c->name) != 0) {
                fail_msg("%s: place %s, want %s", c->text,
                         r.has_place ? r.place.name : "(none)", c->name);
            }
            /* The span is the original text. */
            assert_memory_equal(c->text + r.place.start, r.place.text,
                                r.place.end - r.place.start);
            assert_int_equal(r.place.field, 1);
        } else if (r.has_place) {
            fail_msg("%s: unexpected place %s", c->text, r.place.name);
        }
        if (strcmp(towns, c->towns) != 0) {
            fail_msg("%s: towns '%s', want '%s'", c->text, towns, c->towns);
        }
        ig_arena_free(a);
    }
}

static void test_place_title_first(void **state)
{
    struct ig_arena *a = ig_arena_new(0);
    struct route_result r;
    const char *title = "徐泾镇井盖缺失";
    const char *text = "我住在朱家角镇";
    assert_int_equal(
        route_apply(RT, title, strlen(title), text, strlen(text), NULL, a, &r),
        IG_OK);
    assert_true(r.has_place);
    assert_string_equal(r.place.name, "徐泾镇");
    assert_int_equal(r.place.field, 0);
    assert_int_equal(r.place.start, 0);
    assert_int_equal(r.place.end, strlen("徐泾镇"));
    ig_arena_free(a);
}

/* ---- crowd sizes ------------------------------------------------------ */

struct crowd_case {
    const char *s;
    long lo; /* expected lower bound; -1 = not a crowd */
};

static const struct crowd_case crowd_cases[] = {
    /* At or above the 50-person line. */
    {"50人", 50},
    {"60余人", 61},
    {"六十多人", 61},
    {"五十多人", 51},
    {"上百名", 100},
    {"数百人", 200},
    {"近百人", 90},
    {"百余人", 101},
    {"一百多名工人", 101},
    {"两三百人", 200},
    {"上千人", 1000},
    {"1.2万人", 12000},
    {"约50人", 50},
    {"50人以上", 50},
    {"逾百人", 101},
    {"超过60人", 61},
    {"五十来个村民", 50},
    {"８０多名业主", 81},
    {"一百五六十人", 150},
    {"几百人", 200},
    {"千余人", 1001},
    {"万余人", 10001},
    {"百人", 100},
    {"五六十人", 50},
    {"100多个居民", 101},
    {"几百号人", 200},
    {"上百号人", 100},
    {"一百多号人", 101},
    {"三五百人", 300},
    {"约 60 名工人", 60},
    {"60 多人", 61},
    {"５０ 余名", 51},
    {"1,200人", 1200},
    {"十几万人", 110000},
    /* Below the line. */
    {"49人", 49},
    {"三四十人", 30},
    {"四五十人", 40},
    {"近50人", 45},
    {"不到50人", 0},
    {"十几人", 11},
    {"数十人", 20},
    {"几十名", 20},
    {"二十多人", 21},
    {"十来人", 10},
    {"三个人", 3},
    {"一名男子", 1},
    {"四十九人", 49},
    {"十人", 10},
    {"30余名", 31},
    {"三五十人", 30},
    {"三五个人", 3},
    /* Not crowds at all. */
    {"50米", -1},
    {"500户", -1},
    {"千人计划", -1},
    {"万人空巷", -1},
    {"百姓", -1},
    {"50人民币", -1},
    {"十分危险", -1},
    {"二〇二二年", -1},
    {"几个月", -1},
    {"上50人", -1},
    {"50号人民路", -1},
    {"3号人员", -1},
    {"12号人行天桥", -1},
    {"300多号人口", -1},
    /* About a hundred, idioms, 多 before 万; populations and visits are
     * not crowds. */
    {"百把人", 100},
    {"千把名", 1000},
    {"成百上千人", 100},
    {"成千上万群众", 1000},
    {"五十多万人", 500001},
    {"50余万名", 500001},
    {"五十万人口", -1},
    {"上百人次", -1},
    {"十三五期间", -1},
    {"1,2人", -1},
};

static void test_crowd_parse(void **state)
{
    for (size_t i = 0; i < sizeof(crowd_cases) / sizeof(crowd_cases[0]); i++) {
        const struct crowd_case *c = &crowd_cases[i];
        long lo = -1, hi = -1;
        size_t len = 0;
        bool ok = route_crowd_parse(c->s, strlen(c->s), &lo, &hi, &len);
        if (c->lo < 0) {
            if (ok) {
                fail_msg("'%s' parsed as a crowd of %ld", c->s, lo);
            }
            continue;
        }
        if (!ok) {
            fail_msg("'%s' not parsed", c->s);
        }
        if (lo != c->lo || hi < lo) {
            fail_msg("'%s': [%ld, %ld], want lo %ld", c->s, lo, hi, c->lo);
        }
    }
}

static void test_crowd_scan(void **state)
{
    const char *w = NULL;
    size_t wl = 0;
    const char *s =
        "今天上午第50名排队的人说，现场有三四十人，后来又来了五十多人";
    long n = route_crowd_max(s, strlen(s), &w, &wl);
    assert_int_equal(n, 51);
    assert_int_equal(wl, strlen("五十多人"));
    assert_memory_equal(w, "五十多人", wl);
    s = "小区有500户居民，门口停了50多辆车";
    assert_int_equal(route_crowd_max(s, strlen(s), NULL, NULL), 0);
    s = "150人";
    assert_int_equal(route_crowd_max(s, strlen(s), NULL, NULL), 150);
    /* Spaced digits (盘古之白) are the same crowd, an ordinal still none. */
    s = "现场聚集了约 60 名工人讨薪";
    n = route_crowd_max(s, strlen(s), &w, &wl);
    assert_int_equal(n, 60);
    assert_memory_equal(w, "约 60 名", wl);
    s = "排在第 60 名的人";
    assert_int_equal(route_crowd_max(s, strlen(s), NULL, NULL), 0);
    s = "有1,000人";
    assert_int_equal(route_crowd_max(s, strlen(s), NULL, NULL), 1000);
}

/* ---- red-line flags --------------------------------------------------- */

struct flag_case {
    const char *text;
    enum route_level level;
    const char *reason; /* substring of the first reason, NULL if none */
};

static const struct flag_case flag_cases[] = {
    {"工地门口聚集了五十多名工人讨薪，堵住大门", ROUTE_LEVEL_HIGH,
     "50人以上群体性事件"},
    {"上百名业主拉横幅围堵售楼处", ROUTE_LEVEL_HIGH, "50人以上群体性事件"},
    {"厂门口有60余人聚集维权", ROUTE_LEVEL_HIGH, "人数：60余人"},
    {"近百人在镇政府门口静坐", ROUTE_LEVEL_HIGH, "群体性事件"},
    {"三四十人聚集在小区门口讨说法", ROUTE_LEVEL_NORMAL, NULL},
    {"四十多名工人在厂门口讨薪", ROUTE_LEVEL_NORMAL, NULL},
    {"上百人聚集跳广场舞，噪音很大", ROUTE_LEVEL_NORMAL, NULL},
    {"某厂房发生爆炸，两人被困", ROUTE_LEVEL_HIGH, "安全生产事故"},
    {"工地脚手架倒塌，一名工人被埋", ROUTE_LEVEL_HIGH, "安全生产事故"},
    {"这个仓库堆满易燃物，一旦起火人员被困后果不堪设想", ROUTE_LEVEL_NORMAL,
     NULL},
    {"居民楼起火，有人被困在楼上", ROUTE_LEVEL_HIGH, "火灾"},
    {"消防通道被占，存在火灾隐患", ROUTE_LEVEL_NORMAL, NULL},
    {"小区组织了消防演练，模拟起火被困", ROUTE_LEVEL_NORMAL, NULL},
    {"公路上两车相撞，造成一人死亡", ROUTE_LEVEL_HIGH, "道路交通事故"},
    {"高架上多车相撞，交通中断", ROUTE_LEVEL_HIGH, "道路交通事故"},
    {"电动车追尾，两人轻微擦伤", ROUTE_LEVEL_NORMAL, NULL},
    {"有男子持刀砍人，已被控制", ROUTE_LEVEL_HIGH, "个人极端暴力"},
    {"邻居扬言要放火烧死全家", ROUTE_LEVEL_HIGH, "扬言"},
    {"电视剧里有人持刀行凶", ROUTE_LEVEL_NORMAL, NULL},
    {"路边墙上出现反动标语", ROUTE_LEVEL_HIGH, "涉政"},
    {"社区开展反邪教宣传活动", ROUTE_LEVEL_NORMAL, NULL},
    {"商场里有人喊有炸弹，发现疑似爆炸装置", ROUTE_LEVEL_HIGH, "暴恐"},
    {"这个井盖坏了我已经多次反映，至今未解决", ROUTE_LEVEL_ELEVATED,
     "多次反映"},
    {"路灯不亮", ROUTE_LEVEL_NORMAL, NULL},
    /* near: a hypothetical next to the words vetoes; a crowd number far
     * from the gathering word does not count. */
    {"这个路口极易发生交通事故造成人员死亡", ROUTE_LEVEL_NORMAL, NULL},
    {"我们小区共有1200人居住，物业长期不作为，垃圾没人清运，今天门口有几个"
     "人聚集讨说法",
     ROUTE_LEVEL_NORMAL, NULL},
    {"路口发生交通事故，一人死亡。附近路段车速快，存在安全隐患，以免再出事",
     ROUTE_LEVEL_HIGH, "交通事故、死亡"},
};

static void test_flags(void **state)
{
    for (size_t i = 0; i < sizeof(flag_cases) / sizeof(flag_cases[0]); i++) {
        const struct flag_case *c = &flag_cases[i];
        struct ig_arena *a = ig_arena_new(0);
        struct route_result r;
        route(c->text, NULL, a, &r);
        if (r.level != c->level) {
            fail_msg("%s: level %s, want %s (%s)", c->text,
                     route_level_name(r.level), route_level_name(c->level),
                     r.nreasons ? r.reasons[0] : "no reason");
        }
        if (c->reason) {
            assert_true(r.nreasons > 0);
            if (!strstr(r.reasons[0], c->reason)) {
                fail_msg("%s: reason '%s' lacks '%s'", c->text, r.reasons[0],
                         c->reason);
            }
        } else {
            assert_int_equal(r.nreasons, 0);
        }
        /* A high flag suggests 挂牌治理 even without a code. */
        if (c->level == ROUTE_LEVEL_HIGH) {
            assert_int_equal(r.track, ROUTE_TRACK_LISTED);
            assert_non_null(strstr(r.track_reason, "挂牌"));
        }
        ig_arena_free(a);
    }
}

/* Two flags of one red line (a word pair and a named accident) that both
 * fire give one reason naming all the evidence, not the same red line
 * twice. */
static void test_flag_reason_once(void **state)
{
    static const struct {
        const char *text, *label, *words[3];
    } cases[] = {
        {"高架上发生多车相撞，造成一人死亡",
         "红线·重大道路交通事故",
         {"相撞", "死亡", "多车相撞"}},
        {"化工厂发生重大安全事故，车间爆炸造成两人死亡",
         "红线·重大安全生产事故",
         {"爆炸", "死亡", "重大安全事故"}},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ig_arena *a = ig_arena_new(0);
        struct route_result r;
        route(cases[i].text, NULL, a, &r);
        assert_int_equal(r.level, ROUTE_LEVEL_HIGH);
        size_t n = 0;
        for (size_t k = 0; k < r.nreasons; k++) {
            if (strncmp(r.reasons[k], cases[i].label, strlen(cases[i].label)) ==
                0) {
                n++;
            }
        }
        if (n != 1) {
            fail_msg("%s: %zu reasons for %s (%s | %s)", cases[i].text, n,
                     cases[i].label, r.nreasons ? r.reasons[0] : "",
                     r.nreasons > 1 ? r.reasons[1] : "");
        }
        for (size_t k = 0; k < 3; k++) {
            if (!strstr(r.reasons[0], cases[i].words[k])) {
                fail_msg("%s: reason '%s' lacks '%s'", cases[i].text,
                         r.reasons[0], cases[i].words[k]);
            }
        }
        ig_arena_free(a);
    }
}

/* route_apply_scratch() with one scratch reused over every case (the
 * gateway's way) routes exactly as route_apply() does. */
static void result_json(const struct route_result *r, struct ig_buf *b)
{
    struct ig_jsonw w;
    ig_buf_reset(b);
    ig_jsonw_init(&w, b);
    ig_jsonw_obj_open(&w);
    route_result_json(r, &w);
    ig_jsonw_obj_close(&w);
}

static void test_scratch_same_result(void **state)
{
    (void)state;
    struct route_scratch *sc = route_scratch_new();
    struct ig_buf want, got;
    ig_buf_init(&want, 0);
    ig_buf_init(&got, 0);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < sizeof(flag_cases) / sizeof(flag_cases[0]);
             i++) {
            const char *text = flag_cases[i].text;
            struct ig_arena *a = ig_arena_new(0);
            struct route_result r1, r2;
            assert_int_equal(
                route_apply(RT, NULL, 0, text, strlen(text), NULL, a, &r1),
                IG_OK);
            assert_int_equal(route_apply_scratch(RT, NULL, 0, text,
                                                 strlen(text), NULL, sc, a,
                                                 &r2),
                             IG_OK);
            result_json(&r1, &want);
            result_json(&r2, &got);
            assert_string_equal(got.data, want.data);
            ig_arena_free(a);
        }
    }
    ig_buf_fini(&want);
    ig_buf_fini(&got);
    route_scratch_free(sc);
    route_scratch_free(NULL);
}

/* ---- the directory for all 144 codes ---------------------------------- */

struct taxo {
    char *buf;
    struct taxon t[200];
    const char *depts[200][8];
    size_t n;
};

static void load_taxonomy(struct taxo *tx)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/taxonomy.tsv", RULES);
    size_t n;
    assert_int_equal(ig_read_file(path, 0, &tx->buf, &n), IG_OK);
    tx->n = 0;
    char *save = NULL;
    for (char *line = strtok_r(tx->buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (*line == '#') {
            continue;
        }
        char *col[5];
        char *s2 = NULL;
        size_t nc = 0;
        for (char *c = strtok_r(line, "\t", &s2); c && nc < 5;
             c = strtok_r(NULL, "\t", &s2)) {
            col[nc++] = c;
        }
        assert_int_equal(nc, 5);
        struct taxon *t = &tx->t[tx->n];
        memset(t, 0, sizeof(*t));
        t->code = col[0];
        t->major_code = col[1];
        t->major = col[2];
        t->name = col[3];
        size_t nd = 0;
        char *s3 = NULL;
        for (char *d = strtok_r(col[4], "|", &s3); d && nd < 8;
             d = strtok_r(NULL, "|", &s3)) {
            tx->depts[tx->n][nd++] = d;
        }
        t->depts = tx->depts[tx->n];
        t->ndepts = nd;
        tx->n++;
    }
}

static void test_directory_all_codes(void **state)
{
    struct taxo *tx = ig_calloc(1, sizeof(*tx));
    load_taxonomy(tx);
    assert_int_equal(tx->n, 144);
    size_t n_town = 0, n_owner = 0;
    for (size_t i = 0; i < tx->n; i++) {
        const struct taxon *t = &tx->t[i];
        for (int with_place = 0; with_place < 2; with_place++) {
            struct ig_arena *a = ig_arena_new(0);
            struct route_result r;
            route(with_place ? "徐泾镇有个问题" : "有个问题", t, a, &r);
            assert_true(r.nunits >= 1);
            assert_true(r.nunits <= t->ndepts);
            /* Lead first: the code's first department. */
            assert_true(r.units[0].lead);
            assert_string_equal(r.units[0].dept, t->depts[0]);
            for (size_t u = 0; u < r.nunits; u++) {
                const struct route_unit *ru = &r.units[u];
                assert_true(ru->unit && *ru->unit);
                assert_int_equal(ru->lead, u == 0);
                /* No generic name passes through unresolved. */
                if (strcmp(ru->dept, "属地管理") == 0) {
                    if (with_place) {
                        assert_string_equal(ru->unit, "徐泾镇人民政府");
                        assert_true(ru->resolved);
                        n_town++;
                    } else {
                        assert_false(ru->resolved);
                    }
                } else if (strcmp(ru->dept, "权属单位") == 0) {
                    assert_string_equal(ru->unit, "权属单位（待确认）");
                    assert_false(ru->resolved);
                    n_owner += with_place;
                } else {
                    assert_true(ru->resolved);
                    assert_string_not_equal(ru->unit, ru->dept);
                }
            }
            /* Every classified code gets a track suggestion. */
            assert_int_not_equal(r.track, ROUTE_TRACK_NONE);
            assert_non_null(r.track_reason);
            ig_arena_free(a);
        }
    }
    /* The seed: 32 codes name 属地管理, 18 name 权属单位. */
    assert_int_equal(n_town, 32);
    assert_int_equal(n_owner, 18);
    ig_free(tx->buf);
    ig_free(tx);
}

static void test_directory_examples(void **state)
{
    static const char *const d1[] = {"绿化市容部门"};
    static const char *const d2[] = {"城管部门", "公安部门", "属地管理"};
    static const char *const d3[] = {"城管执法部门", "城管部门"};
    struct taxon t1 = {.code = "B03-01", .depts = d1, .ndepts = 1};
    struct taxon t2 = {.code = "S06-03", .depts = d2, .ndepts = 3};
    struct taxon t3 = {.code = "X", .depts = d3, .ndepts = 2};
    struct ig_arena *a = ig_arena_new(0);
    struct route_result r;
    route("练塘镇公厕很脏", &t1, a, &r);
    assert_int_equal(r.nunits, 1);
    assert_string_equal(r.units[0].unit, "区绿化市容局");
    assert_int_equal(r.track, ROUTE_TRACK_DIVERTED);
    route("盈浦街道有人拆承重墙", &t2, a, &r);
    assert_int_equal(r.nunits, 3);
    assert_string_equal(r.units[0].unit, "区城管执法局");
    assert_string_equal(r.units[1].unit, "公安青浦分局");
    assert_string_equal(r.units[2].unit, "盈浦街道办事处");
    /* Ambiguous town: both governments, not resolved. */
    route("淀山湖边有人拆承重墙", &t2, a, &r);
    assert_string_equal(r.units[2].unit, "朱家角镇人民政府或金泽镇人民政府");
    assert_false(r.units[2].resolved);
    /* Two names of one bureau are one unit. */
    route("乱晾晒", &t3, a, &r);
    assert_int_equal(r.nunits, 1);
    assert_int_equal(r.ndistrict, 1);
    ig_arena_free(a);
}

/* ---- track suggestion table ------------------------------------------- */

struct track_case {
    struct route_track_in in;
    enum route_track want;
    const char *reason_has;
};

static const struct track_case track_cases[] = {
    /* Unclassified, nothing flagged: no suggestion, human review. */
    {{false, ROUTE_LEVEL_NORMAL, NULL, NULL, 0, NULL}, ROUTE_TRACK_NONE, NULL},
    {{false, ROUTE_LEVEL_ELEVATED, NULL, NULL, 0, "多次反映"},
     ROUTE_TRACK_NONE,
     NULL},
    /* A red line: 挂牌治理 with or without a code. */
    {{false, ROUTE_LEVEL_HIGH, NULL, NULL, 0, "红线·火灾"},
     ROUTE_TRACK_LISTED,
     "红线·火灾"},
    {{true, ROUTE_LEVEL_HIGH, "属地管理", "徐泾镇人民政府", 0, "红线"},
     ROUTE_TRACK_LISTED,
     "领导小组"},
    /* Several district departments: 挂牌治理. */
    {{true, ROUTE_LEVEL_NORMAL, "城管执法部门", "区城管执法局", 4, NULL},
     ROUTE_TRACK_LISTED,
     "4个区级部门"},
    {{true, ROUTE_LEVEL_NORMAL, "城管执法部门", "区城管执法局", 3, NULL},
     ROUTE_TRACK_DIVERTED,
     "区城管执法局"},
    /* Repeated complaints: 提级整治. */
    {{true, ROUTE_LEVEL_ELEVATED, "属地管理", "白鹤镇人民政府", 0,
      "多次反映仍未解决"},
     ROUTE_TRACK_RAISED,
     "提级"},
    {{true, ROUTE_LEVEL_ELEVATED, "水务部门", "区水务局", 1, "多次反映"},
     ROUTE_TRACK_RAISED,
     "区水务局"},
    /* 提级 goes beyond the town, the owner or the utility (the plan: what
     * 街镇、区属企业 cannot clear goes up to 区相关委办局、行业主管部门,
     * through 区清零办 and the operations centre). */
    {{true, ROUTE_LEVEL_ELEVATED, "属地管理", "白鹤镇人民政府", 0,
      "多次反映仍未解决"},
     ROUTE_TRACK_RAISED,
     "白鹤镇人民政府未能清零，建议提请区清零办"},
    {{true, ROUTE_LEVEL_ELEVATED, "属地管理", "属地街镇（地点待定）", 0,
      "多次反映"},
     ROUTE_TRACK_RAISED,
     "区相关委办局"},
    {{true, ROUTE_LEVEL_ELEVATED, "权属单位", "权属单位（待确认）", 1,
      "多次反映"},
     ROUTE_TRACK_RAISED,
     "区清零办"},
    /* Town leads: 一般整治. */
    {{true, ROUTE_LEVEL_NORMAL, "属地管理", "重固镇人民政府", 0, NULL},
     ROUTE_TRACK_GENERAL,
     "重固镇人民政府"},
    {{true, ROUTE_LEVEL_NORMAL, "属地管理", "属地街镇（地点待定）", 1, NULL},
     ROUTE_TRACK_GENERAL,
     "一般整治"},
    /* Owner leads: jurisdiction first, 分流治理. */
    {{true, ROUTE_LEVEL_NORMAL, "权属单位", "权属单位（待确认）", 1, NULL},
     ROUTE_TRACK_DIVERTED,
     "权属单位"},
    /* A district bureau or utility leads: 分流治理. */
    {{true, ROUTE_LEVEL_NORMAL, "供水企业", "区供水企业（青浦自来水公司）", 1,
      NULL},
     ROUTE_TRACK_DIVERTED,
     "分流治理"},
    {{true, ROUTE_LEVEL_NORMAL, "公安部门", "公安青浦分局", 1, NULL},
     ROUTE_TRACK_DIVERTED,
     "公安青浦分局"},
};

static void test_track_table(void **state)
{
    struct ig_arena *a = ig_arena_new(0);
    for (size_t i = 0; i < sizeof(track_cases) / sizeof(track_cases[0]); i++) {
        const struct track_case *c = &track_cases[i];
        for (int with_rt = 0; with_rt < 2; with_rt++) {
            const char *why = "unset";
            enum route_track t =
                route_suggest_track(with_rt ? RT : NULL, &c->in, a, &why);
            if (t != c->want) {
                fail_msg("case %zu: %s, want %s", i,
                         route_track_name(t) ? route_track_name(t) : "none",
                         route_track_name(c->want) ? route_track_name(c->want)
                                                   : "none");
            }
            if (c->reason_has) {
                assert_non_null(why);
                if (!strstr(why, c->reason_has)) {
                    fail_msg("case %zu: reason '%s' lacks '%s'", i, why,
                             c->reason_has);
                }
                /* 提级整治 raises beyond the lead only when the lead is
                 * a district unit: never "上提至" a town or an owner. */
                if (t == ROUTE_TRACK_RAISED && c->in.lead_unit &&
                    (strstr(c->in.lead_unit, "镇") ||
                     strstr(c->in.lead_unit, "待") ||
                     strstr(c->in.lead_unit, "公司"))) {
                    char bad[256];
                    snprintf(bad, sizeof(bad), "上提至%s", c->in.lead_unit);
                    if (strstr(why, bad)) {
                        fail_msg("case %zu: reason '%s' raises to the lead", i,
                                 why);
                    }
                }
            } else {
                assert_null(why);
            }
        }
    }
    ig_arena_free(a);
}

/* With the shipped directory: a repeated complaint whose lead is the town
 * or a utility goes up beyond it (提级整治 per the plan), one led by a
 * district bureau goes up to that bureau. */
static void test_raised_reason(void **state)
{
    static const struct {
        const char *dept, *text, *has, *not_has;
    } cases[] = {
        {"属地管理", "徐泾镇小区健身器材坏了，多次反映至今未解决",
         "徐泾镇人民政府未能清零，建议提请区清零办", "上提至徐泾镇"},
        {"供水企业", "华新镇自来水管爆了，多次反映至今未解决",
         "行业主管部门提级整治", "上提至区供水企业"},
        {"权属单位", "小区门口井盖坏了，多次反映至今未解决", "区清零办",
         "上提至权属单位"},
        {"水务部门", "河道发臭，多次反映至今未解决", "上提至区水务局", NULL},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *d[] = {cases[i].dept};
        struct taxon t = {.code = "B01-25", .depts = d, .ndepts = 1};
        struct ig_arena *a = ig_arena_new(0);
        struct route_result r;
        route(cases[i].text, &t, a, &r);
        assert_int_equal(r.level, ROUTE_LEVEL_ELEVATED);
        assert_int_equal(r.track, ROUTE_TRACK_RAISED);
        if (!strstr(r.track_reason, cases[i].has) ||
            (cases[i].not_has && strstr(r.track_reason, cases[i].not_has))) {
            fail_msg("%s: reason '%s' (want '%s', not '%s')", cases[i].dept,
                     r.track_reason, cases[i].has,
                     cases[i].not_has ? cases[i].not_has : "");
        }
        ig_arena_free(a);
    }
}

/* ---- multi-report hook ------------------------------------------------ */

static void test_multi_report(void **state)
{
    static const char *const d[] = {"属地管理"};
    struct taxon t = {.code = "S06-08", .depts = d, .ndepts = 1};
    struct ig_arena *a = ig_arena_new(0);
    struct route_result r;
    route("华新镇小区有人违法搭建", &t, a, &r);
    assert_int_equal(r.level, ROUTE_LEVEL_NORMAL);
    assert_int_equal(r.track, ROUTE_TRACK_GENERAL);
    /* One report: nothing. Two: elevated, 提级整治. */
    assert_int_equal(route_note_reports(RT, &r, 1, 1, a), 0);
    assert_int_equal(r.level, ROUTE_LEVEL_NORMAL);
    assert_int_equal(route_note_reports(RT, &r, 2, 1, a), 0);
    assert_int_equal(r.level, ROUTE_LEVEL_ELEVATED);
    assert_int_equal(r.track, ROUTE_TRACK_RAISED);
    /* Two channels: high, 挂牌治理, the reason first. */
    assert_int_equal(route_note_reports(RT, &r, 2, 2, a), 1);
    assert_int_equal(r.level, ROUTE_LEVEL_HIGH);
    assert_int_equal(r.track, ROUTE_TRACK_LISTED);
    assert_non_null(strstr(r.reasons[0], "多渠道"));
    /* Already high: no change. */
    assert_int_equal(route_note_reports(RT, &r, 9, 3, a), 0);
    assert_int_equal(r.level, ROUTE_LEVEL_HIGH);
    ig_arena_free(a);
}

/* ---- location hook --------------------------------------------------- */

static void test_location(void **state)
{
    static const char *const d[] = {"属地管理"};
    struct taxon t = {.code = "S06-08", .depts = d, .ndepts = 1};
    struct ig_arena *a = ig_arena_new(0);
    struct route_result r;
    const char *loc = "青浦区金泽镇西岑村某号";
    /* No place in the text: the address gives it, units follow. */
    route("楼下有人违法搭建", &t, a, &r);
    assert_false(r.has_place);
    assert_false(r.units[0].resolved);
    assert_int_equal(route_note_location(RT, &r, loc, strlen(loc), a), 1);
    assert_true(r.has_place);
    assert_string_equal(r.place.name, "西岑村");
    assert_int_equal(r.place.field, 2);
    assert_memory_equal(loc + r.place.start, "西岑村", strlen("西岑村"));
    assert_int_equal(r.ntowns, 1);
    assert_string_equal(r.towns[0], "金泽镇");
    assert_string_equal(r.units[0].unit, "金泽镇人民政府");
    assert_true(r.units[0].resolved);
    assert_int_equal(r.track, ROUTE_TRACK_GENERAL);
    /* An ambiguous text place is narrowed by the address. */
    route("淀山湖边有人违法搭建", &t, a, &r);
    assert_int_equal(r.ntowns, 2);
    assert_int_equal(route_note_location(RT, &r, "金泽镇", strlen("金泽镇"), a),
                     1);
    assert_string_equal(r.place.name, "淀山湖");
    assert_int_equal(r.ntowns, 1);
    assert_string_equal(r.towns[0], "金泽镇");
    assert_string_equal(r.units[0].unit, "金泽镇人民政府");
    /* Agreement changes nothing; the district alone or nothing neither. */
    route("徐泾镇有人违法搭建", &t, a, &r);
    assert_int_equal(
        route_note_location(RT, &r, "徐泾镇诸光路", strlen("徐泾镇诸光路"), a),
        0);
    assert_int_equal(route_note_location(RT, &r, "青浦区", strlen("青浦区"), a),
                     0);
    assert_int_equal(route_note_location(RT, &r, NULL, 0, a), 0);
    assert_string_equal(r.towns[0], "徐泾镇");
    /* Disagreement: the address wins. */
    assert_int_equal(
        route_note_location(RT, &r, "朱家角镇某路", strlen("朱家角镇某路"), a),
        1);
    assert_string_equal(r.place.name, "朱家角镇");
    assert_string_equal(r.units[0].unit, "朱家角镇人民政府");
    assert_int_equal(route_note_location(NULL, &r, "", 0, a), IG_EINVAL);
    ig_arena_free(a);
}

/* ---- JSON --------------------------------------------------------------- */

static void test_json(void **state)
{
    static const char *const d[] = {"电力部门", "属地管理"};
    struct taxon t = {.code = "B01-18", .depts = d, .ndepts = 2};
    struct ig_arena *a = ig_arena_new(0);
    struct route_result r;
    route("国家会展中心门口路灯不亮", &t, a, &r);
    struct ig_buf b;
    ig_buf_init(&b, 0);
    struct ig_jsonw w;
    ig_jsonw_init(&w, &b);
    ig_jsonw_obj_open(&w);
    route_result_json(&r, &w);
    ig_jsonw_obj_close(&w);
    const char *want =
        "{\"place\":{\"text\":\"国家会展中心\",\"name\":\"国家会展中心\","
        "\"kind\":\"landmark\",\"field\":\"text\",\"start\":0,\"end\":18},"
        "\"town\":[\"徐泾镇\"],"
        "\"units\":[{\"dept\":\"电力部门\",\"unit\":\"国网青浦供电公司\","
        "\"role\":\"lead\",\"resolved\":true},"
        "{\"dept\":\"属地管理\",\"unit\":\"徐泾镇人民政府\","
        "\"role\":\"support\",\"resolved\":true}],"
        "\"priority\":{\"level\":\"normal\",\"reasons\":[]},"
        "\"track\":{\"suggestion\":\"分流治理\",\"reason\":";
    if (strncmp(b.data, want, strlen(want)) != 0) {
        fail_msg("got %s", b.data);
    }
    ig_buf_reset(&b);
    ig_jsonw_init(&w, &b);
    ig_jsonw_obj_open(&w);
    route_result_json(NULL, &w);
    ig_jsonw_obj_close(&w);
    assert_string_equal(b.data,
                        "{\"place\":null,\"town\":[],\"units\":[],"
                        "\"priority\":{\"level\":\"normal\",\"reasons\":[]},"
                        "\"track\":null}");
    /* The --explain account. */
    ig_buf_reset(&b);
    assert_int_equal(route_result_explain(&r, &b), IG_OK);
    assert_non_null(strstr(b.data,
                           "route: place 国家会展中心 (landmark, "
                           "text[0..18] \"国家会展中心\") -> 徐泾镇\n"));
    assert_non_null(strstr(b.data, "  unit   电力部门 -> 国网青浦供电公司 "
                                   "(lead)\n"));
    assert_non_null(strstr(b.data, "  priority normal\n"));
    assert_non_null(strstr(b.data, "  track  分流治理 (suggested): "));
    ig_buf_fini(&b);
    ig_arena_free(a);
}

/* ---- hostile input ------------------------------------------------------ */

static void test_hostile_bytes(void **state)
{
    struct ig_arena *a = ig_arena_new(0);
    struct route_result r;
    /* Invalid UTF-8, NULs, truncated sequences around place names. */
    static const char junk[] = "\xe5\xbe\x90\xff\x00\xe6\xb3\xbe\xe9\x95"
                               "\xe5\xbe\x90\xe6\xb3\xbe\xe9\x95\x87\xe4";
    assert_int_equal(route_apply(RT, junk, sizeof(junk) - 1, junk,
                                 sizeof(junk) - 1, NULL, a, &r),
                     IG_OK);
    assert_true(r.has_place);
    assert_string_equal(r.place.name, "徐泾镇");
    /* A 1 MiB item: scanned up to the cap, no crash. */
    size_t n = 1u << 20;
    char *big = ig_malloc(n);
    for (size_t i = 0; i + 3 <= n; i += 3) {
        memcpy(big + i, "人", 3);
    }
    memcpy(big + n - 12, "白鹤镇", 9);
    assert_int_equal(route_apply(RT, NULL, 0, big, n - 3, NULL, a, &r), IG_OK);
    assert_false(r.has_place); /* past ROUTE_SCAN_MAX */
    ig_free(big);
    assert_int_equal(route_apply(NULL, NULL, 0, "", 0, NULL, a, &r), IG_EINVAL);
    ig_arena_free(a);
}

/* The scan passes over most characters by their raw bytes and filters on
 * the first two characters before probing: words next to malformed,
 * overlong, surrogate and 4-byte sequences, at the very end of a field,
 * cut short, and both lexicons in one text are found as a plain
 * character-by-character scan finds them. */
struct scan_case {
    const char *text;
    const char *place;  /* canonical name, NULL: none */
    const char *reason; /* substring of the first reason, NULL: none */
};

static const struct scan_case scan_cases[] = {
    {"\xed\xa0\x80徐泾镇", "徐泾镇", NULL},
    {"\xe0\x80\x80徐泾镇", "徐泾镇", NULL},
    {"\xf0\x9f\x98\x80徐泾镇", "徐泾镇", NULL},
    {"\xe5\xbe徐泾镇", "徐泾镇", NULL},
    {"路口在徐泾镇", "徐泾镇", NULL},
    {"徐泾镇", "徐泾镇", NULL},
    {"白鹤镇\xe9\x95", "白鹤镇", NULL},
    {"某厂房发生爆炸\xff两人被困，地点在白鹤镇", "白鹤镇", "安全生产事故"},
    {"白鹤镇某厂房发生爆炸，两人被困", "白鹤镇", "安全生产事故"},
    {"某厂房发生爆", NULL, NULL},
};

static void test_scan_edges(void **state)
{
    for (size_t i = 0; i < sizeof(scan_cases) / sizeof(scan_cases[0]); i++) {
        const struct scan_case *c = &scan_cases[i];
        struct ig_arena *a = ig_arena_new(0);
        struct route_result r;
        route(c->text, NULL, a, &r);
        if (c->place) {
            if (!r.has_place || strcmp(r.place.name, c->place) != 0) {
                fail_msg("case %zu: place %s, want %s", i,
                         r.has_place ? r.place.name : "(none)", c->place);
            }
        } else if (r.has_place) {
            fail_msg("case %zu: unexpected place %s", i, r.place.name);
        }
        if (c->reason) {
            if (r.nreasons == 0 || !strstr(r.reasons[0], c->reason)) {
                fail_msg("case %zu: reason '%s' lacks '%s'", i,
                         r.nreasons ? r.reasons[0] : "", c->reason);
            }
        } else if (r.nreasons) {
            fail_msg("case %zu: unexpected reason %s", i, r.reasons[0]);
        }
        ig_arena_free(a);
    }
}

/* The lexicon scan against a plain one: at each character boundary
 * (strict decoding), every word of the lexicon there, longest first, until
 * a callback skips. Two lexicons, scanned together and alone, with and
 * without a one-character word (which turns off the raw pair filter), on
 * random texts of words, their pieces, other CJK, ASCII, 2- and 4-byte
 * characters and broken sequences, cut at every length up to 64 and
 * longer. */
#define LEX_CALLS_MAX 512

struct lex_call {
    uint32_t id;
    size_t start, end;
};

struct lex_log {
    struct lex_call v[LEX_CALLS_MAX];
    size_t n;
};

/* Odd ids skip past the word, even ones let shorter words be tried. */
static size_t lex_log_cb(void *ctx, uint32_t id, size_t start, size_t end)
{
    struct lex_log *l = ctx;
    assert_true(l->n < LEX_CALLS_MAX);
    l->v[l->n++] = (struct lex_call){id, start, end};
    return (id & 1) ? end - start : 0;
}

static void lex_ref_scan(const char *const *words, size_t nw, const char *s,
                         size_t n, struct lex_log *l)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t step = ig_utf8_decode(s + i, n - i, &cp);
        size_t skip = 0;
        bool tried[64] = {false};
        while (cp != IG_UTF8_INVALID && !skip) {
            /* the longest word not tried yet (lowest id among equals) */
            size_t best = nw;
            for (size_t k = 0; k < nw; k++) {
                size_t len = strlen(words[k]);
                uint32_t c1;
                ig_utf8_decode(words[k], len, &c1);
                if (tried[k] || c1 == IG_UTF8_INVALID || len > n - i ||
                    memcmp(s + i, words[k], len) != 0) {
                    continue;
                }
                if (best == nw || len > strlen(words[best])) {
                    best = k;
                }
            }
            if (best == nw) {
                break;
            }
            tried[best] = true;
            skip = lex_log_cb(l, (uint32_t)best, i, i + strlen(words[best]));
        }
        i += skip > step ? skip : step;
    }
}

static void lex_build(struct ig_arena *a, const char *const *words, size_t nw,
                      struct route_lex *out)
{
    struct route_lex_builder b = {0};
    for (size_t k = 0; k < nw; k++) {
        route_lexb_add(&b, a, words[k], strlen(words[k]), (uint32_t)k);
    }
    route_lexb_seal(&b, a, out);
}

static void lex_log_equal(const struct lex_log *got, const struct lex_log *want,
                          const char *s, size_t n)
{
    bool same = got->n == want->n;
    for (size_t k = 0; same && k < got->n; k++) {
        same = got->v[k].id == want->v[k].id &&
               got->v[k].start == want->v[k].start &&
               got->v[k].end == want->v[k].end;
    }
    if (!same) {
        char hex[3 * 256 + 1] = "";
        for (size_t k = 0; k < n && k < 256; k++) {
            snprintf(hex + 3 * k, 4, "%02x ", (unsigned char)s[k]);
        }
        fail_msg("scan differs (%zu calls, want %zu) on %s", got->n, want->n,
                 hex);
    }
}

static uint32_t lex_rnd(uint64_t *st)
{
    *st = *st * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(*st >> 33);
}

static void test_lex_scan_differential(void **state)
{
    (void)state;
    /* Words sharing first characters and prefixes, a second character
     * that is ASCII, 2- or 4-byte, ASCII and 4-byte first characters. */
    static const char *const wa[] = {
        "青浦", "青浦区", "青浦工业园区", "青浦区", "徐泾镇", "徐泾",
        "青G",  "青é",    "华新镇",       "G15",    "😀徐",    "徐😀",
        "爆炸", "爆炸物", "人员",         "上访",   "é青",    "一一一",
    };
    static const char *const wb[] = {
        "爆炸",   "两人被困", "人员伤亡", "青浦", "上百人", "坍塌",
        "徐泾镇", "一一",     "死亡",     "G1",   "被困",
    };
    /* The same plus a one-character word and a broken one. */
    static const char *const wc[] = {
        "青浦", "青浦区", "徐泾镇", "人", "爆炸\xe5\xbe", "上\xff", "G15",
    };
    /* characters of the words, one at a time */
    static const char chars[] =
        "青浦区工业园徐泾镇华新爆炸物人员上访一两被困死亡百坍塌";
    static const char *const pieces[] = {
        /* ASCII, 2- and 4-byte characters, CJK punctuation */
        "G", "1", "5", "a", " ", "é", "😀", "，", "。",
        /* broken: stray, cut, overlong, surrogate; NUL */
        "\xff", "\x80", "\xe5\xbe", "\xe5", "\xc3", "\xf0\x9f\x98",
        "\xe0\x80\x80", "\xed\xa0\x80", "\0"};
    struct ig_arena *a = ig_arena_new(0);
    struct route_lex la, lb, lc;
    lex_build(a, wa, sizeof(wa) / sizeof(wa[0]), &la);
    lex_build(a, wb, sizeof(wb) / sizeof(wb[0]), &lb);
    lex_build(a, wc, sizeof(wc) / sizeof(wc[0]), &lc);
    assert_int_equal(la.filt->has_one, 0);
    assert_int_equal(lb.filt->has_one, 0);
    assert_int_not_equal(lc.filt->has_one, 0);
    const struct route_lex_filter *ab = route_lex_filter_or(&la, &lb, a);
    const struct route_lex_filter *ac = route_lex_filter_or(&la, &lc, a);
    static struct lex_log got[2], want[2];
    uint64_t st = 1;
    char text[600];
    for (int round = 0; round < 3000; round++) {
        /* Mostly CJK: pieces, whole words, other CJK characters (the
         * longest piece, 青浦工业园区, is 18 bytes). */
        size_t n = 0, cap = round % 3 ? 80 : sizeof(text) - 18;
        while (n < cap) {
            uint32_t r = lex_rnd(&st) % 10;
            const char *p;
            char cjk[4];
            if (r < 2) {
                p = pieces[lex_rnd(&st) % (sizeof(pieces) / sizeof(pieces[0]))];
            } else if (r < 4) {
                memcpy(cjk, chars + 3 * (lex_rnd(&st) % (sizeof(chars) / 3)),
                       3);
                cjk[3] = '\0';
                p = cjk;
            } else if (r < 6) {
                p = wa[lex_rnd(&st) % (sizeof(wa) / sizeof(wa[0]))];
            } else if (r < 7) {
                p = wb[lex_rnd(&st) % (sizeof(wb) / sizeof(wb[0]))];
            } else {
                size_t k = ig_utf8_encode(0x4E00 + lex_rnd(&st) % 0x5200, cjk);
                cjk[k] = '\0';
                p = cjk;
            }
            size_t k = *p ? strlen(p) : 1; /* "\0" is one NUL byte */
            memcpy(text + n, p, k);
            n += k;
        }
        /* every cut up to 64 bytes, then the whole text */
        for (size_t len = 0; len <= n; len = len < 64 ? len + 1 : n + 1) {
            for (int pair = 0; pair < 2; pair++) {
                const struct route_lex *l2 = pair ? &lc : &lb;
                const char *const *w2 = pair ? wc : wb;
                size_t n2 = pair ? sizeof(wc) / sizeof(wc[0])
                                 : sizeof(wb) / sizeof(wb[0]);
                struct route_lex_use use[2] = {{&la, lex_log_cb, &got[0]},
                                               {l2, lex_log_cb, &got[1]}};
                got[0].n = got[1].n = want[0].n = want[1].n = 0;
                route_lex_scan_n(use, 2, pair ? ac : ab, text, len);
                lex_ref_scan(wa, sizeof(wa) / sizeof(wa[0]), text, len,
                             &want[0]);
                lex_ref_scan(w2, n2, text, len, &want[1]);
                lex_log_equal(&got[0], &want[0], text, len);
                lex_log_equal(&got[1], &want[1], text, len);
                /* each lexicon alone, through its own filter */
                got[1].n = 0;
                route_lex_scan(l2, text, len, lex_log_cb, &got[1]);
                lex_log_equal(&got[1], &want[1], text, len);
            }
        }
    }
    ig_arena_free(a);
}

/* ---- load diagnostics --------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *s)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(s, f);
    fclose(f);
}

static bool has_diag(const struct ig_diags *d, const char *file, int line,
                     const char *msg)
{
    for (size_t i = 0; i < d->n; i++) {
        const char *base = strrchr(d->v[i].file, '/');
        base = base ? base + 1 : d->v[i].file;
        if (strcmp(base, file) == 0 && d->v[i].line == line &&
            strstr(d->v[i].msg, msg)) {
            return true;
        }
    }
    return false;
}

static void test_load_errors(void **state)
{
    char dir[] = "/tmp/test_route_XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_file(dir, "places.tsv",
               "# test\n"
               "徐泾镇\ttown\t-\t徐泾\n"
               "国家会展中心\tlandmark\t徐泾\n" /* alias, not name */
               "某路\tstreeet\t徐泾镇\n"        /* bad kind */
               "徐泾\tlandmark\t徐泾镇\n"       /* duplicate */
               "朱家角镇\ttown\t-\n");
    write_file(dir, "departments.tsv",
               "属地管理\t属地街镇\ttown\n"
               "水务部门\t区水务局\tbureau\n" /* bad scope */
               "徐泾镇\t徐泾镇人民政府\tlocal\n");
    write_file(dir, "priority.conf",
               "set: multi-report-reports 3\n"
               "set: colour 3\n"
               "any: 火灾\n" /* outside a flag */
               "flag: fire\n"
               "reason：火灾\n" /* full-width colon */
               "level: urgent\n"
               "crowd: many\n"
               "flag: crowd-only\n"
               "reason: 人多\n"
               "crowd: 50\n"
               "near: 5\n");
    write_file(dir, "taxonomy.tsv",
               "B01-03\tB01\t公共设施\t雨水井盖\t水务部门|属地管理\n");
    struct ig_diags d;
    ig_diags_init(&d);
    struct router *rt = (struct router *)1;
    assert_int_equal(route_load(dir, &rt, &d), IG_EPARSE);
    assert_null(rt);
    assert_true(has_diag(&d, "places.tsv", 3, "not a town"));
    assert_true(has_diag(&d, "places.tsv", 4, "unknown kind"));
    assert_true(has_diag(&d, "places.tsv", 5, "already defined at line 2"));
    assert_true(has_diag(&d, "departments.tsv", 2, "unknown scope"));
    assert_true(has_diag(&d, "departments.tsv", 0, "朱家角镇"));
    assert_true(has_diag(&d, "priority.conf", 2, "unknown setting"));
    assert_true(has_diag(&d, "priority.conf", 3, "outside a flag"));
    assert_true(has_diag(&d, "priority.conf", 5, "ASCII ':'"));
    assert_true(has_diag(&d, "priority.conf", 6, "level is"));
    assert_true(has_diag(&d, "priority.conf", 7, "crowd:"));
    assert_true(has_diag(&d, "priority.conf", 4, "no reason"));
    assert_true(has_diag(&d, "priority.conf", 8, "near: needs an any:"));
    assert_true(has_diag(&d, "taxonomy.tsv", 1, "水务部门"));
    ig_diags_fini(&d);

    /* A missing file is one error, and nothing is returned. */
    char path[4200];
    snprintf(path, sizeof(path), "%s/priority.conf", dir);
    unlink(path);
    ig_diags_init(&d);
    assert_int_equal(route_load(dir, &rt, &d), IG_EIO);
    assert_null(rt);
    assert_true(has_diag(&d, "priority.conf", 0, "cannot read"));
    ig_diags_fini(&d);

    static const char *const names[] = {"places.tsv", "departments.tsv",
                                        "taxonomy.tsv"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_places),
        cmocka_unit_test(test_place_title_first),
        cmocka_unit_test(test_crowd_parse),
        cmocka_unit_test(test_crowd_scan),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_flag_reason_once),
        cmocka_unit_test(test_scratch_same_result),
        cmocka_unit_test(test_directory_all_codes),
        cmocka_unit_test(test_directory_examples),
        cmocka_unit_test(test_track_table),
        cmocka_unit_test(test_raised_reason),
        cmocka_unit_test(test_multi_report),
        cmocka_unit_test(test_location),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_hostile_bytes),
        cmocka_unit_test(test_scan_edges),
        cmocka_unit_test(test_lex_scan_differential),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
