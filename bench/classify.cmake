# Classifier benchmark: a deterministic item generator and a runner that
# measures the engine next to naive PCRE2 loops and a Vectorscan scan.
# Run: bench/classify.sh [BUILD_DIR] (writes the table for
# docs/classifier.md).
pkg_check_modules(LIBHS IMPORTED_TARGET libhs)
add_executable(bench_classify_gen ${CMAKE_CURRENT_SOURCE_DIR}/classify_gen.c)
ig_target_defaults(bench_classify_gen)
if(LIBHS_FOUND)
  add_executable(bench_classify ${CMAKE_CURRENT_SOURCE_DIR}/classify_bench.c)
  ig_target_defaults(bench_classify)
  target_link_libraries(bench_classify PRIVATE ig_classifiers ig_core
    PkgConfig::PCRE2 PkgConfig::LIBHS)
endif()
