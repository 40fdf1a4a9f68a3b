# Warnings and sanitizers for every target of ours (ig_target_defaults).
set(IG_WARNINGS
  -Wall -Wextra -Wshadow -Wformat=2 -Wpointer-arith -Wcast-qual
  -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wundef
  -Wno-unused-parameter)

if(IG_SANITIZE)
  string(REPLACE "," ";" _ig_san "${IG_SANITIZE}")
  foreach(s IN LISTS _ig_san)
    add_compile_options(-fsanitize=${s})
    add_link_options(-fsanitize=${s})
  endforeach()
  add_compile_options(-fno-omit-frame-pointer -fno-sanitize-recover=all)
endif()

function(ig_target_defaults tgt)
  target_compile_options(${tgt} PRIVATE ${IG_WARNINGS})
  if(IG_WERROR)
    target_compile_options(${tgt} PRIVATE -Werror)
  endif()
  target_compile_definitions(${tgt} PRIVATE _GNU_SOURCE)
  target_include_directories(${tgt} PUBLIC ${PROJECT_SOURCE_DIR})
endfunction()
