# Gateway benchmarks (engine): end-to-end items/s and memory of `intake
# run`'s engine next to a minimal pipelined hiredis client.
# Run: bench/gateway_e2e.sh [ITEMS]  (needs redis-server); two builds
# compared by alternating runs: bench/gateway_ab.sh BUILD_A BUILD_B.
add_executable(bench_gateway_e2e ${CMAKE_CURRENT_SOURCE_DIR}/gateway_e2e.c)
ig_target_defaults(bench_gateway_e2e)
target_link_libraries(bench_gateway_e2e PRIVATE ig_gateway ig_classifiers
  ig_connectors ig_core PkgConfig::HIREDIS PkgConfig::LIBEVENT
  PkgConfig::CURL)
