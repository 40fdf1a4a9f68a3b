/* classify_gen.c — a deterministic generator of realistic Chinese items
 * for the classifier benchmark.
 *
 *     bench_classify_gen [N] [SEED] > items.jsonl
 *
 * Writes N JSON Lines items {"id","title","text"} (default 20000, seed 1)
 * of 100-1000 bytes, mean about 330: citizen complaints with Qingpu
 * addresses, dates, times, phone numbers and work-order numbers around a
 * hazard sentence (about 60%), complaints the code table does not cover
 * (about 25%: wages, schools, noise from neighbours ...) and short news
 * items (about 15%). All phrases are written for this generator. A fixed
 * LCG makes the output identical on every machine, so figures from
 * different runs compare.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t rng_state = 1;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((rng_state >> 33) % n);
}

static const char *const towns[] = {
    "徐泾镇", "华新镇", "重固镇",   "赵巷镇",   "白鹤镇",     "朱家角镇",
    "练塘镇", "金泽镇", "夏阳街道", "盈浦街道", "香花桥街道", "青浦工业园区",
};
static const char *const roads[] = {
    "华徐公路",   "外青松公路", "盈港东路", "公园路", "城中北路", "崧泽大道",
    "淀山湖大道", "沪青平公路", "青赵公路", "漕盈路", "新府中路", "胜利路",
};
static const char *const estates[] = {
    "馨苑", "花园", "小区", "新村", "公寓", "家园", "雅苑", "佳苑",
};
static const char *const estate_head[] = {
    "绿洲", "华庭", "静湖", "东方", "金色", "清水",
    "明珠", "春申", "怡景", "和平", "翠湖", "新城",
};
static const char *const hazards[] = {
    "小区门口的窨井盖不见了，晚上走路很危险",
    "路边的井盖松动了，车一压就哐当响",
    "这条路的路灯已经一个星期不亮了",
    "路口的红绿灯坏了，一直闪黄灯",
    "人行道上的地砖破损翘起，老人差点绊倒",
    "马路中间出现一个大坑，路面塌陷",
    "自来水管破裂，水一直往外冒，整栋楼停水",
    "楼道里闻到很浓的煤气味，怀疑燃气泄漏",
    "河道里漂满了生活垃圾，水发黑发臭",
    "垃圾桶满了好几天没人清运，臭气熏天",
    "菜场门口有很多摊贩占道经营，车辆过不去",
    "行道树被大风刮倒，压在人行道上",
    "电线杆严重倾斜，随时可能倒下",
    "工地晚上十一点以后还在打桩施工，噪音很大",
    "小区消防通道被私家车堵死了",
    "有住户私拉电线给电动车充电，存在火灾隐患",
    "公共厕所好几天没人打扫，地面全是污水",
    "小区里有人违章搭建砖房，占用公共绿地",
    "公交站牌被撞歪了，一直没人修",
    "雨水篦子堵住了，一下雨路面就积水",
    "广告牌摇摇欲坠，底下是人行道",
    "桥上的护栏断了一截，很危险",
    "路边堆了很多建筑垃圾，没人清理",
    "有人在绿化带里焚烧垃圾，浓烟很大",
    "无证小饭店油烟直排，熏得楼上没法开窗",
    "村里有人在河边违法用地建厂房",
    "路边停着一辆废弃车辆，轮胎都瘪了",
    "窨井冒水，污水流了一地",
    "电梯经常困人，物业不管",
    "夜里有人在街边聚众赌博",
};
static const char *const outside[] = {
    "公司拖欠了我三个月的工资，老板一直不给",
    "孩子明年上小学，想问一下入学需要哪些材料",
    "楼上邻居每天深夜走路声音很大，影响休息",
    "买的商品房交房时间一拖再拖，开发商不给说法",
    "退休金什么时候调整，希望给个答复",
    "建议在我们小区附近新开一条公交线路",
    "医保报销比例太低，看病负担很重",
    "小区物业费涨价没有经过业主大会",
    "希望政府多组织一些老年人的文体活动",
    "网上办理营业执照一直审核不通过",
};
static const char *const fillers[] = {
    "已经向物业反映过多次，一直没有解决。",
    "希望有关部门尽快派人来处理。",
    "附近住着很多老人和小孩，大家都很担心。",
    "这个问题已经存在好几个月了。",
    "上下班高峰时段尤其严重。",
    "拍了照片，可以提供给工作人员。",
    "周边居民意见很大，请予以重视。",
    "之前打过热线，说会转给相关部门，但没有下文。",
    "晚上光线不好，路过的人很容易出事。",
    "请尽快核实情况并给予答复，谢谢！",
    "具体位置在小区东门往南大约一百米。",
    "前天下午又去看了一次，情况没有任何变化。",
};
static const char *const news[] = {
    "区里召开动态隐患清零工作推进会，部署下一阶段重点任务。",
    "镇里组织志愿者开展环境卫生整治活动，清理卫生死角。",
    "今年以来全区累计完成老旧小区改造项目十余个。",
    "区文化馆举办非遗展览，吸引了不少市民前来参观。",
    "我区多个街镇开展消防安全宣传进社区活动。",
    "区交通部门发布节假日出行提示，提醒市民错峰出行。",
};
static const char *const openers[] = {
    "您好，", "你好，", "领导好，", "", "反映一个问题：", "紧急情况！",
};

static void addf(char *buf, size_t *len, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n < cap) {
        memcpy(buf + *len, s, n);
        *len += n;
        buf[*len] = '\0';
    }
}

static void place(char *buf, size_t *len, size_t cap)
{
    char tmp[256];
    switch (rnd(3)) {
    case 0:
        snprintf(tmp, sizeof(tmp), "青浦区%s%s%u号附近",
                 towns[rnd(N_OF(towns))], roads[rnd(N_OF(roads))],
                 1 + rnd(999));
        break;
    case 1:
        snprintf(tmp, sizeof(tmp), "%s%s%s%u号楼", towns[rnd(N_OF(towns))],
                 estate_head[rnd(N_OF(estate_head))],
                 estates[rnd(N_OF(estates))], 1 + rnd(40));
        break;
    default:
        snprintf(tmp, sizeof(tmp), "%s与%s交叉口", roads[rnd(N_OF(roads))],
                 roads[rnd(N_OF(roads))]);
        break;
    }
    addf(buf, len, cap, tmp);
}

static void when(char *buf, size_t *len, size_t cap)
{
    char tmp[128];
    snprintf(tmp, sizeof(tmp), "2022年%u月%u日%s%u点左右，", 1 + rnd(12),
             1 + rnd(28), rnd(2) ? "上午" : "晚上", 1 + rnd(11));
    addf(buf, len, cap, tmp);
}

static void contact(char *buf, size_t *len, size_t cap)
{
    char tmp[128];
    if (rnd(2)) {
        snprintf(tmp, sizeof(tmp), "联系电话1%u%08u。", 30 + rnd(60),
                 rnd(100000000));
    } else {
        snprintf(tmp, sizeof(tmp), "工单编号QP2022%06u。", rnd(1000000));
    }
    addf(buf, len, cap, tmp);
}

/* Writes s as a JSON string body (the generator's text needs no escapes
 * beyond these). */
