// Validation of one received RDMA message (docs/CHANNELS.md §2.1), pulled out of
// RdmaEngine::OnRecv so it can be fuzzed on its own (fuzz/rdma_message_fuzz.cc): the
// bytes of a receive slot are untrusted, and everything the engine does with them
// (a view's length, a READ's length and token, a key to revoke, credits) comes from here.
// Pure: no verbs, no region. Plain C++.
#pragma once
#include <cstdint>

#include "rdma/rdma_wire.h"

namespace crdma {

enum class RdmaParse {
  kOk,
  kProtocolError,  // short, wrong body size, unknown kind, reserved bits, zero-length READ
  kTooLarge,       // a DATA or READ_REQUEST frame above max_frame_bytes
};

struct RdmaMessage {
  RdmaKind kind = kCredit;
  uint16_t credits = 0;
  uint32_t length = 0;   // kData: frame bytes at offset kRdmaHeaderBytes; kReadRequest: read.length
  ReadRequest read{};    // kReadRequest
  uint32_t token = 0;    // kReadDone
};

// `bytes`: what the receive completion reported (wc.byte_len); the slot holds at least
// that many bytes (the device never writes past the posted slot_size).
RdmaParse ParseRdmaMessage(const uint8_t* slot, uint32_t bytes, uint32_t max_frame_bytes, RdmaMessage* out);

// Credits a peer grants are bounded by the receives it can have posted: more than its
// advertised receive depth is a protocol error (false), never an overflow.
bool AddCredits(int32_t* send_credits, uint16_t credits, uint32_t peer_recv_depth);

}  // namespace crdma
