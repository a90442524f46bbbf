# Writes the commit the binary is built from into OUT (run at every build by src/app/CMakeLists.txt;
# the file is replaced only when the commit changed, so nothing else is rebuilt). Outside a git
# checkout (a source package, a container build) it is $CJHUB_COMMIT when set, else "unknown".
execute_process(COMMAND git -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if((NOT rc EQUAL 0 OR commit STREQUAL "") AND NOT "$ENV{CJHUB_COMMIT}" STREQUAL "")
  set(commit "$ENV{CJHUB_COMMIT}")
elseif(NOT rc EQUAL 0 OR commit STREQUAL "")
  set(commit "unknown")
endif()
file(WRITE "${OUT}.tmp" "#pragma once\n#define CJHUB_COMMIT \"${commit}\"\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
