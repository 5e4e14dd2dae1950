{
  "targets": [
    {
      "target_name": "connect_rdma",
      "sources": [
        "native/common/addon.cc",
        "native/region/lease_allocator.cc",
        "native/region/memory_region.cc",
        "native/region/region_wrap.cc",
        "native/uring/ring.cc",
        "native/uring/provided_buffers.cc",
        "native/uring/uring_engine.cc",
        "native/uring/uring_data_path.cc",
        "native/uring/uring_send_path.cc",
        "native/uring/frame_assembler.cc",
        "native/uring/uring_engine_wrap.cc",
        "native/uring/ktls_socket.cc",
        "native/common/event_batch.cc",
        "native/common/engine_driver.cc",
        "native/common/uv_handles.cc",
        "native/common/socket_address.cc",
        "native/common/peer_identity.cc",
        "native/common/peer_identity_js.cc",
        "native/common/unix_bind.cc",
        "native/common/socket_functions_js.cc",
        "native/common/fault_injection.cc",
        "native/common/fault_injection_js.cc",
        "native/uring/uring_probe.cc",
        "native/rdma/rdma_probe.cc",
        "native/rdma/verbs_api.cc",
        "native/rdma/device_resources.cc",
        "native/rdma/rdma_engine.cc",
        "native/rdma/rdma_cm_events.cc",
        "native/rdma/rdma_data_path.cc",
        "native/rdma/rdma_completions.cc",
        "native/rdma/rdma_message.cc",
        "native/rdma/inbound_frames.cc",
        "native/rdma/rdma_engine_wrap.cc",
        "native/shm/shm_ring.cc",
        "native/shm/shm_mapping.cc",
        "native/shm/rendezvous.cc",
        "native/shm/shm_engine.cc",
        "native/shm/shm_data_path.cc",
        "native/shm/shm_engine_wrap.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-O2", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "libraries": ["-Wl,-Bstatic", "-luring", "-Wl,-Bdynamic", "-ldl"]
    }
  ]
}
