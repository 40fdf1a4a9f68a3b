# Routing (classifiers/route*.c): places, crowd sizes, the department
# directory for all 144 codes, red-line flags, tracks, load diagnostics.
# The router's sources are compiled in directly so this test does not wait
# on the rest of ig_classifiers; the data is the shipped rules/ directory.
file(GLOB IG_ROUTE_SOURCES CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/classifiers/route*.c)
ig_add_test(NAME test_route
  SOURCES unit/test_route.c ${IG_ROUTE_SOURCES}
  LIBS ig_core
  LABELS unit)
# End to end: every `intake classify` record carries the routing fields.
ig_add_script_test(NAME routing_cli
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/routing_cli.sh
  LABELS cli)
