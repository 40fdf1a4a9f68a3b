/* cls_fixture.h — throwaway rule directories for the classifier tests.
 *
 * A test writes a small taxonomy, settings and rule files into a fresh
 * directory under $TMPDIR and loads it; fixture_rm() removes it. Header
 * only: each test binary includes it once.
 */
#ifndef IG_TESTS_CLS_FIXTURE_H
#define IG_TESTS_CLS_FIXTURE_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Six codes in table order: the tie-break order the tests rely on. */
#define FIXTURE_TAXONOMY                                                         \
    "# code\tmajor_code\tmajor\tname\tdepartments\n"                             \
    "B01-03\tB01\t公共设施\t雨水井盖\t水务部门\n"                    \
    "B01-14\tB01\t公共设施\t其它井盖\t区县托底部门\n"              \
    "B01-18\tB01\t公共设施\t路灯\t电力部门|属地管理\n"             \
    "S01-01\tS01\t环卫市容\t暴露垃圾\t绿化市容部门|属地管理\n" \
    "S03-02\tS03\t突发事件\t停水\t供水企业|物业管理部门\n"       \
    "S04-02\tS04\t街面秩序\t占道经营\t城管部门\n"

static inline void fixture_write(const char *dir, const char *name,
                                 const char *text)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        abort();
    }
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        abort();
    }
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

/* Creates a directory with the fixture taxonomy, settings (NULL: none)
 * and one rules file a.rules (NULL: none). Returns a static path. */
static inline const char *fixture_dir(const char *settings, const char *rules)
{
    static char dir[4096];
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(dir, sizeof(dir), "%s/ig-cls-XXXXXX",
                     tmp && *tmp ? tmp : "/tmp");
    if (n < 0 || (size_t)n >= sizeof(dir) || mkdtemp(dir) == NULL) {
        abort();
    }
    fixture_write(dir, "taxonomy.tsv", FIXTURE_TAXONOMY);
    if (settings) {
        fixture_write(dir, "settings.conf", settings);
    }
    if (rules) {
        fixture_write(dir, "a.rules", rules);
    }
    return dir;
}

static inline void fixture_rm(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (n > 0 && (size_t)n < sizeof(path)) {
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

#endif
