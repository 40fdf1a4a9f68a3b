/* test_dirs.c — see test_dirs.h. */
#include "tests/lib/test_dirs.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static const char *env_or(const char *name, const char *dflt)
{
    const char *s = getenv(name);

    return s && *s ? s : dflt;
}

const char *test_source_dir(void)
{
    return env_or("IG_SOURCE_DIR", IG_TEST_SOURCE_DIR);
}

const char *test_shared_dir(void)
{
    static char buf[4096];
    const char *s = getenv("IG_SHARED_DIR");

    if (s && *s) {
        return s;
    }
    snprintf(buf, sizeof(buf), "%s/../shared", test_source_dir());
    return buf;
}

const char *test_build_dir(void)
{
    return env_or("IG_BUILD_DIR", IG_TEST_BUILD_DIR);
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void test_rm_tree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
