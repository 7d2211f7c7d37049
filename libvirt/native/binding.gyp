{
  "targets": [
    {
      "target_name": "nanoprobe_libvirt",
      "sources": [
        "src/addon.cc",
        "src/connection.cc",
        "src/collect.cc",
        "src/errors.cc",
        "src/events.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter",
                    "<!@(pkg-config --cflags libvirt)"],
      "libraries": ["<!@(pkg-config --libs libvirt)"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
