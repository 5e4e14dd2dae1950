// See rdma_message.h.
#include "rdma/rdma_message.h"

#include <cstring>

namespace crdma {

RdmaParse ParseRdmaMessage(const uint8_t* slot, uint32_t bytes, uint32_t max_frame_bytes, RdmaMessage* out) {
  if (bytes < kRdmaHeaderBytes) return RdmaParse::kProtocolError;
  RdmaHeader header;
  memcpy(&header, slot, sizeof header);
  uint32_t body = bytes - kRdmaHeaderBytes;
  *out = RdmaMessage{};
  out->credits = header.credits;
  if (header.reserved != 0 || header.length != body) return RdmaParse::kProtocolError;
  switch (header.kind) {
    case kData:
      if (header.length > max_frame_bytes) return RdmaParse::kTooLarge;
      out->kind = kData;
      out->length = header.length;
      return RdmaParse::kOk;
    case kReadRequest:
      if (body != sizeof(ReadRequest)) return RdmaParse::kProtocolError;
      memcpy(&out->read, slot + kRdmaHeaderBytes, sizeof(ReadRequest));
      if (out->read.length == 0) return RdmaParse::kProtocolError;
      if (out->read.length > max_frame_bytes) return RdmaParse::kTooLarge;
      out->kind = kReadRequest;
      out->length = out->read.length;
      return RdmaParse::kOk;
    case kReadDone:
      if (body != sizeof(uint32_t)) return RdmaParse::kProtocolError;
      memcpy(&out->token, slot + kRdmaHeaderBytes, sizeof(uint32_t));
      out->kind = kReadDone;
      return RdmaParse::kOk;
    case kCredit:
      if (body != 0) return RdmaParse::kProtocolError;
      out->kind = kCredit;
      return RdmaParse::kOk;
    default:
      return RdmaParse::kProtocolError;
  }
}

bool AddCredits(int32_t* send_credits, uint16_t credits, uint32_t peer_recv_depth) {
  int64_t total = int64_t{*send_credits} + credits;
  if (total > int64_t{peer_recv_depth}) return false;
  *send_credits = static_cast<int32_t>(total);
  return true;
}

}  // namespace crdma
