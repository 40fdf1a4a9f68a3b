# Parsing kinds (rss, letters, web), charset and date layers: parser tests
# on files, no HTTP. (The fetch engineer's tests live in fetch.cmake.)
add_library(ig_parse_run STATIC ${CMAKE_CURRENT_SOURCE_DIR}/lib/parse_run.c)
ig_target_defaults(ig_parse_run)
target_link_libraries(ig_parse_run PUBLIC ig_connectors ig_core ig_test_dirs
  PkgConfig::CJSON)

# The parser tests need all three parsing kinds (IG_WITH_RSS/LETTERS/WEB).
if(NOT (IG_WITH_RSS AND IG_WITH_LETTERS AND IG_WITH_WEB))
  return()
endif()

ig_add_test(NAME test_rss SOURCES unit/test_rss.c
  LIBS ig_parse_run ig_connectors ig_core PkgConfig::CJSON PkgConfig::LIBXML2
  LABELS unit connectors TIMEOUT 120)

ig_add_test(NAME test_parsers SOURCES unit/test_parsers.c
  LIBS ig_parse_run ig_connectors ig_core PkgConfig::CJSON PkgConfig::LIBXML2
  LABELS unit connectors TIMEOUT 120)

# Runs hostile/gen.sh into the build tree on first use (~135 MB, ~20 s).
ig_add_test(NAME test_hostile_parsers SOURCES unit/test_hostile_parsers.c
  LIBS ig_parse_run ig_connectors ig_core PkgConfig::CJSON PkgConfig::LIBXML2
  LABELS unit connectors hostile TIMEOUT 300)
# test_fetch runs the same gen.sh into the same folder: never both at once
# (under ctest -j one of them read a half-written file).
set_tests_properties(test_hostile_parsers PROPERTIES
  RESOURCE_LOCK hostile_generated)
