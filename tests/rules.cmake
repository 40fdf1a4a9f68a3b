# The rule base (rules/*.rules) and its tools (`intake rules test|check|diff`).
#
# rules_check   the shipped rules lint clean: they load, every code has a
#               rule, every example:/counter: line passes, no slow regex, no
#               pattern hitting its match limit on its own examples.
# rules_golden  back-testing as routine: `rules test` over the project's own
#               labelled messages (tests/golden/*.jsonl) fails below the
#               recorded baseline (tests/golden/baseline.conf) or when a
#               pinned item goes wrong.
# rules_cli     behaviour of the three commands: --help, exit codes, --json,
#               diff between rule directories, a broken rule set, bad lines.
ig_add_script_test(NAME rules_check
  COMMAND $<TARGET_FILE:intake> rules check
    --rules ${PROJECT_SOURCE_DIR}/rules
  LABELS rules golden)
file(GLOB IG_GOLDEN_CORPORA ${CMAKE_CURRENT_SOURCE_DIR}/golden/*.jsonl)
foreach(corpus ${IG_GOLDEN_CORPORA})
  get_filename_component(name ${corpus} NAME_WE)
  ig_add_script_test(NAME rules_golden_${name}
    COMMAND $<TARGET_FILE:intake> rules test
      --rules ${PROJECT_SOURCE_DIR}/rules --corpus ${corpus}
      --baseline ${CMAKE_CURRENT_SOURCE_DIR}/golden/baseline.conf --errors
    LABELS rules golden)
endforeach()
ig_add_script_test(NAME rules_cli
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/rules_cli.sh
  LABELS cli rules)
# The keyword accessor the ambiguity report is built on.
ig_add_test(NAME test_rule_words SOURCES unit/test_rule_words.c
  LIBS ig_classifiers ig_core LABELS unit rules)
