/* test_dirs.h — where a test finds the source tree, the shared material
 * (../shared: corpus, feeds, hostile inputs) and its build tree.
 *
 * CTest sets IG_SOURCE_DIR, IG_SHARED_DIR and IG_BUILD_DIR (tests/
 * CMakeLists.txt); a test binary run by hand falls back to the paths CMake
 * compiled in, so it reads the same files and writes generated inputs into
 * the build tree, never into the current directory.
 */
#ifndef IG_TESTS_TEST_DIRS_H
#define IG_TESTS_TEST_DIRS_H

/* The project's source tree. */
const char *test_source_dir(void);
/* The shared material: IG_SHARED_DIR, else <source>/../shared. */
const char *test_shared_dir(void);
/* The build tree (for inputs generated once per build). */
const char *test_build_dir(void);
/* Removes dir and everything below it (a test's temp dir; errors are
 * ignored: a leftover does not fail a test). */
void test_rm_tree(const char *dir);

#endif
