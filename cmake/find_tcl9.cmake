# Finds a Tcl 9 to build the Tcl packages for, beside the system's Tcl 8.6. Looks, in order:
#   1. TCL9_CONFIG, a CMake cache variable or (at the first configure) an environment
#      variable, naming a tclConfig.sh. When set, it is the only candidate: a path that is not
#      a Tcl 9 tclConfig.sh, or OFF (any CMake false value), builds for Tcl 8.6 only.
#   2. /usr/lib/x86_64-linux-gnu/tcl9.0/tclConfig.sh   (Debian 13: apt install tcl9.0-dev)
#   3. /opt/tcl9.0/lib/tclConfig.sh                     (../shared/tools/install-tcl9)
# Sets MMIPC_TCL9_FOUND, and when found MMIPC_TCL9_VERSION (e.g. 9.0.1),
# MMIPC_TCL9_INCLUDE_DIR, MMIPC_TCL9_STUB_LIBRARY and MMIPC_TCL9_TCLSH (empty when the
# interpreter is missing: the packages are built, their suites are not registered).
# When no Tcl 9 is found, configure prints one line saying so, and nothing else changes.

set(TCL9_CONFIG "$ENV{TCL9_CONFIG}" CACHE STRING
    "tclConfig.sh of the Tcl 9 to build the Tcl packages for too (empty: search; OFF: none)")

set(MMIPC_TCL9_FOUND FALSE)
set(_tcl9_why "")
if(TCL9_CONFIG STREQUAL "")
  set(_tcl9_candidates /usr/lib/x86_64-linux-gnu/tcl9.0/tclConfig.sh
                       /opt/tcl9.0/lib/tclConfig.sh)
  set(_tcl9_why "no tclConfig.sh in /usr/lib/x86_64-linux-gnu/tcl9.0 or /opt/tcl9.0/lib")
elseif(NOT TCL9_CONFIG)
  set(_tcl9_candidates "")
  set(_tcl9_why "TCL9_CONFIG=${TCL9_CONFIG}")
else()
  set(_tcl9_candidates "${TCL9_CONFIG}")
  set(_tcl9_why "TCL9_CONFIG=${TCL9_CONFIG} is not a Tcl 9 tclConfig.sh")
endif()

# The value of NAME='...' (or NAME=...) in a tclConfig.sh's text.
function(_tcl9_config_value text name out)
  # One MATCHES per if(): CMake evaluates both sides of an OR, the last sets CMAKE_MATCH_1.
  if(text MATCHES "\n${name}='([^'\n]*)'")
    set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
  elseif(text MATCHES "\n${name}=([^\n]*)")
    set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

foreach(_config IN LISTS _tcl9_candidates)
  if(NOT EXISTS "${_config}" OR IS_DIRECTORY "${_config}")
    continue()
  endif()
  get_filename_component(_config "${_config}" REALPATH)
  file(READ "${_config}" _text)
  set(_text "\n${_text}")
  # Debian's /usr/lib/tcl9.0/tclConfig.sh only sources the architecture's one:
  #   . /usr/lib/`dpkg-architecture -qDEB_HOST_MULTIARCH`/tcl9.0/tclConfig.sh
  if(NOT _text MATCHES "\nTCL_VERSION=")
    if(_text MATCHES "\n\\. ([^\n]+)")
      string(REPLACE "`dpkg-architecture -qDEB_HOST_MULTIARCH`" "${CMAKE_LIBRARY_ARCHITECTURE}"
                     _sourced "${CMAKE_MATCH_1}")
      if(EXISTS "${_sourced}")
        get_filename_component(_config "${_sourced}" REALPATH)
        file(READ "${_config}" _text)
        set(_text "\n${_text}")
      endif()
    endif()
  endif()
  _tcl9_config_value("${_text}" TCL_MAJOR_VERSION _major)
  _tcl9_config_value("${_text}" TCL_VERSION _version)
  _tcl9_config_value("${_text}" TCL_PATCH_LEVEL _patch)
  _tcl9_config_value("${_text}" TCL_INCLUDE_SPEC _include_spec)
  _tcl9_config_value("${_text}" TCL_STUB_LIB_PATH _stub)
  _tcl9_config_value("${_text}" TCL_PREFIX _prefix)
  _tcl9_config_value("${_text}" TCL_EXEC_PREFIX _exec_prefix)
  string(REGEX REPLACE "^-I" "" _include "${_include_spec}")
  if(NOT _major STREQUAL "9")
    set(_tcl9_why "${_config} is Tcl ${_version}, not Tcl 9")
    continue()
  endif()
  if(NOT EXISTS "${_include}/tcl.h" OR NOT EXISTS "${_stub}")
    set(_tcl9_why "${_config} names no tcl.h (${_include}) or stub library (${_stub})")
    continue()
  endif()
  set(MMIPC_TCL9_FOUND TRUE)
  set(MMIPC_TCL9_CONFIG "${_config}")
  set(MMIPC_TCL9_VERSION "${_version}${_patch}")
  set(MMIPC_TCL9_INCLUDE_DIR "${_include}")
  set(MMIPC_TCL9_STUB_LIBRARY "${_stub}")
  # The interpreter: where this Tcl's prefix keeps it (not on PATH: a tclsh9.0 there may be
  # another Tcl 9 than the one built against).
  set(MMIPC_TCL9_TCLSH "")
  foreach(_tclsh "${_exec_prefix}/bin/tclsh${_version}" "${_prefix}/bin/tclsh${_version}")
    if(EXISTS "${_tclsh}" AND NOT IS_DIRECTORY "${_tclsh}")
      set(MMIPC_TCL9_TCLSH "${_tclsh}")
      break()
    endif()
  endforeach()
  break()
endforeach()

if(NOT MMIPC_TCL9_FOUND)
  set(MMIPC_TCL9_TCLSH "")
endif()
# For bench/run, which reads it from CMakeCache.txt to run the Tcl benchmarks under Tcl 9 too.
set(MMIPC_TCL9_TCLSH "${MMIPC_TCL9_TCLSH}" CACHE INTERNAL "tclsh of the Tcl 9 built for")

if(MMIPC_TCL9_FOUND)
  message(STATUS "Tcl ${MMIPC_TCL9_VERSION}: ${MMIPC_TCL9_CONFIG}, tclsh ${MMIPC_TCL9_TCLSH}")
  if(MMIPC_TCL9_TCLSH STREQUAL "")
    message(NOTICE "Tcl 9: no tclsh${_version} beside ${MMIPC_TCL9_CONFIG}: the packages are "
                   "built for it, their suites are not run under it")
  endif()
else()
  message(NOTICE "Tcl 9 not found (${_tcl9_why}): skipped, the Tcl packages are built for "
                 "Tcl 8.6 only")
endif()
