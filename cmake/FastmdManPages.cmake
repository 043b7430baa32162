# cmake/FastmdManPages.cmake — man pages of the installed programs, generated at build time by
# help2man from each program's own --help and --version, so a page cannot drift from its
# program (tests/install checks every --help option is in the page). Installed gzipped, as
# Debian policy asks.
find_program(HELP2MAN_EXECUTABLE help2man)
if(NOT HELP2MAN_EXECUTABLE)
  fastmd_missing("help2man (to generate the man pages from --help)" "help2man")
endif()

set(FASTMD_MAN_DIR ${PROJECT_BINARY_DIR}/man)
set(fastmd_man_pages)
foreach(entry
    "fastmd-ipcd|the fastmd-ipc broker daemon"
    "fastmd-ipcctl|inspect a running fastmd-ipcd"
    "fastmd-worker-md|the fastmd-ipc Markdown to HTML worker")
  string(REPLACE "|" ";" entry "${entry}")
  list(GET entry 0 program)
  list(GET entry 1 summary)
  set(page ${FASTMD_MAN_DIR}/${program}.1)
  add_custom_command(OUTPUT ${page} ${page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${FASTMD_MAN_DIR}
    COMMAND ${CMAKE_COMMAND} -E env SOURCE_DATE_EPOCH=0 ${HELP2MAN_EXECUTABLE} --no-info
            --no-discard-stderr --section=1 --name=${summary} --output=${page}
            $<TARGET_FILE:${program}>
    COMMAND gzip -9nf -k ${page}
    DEPENDS ${program}
    COMMENT "Generating the man page of ${program} from its --help (help2man)"
    VERBATIM)
  list(APPEND fastmd_man_pages ${page} ${page}.gz)
  install(FILES ${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)
endforeach()
add_custom_target(fastmd-man-pages ALL DEPENDS ${fastmd_man_pages})
