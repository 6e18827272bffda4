{
  # iser_verbs.node: node-addon-api over libibverbs + librdmacm (rdma-core). Built by native/build.sh, which
  # skips the build (and says why) where the rdma-core headers are missing.
  "targets": [
    {
      "target_name": "iser_verbs",
      "sources": [
        "src/addon.cc",
        "src/common.cc",
        "src/names.cc",
        "src/fd_watch.cc",
        "src/devices.cc",
        "src/sockopt.cc",
        "src/event_channel.cc",
        "src/cm_id.cc",
        "src/pd.cc",
        "src/cq.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "libraries": ["-libverbs", "-lrdmacm"]
    }
  ]
}
