# The N-API addon behind the fast transport (lib/transports/fast.js). It compiles the C++
# SDK's sources by one rule (scripts/native-sources.js: whole directories of sdk-cpp/src/ and
# the platform directories of FASTMD_PLATFORM, as CMake picks them), so Node and C++ share one
# implementation of fd passing, handle checks, the allocator and the client core. In the repository they are
# read from ../sdk-cpp and ../proto; in a packed tarball from native/vendor-src (copied there
# by scripts/vendor-native-sources.js at prepack). Built offline: .npmrc sets nodedir=/usr.
{
  "targets": [
    {
      "target_name": "fastmd_ipc",
      "sources": ["<!@(node scripts/native-sources.js sources)"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/native-sources.js includes)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "MSGPACK_NO_BOOST"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags": ["<!@(node scripts/native-sources.js cflags)"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-Wall", "-Wextra", "-Wno-missing-field-initializers",
                    "-O2"],
      "libraries": ["<!@(node scripts/native-sources.js libraries)"]
    }
  ]
}
