# packaging/FastmdPackaging.cmake — the Debian packages, made by CPack's DEB generator from the
# install rules (scripts/package runs it on the release build directory):
#   fastmd-ipc      the install component `runtime`: daemon, ctl, worker, units, sysusers.d and
#                   tmpfiles.d entries, /etc/fastmd/ipcd.toml (a conffile), man pages, docs.
#                   Its maintainer scripts create the system user and enable the socket.
#   fastmd-ipc-dev  the component `dev`: the SDK's static libraries, headers, CMake package,
#                   pkg-config file and the out-of-tree worker example.
# Library dependencies are computed by dpkg-shlibdeps; the -dev package's header-only
# dependencies (msgpack, spdlog) cannot be, so they are listed.
set(FASTMD_DEB_DIR ${PROJECT_BINARY_DIR}/packaging)

# Each package's /usr/share/doc/<package> gets the copyright file and a Debian changelog.
file(MAKE_DIRECTORY ${FASTMD_DEB_DIR})
string(TIMESTAMP fastmd_changelog_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
foreach(package fastmd-ipc fastmd-ipc-dev)
  configure_file(${PROJECT_SOURCE_DIR}/packaging/changelog.in
    ${FASTMD_DEB_DIR}/${package}/changelog.Debian @ONLY)
  execute_process(COMMAND gzip -9nf ${FASTMD_DEB_DIR}/${package}/changelog.Debian)
endforeach()
install(FILES packaging/copyright ${FASTMD_DEB_DIR}/fastmd-ipc/changelog.Debian.gz
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/fastmd-ipc COMPONENT runtime)
install(FILES packaging/copyright ${FASTMD_DEB_DIR}/fastmd-ipc-dev/changelog.Debian.gz
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/fastmd-ipc-dev COMPONENT dev)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME fastmd-ipc)
set(CPACK_PACKAGE_VENDOR "fastmd-ipc")
set(CPACK_PACKAGE_CONTACT "fastmd-ipc maintainers <maintainers@fastmd-ipc.org>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# CPack makes the synopsis (first line) of both packages from the project's DESCRIPTION
# ("Local high-performance IPC broker"); the descriptions below are the extended texts.
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEB_COMPONENT_INSTALL ON)
# Install with DESTDIR at the configured prefix (/usr, set by scripts/package), so absolute
# paths such as /etc and /lib/systemd/system land where they belong in the package.
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Debian policy: installed programs are stripped (the debug info stays in build/).
set(CPACK_STRIP_FILES TRUE)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME fastmd-ipc)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION net)
# adduser and deb-systemd-helper/-invoke (init-system-helpers) run in the maintainer scripts.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "adduser, init-system-helpers (>= 1.54~)")
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "fastmd-ipcd brokers Unix-socket sessions between clients and workers on one
machine and owns the shared-memory pools their large payloads travel through.
This package holds the daemon, its fastmd-ipcctl status client, the
fastmd-worker-md Markdown to HTML worker and the systemd units (the socket
is enabled on install).")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/packaging/conffiles
  ${PROJECT_SOURCE_DIR}/packaging/postinst
  ${PROJECT_SOURCE_DIR}/packaging/prerm
  ${PROJECT_SOURCE_DIR}/packaging/postrm)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME fastmd-ipc-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libmsgpack-cxx-dev, libspdlog-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION "The C++ SDK of fastmd-ipc: Client, Worker and the NDJSON --stdio server as
static libraries, their headers under /usr/include/fastmd, the CMake package
fastmd-ipc (target fastmd::ipc) and the pkg-config module fastmd-ipc.")

include(CPack)
