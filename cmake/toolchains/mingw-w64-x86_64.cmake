# Cross-compiles the Windows build (FASTMD_PLATFORM=windows: the legacy path) on Debian with
# MinGW-w64 (Debian's g++-mingw-w64-x86-64-posix: the posix thread model, for std::thread).
#   scripts/build --platform windows      # into build-windows/, run by scripts/test under Wine
# The header-only dependencies come from Debian's own packages. /usr/include as a whole would
# shadow MinGW's C library with glibc's headers, so only those libraries' headers are linked
# into <build>/host-headers/include, which is searched as part of the target's root.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)

set(FASTMD_HOST_HEADERS ${CMAKE_BINARY_DIR}/host-headers)
if(NOT CMAKE_IN_TRY_COMPILE)
  file(MAKE_DIRECTORY ${FASTMD_HOST_HEADERS}/include)
  foreach(entry msgpack.hpp msgpack rapidjson CLI spdlog fmt)
    if(EXISTS /usr/include/${entry} AND NOT EXISTS ${FASTMD_HOST_HEADERS}/include/${entry})
      file(CREATE_LINK /usr/include/${entry} ${FASTMD_HOST_HEADERS}/include/${entry} SYMBOLIC)
    endif()
  endforeach()
endif()

set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32 ${FASTMD_HOST_HEADERS})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# pkg-config must not offer the host's Linux libraries to a Windows link.
set(ENV{PKG_CONFIG_LIBDIR} /usr/x86_64-w64-mingw32/lib/pkgconfig)

# One self-contained .exe: no libstdc++, libgcc or winpthread DLLs to ship beside it.
set(CMAKE_EXE_LINKER_FLAGS_INIT -static)
