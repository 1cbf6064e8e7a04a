# Script mode (cmake -P): run one fastboop generation through the
# content-addressed cache.
#
#   cmake -DFASTBOOP_CACHE_DIR=<dir or empty> -DKIND=<stage0|bootimg>
#         -DKEY_FILES=<files whose bytes form the key> -DKEY_DIRS=<dirs whose regular files do>
#         -DKEY_TEXT=<arguments that form the key>
#         -DOUTPUTS=<files the command produces> | -DOUTPUT_DIR=<dir whose files it produces>
#         -DSTAMP=<file touched on success>
#         -DDEPFILE=<depfile> -DDEPFILE_TARGET=<its target>
#         -DMEMO_DIR=<per-build-directory digest memo, optional>
#         -P FastboopCacheRun.cmake -- <command> <args>...
#
# The key is SHA-512 over KIND, KEY_TEXT and the SHA-512 of every KEY_FILES entry
# (tool binaries are among them, so a new tool build is a new key). A hit copies
# the stored outputs after verifying their recorded digests and runs nothing. A
# miss runs the command, then inserts the outputs: written to a private temporary
# directory inside the cache and renamed into place, so several build trees and
# CI runners can share one cache directory. An entry is never modified in
# place: a runner that loses the insert race keeps the winner's entry, and only
# an entry that failed verification is ever replaced (moved aside first, so a
# reader sees the old entry, no entry, or the new one, never a mix).
#
# With a cache, the functions run this script behind fastboop-cache-hit
# (tools/lib/artifact_cache/fast_hit.cpp), which serves a hit whose digests are
# all recorded (see the digest memo below) in one small process and hands
# everything else, with the same arguments, to this script. Change the key
# material or the record format in both.
cmake_minimum_required(VERSION 3.25)

# List arguments arrive '|'-separated (see FastboopFunctions.cmake).
foreach(_v KEY_FILES KEY_DIRS KEY_TEXT OUTPUTS)
  string(REPLACE "|" ";" ${_v} "${${_v}}")
endforeach()

set(_cmd)
set(_seen_sep FALSE)
math(EXPR _last "${CMAKE_ARGC} - 1")
foreach(_i RANGE 1 ${_last})
  if(_seen_sep)
    list(APPEND _cmd "${CMAKE_ARGV${_i}}")
  elseif("${CMAKE_ARGV${_i}}" STREQUAL "--")
    set(_seen_sep TRUE)
  endif()
endforeach()
if(NOT _cmd)
  message(FATAL_ERROR "FastboopCacheRun: no command after --")
endif()

