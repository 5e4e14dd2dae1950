// What every engine (uring, RDMA, shm) answers JS about one connection the same way:
// FindConnection looks it up by id (nullptr once it is gone), whether the engine's map
// holds connections by value or by unique_ptr; ReadSendBacklog is the body of each
// engine's SendBacklog(): the lease bytes JS handed over and not yet written, and the
// bytes written so far (JS bounds the first per connection and watches the second for
// progress; docs/LIMITS.md). Plain C++, header only.
#pragma once
#include <cstdint>
#include <memory>

namespace crdma {

namespace lookup_detail {
template <typename Connection>
const Connection* AddressOf(const Connection& c) { return &c; }
template <typename Connection>
const Connection* AddressOf(const std::unique_ptr<Connection>& c) { return c.get(); }
}  // namespace lookup_detail

template <typename Map>
auto FindConnection(const Map& connections, uint32_t id) -> decltype(lookup_detail::AddressOf(connections.begin()->second)) {
  auto it = connections.find(id);
  return it == connections.end() ? nullptr : lookup_detail::AddressOf(it->second);
}

// False (and nothing written) for no connection.
template <typename Connection>
bool ReadSendBacklog(const Connection* c, double* unsent, double* written) {
  if (c == nullptr) return false;
  *unsent = static_cast<double>(c->unsent_bytes);
  *written = static_cast<double>(c->written_bytes);
  return true;
}

}  // namespace crdma
