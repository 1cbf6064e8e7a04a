# cmake -DTOOL=<tool binary> -DEPOCH=<seconds> [-DGIT_DIR=<source dir>] -DMAN=<page>
#       -DCOMPLETION=<file> -P FastboopToolDocs.cmake
# Runs the tool's generators (tools/lib/common/cli.hpp) and writes both files
# through a temporary name and a rename, so a failed run leaves no half file.
foreach(_var TOOL EPOCH MAN COMPLETION)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "FastboopToolDocs.cmake: -D${_var}=... is required")
  endif()
endforeach()
# With GIT_DIR: the last commit's date, when there is one.
if(DEFINED GIT_DIR)
  execute_process(COMMAND git -C ${GIT_DIR} log -1 --format=%ct OUTPUT_VARIABLE _commit
                  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _git_rc ERROR_QUIET)
  if(_git_rc EQUAL 0 AND _commit MATCHES "^[0-9]+$")
    set(EPOCH ${_commit})
  endif()
endif()
foreach(_kind man completion)
  if(_kind STREQUAL "man")
    set(_out ${MAN})
    set(_flag --generate-man-page)
  else()
    set(_out ${COMPLETION})
    set(_flag --generate-bash-completion)
  endif()
  get_filename_component(_dir ${_out} DIRECTORY)
  file(MAKE_DIRECTORY ${_dir})
  execute_process(COMMAND ${CMAKE_COMMAND} -E env SOURCE_DATE_EPOCH=${EPOCH} ${TOOL} ${_flag}
                  OUTPUT_FILE ${_out}.tmp RESULT_VARIABLE _rc ERROR_VARIABLE _err)
  if(NOT _rc EQUAL 0)
    file(REMOVE ${_out}.tmp)
    message(FATAL_ERROR "${TOOL} ${_flag} failed (${_rc}): ${_err}")
  endif()
  file(RENAME ${_out}.tmp ${_out})
endforeach()
