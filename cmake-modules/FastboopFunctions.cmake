# fastboop's CMake functions: declare devices and a rootfs, get cached,
# reproducible stage0 and boot.img artifacts per device.
#
#   fastboop_add_boot_profile(<target> MANIFEST <yaml> [OUTPUT <fbp>]
#       [OPTIMIZE [LOCAL_ARTIFACTS <file>...]])
#   add_fastboop_stage0(<target> DEVICE <id> (ROOTFS <path|url> [ROOTFS_SHA512 <hex>] | BOOT_PROFILE <target|fbp>)
#       [DEVICE_PROFILE_PATH <dir>] [MODULES <m>...] [SMOO_GADGET <path>] [ROOT_DEVICE <dev>]
#       [COMPRESS none|gzip|lz4|zstd|xz] [SETTINGS <key=value>...] [STAGE0_INIT <path>] [CMDLINE <text>]
#       [DTB <file>]
#       [OUTPUT_DIR <dir>])
#   add_fastboop_boot_image(<target> DEVICE <id> (STAGE0 <target> | ROOTFS ... | BOOT_PROFILE ...)
#       [CMDLINE <text>] [OUTPUT <boot.img>] [any add_fastboop_stage0 option, but not with STAGE0])
#   fastboop_add_device_matrix(<prefix> DEVICES <id>... (ROOTFS ... | BOOT_PROFILE ...) [stage0/boot options])
#   fastboop_install_boot_images(TARGETS <target>... [DESTINATION <dir>] [COMPONENT <name>])
#   fastboop_add_channel(<target> RECORDS <target|file>... [ARTIFACT <file>] [INDEX] [OUTPUT <file>])
#
# Conventions: target first; every unknown or missing argument is an error; the
# tools are the imported targets Fastboop::profile/stage0/bootimg (never path
# variables); every generator has a DEPFILE; results go through the
# content-addressed cache in FASTBOOP_CACHE_DIR (fastboop-cache run; with
# FASTBOOP_REMOTE_CACHE, a shared remote behind it); http sources are fetched only
# when FASTBOOP_ALLOW_DOWNLOAD is on, and always with their sha512 (otherwise
# every stage0 build runs --offline, so a Boot Profile's http sources fail too).
#
# Works the same from an installed prefix or build tree (find_package), and
# from add_subdirectory/FetchContent of the source tree: nothing below depends
# on variables set when this file was included.
include_guard(GLOBAL)

# Functions are global but variables are directory-scoped: a project that
# add_subdirectory()s fastboop calls these functions from directories that never
# saw this file's variables. So nothing here may rely on a variable set at
# include time: constants live in global properties or inside the functions.
set_property(GLOBAL PROPERTY FASTBOOP_FUNCTIONS_DIR "${CMAKE_CURRENT_LIST_DIR}")

if(DEFINED ENV{FASTBOOP_CACHE_DIR})
  set(_fastboop_default_cache "$ENV{FASTBOOP_CACHE_DIR}")
elseif(DEFINED ENV{XDG_CACHE_HOME} AND NOT "$ENV{XDG_CACHE_HOME}" STREQUAL "")
  set(_fastboop_default_cache "$ENV{XDG_CACHE_HOME}/fastboop/artifacts")
elseif(DEFINED ENV{HOME})
  set(_fastboop_default_cache "$ENV{HOME}/.cache/fastboop/artifacts")
else()
  set(_fastboop_default_cache "")
endif()
set(FASTBOOP_CACHE_DIR "${_fastboop_default_cache}" CACHE PATH
    "Content-addressed cache of stage0 and boot.img results (empty: no cache)")
# The remote cache behind it (README, "Sharing the cache across CI runners").
# Empty: $FASTBOOP_REMOTE_CACHE at build time decides. Credentials never go
# in the URL (it is on every command line): netrc or FASTBOOP_REMOTE_CACHE_TOKEN.
set(FASTBOOP_REMOTE_CACHE "" CACHE STRING "Remote artifact cache base URL (http:// or https://)")
option(FASTBOOP_REMOTE_CACHE_READ_ONLY "Read the remote artifact cache, never write it" OFF)
if(FASTBOOP_REMOTE_CACHE MATCHES "^[a-zA-Z]+://[^/]*@")
  message(FATAL_ERROR "FASTBOOP_REMOTE_CACHE must not hold credentials; "
          "put them in a netrc file (FASTBOOP_REMOTE_CACHE_NETRC) or FASTBOOP_REMOTE_CACHE_TOKEN")
