// See provided_buffers.h.
#include "uring/provided_buffers.h"

#include <sys/mman.h>

#include "common/sys_error.h"

namespace crdma {

ProvidedBuffers::ProvidedBuffers(Ring& ring, std::shared_ptr<MemoryRegion> region)
    : ring_(ring), region_(std::move(region)) {
  entries_ = 1;
  while (entries_ < region_->recv_slots()) entries_ <<= 1;
  ring_bytes_ = entries_ * sizeof(io_uring_buf);
  void* mem = mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw SysError{errno, "mmap"};
  buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(buf_ring_);
  reg.ring_entries = entries_;
  reg.bgid = kGroup;
  int rc = io_uring_register_buf_ring(ring_.get(), &reg, 0);
  if (rc < 0) {
    munmap(buf_ring_, ring_bytes_);
    throw SysError{-rc, "io_uring_register_buf_ring"};
  }
  io_uring_buf_ring_init(buf_ring_);
  for (uint32_t i = 0; i < region_->recv_slots(); ++i) Recycle(static_cast<uint16_t>(i));
  Commit();
}

ProvidedBuffers::~ProvidedBuffers() {
  io_uring_unregister_buf_ring(ring_.get(), kGroup);
  munmap(buf_ring_, ring_bytes_);
}

void ProvidedBuffers::Recycle(uint16_t bid) {
  region_->PoisonIfEnabled(region_->slot(bid), region_->slot_size());
  io_uring_buf_ring_add(buf_ring_, region_->slot(bid), static_cast<unsigned>(region_->slot_size()),
                        bid, io_uring_buf_ring_mask(entries_), pending_++);
}

void ProvidedBuffers::Commit() {
  if (pending_ == 0) return;
  io_uring_buf_ring_advance(buf_ring_, pending_);
  in_kernel_ += pending_;
  pending_ = 0;
}

}  // namespace crdma
