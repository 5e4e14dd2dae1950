// Owners of the rdma_cm and verbs objects an RdmaEngine creates: the engine's rdma_cm
// event channel, each connection's or listener's rdma_cm id (and the queue pair made on
// it), and each memory registration that grants a peer remote READ on one lease. Each
// releases its object exactly once, through the VerbsApi it was made with. Move-only.
// A CmId destroys its queue pair before the id (rdma_destroy_qp, then rdma_destroy_id);
// an id must be destroyed before the event channel it reports to, which RdmaEngine's
// member order guarantees. Plain C++.
#pragma once
#include <fcntl.h>

#include <type_traits>
#include <utility>

#include "common/sys_error.h"
#include "rdma/verbs_api.h"

namespace crdma {

// The rdma_cm event channel (non-blocking: its fd is watched by Node's loop).
class CmEventChannel {
 public:
  explicit CmEventChannel(const VerbsApi& api) : api_(&api), channel_(api.create_event_channel()) {  // throws SysError
    if (!channel_) throw SysError{errno ? errno : ENODEV, "rdma_create_event_channel"};
    int flags = fcntl(channel_->fd, F_GETFL);
    fcntl(channel_->fd, F_SETFL, flags | O_NONBLOCK);
  }
  ~CmEventChannel() { api_->destroy_event_channel(channel_); }
  CmEventChannel(const CmEventChannel&) = delete;
  CmEventChannel& operator=(const CmEventChannel&) = delete;

  rdma_event_channel* get() const { return channel_; }
  int fd() const { return channel_->fd; }

 private:
  const VerbsApi* api_;
  rdma_event_channel* channel_;
};

// One rdma_cm id and the queue pair created on it, if any.
class CmId {
 public:
  CmId() = default;
  CmId(const VerbsApi& api, rdma_cm_id* id) : api_(&api), id_(id) {}
  ~CmId() { Reset(); }
  CmId(CmId&& other) noexcept
      : api_(other.api_), id_(std::exchange(other.id_, nullptr)), has_qp_(std::exchange(other.has_qp_, false)) {}
  CmId& operator=(CmId&& other) noexcept {
    if (this != &other) {
      Reset();
      api_ = other.api_;
      id_ = std::exchange(other.id_, nullptr);
      has_qp_ = std::exchange(other.has_qp_, false);
    }
    return *this;
  }
  CmId(const CmId&) = delete;
  CmId& operator=(const CmId&) = delete;

  rdma_cm_id* get() const { return id_; }
  rdma_cm_id* operator->() const { return id_; }
  explicit operator bool() const { return id_ != nullptr; }

  // rdma_create_qp on this id: 0, or -1 with errno set.
  int CreateQp(ibv_pd* pd, ibv_qp_init_attr* attr) {
    if (api_->create_qp(id_, pd, attr) != 0) return -1;
    has_qp_ = true;
    return 0;
  }
  bool has_qp() const { return has_qp_; }
  // Destroys the queue pair now: from here the device no longer touches the memory its
  // work requests pointed at.
  void DestroyQp() {
    if (has_qp_) api_->destroy_qp(id_);
    has_qp_ = false;
  }
  // Queue pair, then id. Only after the id's last event was acknowledged.
  void Reset() {
    DestroyQp();
    if (id_) api_->destroy_id(id_);
    id_ = nullptr;
  }

 private:
  const VerbsApi* api_ = nullptr;
  rdma_cm_id* id_ = nullptr;
  bool has_qp_ = false;
};
static_assert(!std::is_copy_constructible_v<CmId>);

// One ibv_mr: a lease registered for a peer's remote READ. Deregistering revokes the key.
class MemoryRegistration {
 public:
  MemoryRegistration(const VerbsApi& api, ibv_mr* mr) : api_(&api), mr_(mr) {}
  ~MemoryRegistration() { Reset(); }
  MemoryRegistration(MemoryRegistration&& other) noexcept : api_(other.api_), mr_(std::exchange(other.mr_, nullptr)) {}
  MemoryRegistration& operator=(MemoryRegistration&& other) noexcept {
    if (this != &other) {
      Reset();
      api_ = other.api_;
      mr_ = std::exchange(other.mr_, nullptr);
    }
    return *this;
  }
  MemoryRegistration(const MemoryRegistration&) = delete;
  MemoryRegistration& operator=(const MemoryRegistration&) = delete;

  ibv_mr* get() const { return mr_; }
  explicit operator bool() const { return mr_ != nullptr; }
  void Reset() {
    if (mr_) api_->dereg_mr(mr_);
    mr_ = nullptr;
  }

 private:
  const VerbsApi* api_;
  ibv_mr* mr_;
};
static_assert(!std::is_copy_constructible_v<MemoryRegistration>);

}  // namespace crdma
