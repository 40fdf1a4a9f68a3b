ig_add_test(NAME test_core SOURCES unit/test_core.c LIBS ig_core
  LABELS unit)
