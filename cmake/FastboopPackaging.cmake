# Man pages generated from each tool's --help (help2man), and CPack settings
# for the .deb: tools, PID1 payloads, built-in DevPros, the CMake package,
# udev rules and man pages in one package.
find_program(HELP2MAN help2man)
get_property(_tools GLOBAL PROPERTY FASTBOOP_TOOLS)
if(HELP2MAN AND _tools)
  set(_pages "")
  foreach(target IN LISTS _tools)
    # The program's name (the `fastboop` target is fastboop-boot).
    get_target_property(tool ${target} OUTPUT_NAME)
    if(NOT tool)
      set(tool ${target})
    endif()
    set(page ${PROJECT_BINARY_DIR}/man/${tool}.1)
    add_custom_command(OUTPUT ${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
      COMMAND ${CMAKE_COMMAND} -E env SOURCE_DATE_EPOCH=0
              ${HELP2MAN} --no-info --no-discard-stderr --name=${tool} --output=${page}
              $<TARGET_FILE:${target}>
      DEPENDS ${target}
      COMMENT "man page for ${tool}"
      VERBATIM)
    list(APPEND _pages ${page})
  endforeach()
  add_custom_target(fastboop-man ALL DEPENDS ${_pages})
  install(FILES ${_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT tools)
elseif(_tools)
  message(STATUS "help2man not found: no man pages (apt-get install help2man)")
endif()

set(CPACK_PACKAGE_NAME fastboop)
set(CPACK_PACKAGE_VENDOR "fastboop")
set(CPACK_PACKAGE_CONTACT "fastboop developers <fastboop@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES ON)
include(CPack)
