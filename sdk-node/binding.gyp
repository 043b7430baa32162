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
      "libraries": ["<!@(node scripts/native-sources.js libraries)"],
      "conditions": [
        # Xcode's build ignores cflags: the same C++20, exceptions and warnings, for macOS 11+.
        ["OS=='mac'", {
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++20",
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "GCC_ENABLE_CPP_RTTI": "YES",
            "MACOSX_DEPLOYMENT_TARGET": "11.0",
            "WARNING_CFLAGS": ["-Wall", "-Wextra", "-Wno-missing-field-initializers"],
            "OTHER_CPLUSPLUSFLAGS": ["-O2"]
          }
        }]
      ]
    }
  ]
}
