# cmake/FastmdInstallSystem.cmake — runs at install time (install(SCRIPT)): installs the
# systemd units, the sysusers.d and tmpfiles.d entries and the example config, with the paths
# in them made for the prefix of this install (`cmake --install --prefix P` or CPack's /usr).
# Prefix /usr follows Debian 12: units in /lib/systemd/system, config in /etc; any other
# prefix keeps everything under it (P/lib/systemd/system, P/etc/fastmd).
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(prefix STREQUAL "/usr")
  set(unit_dir "/lib/systemd/system")
  set(sysconf_dir "/etc")
else()
  set(unit_dir "${prefix}/lib/systemd/system")
  set(sysconf_dir "${prefix}/etc")
endif()
set(lib_dir "${prefix}/lib")
set(bin_dir "${prefix}/${FASTMD_BINDIR}")
set(doc_dir "${prefix}/${FASTMD_DOCDIR}")

# Writes SOURCE to DESTINATION (an absolute path, below $DESTDIR) with the checkout's paths
# replaced by this install's, and records it in the install manifest.
function(fastmd_install_rewritten source destination)
  file(READ "${FASTMD_SOURCE_DIR}/${source}" text)
  string(REPLACE "/usr/bin/fastmd-ipcd" "${bin_dir}/fastmd-ipcd" text "${text}")
  string(REPLACE "/etc/fastmd/ipcd.toml" "${sysconf_dir}/fastmd/ipcd.toml" text "${text}")
  string(REPLACE "/usr/share/doc/fastmd-ipc/" "${doc_dir}/" text "${text}")
  set(target "$ENV{DESTDIR}${destination}")
  message(STATUS "Installing: ${target}")
  file(WRITE "${target}" "${text}")
  file(CHMOD "${target}" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${target}")
  set(CMAKE_INSTALL_MANIFEST_FILES "${CMAKE_INSTALL_MANIFEST_FILES}" PARENT_SCOPE)
endfunction()

file(MAKE_DIRECTORY "$ENV{DESTDIR}${unit_dir}" "$ENV{DESTDIR}${lib_dir}/sysusers.d"
  "$ENV{DESTDIR}${lib_dir}/tmpfiles.d" "$ENV{DESTDIR}${sysconf_dir}/fastmd")
fastmd_install_rewritten(systemd/fastmd-ipcd.service "${unit_dir}/fastmd-ipcd.service")
fastmd_install_rewritten(systemd/fastmd-ipcd.socket "${unit_dir}/fastmd-ipcd.socket")
fastmd_install_rewritten(systemd/fastmd.sysusers.conf "${lib_dir}/sysusers.d/fastmd.conf")
fastmd_install_rewritten(systemd/fastmd.tmpfiles.conf "${lib_dir}/tmpfiles.d/fastmd.conf")
fastmd_install_rewritten(systemd/fastmd-ipcd.toml "${sysconf_dir}/fastmd/ipcd.toml")
