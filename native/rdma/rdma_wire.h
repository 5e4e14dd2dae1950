// The RDMA channel's message header (docs/CHANNELS.md §2). Every RDMA SEND carries:
//   [ u32 length | u16 credits | u8 kind | u8 reserved ][ body ]
// credits: receive buffers the sender re-posted since its last message (the peer may
// send that many more). kind:
//   kData        body = one frame (fits in the peer's receive slot)
//   kReadRequest body = ReadRequest: "read `length` bytes at addr/rkey" (large frames)
//   kReadDone    body = u32 token: the read finished, the sender may revoke the key
//   kCredit      no body: credits only
// Connection private data (rdma_cm) carries Hello both ways. Plain C++.
#pragma once
#include <cstdint>

namespace crdma {

constexpr uint32_t kRdmaHeaderBytes = 8;
constexpr uint32_t kRdmaHelloMagic = 0x4D445243;  // "CRDM"
constexpr uint16_t kRdmaVersion = 1;

enum RdmaKind : uint8_t { kData = 0, kReadRequest = 1, kReadDone = 2, kCredit = 3 };

struct RdmaHeader {
  uint32_t length;
  uint16_t credits;
  uint8_t kind;
  uint8_t reserved;
};
static_assert(sizeof(RdmaHeader) == kRdmaHeaderBytes);

struct ReadRequest {
  uint64_t addr;
  uint32_t rkey;
  uint32_t length;
  uint32_t token;
} __attribute__((packed));

struct Hello {
  uint32_t magic;
  uint16_t version;
  uint16_t recv_depth;  // receive buffers posted before connecting: the peer's first credits
  uint32_t slot_size;   // largest SEND the peer may post to us
} __attribute__((packed));

}  // namespace crdma
