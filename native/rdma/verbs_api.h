// VerbsApi: libibverbs and librdmacm resolved at run time with dlopen()/dlsym(), so
// the addon loads (and io_uring works) where rdma-core is absent. Only the exported
// functions are resolved here; the data-path calls (ibv_post_send/recv, ibv_poll_cq,
// ibv_req_notify_cq) are inline in verbs.h and go through the provider's ops table.
// The libraries are process-wide and immutable once loaded: one instance, never closed.
// Plain C++.
#pragma once
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include <string>

namespace crdma {

struct VerbsApi {
  // libibverbs
  ibv_pd* (*alloc_pd)(ibv_context*);
  int (*dealloc_pd)(ibv_pd*);
  ibv_mr* (*reg_mr)(ibv_pd*, void*, size_t, int);
  int (*dereg_mr)(ibv_mr*);
  ibv_comp_channel* (*create_comp_channel)(ibv_context*);
  int (*destroy_comp_channel)(ibv_comp_channel*);
  ibv_cq* (*create_cq)(ibv_context*, int, void*, ibv_comp_channel*, int);
  int (*destroy_cq)(ibv_cq*);
  int (*get_cq_event)(ibv_comp_channel*, ibv_cq**, void**);
  void (*ack_cq_events)(ibv_cq*, unsigned int);
  int (*query_device)(ibv_context*, ibv_device_attr*);
  int (*resize_cq)(ibv_cq*, int);
  int (*get_async_event)(ibv_context*, ibv_async_event*);
  void (*ack_async_event)(ibv_async_event*);
  // librdmacm
  rdma_event_channel* (*create_event_channel)();
  void (*destroy_event_channel)(rdma_event_channel*);
  int (*create_id)(rdma_event_channel*, rdma_cm_id**, void*, rdma_port_space);
  int (*destroy_id)(rdma_cm_id*);
  int (*bind_addr)(rdma_cm_id*, sockaddr*);
  int (*listen)(rdma_cm_id*, int);
  int (*resolve_addr)(rdma_cm_id*, sockaddr*, sockaddr*, int);
  int (*resolve_route)(rdma_cm_id*, int);
  int (*create_qp)(rdma_cm_id*, ibv_pd*, ibv_qp_init_attr*);
  void (*destroy_qp)(rdma_cm_id*);
  int (*connect)(rdma_cm_id*, rdma_conn_param*);
  int (*accept)(rdma_cm_id*, rdma_conn_param*);
  int (*reject)(rdma_cm_id*, const void*, uint8_t);
  int (*disconnect)(rdma_cm_id*);
  int (*get_cm_event)(rdma_event_channel*, rdma_cm_event**);
  int (*ack_cm_event)(rdma_cm_event*);
  uint16_t (*get_src_port)(rdma_cm_id*);

  // The loaded API, or nullptr with *why set ("RDMA unavailable: ...").
  static const VerbsApi* Load(std::string* why);
};

}  // namespace crdma
