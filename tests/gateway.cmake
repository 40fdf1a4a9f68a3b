# Gateway tests. Shared file: the delivery engineer's lines are under
# "# delivery", the engine engineer's under "# engine".

# delivery
# ig_redis_up: a throwaway redis-server for any test (tests/lib/redis_up.h).
add_library(ig_redis_up STATIC ${CMAKE_CURRENT_SOURCE_DIR}/lib/redis_up.c)
ig_target_defaults(ig_redis_up)
target_link_libraries(ig_redis_up PUBLIC PkgConfig::HIREDIS)

ig_add_test(NAME test_redis_up SOURCES runtime/test_redis_up.c
  LIBS ig_redis_up LABELS runtime redis)

set(IG_SIMHASH_SRC ${PROJECT_SOURCE_DIR}/gateway/simhash.c
  ${PROJECT_SOURCE_DIR}/gateway/candidate_id.c)
ig_add_test(NAME test_simhash SOURCES unit/test_simhash.c ${IG_SIMHASH_SRC}
  LIBS ig_core LABELS unit)
ig_add_test(NAME test_workpool SOURCES unit/test_workpool.c
  ${PROJECT_SOURCE_DIR}/gateway/workpool.c LIBS ig_core PkgConfig::LIBEVENT
  Threads::Threads LABELS unit threads)
ig_add_test(NAME test_nindex SOURCES unit/test_nindex.c
  ${PROJECT_SOURCE_DIR}/gateway/nindex.c LIBS ig_core LABELS unit)
ig_add_test(NAME test_cmd_out SOURCES unit/test_cmd_out.c
  ${PROJECT_SOURCE_DIR}/gateway/cmd_out.c LIBS ig_core LABELS unit)
ig_add_test(NAME test_spool SOURCES runtime/test_spool.c
  ${PROJECT_SOURCE_DIR}/gateway/spool.c LIBS ig_core LABELS runtime)
set(IG_DEDUP_SRC ${PROJECT_SOURCE_DIR}/gateway/dedup.c
  ${PROJECT_SOURCE_DIR}/gateway/nindex.c
  ${PROJECT_SOURCE_DIR}/gateway/rconn.c ${IG_SIMHASH_SRC})
ig_add_test(NAME test_dedup SOURCES runtime/test_dedup.c ${IG_DEDUP_SRC}
  LIBS ig_core ig_redis_up PkgConfig::HIREDIS PkgConfig::LIBEVENT
  LABELS runtime redis)
ig_add_test(NAME test_rconn SOURCES runtime/test_rconn.c
  ${PROJECT_SOURCE_DIR}/gateway/rconn.c LIBS ig_core ig_redis_up
  PkgConfig::HIREDIS PkgConfig::LIBEVENT LABELS runtime redis)
set(IG_FORWARD_SRC ${PROJECT_SOURCE_DIR}/gateway/forward.c
  ${PROJECT_SOURCE_DIR}/gateway/forward_stream.c
  ${PROJECT_SOURCE_DIR}/gateway/forward_webhook.c
  ${PROJECT_SOURCE_DIR}/gateway/forward_file.c
  ${PROJECT_SOURCE_DIR}/gateway/forward_capture.c
  ${PROJECT_SOURCE_DIR}/gateway/spool.c
  ${PROJECT_SOURCE_DIR}/gateway/conf.c
  ${PROJECT_SOURCE_DIR}/gateway/rconn.c ${IG_SIMHASH_SRC})
ig_add_test(NAME test_forward SOURCES runtime/test_forward.c lib/fwd_fixture.c ${IG_FORWARD_SRC}
  LIBS ig_core ig_redis_up PkgConfig::HIREDIS PkgConfig::LIBEVENT
  PkgConfig::CURL LABELS runtime redis)
ig_add_test(NAME test_candidate SOURCES unit/test_candidate.c
  ${PROJECT_SOURCE_DIR}/gateway/candidate.c ${IG_SIMHASH_SRC}
  LIBS ig_classifiers ig_core LABELS unit)
