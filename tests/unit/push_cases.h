/* push_cases.h — the push policy pinned case by case (for test_hotline.c).
 *
 * Each body goes through connector_push_parse() and json_safe_read();
 * the expected dumps (format: dump_push() and dump_parse() in
 * test_hotline.c; a number prints as "\u0001<text>") were produced by the
 * three-pass reader this code replaced (json_safe's rewriter, then cJSON,
 * then a walk) and checked by hand against json_safe.h and push.c. A
 * change here is a change of what the gateway accepts, repairs or
 * reports: review it as one. In a body, <<N*s>> stands for N copies of s
 * (long fields without long lines).
 */
#ifndef IG_TESTS_PUSH_CASES_H
#define IG_TESTS_PUSH_CASES_H

#include <stddef.h>

struct push_case {
    const char *name;
    const char *body;
    size_t max_items;  /* 0: no cap */
    const char *push;  /* dump_push() */
    const char *parse; /* dump_parse() */
};

static const struct push_case push_cases[] = {
    {"all keys and near-miss names",
     "[{\"id\":\"A-1\",\"title\":\"井盖\",\"text\":\"t1\",\"channel\":\"web\","
     "\"source\":\"s1\",\"url\":\"http://x/1\",\"author\":\"王\",\"place\":\""
     "徐泾镇\",\"published\":\"2024-05-01T09:30:00+08:00\",\"fields\":{\"k\":"
     "\"v\",\"n\":12}},{\"title\":\"no id\"},{\"id\":2,\"text\":\"\\uFFFD bad"
     "\"},{\"id\":\"C\",\"text\":\"x\",\"channel\":\"fax\"},{\"id\":\"D\"},{\""
     "text\":\"t\",\"id\":\"E\",\"tx\":\"no\",\"title\":\"T2\",\"publisher\":"
     "\"no\",\"plac\":\"no\"}]",
     0,
     "A-1|井盖|t1|web|s1|http://x/1|王|徐泾镇|2024-05-01T09:30:00+08:00|0|-|k="
     "v,n=12\n"
     "2|-|\357\277\275 bad|hotline|push|-|-|-|-|5|[43]invalid UTF-..ed by U+FF"
     "FD\n"
     "E|T2|t|hotline|push|-|-|-|-|4|no published time\n"
     "rc=0 n=3 skipped=3\n"
     "2: item 1: missing \"id\"\n"
     "4: item 3: channel must be hotline, letters, media or web\n"
     "5: item 4: needs \"title\" or \"text\"\n",
     "rc=0 repairs=0 [{\"id\":\"A-1\",\"title\":\"井盖\",\"text\":\"t1\",\"cha"
     "nnel\":\"web\",\"source\":\"s1\",\"url\":\"http://x/1\",\"author\":\"王"
     "\",\"place\":\"徐泾镇\",\"published\":\"2024-05-01T09:30:00+08:00\",\"fi"
     "elds\":{\"k\":\"v\",\"n\":\"\\u000112\"}},{\"title\":\"no id\"},{\"id\":"
     "\"\\u00012\",\"text\":\"\357\277\275 bad\"},{\"id\":\"C\",\"text\":\"x\""
     ",\"channel\":\"fax\"},{\"id\":\"D\"},{\"text\":\"t\",\"id\":\"E\",\"tx\""
     ":\"no\",\"title\":\"T2\",\"publisher\":\"no\",\"plac\":\"no\"}]"},
    {"BOM, whitespace, one object",
     "\357\273\277 \r\n"
     "\t{ \"id\" : \"b1\" , \"title\" : \"x\" }\n"
     " ",
     0,
     "b1|x|-|hotline|push|-|-|-|-|4|no published time\n"
     "rc=0 n=1 skipped=0\n",
     "rc=0 repairs=0 {\"id\":\"b1\",\"title\":\"x\"}"},
    {"simple escapes; \\b and \\f are dropped like \\u0008 and \\u000C",
     "{\"id\":\"e1\",\"title\":\"q\\\"b\\\\s\\/n\\nr\\rt\\tB\\bF\\f.\"}", 0,
     "e1|q\"b\\s/n\n"
     "r\rt\tBF.|-|hotline|push|-|-|-|-|4|no published time\n"
     "rc=0 n=1 skipped=0\n",
     "rc=0 repairs=2 {\"id\":\"e1\",\"title\":\"q\\\"b\\\\s/n\\nr\\rt\\tBF"
     ".\"}"},
    {"\\u0000, lone and reversed surrogates become U+FFFD",
     "{\"id\":\"QP\\u0000-admin\",\"title\":\"a\\uD800b\\uDC00c\\uDC00\\uD800d"
     "\",\"text\":\"\\uD83D\\uDE00 ok\"}",
     0,
     "QP\357\277\275-admin|a\357\277\275b\357\277\275c\357\277\275\357\277\275"
     "d|😀 ok|hotline|push|-|-|-|-|5|[43]invalid UTF-..ed by U+FFFD\n"
     "rc=0 n=1 skipped=0\n",
     "rc=0 repairs=5 {\"id\":\"QP\357\277\275-admin\",\"title\":\"a\357\277"
     "\275b\357\277\275c\357\277\275\357\277\275d\",\"text\":\"😀 ok\"}"},
    {"escaped controls dropped, \\u0009 kept",
     "{\"id\":\"e3\",\"title\":\"a\\u0001b\\u001fc\\u0009d\\u000Ae\\u00e9\\u4e"
     "2d\\uFFFF\"}",
     0,
     "e3|abc\td\n"
     "eé中\357\277\277|-|hotline|push|-|-|-|-|4|no published time\n"
     "rc=0 n=1 skipped=0\n",
     "rc=0 repairs=2 {\"id\":\"e3\",\"title\":\"abc\\td\\neé中\357\277\277\"}"},
    {"raw controls: TAB/LF/CR to space, others dropped",
     "{\"id\":\"r1\",\"title\":\"a\tb\n"
     "c\rd\001e\037f\177g\"}",
     0,
     "r1|a b c def\177g|-|hotline|push|-|-|-|-|4|no published time\n"
     "rc=0 n=1 skipped=0\n",
     "rc=0 repairs=5 {\"id\":\"r1\",\"title\":\"a b c def\177g\"}"},
    {"raw invalid UTF-8 becomes U+FFFD",
     "{\"id\":\"u1\",\"title\":\"a\377b\300\257c\355\240\200d\364\220\200\200e"
     "\344\270\",\"text\":\"\344\270\"}",
     0,
     "u1|a\357\277\275b\357\277\275\357\277\275c\357\277\275\357\277\275\357"
     "\277\275d\357\277\275\357\277\275\357\277\275\357\277\275e\357\277\275|"
     "\357\277\275|hotline|push|-|-|-|-|5|[43]invalid UTF-..ed by U+FFFD\n"
     "rc=0 n=1 skipped=0\n",
     "rc=0 repairs=12 {\"id\":\"u1\",\"title\":\"a\357\277\275b\357\277\275"
     "\357\277\275c\357\277\275\357\277\275\357\277\275d\357\277\275\357\277"
     "\275\357\277\275\357\277\275e\357\277\275\",\"text\":\"\357\277\275\"}"},
    {"literal U+FFFD flags REPAIRED",
     "{\"id\":\"f1\",\"text\":\"\357\277\275\"}", 0,
     "f1|-|\357\277\275|hotline|push|-|-|-|-|5|[43]invalid UTF-..ed by U+FFFD"
     "\n"
     "rc=0 n=1 skipped=0\n",
     "rc=0 repairs=0 {\"id\":\"f1\",\"text\":\"\357\277\275\"}"},
    {"escaped key names match",
     "{\"\\u0069d\":\"k1\",\"t\\u0069tle\":\"x\",\"\\u0063hannel\":\"\\u006ded"
     "ia\"}",
     0,
     "k1|x|-|media|push|-|-|-|-|4|no published time\n"
     "rc=0 n=1 skipped=0\n",
     "rc=0 repairs=0 {\"id\":\"k1\",\"title\":\"x\",\"channel\":\"media\"}"},
    {"numbers keep their text; other types are absent",
     "[{\"id\":12345678901234567890123,\"title\":-0.5e+3,\"text\":true,\"place"
     "\":1E-7},{\"id\":true,\"title\":\"x\"},{\"id\":null,\"title\":\"x\"},{\""
     "id\":{},\"title\":\"x\"},{\"id\":\"\",\"title\":\"x\"},{\"id\":\"n\",\"t"
     "itle\":null,\"text\":\"\"},{\"id\":\"n2\",\"text\":[]}]",
     0,
     "12345678901234567890123|-0.5e+3|-|hotline|push|-|-|1E-7|-|4|no published"
     " time\n"
     "rc=0 n=1 skipped=6\n"
     "2: item 1: missing \"id\"\n"
     "3: item 2: missing \"id\"\n"
     "4: item 3: missing \"id\"\n"
     "5: item 4: missing \"id\"\n"
     "6: item 5: needs \"title\" or \"text\"\n"
     "7: item 6: needs \"title\" or \"text\"\n",
     "rc=0 repairs=0 [{\"id\":\"\\u000112345678901234567890123\",\"title\":\""
     "\\u0001-0.5e+3\",\"text\":true,\"place\":\"\\u00011E-7\"},{\"id\":true,"
     "\"title\":\"x\"},{\"id\":null,\"title\":\"x\"},{\"id\":{},\"title\":\"x"
     "\"},{\"id\":\"\",\"title\":\"x\"},{\"id\":\"n\",\"title\":null,\"text\":"
     "\"\"},{\"id\":\"n2\",\"text\":[]}]"},
    {"channel checks",
     "[{\"id\":\"c1\",\"text\":\"x\",\"channel\":\"Web\"},{\"id\":\"c2\",\"tex"
     "t\":\"x\",\"channel\":1},{\"id\":\"c3\",\"text\":\"x\",\"channel\":\"\"}"
     ",{\"id\":\"c4\",\"text\":\"x\",\"channel\":null},{\"id\":\"c5\",\"text\""
     ":\"x\",\"channel\":\"letters\"},{\"id\":\"c6\",\"text\":\"x\",\"channel"
     "\":\"web\\u0000\"}]",
     0,
     "c4|-|x|hotline|push|-|-|-|-|4|no published time\n"
     "c5|-|x|letters|push|-|-|-|-|4|no published time\n"
     "rc=0 n=2 skipped=4\n"
     "1: item 0: channel must be hotline, letters, media or web\n"
     "2: item 1: channel must be hotline, letters, media or web\n"
     "3: item 2: channel must be hotline, letters, media or web\n"
     "6: item 5: channel must be hotline, letters, media or web\n",
     "rc=0 repairs=1 [{\"id\":\"c1\",\"text\":\"x\",\"channel\":\"Web\"},{\"id"
     "\":\"c2\",\"text\":\"x\",\"channel\":\"\\u00011\"},{\"id\":\"c3\",\"text"
     "\":\"x\",\"channel\":\"\"},{\"id\":\"c4\",\"text\":\"x\",\"channel\":nul"
     "l},{\"id\":\"c5\",\"text\":\"x\",\"channel\":\"letters\"},{\"id\":\"c6\""
     ",\"text\":\"x\",\"channel\":\"web\357\277\275\"}]"},
    {"source default and override",
     "[{\"id\":\"s1\",\"text\":\"x\",\"source\":\"\"},{\"id\":\"s2\",\"text\":"
     "\"x\",\"source\":7},{\"id\":\"s3\",\"text\":\"x\",\"source\":\"<<65*s>>"
     "\"}]",
     0,
     "s1|-|x|hotline|push|-|-|-|-|4|no published time\n"
     "s2|-|x|hotline|7|-|-|-|-|4|no published time\n"
     "s3|-|x|hotline|[64]ssssssssssss..ssssssssssss|-|-|-|-|6|a field was cut "
     "at its cap\n"
     "rc=0 n=3 skipped=0\n",
     "rc=0 repairs=0 [{\"id\":\"s1\",\"text\":\"x\",\"source\":\"\"},{\"id\":"
     "\"s2\",\"text\":\"x\",\"source\":\"\\u00017\"},{\"id\":\"s3\",\"text\":"
     "\"x\",\"source\":\"sssssssssssssssssssssssssssssssssssssssssssssssssssss"
     "ssssssssssss\"}]"},
    {"caps: id, channel, source, author, published",
     "[{\"id\":\"<<257*i>>\",\"text\":\"x\"},{\"id\":\"<<255*i>>中\",\"text\":"
     "\"x\"},{\"id\":\"x\",\"text\":\"y\",\"channel\":\"<<33*w>>\"},{\"id\":\""
     "a\",\"text\":\"y\",\"author\":\"<<86*王>>\",\"published\":\"<<65*p>>\"}]",
     0,
     "[256]iiiiiiiiiiii..iiiiiiiiiiii|-|x|hotline|push|-|-|-|-|6|a field was c"
     "ut at its cap\n"
     "[255]iiiiiiiiiiii..iiiiiiiiiiii|-|x|hotline|push|-|-|-|-|6|a field was c"
     "ut at its cap\n"
     "a|-|y|hotline|push|-|[255]王王王王..王王王王|-|-|6|a field was cut at its"
     " cap|raw_date=[64]pppppppppppp..pppppppppppp\n"
     "rc=0 n=3 skipped=1\n"
     "3: item 2: channel must be hotline, letters, media or web\n",
     "rc=0 repairs=0 "},
    {"caps: title, url, place at 2048 bytes on a character boundary",
     "[{\"id\":\"t\",\"title\":\"<<2048*a>>\",\"url\":\"<<683*中>>\",\"place\""
     ":\"a<<683*中>>\"},{\"id\":\"t2\",\"title\":\"<<2049*a>>\"},{\"id\":\"t3"
     "\",\"title\":\"<<682*中>>\\uFFFD\"}]",
     0,
     "t|[2048]aaaaaaaaaaaa..aaaaaaaaaaaa|-|hotline|push|[2046]中中中中..中中中"
     "中|-|[2047]a中中中\344\270..中中中中|-|6|a field was cut at its cap\n"
     "t2|[2048]aaaaaaaaaaaa..aaaaaaaaaaaa|-|hotline|push|-|-|-|-|6|a field was"
     " cut at its cap\n"
     "t3|[2046]中中中中..中中中中|-|hotline|push|-|-|-|-|6|a field was cut at "
     "its cap\n"
     "rc=0 n=3 skipped=0\n",
     "rc=0 repairs=0 "},
    {"caps: text at 64 KiB",
     "[{\"id\":\"x1\",\"text\":\"<<65536*a>>\"},{\"id\":\"x2\",\"text\":\"<<65"
     "537*a>>\"},{\"id\":\"x3\",\"text\":\"a<<16384*😀>>\"}]",
     0,
     "x1|-|[65536]aaaaaaaaaaaa..aaaaaaaaaaaa|hotline|push|-|-|-|-|4|no publish"
     "ed time\n"
     "x2|-|[65536]aaaaaaaaaaaa..aaaaaaaaaaaa|hotline|push|-|-|-|-|6|a field wa"
     "s cut at its cap\n"
     "x3|-|[65533]a😀😀\360\237\230..😀😀😀|hotline|push|-|-|-|-|6|a field was"
     " cut at its cap\n"
     "rc=0 n=3 skipped=0\n",
     "rc=0 repairs=0 "},
    {"truncation warning comes first",
     "{\"id\":\"w\",\"title\":\"<<2049*a>>\",\"text\":\"\\u0000\"}", 0,
     "w|[2048]aaaaaaaaaaaa..aaaaaaaaaaaa|\357\277\275|hotline|push|-|-|-|-|7|a"
     " field was cut at its cap\n"
     "rc=0 n=1 skipped=0\n",
     "rc=0 repairs=1 "},
    {"fields: values, types and caps",
     "{\"id\":\"f\",\"text\":\"x\",\"fields\":{\"s\":\"v\",\"n\":-1.5,\"b\":tr"
     "ue,\"z\":null,\"o\":{\"a\":1},\"a\":[1],\"e\":\"\",\"r\":\"\\u0000\",\"l"
     "\":\"<<2049*l>>\",\"\\u006b\":\"esc key\"}}",
     0,
     "f|-|x|hotline|push|-|-|-|-|7|no published time|s=v,n=-1.5,e=,r=\357\277"
     "\275,l=[2048]llllllllllll..llllllllllll,k=esc key\n"
     "rc=0 n=1 skipped=0\n",
     "rc=0 repairs=1 "},
    {"fields: the 33rd member stops the walk",
     "{\"id\":\"f33\",\"text\":\"x\",\"fields\":{\"k00\":0,\"k01\":1,\"k02\":2"
     ",\"k03\":3,\"k04\":4,\"k05\":5,\"k06\":6,\"k07\":7,\"k08\":8,\"k09\":9,"
     "\"k10\":10,\"k11\":11,\"k12\":12,\"k13\":13,\"k14\":14,\"k15\":15,\"k16"
     "\":16,\"k17\":17,\"k18\":18,\"k19\":19,\"k20\":20,\"k21\":21,\"k22\":22,"
     "\"k23\":23,\"k24\":24,\"k25\":25,\"k26\":26,\"k27\":27,\"k28\":28,\"k29"
     "\":29,\"k30\":30,\"k31\":31,\"k32\":32,\"k33\":33,\"k34\":34,\"k35\":35,"
     "\"k36\":36,\"k37\":37,\"k38\":38,\"k39\":39}}",
     0,
     "f33|-|x|hotline|push|-|-|-|-|6|no published time|k00=0,k01=1,k02=2,k03=3"
     ",k04=4,k05=5,k06=6,k07=7,k08=8,k09=9,k10=10,k11=11,k12=12,k13=13,k14=14,"
     "k15=15,k16=16,k17=17,k18=18,k19=19,k20=20,k21=21,k22=22,k23=23,k24=24,k2"
     "5=25,k26=26,k27=27,k28=28,k29=29,k30=30,k31=31\n"
     "rc=0 n=1 skipped=0\n",
     "rc=0 repairs=0 "},
    {"fields: 32 members are all kept",
     "{\"id\":\"f32\",\"text\":\"x\",\"fields\":{\"k00\":\"v\",\"k01\":\"v\","
     "\"k02\":\"v\",\"k03\":\"v\",\"k04\":\"v\",\"k05\":\"v\",\"k06\":\"v\",\""
     "k07\":\"v\",\"k08\":\"v\",\"k09\":\"v\",\"k10\":\"v\",\"k11\":\"v\",\"k1"
     "2\":\"v\",\"k13\":\"v\",\"k14\":\"v\",\"k15\":\"v\",\"k16\":\"v\",\"k17"
     "\":\"v\",\"k18\":\"v\",\"k19\":\"v\",\"k20\":\"v\",\"k21\":\"v\",\"k22\""
     ":\"v\",\"k23\":\"v\",\"k24\":\"v\",\"k25\":\"v\",\"k26\":\"v\",\"k27\":"
     "\"v\",\"k28\":\"v\",\"k29\":\"v\",\"k30\":\"v\",\"k31\":\"v\"}}",
     0,
     "f32|-|x|hotline|push|-|-|-|-|4|no published time|k00=v,k01=v,k02=v,k03=v"
     ",k04=v,k05=v,k06=v,k07=v,k08=v,k09=v,k10=v,k11=v,k12=v,k13=v,k14=v,k15=v"
     ",k16=v,k17=v,k18=v,k19=v,k20=v,k21=v,k22=v,k23=v,k24=v,k25=v,k26=v,k27=v"
     ",k28=v,k29=v,k30=v,k31=v\n"
     "rc=0 n=1 skipped=0\n",
     "rc=0 repairs=0 {\"id\":\"f32\",\"text\":\"x\",\"fields\":{\"k00\":\"v\","
     "\"k01\":\"v\",\"k02\":\"v\",\"k03\":\"v\",\"k04\":\"v\",\"k05\":\"v\",\""
     "k06\":\"v\",\"k07\":\"v\",\"k08\":\"v\",\"k09\":\"v\",\"k10\":\"v\",\"k1"
     "1\":\"v\",\"k12\":\"v\",\"k13\":\"v\",\"k14\":\"v\",\"k15\":\"v\",\"k16"
     "\":\"v\",\"k17\":\"v\",\"k18\":\"v\",\"k19\":\"v\",\"k20\":\"v\",\"k21\""
     ":\"v\",\"k22\":\"v\",\"k23\":\"v\",\"k24\":\"v\",\"k25\":\"v\",\"k26\":"
     "\"v\",\"k27\":\"v\",\"k28\":\"v\",\"k29\":\"v\",\"k30\":\"v\",\"k31\":\""
     "v\"}}"},
    {"fields: an array is read but keeps nothing",
     "{\"id\":\"fa\",\"text\":\"x\",\"fields\":[\"\\u0000\",\"<<2049*a>>\",1,{"
     "\"k\":\"v\"}]}",
     0,
     "fa|-|x|hotline|push|-|-|-|-|7|no published time\n"
     "rc=0 n=1 skipped=0\n",
     "rc=0 repairs=1 "},
    {"fields: a scalar has no members",
     "[{\"id\":\"fs\",\"text\":\"x\",\"fields\":\"str\"},{\"id\":\"fn\",\"text"
     "\":\"x\",\"fields\":5}]",
     0,
     "fs|-|x|hotline|push|-|-|-|-|4|no published time\n"
     "fn|-|x|hotline|push|-|-|-|-|4|no published time\n"
     "rc=0 n=2 skipped=0\n",
     "rc=0 repairs=0 [{\"id\":\"fs\",\"text\":\"x\",\"fields\":\"str\"},{\"id"
     "\":\"fn\",\"text\":\"x\",\"fields\":\"\\u00015\"}]"},
    {"non-object elements are skipped",
     "[1,\"x\",null,true,[],{},{\"id\":\"ok\",\"text\":\"y\"},[{\"id\":\"in\","
     "\"text\":\"z\"}]]",
     0,
     "ok|-|y|hotline|push|-|-|-|-|4|no published time\n"
     "rc=0 n=1 skipped=7\n"
     "1: item 0: not a JSON object\n"
     "2: item 1: not a JSON object\n"
     "3: item 2: not a JSON object\n"
     "4: item 3: not a JSON object\n"
     "5: item 4: not a JSON object\n"
     "6: item 5: missing \"id\"\n"
     "8: item 7: not a JSON object\n",
     "rc=0 repairs=0 [\"\\u00011\",\"x\",null,true,[],{},{\"id\":\"ok\",\"text"
     "\":\"y\"},[{\"id\":\"in\",\"text\":\"z\"}]]"},
    {"empty array", "[]", 0, "rc=0 n=0 skipped=0\n", "rc=0 repairs=0 []"},
    {"empty object", "{}", 0,
     "rc=0 n=0 skipped=1\n"
     "1: item 0: missing \"id\"\n",
     "rc=0 repairs=0 {}"},
    {"max_items",
     "[{\"id\":\"1\",\"text\":\"a\"},{\"id\":\"2\",\"text\":\"b\"},{\"id\":\"3"
     "\",\"text\":\"c\"}]",
     2, "rc=-4 n=0 skipped=0\n",
     "rc=0 repairs=0 [{\"id\":\"1\",\"text\":\"a\"},{\"id\":\"2\",\"text\":\"b"
     "\"},{\"id\":\"3\",\"text\":\"c\"}]"},
    {"max_items exactly",
     "[{\"id\":\"1\",\"text\":\"a\"},{\"id\":\"2\",\"text\":\"b\"}]", 2,
     "1|-|a|hotline|push|-|-|-|-|4|no published time\n"
     "2|-|b|hotline|push|-|-|-|-|4|no published time\n"
     "rc=0 n=2 skipped=0\n",
     "rc=0 repairs=0 [{\"id\":\"1\",\"text\":\"a\"},{\"id\":\"2\",\"text\":\"b"
     "\"}]"},
    {"root scalar string", "\"id\"", 0, "rc=-3 n=0 skipped=0\n",
     "rc=0 repairs=0 \"id\""},
    {"root number", "12", 0, "rc=-3 n=0 skipped=0\n",
     "rc=0 repairs=0 \"\\u000112\""},
    {"root null", "null", 0, "rc=-3 n=0 skipped=0\n", "rc=0 repairs=0 null"},
    {"duplicate key in an item",
     "[{\"id\":\"1\",\"text\":\"a\"},{\"id\":\"2\",\"text\":\"b\",\"id\":\"3\""
     "}]",
     0, "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 duplicate key \"id\" (documents with duplicate keys are "
     "rejected) at byte 0"},
    {"duplicate key deep in fields",
     "[{\"id\":\"1\",\"text\":\"a\",\"fields\":{\"o\":[{\"x\":1,\"x\":2}]}}]",
     0, "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 duplicate key \"x\" (documents with duplicate keys are r"
     "ejected) at byte 0"},
    {"duplicate key after escapes",
     "{\"id\":\"1\",\"text\":\"a\",\"\\u0069d\":\"2\"}", 0,
     "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 duplicate key \"id\" (documents with duplicate keys are "
     "rejected) at byte 0"},
    {"keys equal once repaired are duplicates",
     "{\"id\":\"1\",\"text\":\"a\",\"k\\u0000\":1,\"k\\uD800\":2}", 0,
     "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 duplicate key \"k\357\277\275\" (documents with duplicat"
     "e keys are rejected) at byte 0"},
    {"trailing data", "{\"id\":\"1\",\"text\":\"a\"} x", 0,
     "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 trailing data after the JSON value at byte 22"},
    {"two values", "{\"id\":\"1\",\"text\":\"a\"}{\"id\":\"2\",\"text\":\"a\"}",
     0, "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 trailing data after the JSON value at byte 21"},
    {"trailing comma", "[{\"id\":\"1\",\"text\":\"a\"},]", 0,
     "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 unexpected character at byte 23"},
    {"invalid escape", "{\"id\":\"1\",\"text\":\"a\\x\"}", 0,
     "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 invalid escape in string at byte 19"},
    {"short \\u", "{\"id\":\"1\",\"text\":\"a\\u12\"}", 0,
     "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 invalid \\u escape in string at byte 19"},
    {"invalid numbers", "{\"id\":01,\"text\":\"a\"}", 0,
     "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 invalid number (leading zero) at byte 6"},
    {"number followed by a letter", "{\"id\":1x,\"text\":\"a\"}", 0,
     "rc=-3 n=0 skipped=0\n", "rc=-3 repairs=0 invalid number at byte 6"},
    {"NaN", "{\"id\":NaN,\"text\":\"a\"}", 0, "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 unexpected character at byte 6"},
    {"unterminated", "{\"id\":\"1\",\"text\":\"a", 0, "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 unterminated string at byte 19"},
    {"backslash at the end", "{\"id\":\"1\",\"text\":\"a\\", 0,
     "rc=-3 n=0 skipped=0\n", "rc=-3 repairs=0 unterminated string at byte 19"},
    {"HTML page", "<html>{\"id\":\"1\"}</html>", 0, "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 not JSON (looks like an HTML/XML page) at byte 0"},
    {"empty body", "", 0, "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 empty document at byte 0"},
    {"only whitespace", "  \n", 0, "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 unexpected end of JSON at byte 3"},
    {"depth 64 is fine",
     "{\"id\":\"d\",\"text\":\"x\",\"fields\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
     "]]]]]]]]]]]]]]]]]]]]]]}",
     0,
     "d|-|x|hotline|push|-|-|-|-|4|no published time\n"
     "rc=0 n=1 skipped=0\n",
     "rc=0 repairs=0 {\"id\":\"d\",\"text\":\"x\",\"fields\":[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]"
     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"},
    {"depth 65 is too deep",
     "{\"id\":\"d\",\"text\":\"x\",\"fields\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
     "]]]]]]]]]]]]]]]]]]]]]]]]}",
     0, "rc=-3 n=0 skipped=0\n",
     "rc=-4 repairs=0 nesting deeper than 64 at byte 93"},
    {"too deep before a duplicate",
     "[{\"a\":1,\"a\":2},[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
     "]]]]",
     0, "rc=-3 n=0 skipped=0\n",
     "rc=-4 repairs=0 nesting deeper than 64 at byte 78"},
    {"syntax error after a duplicate", "[{\"a\":1,\"a\":2},x]", 0,
     "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 unexpected character at byte 15"},
    {"single quotes", "{'id':'1'}", 0, "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 expected a key string at byte 1"},
    {"bad literal", "{\"id\":\"1\",\"text\":\"a\",\"x\":tru}", 0,
     "rc=-3 n=0 skipped=0\n", "rc=-3 repairs=0 invalid literal at byte 25"},
    {"key not a string", "{id:\"1\"}", 0, "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 expected a key string at byte 1"},
    {"missing colon", "{\"id\" \"1\"}", 0, "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 expected ':' at byte 6"},
    {"published: read as the polled hotline reads a time (absolute forms "
     "only), passed on as ISO 8601",
     "[{\"id\":\"p1\",\"text\":\"x\",\"published\":\"2024-05-01 09:30\"},"
     "{\"id\":\"p2\",\"text\":\"x\",\"published\":\"2024/05/01 01:30:00Z\"},"
     "{\"id\":\"p3\",\"text\":\"x\",\"published\":1714527000},"
     "{\"id\":\"p4\",\"text\":\"x\",\"published\":\"2024年5月1日 9:30\"},"
     "{\"id\":\"p5\",\"text\":\"x\",\"published\":\"after lunch\"},"
     "{\"id\":\"p6\",\"text\":\"x\",\"published\":\"1989-12-31 23:00\"},"
     "{\"id\":\"p7\",\"text\":\"x\",\"published\":\"2024-02-30 10:00\"},"
     "{\"id\":\"p8\",\"text\":\"x\",\"published\":\"\"},"
     "{\"id\":\"p9\",\"text\":\"x\",\"published\":\"3小时前\"},"
     "{\"id\":\"p10\",\"text\":\"x\",\"published\":\"11月27日 23:58\"}]",
     0,
     "p1|-|x|hotline|push|-|-|-|2024-05-01T09:30:00+08:00|0|-\n"
     "p2|-|x|hotline|push|-|-|-|2024-05-01T01:30:00Z|0|-\n"
     "p3|-|x|hotline|push|-|-|-|2024-05-01T09:30:00+08:00|0|-\n"
     "p4|-|x|hotline|push|-|-|-|2024-05-01T09:30:00+08:00|0|-\n"
     "p5|-|x|hotline|push|-|-|-|-|4|unparseable published time|raw_date=after "
     "lunch\n"
     "p6|-|x|hotline|push|-|-|-|-|4|unparseable published time|raw_date=1989-"
     "12-31 23:00\n"
     "p7|-|x|hotline|push|-|-|-|-|4|unparseable published time|raw_date=2024-"
     "02-30 10:00\n"
     "p8|-|x|hotline|push|-|-|-|-|4|no published time\n"
     "p9|-|x|hotline|push|-|-|-|-|4|unparseable published time|raw_date=3小时"
     "前\n"
     "p10|-|x|hotline|push|-|-|-|-|4|unparseable published time|raw_date=11月"
     "27日 23:58\n"
     "rc=0 n=10 skipped=0\n",
     "rc=0 repairs=0 "},
    {"mismatched bracket", "[{\"id\":\"1\",\"text\":\"a\"}}", 0,
     "rc=-3 n=0 skipped=0\n",
     "rc=-3 repairs=0 expected ',' or a closing bracket at byte 22"},
};

#endif
