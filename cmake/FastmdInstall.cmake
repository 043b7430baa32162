# cmake/FastmdInstall.cmake — what `cmake --install` (and scripts/package, through CPack) puts
# where, by GNUInstallDirs:
#   runtime: bin/fastmd-ipcd, fastmd-ipcctl, fastmd-worker-md; their man pages; the systemd
#            units, sysusers.d and tmpfiles.d entries and /etc/fastmd/ipcd.toml (paths made
#            at install time for the prefix, see FastmdInstallSystem.cmake); the docs.
#   dev:     the SDK's static libraries, the headers under include/fastmd/, the CMake package
#            fastmd-ipc (target fastmd::ipc) and fastmd-ipc.pc.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS fastmd-ipcd fastmd-ipcctl fastmd-worker-md
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)

# The SDK: static archives (docs/sdk-cpp.md, "Static library" says why and what was measured).
set_target_properties(fastmd_ipc PROPERTIES EXPORT_NAME ipc OUTPUT_NAME fastmd-ipc)
set_target_properties(fastmd_shm PROPERTIES EXPORT_NAME shm OUTPUT_NAME fastmd-shm)
set_target_properties(fastmd_transport PROPERTIES EXPORT_NAME transport OUTPUT_NAME fastmd-transport)
set_target_properties(fastmd_platform PROPERTIES EXPORT_NAME platform OUTPUT_NAME fastmd-platform)
set_target_properties(fastmd_proto PROPERTIES EXPORT_NAME proto)
set_target_properties(fastmd_msgpack PROPERTIES EXPORT_NAME msgpack)
install(TARGETS fastmd_ipc fastmd_transport fastmd_shm fastmd_platform fastmd_proto fastmd_msgpack
  EXPORT fastmd-ipc-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/proto/include/fastmd ${PROJECT_SOURCE_DIR}/sdk-cpp/include/fastmd
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev FILES_MATCHING PATTERN "*.hpp")

set(FASTMD_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/fastmd-ipc)
install(EXPORT fastmd-ipc-targets NAMESPACE fastmd:: FILE fastmd-ipcTargets.cmake
  DESTINATION ${FASTMD_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/fastmd-ipcConfig.cmake.in
  ${PROJECT_BINARY_DIR}/fastmd-ipcConfig.cmake INSTALL_DESTINATION ${FASTMD_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/fastmd-ipcConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/fastmd-ipcConfig.cmake
  ${PROJECT_BINARY_DIR}/fastmd-ipcConfigVersion.cmake
  DESTINATION ${FASTMD_CMAKE_DIR} COMPONENT dev)

# pkg-config: ${pcfiledir}-relative, so the file stays right under `cmake --install --prefix`.
file(RELATIVE_PATH FASTMD_PC_TO_PREFIX
  /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
configure_file(${PROJECT_SOURCE_DIR}/cmake/fastmd-ipc.pc.in ${PROJECT_BINARY_DIR}/fastmd-ipc.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/fastmd-ipc.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# Docs: operations.md is what the units' Documentation= names.
install(FILES README.md docs/operations.md docs/sdk-cpp.md docs/architecture.md docs/shm.md
  proto/PROTOCOL.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)
install(DIRECTORY examples/out-of-tree-worker
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/fastmd-ipc-dev/examples
  COMPONENT dev)

# Units, sysusers.d, tmpfiles.d and the config: their paths depend on the prefix given at
# install time (/usr puts them in /lib/systemd/system and /etc, as Debian does).
install(CODE "set(FASTMD_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
  set(FASTMD_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(FASTMD_DOCDIR \"${CMAKE_INSTALL_DOCDIR}\")" COMPONENT runtime)
install(SCRIPT ${PROJECT_SOURCE_DIR}/cmake/FastmdInstallSystem.cmake COMPONENT runtime)

include(${PROJECT_SOURCE_DIR}/cmake/FastmdManPages.cmake)
include(${PROJECT_SOURCE_DIR}/packaging/FastmdPackaging.cmake)