ig_add_script_test(NAME test_candidate_schema
  COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/check_candidate_schema.py
  ${PROJECT_SOURCE_DIR}/docs/candidate.schema.json
  ${PROJECT_BINARY_DIR}/candidate-samples.jsonl LABELS unit)
set_tests_properties(test_candidate PROPERTIES
  FIXTURES_SETUP candidate_samples)
set_tests_properties(test_candidate_schema PROPERTIES
  FIXTURES_REQUIRED candidate_samples)
# The webhook forwarder against an evhttp receiver on the test's loop.
ig_add_test(NAME test_webhook SOURCES runtime/test_webhook.c lib/fwd_fixture.c ${IG_FORWARD_SRC}
  LIBS ig_core PkgConfig::HIREDIS PkgConfig::LIBEVENT PkgConfig::CURL
  LABELS runtime)

# engine
# The example-config test needs every module that owns a section; it is
# compiled in once forward.c and dedup.c exist (until then the test covers
# conf.c and metrics.c on their own).
if(EXISTS ${PROJECT_SOURCE_DIR}/gateway/forward.c AND
   EXISTS ${PROJECT_SOURCE_DIR}/gateway/dedup.c)
  ig_add_test(NAME test_gateway_conf SOURCES unit/test_gateway_conf.c
    LIBS ig_gateway LABELS unit)
  target_compile_definitions(test_gateway_conf PRIVATE IG_TEST_EXAMPLE=1)
else()
  ig_add_test(NAME test_gateway_conf SOURCES unit/test_gateway_conf.c
    ${PROJECT_SOURCE_DIR}/gateway/conf.c
    ${PROJECT_SOURCE_DIR}/gateway/metrics.c LIBS ig_core LABELS unit)
  target_compile_definitions(test_gateway_conf PRIVATE IG_TEST_EXAMPLE=0)
endif()

# End-to-end: `intake run` with a real redis-server, real HTTP servers.
# Label `threads`: they run the classify threads (gateway/workpool.c), so
# scripts/test.sh runs them under ThreadSanitizer too.
foreach(c dedup redis_restart redis_restart_near webhook_retry spool_replay kill9 kill9_near drain
    reload_api api_hostile api_fd_exhaustion api_slow_clients
    push_source_labels priority malformed)
  ig_add_script_test(NAME gateway_e2e_${c}
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/runtime/gateway_e2e.sh ${c}
    LABELS runtime redis threads TIMEOUT 300)
endforeach()
# The gateway benchmark's script and its replay client run end to end
# (no speed checked).
if(IG_BUILD_BENCH)
  ig_add_script_test(NAME bench_gateway_smoke
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/runtime/bench_smoke.sh
      ${PROJECT_BINARY_DIR}
    LABELS runtime redis TIMEOUT 600)
endif()
ig_add_script_test(NAME gateway_docs
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/runtime/gateway_docs.sh
  LABELS unit)
# The engine in-process (gateway.h) with a real redis-server and the
# capture forwarder.
ig_add_test(NAME test_gateway_engine SOURCES runtime/test_gateway_engine.c
  LIBS ig_gateway ig_redis_up LABELS runtime redis threads)
# The scheduler's commit contract across reloads (hotline kind, the
# fixture HTTP server, a real state dir).
if(IG_WITH_HOTLINE AND IG_WITH_FILE)
  ig_add_test(NAME test_sched_settle SOURCES runtime/test_sched_settle.c
    LIBS ig_gateway ig_connectors ig_core ig_fixture_http PkgConfig::LIBEVENT
    LABELS runtime)
endif()

# priority (review queue)
ig_add_test(NAME test_review SOURCES unit/test_review.c LIBS ig_gateway
  LABELS unit)
ig_add_test(NAME test_review_queue SOURCES runtime/test_review_queue.c
  LIBS ig_gateway ig_redis_up LABELS runtime redis)