static void json_str(const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            putchar('\\');
        }
        putchar(*s);
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    static char title[512], text[4096];
    for (long i = 0; i < n; i++) {
        size_t tl = 0, xl = 0;
        title[0] = text[0] = '\0';
        uint32_t kind = rnd(100);
        /* target body length in bytes, 100..1000, skewed short */
        size_t target = 80 + rnd(200) + (rnd(3) == 0 ? rnd(500) : 0);
        if (kind < 15) {
            const char *s = news[rnd(N_OF(news))];
            addf(title, &tl, sizeof(title), "【青浦新闻】");
            addf(title, &tl, sizeof(title), towns[rnd(N_OF(towns))]);
            addf(title, &tl, sizeof(title), "动态");
            while (xl < target) {
                addf(text, &xl, sizeof(text), s);
                s = news[rnd(N_OF(news))];
            }
        } else {
            const char *topic = kind < 75 ? hazards[rnd(N_OF(hazards))]
                                          : outside[rnd(N_OF(outside))];
            /* title: the first clause of the topic, or a place */
            const char *comma = strstr(topic, "，");
            size_t cut = comma ? (size_t)(comma - topic) : strlen(topic);
            if (rnd(4) == 0) {
                cut = 0;
            }
            if (cut > 0 && cut < sizeof(title)) {
                memcpy(title, topic, cut);
                title[cut] = '\0';
                tl = cut;
            }
            addf(text, &xl, sizeof(text), openers[rnd(N_OF(openers))]);
            when(text, &xl, sizeof(text));
            place(text, &xl, sizeof(text));
            addf(text, &xl, sizeof(text), "，");
            addf(text, &xl, sizeof(text), topic);
            addf(text, &xl, sizeof(text), "。");
            while (xl + 40 < target) {
                addf(text, &xl, sizeof(text), fillers[rnd(N_OF(fillers))]);
            }
            if (rnd(3)) {
                contact(text, &xl, sizeof(text));
            }
        }
        printf("{\"id\":\"g%06ld\",\"title\":\"", i + 1);
        json_str(title);
        printf("\",\"text\":\"");
        json_str(text);
        printf("\"}\n");
    }
    return 0;
}
