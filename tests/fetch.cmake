# Fetching/config tests (owner: fetch engineer): the fixture HTTP server,
# the hotline and file kinds, hostile JSON and HTTP inputs, fetch.c,
# the scheduler, sources config and the sources/poll commands.
find_package(Threads REQUIRED)

# ig_fixture_http: the in-process server (tests/lib/fixture_http.h).
add_library(ig_fixture_http STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/lib/fixture_http.c)
ig_target_defaults(ig_fixture_http)
target_link_libraries(ig_fixture_http PUBLIC ig_test_dirs Threads::Threads
  PkgConfig::ZLIB)

# fixture_http: the same server standalone, for shell tests and the
# quick start (fixture_http --root DIR --port-file F).
add_executable(fixture_http ${CMAKE_CURRENT_SOURCE_DIR}/lib/fixture_http.c)
ig_target_defaults(fixture_http)
target_compile_definitions(fixture_http PRIVATE FIXTURE_HTTP_MAIN=1)
target_link_libraries(fixture_http PRIVATE ig_test_dirs Threads::Threads
  PkgConfig::ZLIB)

# The tests below drive the hotline and file kinds.
if(NOT (IG_WITH_HOTLINE AND IG_WITH_FILE))
  return()
endif()

# Hotline/file kinds, hostile JSON, sources config: on files, no network.
ig_add_test(NAME test_hotline SOURCES unit/test_hotline.c
  LIBS ig_gateway ig_connectors ig_core PkgConfig::CJSON LABELS unit)

# fetch.c + scheduler + hotline against the fixture server on 127.0.0.1.
ig_add_test(NAME test_fetch SOURCES runtime/test_fetch.c
  LIBS ig_gateway ig_connectors ig_core ig_fixture_http PkgConfig::LIBEVENT
  LABELS runtime TIMEOUT 600)
# gen.sh output is shared with test_hostile_parsers (connectors.cmake).
set_tests_properties(test_fetch PROPERTIES RESOURCE_LOCK hostile_generated)

# The CLI as an administrator uses it: sources check/status/kinds, poll.
ig_add_script_test(NAME fetch_cli
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/fetch_cli.sh
    $<TARGET_FILE:intake> $<TARGET_FILE:fixture_http>
    ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/../shared
  LABELS runtime cli)

# The parsing kinds through the real fetch path: the zh corpus over HTTP
# with its Content-Types (and lies), raw hostile responses through rss.
ig_add_test(NAME test_fetch_feeds SOURCES runtime/test_fetch_feeds.c
  LIBS ig_gateway ig_connectors ig_core ig_fixture_http PkgConfig::LIBEVENT
    PkgConfig::CJSON
  LABELS runtime connectors)

# The argv of every command: missing values, stray arguments, bad numbers,
# options of another command, typos in ids (no network, no Redis).
ig_add_script_test(NAME usage_cli
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/usage_cli.sh
  LABELS cli)
