# Classifier engine: normaliser, JSON reader, automaton, rule parser,
# matcher and scoring, the taxonomy table, the shipped rule base's own
# examples, and the `intake classify` command line.
ig_add_test(NAME test_norm SOURCES unit/test_norm.c LIBS ig_core
  LABELS unit)
ig_add_test(NAME test_jsonr SOURCES unit/test_jsonr.c LIBS ig_core
  LABELS unit)
ig_add_test(NAME test_prefilter SOURCES unit/test_prefilter.c
  LIBS ig_classifiers ig_core LABELS unit)
ig_add_test(NAME test_rule_parse SOURCES unit/test_rule_parse.c
  LIBS ig_classifiers ig_core LABELS unit)
# PCRE2 directly too: the gating test compares the engine with it.
ig_add_test(NAME test_classify SOURCES unit/test_classify.c
  LIBS ig_classifiers ig_core PkgConfig::PCRE2 LABELS unit)
ig_add_test(NAME test_taxonomy SOURCES unit/test_taxonomy.c
  LIBS ig_classifiers ig_core LABELS unit)
# The shipped rules/: loads cleanly, every example:/counter: line passes.
ig_add_test(NAME test_rules_shipped SOURCES unit/test_rules_shipped.c
  LIBS ig_classifiers ig_core LABELS unit rules)
ig_add_script_test(NAME classify_cli
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/classify_cli.sh
  LABELS cli)
