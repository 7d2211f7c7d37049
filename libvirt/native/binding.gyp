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
                    "<!@(pkg-config --cflags libvirt libvirt-qemu)"],
      "libraries": ["<!@(pkg-config --libs libvirt libvirt-qemu)"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