function(_fastboop_run_command)
  if(OUTPUT_DIR)
    file(REMOVE_RECURSE "${OUTPUT_DIR}")
    file(MAKE_DIRECTORY "${OUTPUT_DIR}")
  endif()
  foreach(out IN LISTS OUTPUTS)
    get_filename_component(dir "${out}" DIRECTORY)
    file(MAKE_DIRECTORY "${dir}")
  endforeach()
  execute_process(COMMAND ${_cmd} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    foreach(out IN LISTS OUTPUTS)
      file(REMOVE "${out}")
    endforeach()
    list(GET _cmd 0 tool)
    get_filename_component(tool "${tool}" NAME)
    message(FATAL_ERROR "fastboop: ${tool} failed (exit ${rc}) while generating ${KIND}")
  endif()
  # Ninja wants the depfile to name the edge's output; the tools name their
  # own output, so retarget it.
  if(DEPFILE AND EXISTS "${DEPFILE}")
    file(READ "${DEPFILE}" dep)
    string(FIND "${dep}" ": " colon)
    if(colon GREATER -1)
      string(SUBSTRING "${dep}" ${colon} -1 rest)
      string(REPLACE " " "\\ " target "${DEPFILE_TARGET}")
      file(WRITE "${DEPFILE}" "${target}${rest}")
    endif()
  endif()
endfunction()

if(NOT FASTBOOP_CACHE_DIR)
  _fastboop_run_command()
  if(STAMP)
    file(TOUCH "${STAMP}")
  endif()
  return()
endif()

# Digest memo. Hashing a 150 MB rootfs and two tool binaries for every device
# dominated warm builds, so a file's SHA-512 is remembered under its identity:
# (path, device, inode, size, mtime ns, ctime ns), read with one
# `stat -L -c` per batch of files. Any write changes ctime, which user space
# cannot set back, so a rewrite with the same size (even with its mtime
# restored) is a new identity and gets hashed. Three kinds of record:
#  - inputs, in the shared cache (<cache>/digests): recorded only when the
#    file's ctime is older than this run's start by more than the timestamp
#    granularity (0.1 s when the filesystem keeps sub-second times, 3 s when it
#    keeps whole seconds), so a later rewrite can never land in the same tick;
#  - cache entry files, in the shared cache: recorded by the inserter right
#    after writing them (entries are never written again), so a hit verifies a
#    stored file against its manifest without re-reading it;
#  - this build tree's own outputs (MEMO_DIR, per build directory): recorded by
#    the generator that wrote them, so the boot.img key does not re-hash the
#    stage0 just placed (their only writer is that generator, and the build
#    graph orders every reader after it).
# Without GNU stat nothing is memoised and every file is hashed.
string(TIMESTAMP _now "%s.%f" UTC)
string(REGEX REPLACE "^([0-9]+)\\.([0-9][0-9][0-9]).*$" "\\1\\2" _now_ms "${_now}")
set(_id_regex "^[0-9]+-[0-9]+-[0-9]+-[0-9]+\\.[0-9]+-[0-9]+\\.[0-9]+$")
set(_memo_shared "${FASTBOOP_CACHE_DIR}/digests")

# Identities ("dev-ino-size-mtime-ctime", or "-" when unknown) of `files`, in order.
function(_fastboop_identities out files)
  list(LENGTH files n)
  set(ids "")
  if(n GREATER 0)
    execute_process(COMMAND stat -L -c "%d-%i-%s-%.9Y-%.9Z" -- ${files}
                    RESULT_VARIABLE rc OUTPUT_VARIABLE text ERROR_QUIET)
    if(rc EQUAL 0)
      string(STRIP "${text}" text)
      string(REPLACE "\n" ";" ids "${text}")
      list(LENGTH ids got)
      if(NOT got EQUAL n)
        set(ids "")
      endif()
      foreach(id IN LISTS ids)
        if(NOT id MATCHES "${_id_regex}")
          set(ids "")
          break()
        endif()
      endforeach()
    endif()
    if(NOT ids)
      foreach(f IN LISTS files)
        list(APPEND ids "-")
      endforeach()
    endif()
  endif()
  set(${out} "${ids}" PARENT_SCOPE)
endfunction()

# A record is the file <dir>/<identity> holding "<sha512> <path>\n" (the path
# is checked on read, so the name needs no hashing: fastboop-cache-hit reads
# the same records).
function(_fastboop_memo_get out path id)
  set(${out} "" PARENT_SCOPE)
  if(id STREQUAL "-")
    return()
  endif()
  foreach(dir IN ITEMS "${MEMO_DIR}" "${_memo_shared}")
    if(dir AND EXISTS "${dir}/${id}")
      file(READ "${dir}/${id}" text)
      string(LENGTH "${text}" len)
      math(EXPR plen "${len} - 130")
      if(plen GREATER 0 AND text MATCHES "^([0-9a-f]+) ")
        set(d "${CMAKE_MATCH_1}")
        string(SUBSTRING "${text}" 129 ${plen} p)
        string(LENGTH "${d}" dlen)
        if(dlen EQUAL 128 AND p STREQUAL path AND text MATCHES "\n$")
          set(${out} "${d}" PARENT_SCOPE)
          return()
        endif()
      endif()
    endif()
  endforeach()
endfunction()

# Record a digest (written to a private name, then renamed: readers see all or nothing).
function(_fastboop_memo_put dir path id digest)
  if(NOT dir OR id STREQUAL "-")
    return()
  endif()
  file(MAKE_DIRECTORY "${dir}")
  string(RANDOM LENGTH 12 rnd)
  file(WRITE "${dir}/.${id}.${rnd}" "${digest} ${path}\n")
  file(RENAME "${dir}/.${id}.${rnd}" "${dir}/${id}")
endfunction()

# True when an identity's ctime is old enough that no later write can share it.
function(_fastboop_settled out id)
  set(${out} FALSE PARENT_SCOPE)
  if(NOT id MATCHES "^[0-9]+-[0-9]+-[0-9]+-[0-9.]+-([0-9]+)\\.([0-9]+)$")
    return()
  endif()
  set(sec "${CMAKE_MATCH_1}")
  string(SUBSTRING "${CMAKE_MATCH_2}000" 0 3 ms)
  if(CMAKE_MATCH_2 MATCHES "^0+$")
    set(margin 3000) # whole-second (or coarser) timestamps
  else()
    set(margin 100)  # sub-second timestamps: a clock tick is at most 10 ms
  endif()
  math(EXPR age "${_now_ms} - (${sec}${ms} + ${margin})")
  if(age GREATER 0)
    set(${out} TRUE PARENT_SCOPE)
  endif()
endfunction()

# SHA-512 of `path` (identity `id`): from the memo, else hashed and, when the
# file has settled, recorded in the shared memo. Parallel generators of one
# build read the same rootfs: one hashes it, the others wait for its record.
function(_fastboop_file_digest out path id)
  _fastboop_memo_get(digest "${path}" "${id}")
  if(NOT digest)
    _fastboop_settled(settled "${id}")
    if(settled)
      file(MAKE_DIRECTORY "${_memo_shared}")
      file(LOCK "${_memo_shared}/${id}.lock" GUARD FUNCTION TIMEOUT 600 RESULT_VARIABLE lock_rc)
      _fastboop_memo_get(digest "${path}" "${id}")
    endif()
    if(NOT digest)
      file(SHA512 "${path}" digest)
      if(settled)
        _fastboop_memo_put("${_memo_shared}" "${path}" "${id}" "${digest}")
      endif()
    endif()
  endif()
  set(${out} "${digest}" PARENT_SCOPE)
endfunction()

# Copy `srcs` into the existing directory `dest`, keeping their names: cp
# (copy_file_range or a reflink where the filesystem has them), else CMake's copy.
function(_fastboop_copy_into out_ok dest srcs)
  execute_process(COMMAND cp -- ${srcs} "${dest}/" RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 0)
    foreach(f IN LISTS srcs)
      get_filename_component(n "${f}" NAME)
      file(COPY_FILE "${f}" "${dest}/${n}" RESULT rc)
      if(NOT rc STREQUAL "0")
        set(${out_ok} FALSE PARENT_SCOPE)
        return()
      endif()
    endforeach()
  endif()
  set(${out_ok} TRUE PARENT_SCOPE)
endfunction()

# Key inputs: KEY_FILES, then every regular file under each KEY_DIRS entry
# (sorted, named relative to it); their identities in one stat.
set(_key_names "")
foreach(f IN LISTS KEY_FILES)
  if(NOT EXISTS "${f}" OR IS_DIRECTORY "${f}")
    message(FATAL_ERROR "fastboop: cache key input '${f}' is not a file")
  endif()
  list(APPEND _key_names "/") # no name: a KEY_FILES entry
endforeach()
foreach(d IN LISTS KEY_DIRS)
  file(GLOB_RECURSE _files LIST_DIRECTORIES false RELATIVE "${d}" "${d}/*")
  list(SORT _files)
  foreach(f IN LISTS _files)
    list(APPEND KEY_FILES "${d}/${f}")
    list(APPEND _key_names "${f}")
  endforeach()
endforeach()
_fastboop_identities(_key_ids "${KEY_FILES}")
set(_key_material "fastboop-cache-v1\n${KIND}\n${KEY_TEXT}\n")
foreach(f name id IN ZIP_LISTS KEY_FILES _key_names _key_ids)
  _fastboop_file_digest(_h "${f}" "${id}")
  if(name STREQUAL "/")
    string(APPEND _key_material "${_h}\n")
  else()
    string(APPEND _key_material "${name} ${_h}\n")
  endif()
endforeach()
string(SHA512 _key "${_key_material}")
string(SUBSTRING "${_key}" 0 64 _key)
set(_entry "${FASTBOOP_CACHE_DIR}/${KIND}/${_key}")

# The entry's manifest as "<sha512> <name>" lines in `out_lines`; empty when
# missing or malformed, or when it does not list what this run produces.
function(_fastboop_read_manifest out_lines)
  set(${out_lines} "" PARENT_SCOPE)
  if(NOT EXISTS "${_entry}/manifest.txt")
    return()
  endif()
  file(STRINGS "${_entry}/manifest.txt" lines)
  list(LENGTH lines n)
  list(LENGTH OUTPUTS want)
  if(n EQUAL 0 OR (NOT OUTPUT_DIR AND NOT n EQUAL want))
    return()
  endif()
  foreach(line IN LISTS lines)
    if(NOT line MATCHES "^[0-9a-f]+ [^/]+$")
      return()
    endif()
  endforeach()
  set(${out_lines} "${lines}" PARENT_SCOPE)
endfunction()

# True when every file the manifest lists is in the entry with its digest.
function(_fastboop_entry_verifies out)
  set(${out} FALSE PARENT_SCOPE)
  _fastboop_read_manifest(lines)
  if(NOT lines)
    return()
  endif()
  foreach(line IN LISTS lines)
    string(REGEX MATCH "^([0-9a-f]+) (.+)$" m "${line}")
    if(NOT EXISTS "${_entry}/${CMAKE_MATCH_2}")
      return()
    endif()
    file(SHA512 "${_entry}/${CMAKE_MATCH_2}" actual)
    if(NOT actual STREQUAL CMAKE_MATCH_1)
      return()
    endif()
  endforeach()
  set(${out} TRUE PARENT_SCOPE)
endfunction()

# Hit: verify every stored file against the manifest (through the memo: the
# inserter recorded each file's identity; an unknown identity is re-hashed),
# copy them to a private stage, then rename into place. A verified entry is
# never replaced (only one that failed verification is), so what we copy is
# what we verified.
set(_hit FALSE)
set(_found_bad FALSE) # an entry exists and failed verification
if(EXISTS "${_entry}")
  _fastboop_read_manifest(_lines)
  set(_hit TRUE)
  if(NOT _lines)
    set(_hit FALSE)
  endif()
  set(_names "")
  set(_digests "")
  set(_srcs "")
  set(_finals "")
  foreach(_line IN LISTS _lines)
    string(REGEX MATCH "^([0-9a-f]+) (.+)$" _m "${_line}")
    list(APPEND _digests "${CMAKE_MATCH_1}")
    list(APPEND _names "${CMAKE_MATCH_2}")
    list(APPEND _srcs "${_entry}/${CMAKE_MATCH_2}")
    if(NOT OUTPUT_DIR)
      set(_final "")
      foreach(out IN LISTS OUTPUTS)
        get_filename_component(_n "${out}" NAME)
        if(_n STREQUAL CMAKE_MATCH_2)
          set(_final "${out}")
        endif()
      endforeach()
      if(NOT _final)
        set(_hit FALSE)
      endif()
      list(APPEND _finals "${_final}")
    endif()
  endforeach()
  if(_hit)
    string(RANDOM LENGTH 12 _rand)
    if(OUTPUT_DIR)
      set(_stage "${OUTPUT_DIR}.fastboop-tmp-${_rand}")
    else()
      list(GET _finals 0 _first)
      get_filename_component(_dir "${_first}" DIRECTORY)
      file(MAKE_DIRECTORY "${_dir}")
      set(_stage "${_dir}/.fastboop-tmp-${_rand}")
    endif()
    file(REMOVE_RECURSE "${_stage}")
    file(MAKE_DIRECTORY "${_stage}")
    # One process: the stored files' identities (taken before copying), the
    # copy, then the copies' identities.
    set(_copies "")
    foreach(_name IN LISTS _names)
      list(APPEND _copies "${_stage}/${_name}")
    endforeach()
    execute_process(COMMAND sh -c [=[
f='%d-%i-%s-%.9Y-%.9Z' s=$1; shift
stat -L -c "$f" -- "$@" && cp -- "$@" "$s/" || exit 1
for p do set -- "$@" "$s/${p##*/}"; shift; done
stat -L -c "$f" -- "$@"]=] sh "${_stage}" ${_srcs}
      RESULT_VARIABLE _rc OUTPUT_VARIABLE _text ERROR_QUIET)
    string(STRIP "${_text}" _text)
    string(REPLACE "\n" ";" _ids "${_text}")
    list(LENGTH _names _n)
    list(LENGTH _ids _got)
    math(EXPR _want "2 * ${_n}")
    if(_rc EQUAL 0 AND _got EQUAL _want)
      list(SUBLIST _ids 0 ${_n} _src_ids)
      list(SUBLIST _ids ${_n} ${_n} _copy_ids)
    else()
      # No POSIX sh, GNU stat or cp: CMake copies, and nothing is memoised.
      set(_src_ids "")
      foreach(_src _copy IN ZIP_LISTS _srcs _copies)
        list(APPEND _src_ids "-")
        if(EXISTS "${_src}")
          file(COPY_FILE "${_src}" "${_copy}" RESULT _copy_rc)
        endif()
      endforeach()
      set(_copy_ids "${_src_ids}")
    endif()
    foreach(_src _id _digest IN ZIP_LISTS _srcs _src_ids _digests)
      if(NOT EXISTS "${_src}")
        set(_hit FALSE)
        break()
      endif()
      if(NOT _id MATCHES "${_id_regex}")
        set(_id "-")
      endif()
      _fastboop_file_digest(_actual "${_src}" "${_id}")
      if(NOT _actual STREQUAL _digest)
        message(WARNING "fastboop: cache entry ${_src} is corrupt; regenerating")
        set(_hit FALSE)
        break()
      endif()
    endforeach()
    if(NOT _hit)
      set(_found_bad TRUE)
      file(REMOVE_RECURSE "${_stage}")
    endif()
  endif()
  if(_hit)
    if(OUTPUT_DIR)
      # Record what we placed, for the generators that read it (their keys).
      file(REMOVE_RECURSE "${OUTPUT_DIR}")
      file(RENAME "${_stage}" "${OUTPUT_DIR}")
      # Renaming the directory keeps its files' identities.
      foreach(_name _id _digest IN ZIP_LISTS _names _copy_ids _digests)
        if(NOT _id MATCHES "${_id_regex}")
          continue()
        endif()
        _fastboop_memo_put("${MEMO_DIR}" "${OUTPUT_DIR}/${_name}" "${_id}" "${_digest}")
      endforeach()
    else()
      foreach(_name _final IN ZIP_LISTS _names _finals)
        file(RENAME "${_stage}/${_name}" "${_final}" RESULT _mv_rc)
        if(NOT _mv_rc STREQUAL "0") # another filesystem
          file(COPY_FILE "${_stage}/${_name}" "${_final}.fastboop-tmp-${_rand}")
          file(RENAME "${_final}.fastboop-tmp-${_rand}" "${_final}")
        endif()
      endforeach()
      file(REMOVE_RECURSE "${_stage}")
    endif()
  endif()
endif()

if(_hit)
  # The tool did not run, so write the depfile it would have: the key inputs.
  if(DEPFILE)
    set(_dep "${DEPFILE_TARGET}:")
    foreach(f IN LISTS KEY_FILES)
      string(REPLACE " " "\\ " f "${f}")
      string(APPEND _dep " \\\n  ${f}")
    endforeach()
    file(WRITE "${DEPFILE}.fastboop-tmp" "${_dep}\n")
    file(RENAME "${DEPFILE}.fastboop-tmp" "${DEPFILE}")
  endif()
  message(STATUS "fastboop: cache hit ${KIND} ${_key}")
else()
  message(STATUS "fastboop: generating ${KIND} (cache key ${_key})")
  _fastboop_run_command()
  if(OUTPUT_DIR)
    file(GLOB OUTPUTS LIST_DIRECTORIES false "${OUTPUT_DIR}/*")
    list(SORT OUTPUTS)
  endif()
  string(RANDOM LENGTH 12 _rand)
  set(_tmp "${FASTBOOP_CACHE_DIR}/${KIND}/.tmp-${_key}-${_rand}")
  file(MAKE_DIRECTORY "${_tmp}")
  _fastboop_copy_into(_copied "${_tmp}" "${OUTPUTS}")
  set(_stored "")
  foreach(out IN LISTS OUTPUTS)
    get_filename_component(_name "${out}" NAME)
    list(APPEND _stored "${_tmp}/${_name}")
  endforeach()
  # One stat for the stored files and our outputs; the manifest is hashed from
  # the stored bytes (cp copied them from the outputs, which only this
  # generator writes, so the outputs' records take the same digests).
  set(_all ${_stored} ${OUTPUTS})
  _fastboop_identities(_all_ids "${_all}")
  set(_manifest "")
  set(_insert ${_copied})
  set(_i 0)
  list(LENGTH OUTPUTS _n)
  foreach(out stored IN ZIP_LISTS OUTPUTS _stored)
    get_filename_component(_name "${out}" NAME)
    math(EXPR _j "${_i} + ${_n}")
    list(GET _all_ids ${_i} _stored_id)
    list(GET _all_ids ${_j} _out_id)
    math(EXPR _i "${_i} + 1")
    if(NOT _insert)
      break()
    endif()
    file(SHA512 "${stored}" _h)
    string(APPEND _manifest "${_h} ${_name}\n")
    if(OUTPUT_DIR)
      _fastboop_memo_put("${MEMO_DIR}" "${out}" "${_out_id}" "${_h}")
    endif()
    # Entry files are never written again: their identity vouches for them.
    _fastboop_memo_put("${_memo_shared}" "${_entry}/${_name}" "${_stored_id}" "${_h}")
  endforeach()
  if(_insert)
    file(WRITE "${_tmp}/manifest.txt" "${_manifest}")
    # rename(2) of a directory never replaces a non-empty one (and CMake's
    # NO_REPLACE uses link(2), which directories refuse): if another runner
    # inserted the same key meanwhile, theirs is kept and ours dropped.
    file(RENAME "${_tmp}" "${_entry}" RESULT _rename_rc)
  else()
    set(_rename_rc 1)
    set(_found_bad FALSE)
  endif()
  if(NOT _rename_rc STREQUAL "0" AND _found_bad)
    # The entry we found failed verification. Replace it, unless another
    # runner already has (then it verifies now): move it aside atomically,
    # then insert ours; losing that race again keeps the winner.
    _fastboop_entry_verifies(_now_ok)
    if(NOT _now_ok)
      set(_trash "${FASTBOOP_CACHE_DIR}/${KIND}/.bad-${_key}-${_rand}")
      file(RENAME "${_entry}" "${_trash}" RESULT _aside_rc)
      if(_aside_rc STREQUAL "0")
        file(REMOVE_RECURSE "${_trash}")
      endif()
      file(RENAME "${_tmp}" "${_entry}" RESULT _rename_rc)
    endif()
  endif()
  if(NOT _rename_rc STREQUAL "0")
    file(REMOVE_RECURSE "${_tmp}")
  endif()
endif()
if(STAMP)
  file(TOUCH "${STAMP}")
endif()