endif()
option(FASTBOOP_ALLOW_DOWNLOAD "Allow fastboop generators to fetch http(s) sources" OFF)

if(POLICY CMP0116)
  cmake_policy(SET CMP0116 NEW)
endif()

function(_fastboop_fail fn target msg)
  message(FATAL_ERROR "${fn}(${target}): ${msg}")
endfunction()

# Reject leftovers of cmake_parse_arguments and missing values.
macro(_fastboop_check_args fn target)
  if(A_UNPARSED_ARGUMENTS)
    _fastboop_fail(${fn} ${target} "unknown argument(s): ${A_UNPARSED_ARGUMENTS}")
  endif()
  if(A_KEYWORDS_MISSING_VALUES)
    _fastboop_fail(${fn} ${target} "missing value for: ${A_KEYWORDS_MISSING_VALUES}")
  endif()
endmacro()

function(_fastboop_require_tool fn target tool)
  if(NOT TARGET Fastboop::${tool})
    _fastboop_fail(${fn} ${target}
      "the tool target Fastboop::${tool} does not exist (find_package(Fastboop) or add_subdirectory(fastboop) first)")
  endif()
endfunction()

function(_fastboop_abs out path)
  get_filename_component(p "${path}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  set(${out} "${p}" PARENT_SCOPE)
endfunction()

# The keyword arguments shared between add_fastboop_stage0,
# add_fastboop_boot_image and fastboop_add_device_matrix (a macro: it sets them
# in the calling function's scope).
macro(_fastboop_stage0_keywords)
  set(_FASTBOOP_STAGE0_ONE ROOTFS ROOTFS_SHA512 BOOT_PROFILE DEVICE_PROFILE_PATH SMOO_GADGET ROOT_DEVICE
      COMPRESS STAGE0_INIT CMDLINE DTB)
  set(_FASTBOOP_STAGE0_MULTI MODULES SETTINGS)
endmacro()

# Rebuild the stage0 keyword arguments parsed into A_* (except `skip`) as a
# list to pass on. A macro, so it sees the caller's A_* variables.
macro(_fastboop_forward_stage0_args out skip)
  set(${out} "")
  foreach(_k IN LISTS _FASTBOOP_STAGE0_ONE)
    if(DEFINED A_${_k} AND NOT "${_k}" STREQUAL "${skip}")
      list(APPEND ${out} ${_k} "${A_${_k}}")
    endif()
  endforeach()
  foreach(_k IN LISTS _FASTBOOP_STAGE0_MULTI)
    if(A_${_k})
      list(APPEND ${out} ${_k} ${A_${_k}})
    endif()
  endforeach()
endmacro()

# The command prefix of a cached generation: `fastboop-cache run` (the whole
# cache: key, memo, verified hit, run on a miss, insert, remote), then the
# options every generation passes. `<out>` is a list for add_custom_command.
function(_fastboop_cache_command out kind)
  if(NOT TARGET Fastboop::cache)
    message(FATAL_ERROR "fastboop: the Fastboop::cache tool target is missing (an incomplete fastboop package?)")
  endif()
  set(cmd "$<TARGET_FILE:Fastboop::cache>" run "--cache-dir=${FASTBOOP_CACHE_DIR}" "--kind=${kind}"
      "--memo-dir=${CMAKE_BINARY_DIR}/CMakeFiles/fastboop-digests") # per build directory
  if(FASTBOOP_REMOTE_CACHE)
    list(APPEND cmd "--remote=${FASTBOOP_REMOTE_CACHE}")
  endif()
  if(FASTBOOP_REMOTE_CACHE_READ_ONLY)
    list(APPEND cmd --remote-read-only)
  endif()
  set(${out} "${cmd}" PARENT_SCOPE)
endfunction()

# The depfile target of a cached generation. Its depfile holds absolute paths
# only, so CMP0116's transform has nothing to do, yet under NEW it costs a
# `cmake -E cmake_transform_depfile` process per edge: about half of a
# warm-cache build. So these commands are created under CMP0116 OLD (the
# status is recorded per command; NEW elsewhere), and Ninja reads the depfile
# as written: it must name the edge's output the way build.ninja does,
# relative to the top build directory when inside it. Other generators get
# the absolute path.
function(_fastboop_depfile_target out path)
  set(${out} "${path}" PARENT_SCOPE)
  if(CMAKE_GENERATOR MATCHES "Ninja")
    cmake_path(IS_PREFIX CMAKE_BINARY_DIR "${path}" NORMALIZE inside)
    if(inside)
      file(RELATIVE_PATH rel "${CMAKE_BINARY_DIR}" "${path}")
      set(${out} "${rel}" PARENT_SCOPE)
    endif()
  endif()
endfunction()

# ---------------------------------------------------------------------------
function(fastboop_add_boot_profile target)
  set(fn fastboop_add_boot_profile)
  cmake_parse_arguments(PARSE_ARGV 1 A "OPTIMIZE" "MANIFEST;OUTPUT" "LOCAL_ARTIFACTS")
  _fastboop_check_args(${fn} ${target})
  if(NOT A_MANIFEST)
    _fastboop_fail(${fn} ${target} "MANIFEST <yaml> is required")
  endif()
  if(A_LOCAL_ARTIFACTS AND NOT A_OPTIMIZE)
    _fastboop_fail(${fn} ${target} "LOCAL_ARTIFACTS is used only with OPTIMIZE")
  endif()
  _fastboop_require_tool(${fn} ${target} profile)
  _fastboop_abs(manifest "${A_MANIFEST}")
  if(NOT EXISTS "${manifest}")
    _fastboop_fail(${fn} ${target} "MANIFEST ${manifest} does not exist")
  endif()
  if(A_OUTPUT)
    get_filename_component(out "${A_OUTPUT}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  else()
    set(out "${CMAKE_CURRENT_BINARY_DIR}/${target}.fbp")
  endif()
  # OPTIMIZE: what a distro publishes. Block-hash tables (and pipeline hints)
  # are computed from the artifacts, so consumers read verified ranges instead
  # of whole images. The artifacts come from LOCAL_ARTIFACTS (matched by
  # content digest), else they are downloaded, which only
  # FASTBOOP_ALLOW_DOWNLOAD permits.
  set(optimize "")
  set(artifact_deps "")
  if(A_OPTIMIZE)
    list(APPEND optimize --optimize)
    foreach(a IN LISTS A_LOCAL_ARTIFACTS)
      _fastboop_abs(artifact "${a}")
      if(NOT EXISTS "${artifact}")
        _fastboop_fail(${fn} ${target} "LOCAL_ARTIFACTS ${artifact} does not exist")
      endif()
      list(APPEND optimize --local-artifact "${artifact}")
      list(APPEND artifact_deps "${artifact}")
    endforeach()
  endif()
  set(offline "")
  if(NOT FASTBOOP_ALLOW_DOWNLOAD)
    set(offline "${CMAKE_COMMAND}" -E env FASTBOOP_OFFLINE=1)
  endif()
  add_custom_command(OUTPUT "${out}"
    COMMAND ${offline} $<TARGET_FILE:Fastboop::profile> compile "${manifest}" -o "${out}" --depfile "${out}.d"
            ${optimize}
    DEPENDS "${manifest}" Fastboop::profile ${artifact_deps}
    DEPFILE "${out}.d"
    COMMENT "fastboop: compiling Boot Profile ${target}"
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS "${out}")
  set_target_properties(${target} PROPERTIES FASTBOOP_KIND boot_profile FASTBOOP_OUTPUT "${out}")
endfunction()

# ---------------------------------------------------------------------------
function(add_fastboop_stage0 target)
  set(fn add_fastboop_stage0)
  _fastboop_stage0_keywords()
  cmake_parse_arguments(PARSE_ARGV 1 A "" "DEVICE;OUTPUT_DIR;${_FASTBOOP_STAGE0_ONE}"
                        "${_FASTBOOP_STAGE0_MULTI}")
  _fastboop_check_args(${fn} ${target})
  if(NOT A_DEVICE)
    _fastboop_fail(${fn} ${target} "DEVICE <device-profile id> is required")
  endif()
  if(A_ROOTFS AND A_BOOT_PROFILE)
    _fastboop_fail(${fn} ${target} "give ROOTFS or BOOT_PROFILE, not both")
  endif()
  if(NOT A_ROOTFS AND NOT A_BOOT_PROFILE)
    _fastboop_fail(${fn} ${target} "ROOTFS <path|url> or BOOT_PROFILE <target|fbp> is required")
  endif()
  if(A_COMPRESS AND NOT A_COMPRESS MATCHES "^(none|gzip|lz4|zstd|xz)$")
    _fastboop_fail(${fn} ${target} "COMPRESS must be one of none, gzip, lz4, zstd, xz (got '${A_COMPRESS}')")
  endif()
  foreach(s IN LISTS A_SETTINGS)
    if(NOT s MATCHES "^[A-Za-z0-9_.-]+=")
      _fastboop_fail(${fn} ${target} "SETTINGS entry '${s}' is not key=value")
    endif()
  endforeach()
  _fastboop_require_tool(${fn} ${target} stage0)

  set(key_files "")
  set(key_dirs "")
  set(deps Fastboop::stage0)
  set(args build)

  if(A_ROOTFS)
    if(A_ROOTFS MATCHES "^https?://")
      if(NOT FASTBOOP_ALLOW_DOWNLOAD)
        _fastboop_fail(${fn} ${target}
          "ROOTFS ${A_ROOTFS} is a download and FASTBOOP_ALLOW_DOWNLOAD is OFF (builds are offline by default; "
          "configure with -DFASTBOOP_ALLOW_DOWNLOAD=ON and give ROOTFS_SHA512)")
      endif()
      if(NOT A_ROOTFS_SHA512 MATCHES "^[0-9a-f]+$")
        _fastboop_fail(${fn} ${target} "ROOTFS ${A_ROOTFS} needs ROOTFS_SHA512 <128 lowercase hex>")
      endif()
      string(LENGTH "${A_ROOTFS_SHA512}" len)
      if(NOT len EQUAL 128)
        _fastboop_fail(${fn} ${target} "ROOTFS_SHA512 must be 128 lowercase hex characters (got ${len})")
      endif()
      # A build claims the digest, so the download is checked before use.
      list(APPEND args "${A_ROOTFS}" --expect-sha512 "${A_ROOTFS_SHA512}" --verify-download)
      string(APPEND key_text "rootfs-sha512=${A_ROOTFS_SHA512}|")
    else()
      _fastboop_abs(rootfs "${A_ROOTFS}")
      list(APPEND args "${rootfs}")
      if(IS_DIRECTORY "${rootfs}")
        list(APPEND key_dirs "${rootfs}")
      else()
        list(APPEND key_files "${rootfs}")
        list(APPEND deps "${rootfs}")
      endif()
    endif()
  else()
    if(TARGET ${A_BOOT_PROFILE})
      get_target_property(kind ${A_BOOT_PROFILE} FASTBOOP_KIND)
      get_target_property(fbp ${A_BOOT_PROFILE} FASTBOOP_OUTPUT)
      if(NOT kind STREQUAL "boot_profile")
        _fastboop_fail(${fn} ${target} "BOOT_PROFILE target ${A_BOOT_PROFILE} was not made by fastboop_add_boot_profile")
      endif()
      list(APPEND deps ${A_BOOT_PROFILE} "${fbp}")
    else()
      _fastboop_abs(fbp "${A_BOOT_PROFILE}")
      list(APPEND deps "${fbp}")
    endif()
    # The compiled profile carries the sha512 of every local source, so its
    # bytes key the rootfs too.
    list(APPEND args "${fbp}")
    list(APPEND key_files "${fbp}")
  endif()

  list(APPEND args --device-profile "${A_DEVICE}")
  # Offline by default for every source: a compiled Boot Profile may name http
  # sources too, which only the tool sees. (Not part of the key: it never
  # changes the result, only whether the build may fetch.)
  if(NOT FASTBOOP_ALLOW_DOWNLOAD)
    list(APPEND args --offline)
  endif()
  if(A_DEVICE_PROFILE_PATH)
    _fastboop_abs(dpp "${A_DEVICE_PROFILE_PATH}")
    list(APPEND key_dirs "${dpp}")
    set(env_prefix ${CMAKE_COMMAND} -E env "FASTBOOP_SCHEMA_PATH=${dpp}")
  else()
    set(env_prefix "")
  endif()
  foreach(m IN LISTS A_MODULES)
    list(APPEND args --require-module "${m}")
  endforeach()
  if(A_SMOO_GADGET)
    _fastboop_abs(smoo "${A_SMOO_GADGET}")
    list(APPEND args --smoo-gadget "${smoo}")
    list(APPEND key_files "${smoo}")
    list(APPEND deps "${smoo}")
  endif()
  if(A_ROOT_DEVICE)
    list(APPEND args --root-device "${A_ROOT_DEVICE}")
  endif()
  if(A_DTB)
    _fastboop_abs(dtb "${A_DTB}")
    list(APPEND args --dtb "${dtb}")
    list(APPEND key_files "${dtb}")
    list(APPEND deps "${dtb}")
  endif()
  if(A_COMPRESS)
    list(APPEND args --compress "${A_COMPRESS}")
  endif()
  foreach(s IN LISTS A_SETTINGS)
    list(APPEND args --setting "${s}")
  endforeach()
  if(A_CMDLINE)
    list(APPEND args --cmdline-append "${A_CMDLINE}")
  endif()
  if(A_STAGE0_INIT)
    if(TARGET ${A_STAGE0_INIT})
      set(init "$<TARGET_FILE:${A_STAGE0_INIT}>")
      list(APPEND deps ${A_STAGE0_INIT})
    else()
      _fastboop_abs(init "${A_STAGE0_INIT}")
      list(APPEND deps "${init}")
    endif()
  else()
    # From the package config (installed or build tree; its variable, or its
    # global property when find_package ran in another directory), or, in a
    # source tree, the cache entry tools/stage0-init sets, whose payload target
    # orders the build after it (the file dependency reruns stage0 when it changes).
    set(init "${FASTBOOP_STAGE0_INIT_AARCH64}")
    if(NOT init)
      get_property(init GLOBAL PROPERTY FASTBOOP_STAGE0_INIT_AARCH64)
    endif()
  endif()
  if(init AND NOT A_STAGE0_INIT)
    list(APPEND deps "${init}")
    if(TARGET fastboop_stage0_init_payloads)
      list(APPEND deps fastboop_stage0_init_payloads)
    endif()
  endif()
  if(init)
    list(APPEND args --stage0-init "${init}")
    list(APPEND key_files "${init}")
  endif()

  if(A_OUTPUT_DIR)
    get_filename_component(outdir "${A_OUTPUT_DIR}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  else()
    set(outdir "${CMAKE_CURRENT_BINARY_DIR}/${target}")
  endif()
  set(stamp "${CMAKE_CURRENT_BINARY_DIR}/${target}.stage0.stamp")
  set(depfile "${CMAKE_CURRENT_BINARY_DIR}/${target}.stage0.d")
  # The key holds what changes the result, never where things are: input
  # contents (KEY_FILES/KEY_DIRS) plus the non-path options, so build trees at
  # different paths share entries.
  string(APPEND key_text "device=${A_DEVICE}|modules=${A_MODULES}|root=${A_ROOT_DEVICE}|"
         "compress=${A_COMPRESS}|settings=${A_SETTINGS}|cmdline=${A_CMDLINE}")
  list(APPEND args -o "${outdir}" --depfile "${depfile}")
  # ';' would split the argument: the key text is '|'-separated.
  string(REPLACE ";" "|" key_text "${key_text}")
  _fastboop_cache_command(cache_run stage0)
  list(APPEND cache_run "--key-tool=$<TARGET_FILE:Fastboop::stage0>")
  foreach(f IN LISTS key_files)
    list(APPEND cache_run "--key-file=${f}")
  endforeach()
  foreach(d IN LISTS key_dirs)
    list(APPEND cache_run "--key-dir=${d}")
  endforeach()
  _fastboop_depfile_target(depfile_target "${stamp}")
  cmake_policy(PUSH)
  cmake_policy(SET CMP0116 OLD) # see _fastboop_depfile_target
  add_custom_command(OUTPUT "${stamp}"
    COMMAND ${cache_run} "--key-text=${key_text}"
      "--output-dir=${outdir}" "--stamp=${stamp}" "--depfile=${depfile}" "--depfile-target=${depfile_target}" --
      ${env_prefix} "$<TARGET_FILE:Fastboop::stage0>" ${args}
    DEPENDS ${deps}
    DEPFILE "${depfile}"
    COMMENT "fastboop: stage0 for ${A_DEVICE} (${target})"
    VERBATIM)
  cmake_policy(POP)
  add_custom_target(${target} ALL DEPENDS "${stamp}")
  set_target_properties(${target} PROPERTIES
    FASTBOOP_KIND stage0 FASTBOOP_DEVICE "${A_DEVICE}" FASTBOOP_STAGE0_DIR "${outdir}"
    FASTBOOP_STAMP "${stamp}" FASTBOOP_DEVICE_PROFILE_PATH "${A_DEVICE_PROFILE_PATH}")
endfunction()

# ---------------------------------------------------------------------------
function(add_fastboop_boot_image target)
  set(fn add_fastboop_boot_image)
  _fastboop_stage0_keywords()
  cmake_parse_arguments(PARSE_ARGV 1 A "" "DEVICE;STAGE0;OUTPUT;${_FASTBOOP_STAGE0_ONE}"
                        "${_FASTBOOP_STAGE0_MULTI}")
  _fastboop_check_args(${fn} ${target})
  if(NOT A_DEVICE)
    _fastboop_fail(${fn} ${target} "DEVICE <device-profile id> is required")
  endif()
  _fastboop_require_tool(${fn} ${target} bootimg)
  if(A_STAGE0)
    if(A_ROOTFS OR A_BOOT_PROFILE)
      _fastboop_fail(${fn} ${target} "give STAGE0 or ROOTFS/BOOT_PROFILE, not both")
    endif()
    # A given stage0 is already built: its options belong to its own
    # add_fastboop_stage0 call, and silently ignoring them here would build
    # something other than what was asked for.
    set(stage0_only "")
    foreach(k IN LISTS _FASTBOOP_STAGE0_ONE _FASTBOOP_STAGE0_MULTI)
      if(NOT k STREQUAL "CMDLINE" AND DEFINED A_${k})
        list(APPEND stage0_only ${k})
      endif()
    endforeach()
    if(stage0_only)
      string(REPLACE ";" ", " stage0_only "${stage0_only}")
      _fastboop_fail(${fn} ${target}
        "${stage0_only} cannot be combined with STAGE0 (give them to add_fastboop_stage0(${A_STAGE0} ...))")
    endif()
    if(NOT TARGET ${A_STAGE0})
      _fastboop_fail(${fn} ${target} "STAGE0 ${A_STAGE0} is not a target")
    endif()
    get_target_property(kind ${A_STAGE0} FASTBOOP_KIND)
    if(NOT kind STREQUAL "stage0")
      _fastboop_fail(${fn} ${target} "STAGE0 ${A_STAGE0} was not made by add_fastboop_stage0")
    endif()
    get_target_property(stage0_device ${A_STAGE0} FASTBOOP_DEVICE)
    if(NOT stage0_device STREQUAL A_DEVICE)
      _fastboop_fail(${fn} ${target} "STAGE0 ${A_STAGE0} was built for ${stage0_device}, not ${A_DEVICE}")
    endif()
    set(stage0 ${A_STAGE0})
    set(cmdline "${A_CMDLINE}")
  else()
    if(NOT A_ROOTFS AND NOT A_BOOT_PROFILE)
      _fastboop_fail(${fn} ${target} "STAGE0 <target>, ROOTFS <path|url> or BOOT_PROFILE <target|fbp> is required")
    endif()
    # Build the stage0 ourselves, forwarding every stage0 option (CMDLINE goes
    # to the boot image, where the DevPro's cmdline_append is joined with it).
    _fastboop_forward_stage0_args(forward CMDLINE)
    set(stage0 ${target}_stage0)
    list(PREPEND forward DEVICE "${A_DEVICE}")
    add_fastboop_stage0(${stage0} ${forward})
    set(cmdline "${A_CMDLINE}")
  endif()
  get_target_property(stage0_dir ${stage0} FASTBOOP_STAGE0_DIR)
  get_target_property(stage0_stamp ${stage0} FASTBOOP_STAMP)
  get_target_property(dpp ${stage0} FASTBOOP_DEVICE_PROFILE_PATH)

  if(A_OUTPUT)
    get_filename_component(out "${A_OUTPUT}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  else()
    set(out "${CMAKE_CURRENT_BINARY_DIR}/${target}/boot.img")
  endif()
  set(depfile "${out}.d")
  set(args --device-profile "${A_DEVICE}" --stage0 "${stage0_dir}" -o "${out}" --depfile "${depfile}")
  if(cmdline)
    list(APPEND args --cmdline-append "${cmdline}")
  endif()
  set(key_dirs "${stage0_dir}")
  set(env_prefix "")
  if(dpp)
    _fastboop_abs(dpp "${dpp}")
    list(APPEND key_dirs "${dpp}")
    set(env_prefix ${CMAKE_COMMAND} -E env "FASTBOOP_SCHEMA_PATH=${dpp}")
  endif()
  # One process per edge (it makes the output directory): process start-up is
  # most of a warm-cache build.
  _fastboop_cache_command(cache_run bootimg)
  foreach(d IN LISTS key_dirs)
    list(APPEND cache_run "--key-dir=${d}")
  endforeach()
  _fastboop_depfile_target(depfile_target "${out}")
  cmake_policy(PUSH)
  cmake_policy(SET CMP0116 OLD) # see _fastboop_depfile_target
  add_custom_command(OUTPUT "${out}" "${out}.json"
    COMMAND ${cache_run} "--key-tool=$<TARGET_FILE:Fastboop::bootimg>" "--key-text=${A_DEVICE}|${cmdline}"
      "--output=${out}" "--output=${out}.json" "--depfile=${depfile}" "--depfile-target=${depfile_target}" --
      ${env_prefix} "$<TARGET_FILE:Fastboop::bootimg>" ${args}
    DEPENDS Fastboop::bootimg ${stage0} "${stage0_stamp}"
    DEPFILE "${depfile}"
    COMMENT "fastboop: boot.img for ${A_DEVICE} (${target})"
    VERBATIM)
  cmake_policy(POP)
  add_custom_target(${target} ALL DEPENDS "${out}")
  set_target_properties(${target} PROPERTIES
    FASTBOOP_KIND boot_image FASTBOOP_DEVICE "${A_DEVICE}" FASTBOOP_OUTPUT "${out}"
    FASTBOOP_STAGE0 ${stage0})
endfunction()

# ---------------------------------------------------------------------------
function(fastboop_add_device_matrix prefix)
  set(fn fastboop_add_device_matrix)
  _fastboop_stage0_keywords()
  cmake_parse_arguments(PARSE_ARGV 1 A "" "${_FASTBOOP_STAGE0_ONE}" "DEVICES;${_FASTBOOP_STAGE0_MULTI}")
  _fastboop_check_args(${fn} ${prefix})
  if(NOT A_DEVICES)
    _fastboop_fail(${fn} ${prefix} "DEVICES <id>... is required")
  endif()
  if(NOT A_ROOTFS AND NOT A_BOOT_PROFILE)
    _fastboop_fail(${fn} ${prefix} "ROOTFS <path|url> or BOOT_PROFILE <target|fbp> is required")
  endif()
  _fastboop_forward_stage0_args(forward "")
  set(targets "")
  foreach(device IN LISTS A_DEVICES)
    string(MAKE_C_IDENTIFIER "${device}" id)
    add_fastboop_boot_image(${prefix}_${id} DEVICE "${device}" ${forward})
    list(APPEND targets ${prefix}_${id})
  endforeach()
  add_custom_target(${prefix} ALL DEPENDS ${targets})
  set_target_properties(${prefix} PROPERTIES FASTBOOP_KIND device_matrix FASTBOOP_TARGETS "${targets}")
endfunction()

# ---------------------------------------------------------------------------
# A channel (one file a distro publishes: upstream's apps open it by URL): the
# RECORDS in order (fastboop_add_boot_profile targets, compiled records, or
# Device Profile YAML/JSON, compiled by the packer), then the ARTIFACT (the
# rootfs image). Packing is a concatenation, so it is not cached; the output
# is deterministic and its depfile lists every file read.
function(fastboop_add_channel target)
  set(fn fastboop_add_channel)
  cmake_parse_arguments(PARSE_ARGV 1 A "INDEX" "ARTIFACT;OUTPUT" "RECORDS")
  _fastboop_check_args(${fn} ${target})
  if(NOT A_RECORDS)
    _fastboop_fail(${fn} ${target} "RECORDS <target|file>... is required")
  endif()
  _fastboop_require_tool(${fn} ${target} profile)
  set(files "")
  set(deps Fastboop::profile)
  foreach(r IN LISTS A_RECORDS)
    if(TARGET "${r}")
      get_target_property(kind ${r} FASTBOOP_KIND)
      if(NOT kind STREQUAL "boot_profile")
        _fastboop_fail(${fn} ${target} "RECORDS target ${r} was not made by fastboop_add_boot_profile")
      endif()
      get_target_property(f ${r} FASTBOOP_OUTPUT)
      list(APPEND deps ${r})
    else()
      _fastboop_abs(f "${r}")
    endif()
    list(APPEND files "${f}")
    list(APPEND deps "${f}")
  endforeach()
  if(A_OUTPUT)
    get_filename_component(out "${A_OUTPUT}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  else()
    set(out "${CMAKE_CURRENT_BINARY_DIR}/${target}.channel")
  endif()
  set(args "")
  if(A_ARTIFACT)
    _fastboop_abs(artifact "${A_ARTIFACT}")
    list(APPEND args --artifact "${artifact}")
    list(APPEND deps "${artifact}")
  endif()
  if(A_INDEX)
    list(APPEND args --index)
  endif()
  add_custom_command(OUTPUT "${out}"
    COMMAND Fastboop::profile channel pack ${files} ${args} -o "${out}" --depfile "${out}.d"
    DEPENDS ${deps}
    DEPFILE "${out}.d"
    COMMENT "fastboop: packing channel ${target}"
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS "${out}")
  set_target_properties(${target} PROPERTIES FASTBOOP_KIND channel FASTBOOP_OUTPUT "${out}")
endfunction()

# ---------------------------------------------------------------------------
function(fastboop_install_boot_images)
  set(fn fastboop_install_boot_images)
  cmake_parse_arguments(PARSE_ARGV 0 A "" "DESTINATION;COMPONENT" "TARGETS")
  _fastboop_check_args(${fn} install)
  if(NOT A_TARGETS)
    _fastboop_fail(${fn} install "TARGETS <target>... is required")
  endif()
  if(NOT A_DESTINATION)
    # GNUInstallDirs' datadir when the project uses it; "share" otherwise (its
    # default), without including it into projects that enable no language.
    if(CMAKE_INSTALL_DATADIR)
      set(A_DESTINATION "${CMAKE_INSTALL_DATADIR}/fastboop/boot-images")
    else()
      set(A_DESTINATION "share/fastboop/boot-images")
    endif()
  endif()
  if(NOT A_COMPONENT)
    set(A_COMPONENT boot-images)
  endif()
  set(expanded "")
  foreach(t IN LISTS A_TARGETS)
    if(NOT TARGET ${t})
      _fastboop_fail(${fn} install "${t} is not a target")
    endif()
    get_target_property(kind ${t} FASTBOOP_KIND)
    if(kind STREQUAL "device_matrix")
      get_target_property(sub ${t} FASTBOOP_TARGETS)
      list(APPEND expanded ${sub})
    elseif(kind STREQUAL "boot_image")
      list(APPEND expanded ${t})
    else()
      _fastboop_fail(${fn} install "${t} is not a boot image or device matrix target")
    endif()
  endforeach()
  foreach(t IN LISTS expanded)
    get_target_property(out ${t} FASTBOOP_OUTPUT)
    get_target_property(device ${t} FASTBOOP_DEVICE)
    install(FILES "${out}" "${out}.json" DESTINATION "${A_DESTINATION}/${device}" COMPONENT ${A_COMPONENT})
  endforeach()
endfunction()
