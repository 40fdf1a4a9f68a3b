# Delivery benchmark (dedup + forward without classifying) next to a
# minimal hiredis client. Run: bench/delivery.sh [ITEMS] [BUILD_DIR].
add_executable(bench_delivery ${CMAKE_CURRENT_SOURCE_DIR}/delivery.c)
ig_target_defaults(bench_delivery)
target_link_libraries(bench_delivery PRIVATE ig_gateway ig_classifiers
  ig_connectors ig_core PkgConfig::HIREDIS PkgConfig::LIBEVENT
  PkgConfig::CURL)
