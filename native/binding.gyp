{
  "targets": [
    {
      "target_name": "mesh_native",
      "sources": ["src/addon.cc", "src/aead.cc", "src/fastpath.cc", "src/netlink.cc", "src/offload.cc", "src/polled_fd.cc", "src/tun.cc", "src/udp.cc", "src/uring_reads.cc"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [
        ["OS!='linux'", { "sources!": ["src/fastpath.cc", "src/netlink.cc", "src/offload.cc", "src/polled_fd.cc", "src/tun.cc", "src/udp.cc", "src/uring_reads.cc"], "defines": ["MESH_NO_NATIVE_IO"] }]
      ]
    }
  ]
}
