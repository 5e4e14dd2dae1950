// Events: what an engine reports to JS, as 4 int32s each (type, id, a, b), written into
// a JS-owned Int32Array and handed over once per batch. Shared by every engine (io_uring,
// RDMA) so the JS side decodes them in one place (src/binding.ts mirrors these values).
// Plain C++.
#pragma once
#include <cstdint>

namespace crdma {

enum EventType : int32_t {
  kEventFrameView = 1,   // id=connection, a=region offset of the body, b=length
  kEventFrameLease = 2,  // same, but the body is in a lease now owned by JS
  kEventAccepted = 3,    // id=new connection, a=listener id
  kEventConnected = 4,   // id=connection, a=0 or -errno
  kEventClosed = 5,      // id=connection, a=0 (clean end) or -errno, b=CloseReason
  kEventEnded = 6,       // id=connection: the peer ended its side (EOF, half-close); the
                         // connection stays open for sending until JS closes it
  kEventListenerError = 7,  // id=listener, a=-errno: accepting fails (EMFILE...) and is
                            // retried with back-off; once per episode (until one succeeds)
  kEventRefused = 8,  // id=listener: an accepted peer the listener does not admit (shm://
                      // allowUids/allowGids) was closed before the rendezvous
};

enum CloseReason : int32_t {
  kReasonNone = 0,
  kReasonFrameTooLarge = 1,
  kReasonRegionFull = 2,
  kReasonPeerClosedMidFrame = 3,
  kReasonProtocolError = 4,
  kReasonNotProtocol = 5,  // the first frame announced more than the listener allows
  kReasonTlsRecord = 6,    // kTLS: a received record was not application data or failed to open
};

struct Event {
  int32_t type, id, a, b;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Records one event; may hand the batch to JS (and end the batch) when full.
  virtual void Push(const Event& event) = 0;
};

}  // namespace crdma
