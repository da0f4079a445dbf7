# SPDX-License-Identifier: MIT
# Install rules: headers, corio_runtime and corio_net, the corio:: CMake package and corio.pc.
# Included last by the top-level CMakeLists.txt, once both library targets exist.
include(CMakePackageConfigHelpers)

option(CORIO_INSTALL "Generate corio's install rules" ${PROJECT_IS_TOP_LEVEL})
if(NOT CORIO_INSTALL)
  return()
endif()

set(corio_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/corio)

# Every file under an include/ folder is public, detail/ included: public headers include it.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/runtime/include/ ${PROJECT_SOURCE_DIR}/net/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# While the major version is 0 every minor release may break the ABI, so it is in the soname.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(corio_soversion ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
else()
  set(corio_soversion ${PROJECT_VERSION_MAJOR})
endif()
# $ORIGIN lets an installed libcorio_net.so find libcorio_runtime.so beside it.
set_target_properties(corio_runtime corio_net PROPERTIES
  VERSION ${PROJECT_VERSION} SOVERSION ${corio_soversion} INSTALL_RPATH "$ORIGIN")

install(TARGETS corio_runtime corio_net EXPORT corioTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT corioTargets NAMESPACE corio:: FILE corioTargets.cmake DESTINATION ${corio_cmake_dir})

# fmt is a PRIVATE dependency. A shared corio hides it (Requires.private, for completeness). A
# static corio cannot: every program that links it needs -lfmt, so its exported targets name
# $<LINK_ONLY:fmt::fmt> (corioConfig.cmake finds fmt first) and corio.pc puts fmt in Requires,
# so that a plain `pkg-config --libs corio` links without --static.
get_target_property(corio_library_type corio_runtime TYPE)
if(corio_library_type STREQUAL "STATIC_LIBRARY")
  set(CORIO_STATIC ON)
  set(CORIO_PC_REQUIRES "fmt")
  set(CORIO_PC_REQUIRES_PRIVATE "")
else()
  set(CORIO_STATIC OFF)
  set(CORIO_PC_REQUIRES "")
  set(CORIO_PC_REQUIRES_PRIVATE "fmt")
endif()

# liburing likewise (the io_uring backend links it privately, by name: -luring).
if(CORIO_HAS_IO_URING_BACKEND)
  if(CORIO_STATIC)
    string(APPEND CORIO_PC_REQUIRES " liburing")
  else()
    string(APPEND CORIO_PC_REQUIRES_PRIVATE " liburing")
  endif()
endif()

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/corioConfig.cmake.in
  ${PROJECT_BINARY_DIR}/corioConfig.cmake INSTALL_DESTINATION ${corio_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/corioConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/corioConfig.cmake ${PROJECT_BINARY_DIR}/corioConfigVersion.cmake
        DESTINATION ${corio_cmake_dir})

# corio.pc finds the prefix from its own location (${pcfiledir}), so `cmake --install --prefix`
# and DESTDIR staging both give a working file. Absolute LIBDIR/INCLUDEDIR are used as given.
set(corio_pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(CORIO_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH corio_pc_up /prefix/${corio_pc_dir} /prefix)
  string(REGEX REPLACE "/$" "" corio_pc_up "${corio_pc_up}")
  set(CORIO_PC_PREFIX "\${pcfiledir}/${corio_pc_up}")
endif()
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(CORIO_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(CORIO_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
configure_file(${CMAKE_CURRENT_LIST_DIR}/corio.pc.in ${PROJECT_BINARY_DIR}/corio.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/corio.pc DESTINATION ${corio_pc_dir})
