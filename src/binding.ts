// The only file that sees the raw native addon: loads it with node-gyp-build (a local
// build in build/Release when there is one, else a prebuild from prebuilds/) and
// declares its native types.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/** Native `Region`: one mapping, one external ArrayBuffer, a lease allocator. */
export interface NativeRegion {
  readonly buffer: ArrayBuffer | undefined;
  /** Region offset of a lease of `bytes` bytes, or -1 when the lease area is full. */
  alloc(bytes: number): number;
  free(offset: number): boolean;
  close(): void;
  stats(): NativeRegionStats;
}

/** Counters and sizes of a Region (`region.stats()`, and `region` in engine stats). */
export interface NativeRegionStats {
  /** True after `close()`: the memory is gone and every view reads as length 0. */
  closed: boolean;
  /** Bytes of the whole mapping: receive area plus lease area (page aligned). */
  size: number;
  /** Bytes per receive slot. */
  slotSize: number;
  /** Number of receive slots. */
  recvSlots: number;
  /** `slotSize × recvSlots`. */
  recvAreaBytes: number;
  /** Bytes of the lease area (frames being sent, reassembled frames). */
  leaseBytes: number;
  /** Allocation granularity of the lease area: leases are rounded up to this. */
  leaseUnit: number;
  /** Lease-area bytes allocated right now (rounded to leaseUnit). */
  leaseBytesInUse: number;
  /** Leases allocated and not yet released (sends in flight, held frames, the application's). */
  liveLeases: number;
}

/** Event types written by the native engine into the shared Int32Array (4 ints each). */
export const NativeEvent = {
  FrameView: 1,
  FrameLease: 2,
  Accepted: 3,
  Connected: 4,
  Closed: 5,
  /** The peer ended its side (EOF after whole frames); sends still go out. */
  Ended: 6,
  /** A listener's accept fails (a = -errno, e.g. EMFILE) and is retried with back-off; once per episode. */
  ListenerError: 7,
  /** A listener closed an accepted peer it does not admit (shm:// allowUids/allowGids), before the rendezvous. */
  Refused: 8,
} as const;

/** Reasons attached to a NativeEvent.Closed. */
export const NativeCloseReason = {
  None: 0,
  FrameTooLarge: 1,
  RegionFull: 2,
  PeerClosedMidFrame: 3,
  ProtocolError: 4,
  NotProtocol: 5,
  /** kTLS: a received record was not application data (alert, KeyUpdate) or failed to open. */
  TlsRecord: 6,
} as const;

/**
 * What the kernel told about a connection's other end, read once at accept/connect
 * (native/common/peer_identity.h): an IP address and port, a Unix peer's bound path (a
 * client's socket usually has none), a Unix peer's credentials (SO_PEERCRED).
 */
export interface NativePeer {
  ip?: string;
  port?: number;
  path?: string;
  pid?: number;
  uid?: number;
  gid?: number;
}

/** What every native engine (io_uring, RDMA) offers JS. */
export interface NativeEngineHandle {
  /** 0 or -errno; the lease belongs to the engine afterwards either way. */
  send(connection: number, leaseOffset: number, length: number): number;
  closeConnection(connection: number, graceful: boolean): number;
  /** false: the connection no longer keeps the event loop alive (true again: it does). */
  setRef(connection: number, keepsAlive: boolean): void;
  closeListener(listener: number): number;
  holdSlot(offset: number): number;
  releaseSlot(index: number): void;
  /** Lease bytes handed to send() on `connection` and not written out yet, or -errno. */
  unsentBytes(connection: number): number;
  /** Lease bytes written out on `connection` so far (only grows), or -errno. */
  writtenBytes(connection: number): number;
  /** Who is at the other end of `connection` (read when it opened); undefined once it is gone. */
  peerOf(connection: number): NativePeer | undefined;
  setPoll(spin: boolean, spinMicros: number): void;
  /** Events per JS callback while reaping, sends submitted after each (0: whole batches). */
  setDispatchChunk(events: number): void;
  stats(): object;
  close(): void;
}

/** Native `UringEngine`: one io_uring driving sockets on Node's loop. */
export interface NativeUringEngine extends NativeEngineHandle {
  listenTcp(ip: string, port: number, backlog: number, firstFrameMax: number): [id: number, port: number];
  /** The socket file gets permissions `mode` from its creation on (native/common/unix_bind.h). */
  listenUnix(path: string, backlog: number, mode: number, firstFrameMax: number): number;
  connectTcp(ip: string, port: number): number;
  connectUnix(path: string): number;
  /**
   * Duplicates `fd` (a connected TCP socket node:net owns), installs kernel TLS on the
   * duplicate with these keys (TCP_ULP "tls", TLS_TX, TLS_RX) and adopts it as an open
   * connection: returns its id, no event follows. Throws a system error naming the step.
   */
  adoptKtls(fd: number, txKey: Uint8Array, txIv: Uint8Array, txSequence: number, rxKey: Uint8Array, rxIv: Uint8Array, rxSequence: number, firstFrameMax: number): number;
  /** The upper-layer protocol on a connection's socket (getsockopt TCP_ULP): "tls" on kTLS, "" for none. */
  ulpOf(connection: number): string;
  stats(): NativeUringEngineStats;
  /** Bytes of the frame `connection` is in the middle of receiving (0 between frames), -1 when gone. */
  partialFrameBytes(connection: number): number;
  /** Reads the send-range table (send-pack.ts) now; the engine also reads it at every flush. */
  drainSendRanges(): void;
}

/** Native `ShmEngine`: shared-memory rings between processes of one host (shm://). */
export interface NativeShmEngine extends NativeEngineHandle {
  /**
   * Listens on a Unix rendezvous socket whose file gets permissions `mode`; returns the
   * listener id. With `allowUids` or `allowGids`, only peers running as one of those uids
   * or primary gids are taken: others are closed at accept, before the rendezvous sends any
   * fd, and reported as NativeEvent.Refused.
   */
  listen(path: string, backlog: number, mode: number, allowUids?: readonly number[], allowGids?: readonly number[]): number;
  /** Connects to a rendezvous socket; returns the connection id (a Connected event follows). */
  connect(path: string): number;
  /** The one ArrayBuffer over the connection's shared region (the first call only). */
  buffer(connection: number): ArrayBuffer | undefined;
  /** Keeps a frame read in place past its batch: a token (>= 0) or -errno. */
  holdFrame(connection: number, offset: number): number;
  releaseFrame(connection: number, token: number): void;
  /** Reserves a record for `length` bytes in the outgoing ring: the body's offset in the connection's ArrayBuffer, or -1 (take a lease). */
  reserveInPlace(connection: number, length: number): number;
  /** The reserved record at `offset` becomes a frame of `length` bytes: 0 or -errno. */
  commitInPlace(connection: number, offset: number, length: number): number;
  /** The reserved record at `offset` is dropped unsent. */
  abandonInPlace(connection: number, offset: number): void;
  stats(): NativeShmEngineStats;
}

/** Engine-wide counters of an shm engine (`ShmEngine.stats()`), since it was created. */
export interface NativeShmEngineStats {
  /** Frames read in place from the rings (no copy on receive). */
  framesIn: number;
  /** Bytes of those frames. */
  bytesIn: number;
  /** Frames handed to send(). */
  framesOut: number;
  /** Bytes of those frames. */
  bytesOut: number;
  /** Frames written by JS straight into a ring (allocate() handed out ring space): no copy. */
  framesInPlace: number;
  /** Frames copied into a ring from a lease: the ring had no room at allocate(), or frames were waiting before them. */
  sendCopies: number;
  /** Wake-ups written to a sleeping peer's eventfd. */
  wakesSent: number;
  /** Times our own eventfd woke us. */
  wakeups: number;
  /** Connections refused at accept: the peer runs as another user. */
  rejectedPeers: number;
  /** Connections refused at accept, before the rendezvous: a listener's allowUids/allowGids does not admit the peer. */
  refusedPeers: number;
  /** Connections ended because the peer broke the ring or handshake rules. */
  protocolErrors: number;
  /** Accepted peers closed for not answering the rendezvous within rendezvousTimeoutMs. */
  rendezvousTimeouts: number;
  /** Accepted peers closed at once because 64 others were still in their rendezvous. */
  rendezvousRefused: number;
  /** Open connections and listeners. */
  active: number;
}

/** Native `RdmaEngine`: RC queue pairs over rdma_cm on Node's loop. */
export interface NativeRdmaEngine extends NativeEngineHandle {
  listen(ip: string, port: number, backlog: number): [id: number, port: number];
  /** localIp "" lets rdma_cm pick the source address. */
  connect(ip: string, port: number, localIp: string): number;
  stats(): NativeRdmaEngineStats;
  /** Test aid: an RDMA READ with any (address, key); a refused key closes the connection with EACCES. */
  probeRead(connection: number, addr: number, rkey: number, length: number): number;
}

/** Engine-wide counters of an RDMA engine (`RdmaEngine.stats()`), since it was created. */
export interface NativeRdmaEngineStats {
  /** Frames delivered to JS (by SEND into a receive slot, or by RDMA READ into a lease). */
  framesIn: number;
  /** Bytes of those frames. */
  bytesIn: number;
  /** Frames queued by `send()`. */
  framesOut: number;
  /** Bytes of those frames. */
  bytesOut: number;
  /** Frames larger than the peer's receive slot, pulled by one-sided RDMA READ into a lease. */
  reads: number;
  /** Bytes moved by those READs. */
  readBytes: number;
  /** Same as `reads` (the channel-wide name: frames that did not arrive in a receive slot). */
  reassembled: number;
  /** Same as `readBytes`. */
  reassembledBytes: number;
  /** Sends small enough to post inline (the device copied them at post time; lease freed at once). */
  inlineSends: number;
  /** Credit-only control messages: receive credits returned to the peer when no data frame was going out to carry them. */
  creditMessages: number;
  /** Flushes that left frames queued because the peer had no posted receives (credits) left. */
  creditStalls: number;
  /** Memory keys registered to let a peer READ one large frame. */
  keysGranted: number;
  /** Such keys deregistered after the peer's READ finished (or the connection ended). */
  keysRevoked: number;
  /**
   * Most RDMA READ chunks (16 KiB each) this engine ever had in flight at once, over all its
   * connections: at most 8 (unpaced READ responses overflowed soft-RoCE's veth backlog: issue 4).
   */
  readChunksPeak: number;
  /** Connections failed by a device async event (their queue pair in the error state, a CQ overrun, a fatal device). */
  asyncErrors: number;
  /** ibv_post_send refusals: each closed its connection (the frame and its credit were lost). */
  sendFailures: number;
  /**
   * Lease bytes of READ targets (frames being read, or read and not yet delivered), all
   * connections together: now, and the most ever. Each connection's are bounded by its share
   * (maxUnsentBytes, less its unsent frames) plus the engine's one over-share frame
   * (native/common/reassembly_share.h).
   */
  readTargetBytes: number;
  readTargetBytesPeak: number;
  /** READ targets that took the engine's over-share place (their lease did not fit their connection's share). */
  overShareReads: number;
  /** Entries of the completion queues: they grow as queue pairs are added (each reserves room for all it can have outstanding). */
  cqEntries: number;
  /** Test aid: the rkey most recently revoked. */
  lastRevokedRkey: number;
  /** Test aid: remote address of the most recent READ. */
  lastReadAddr: number;
  /** Test aid: rkey of the most recent READ. */
  lastReadRkey: number;
  /** Connections plus listeners open right now. */
  active: number;
}

/** Engine-wide counters of an io_uring engine (`UringEngine.stats()`), since it was created. */
export interface NativeUringEngineStats {
  /** Frames delivered to JS. */
  framesIn: number;
  /** Bytes received from the sockets (frame headers included). */
  bytesIn: number;
  /** Frames queued by `send()`. */
  framesOut: number;
  /** Bytes of those frames. */
  bytesOut: number;
  /** Frames that straddled receive buffers and were copied once into a lease. */
  reassembled: number;
  /** Bytes of those frames. */
  reassembledBytes: number;
  /** Multishot-recv completions that brought data (one receive slot filled each). */
  recvCompletions: number;
  /** `io_uring_enter` submissions that carried work (sends of one event-loop turn go out together). */
  submits: number;
  /** Completion batches handed to JS (one JS call each, however many completions). */
  batches: number;
  /** Receives that found no free slot in the provided-buffer ring (ENOBUFS): slots held too long or too few. */
  bufferStarvations: number;
  /** Failed accepts (EMFILE at the fd limit, ENFILE, ENOMEM), each retried after a back-off. */
  acceptErrors: number;
  /** Connections adopted with kernel TLS installed (the kTLS path). */
  adoptedKtls: number;
  /** Connections plus listeners open right now. */
  active: number;
  /** IORING_SETUP_* flags the ring was created with. */
  setupFlags: number;
}

/** @deprecated The same type under its engine's name, `NativeUringEngineStats`. */
export type NativeEngineStats = NativeUringEngineStats;

/** One port of an RDMA device, as ibv_query_port reports it. */
export interface NativeRdmaPort {
  port: number;
  state: string;
  linkLayer: string;
  activeMtu: number;
  gidTableLength: number;
  /** Valid GID entries; absent when libibverbs predates the GID-table query. */
  gidCount?: number;
}

export interface NativeRdmaDevice {
  name: string;
  /** Why the device could not be opened or queried. */
  error?: string;
  ports: NativeRdmaPort[];
}

export interface NativeCapabilities {
  ioUring: { available: boolean; reason?: string; setupFlags: number };
  /** A sealed memfd region can be created and mapped (shm://). */
  shm: { available: boolean; reason?: string };
  /** `available`: some device has an ACTIVE port. */
  rdma: { available: boolean; libraryLoaded: boolean; reason?: string; devices: NativeRdmaDevice[] };
  memlock: { soft: number; hard: number };
}

export interface NativeAddon {
  Region: new (slotSize: number, recvSlots: number, leaseBytes: number, poison: boolean) => NativeRegion;
  UringEngine: new (
    region: NativeRegion,
    ringEntries: number,
    maxFrameBytes: number,
    /** A connection's share of the lease area, which bounds its reassembly too (native/common/reassembly_share.h). */
    maxUnsentBytes: number,
    events: Int32Array,
    onEvents: (count: number) => void,
    /** The send-range table (src/channel/send-pack.ts). */
    sendRanges: Uint32Array,
  ) => NativeUringEngine;
  RdmaEngine: new (
    region: NativeRegion,
    maxFrameBytes: number,
    recvDepth: number,
    /** A connection's share of the lease area, which bounds its READ targets too (native/common/reassembly_share.h). */
    maxUnsentBytes: number,
    events: Int32Array,
    onEvents: (count: number) => void,
  ) => NativeRdmaEngine;
  ShmEngine: new (
    region: NativeRegion,
    ringBytes: number,
    maxFrameBytes: number,
    sameUserOnly: boolean,
    events: Int32Array,
    onEvents: (count: number) => void,
    rendezvousTimeoutMs: number,
  ) => NativeShmEngine;
  capabilities(): NativeCapabilities;
  counters(): { liveRegions: number; liveResources: number };
  /** The peer of a connected socket the caller owns (node:net's accepted sockets). */
  peerOfFd(fd: number): NativePeer;
  /** A listening Unix socket bound at `path` with permissions `mode` from its creation on; the caller owns the fd. */
  listenUnixFd(path: string, mode: number, backlog: number): number;
  /**
   * Tests only (native/common/fault_injection.h): how often the named failure point fired
   * since it was last armed; with `fails`, arms it too: the next `fails` passes through
   * it fail (0 disarms).
   */
  faultPoint(name: FaultPointName, fails?: number): number;
}

/** The native test-only failure points (native/common/fault_injection.h). */
export type FaultPointName =
  | "uring.full_sq_submit"
  | "uring.accept_after_close"
  | "rdma.post_send"
  | "rdma.repeat_read_request"
  | "rdma.cq_error";

let addon: NativeAddon | undefined;
let loadError: Error | undefined;

/** The package root (this file lives in src/ or dist/). */
export const packageRoot = fileURLToPath(new URL("..", import.meta.url));

/** Loads the addon once; throws an Error naming the fix when it cannot be loaded. */
export function native(): NativeAddon {
  if (addon) return addon;
  if (loadError) throw loadError;
  try {
    const require = createRequire(import.meta.url);
    const load = require("node-gyp-build") as (dir: string) => NativeAddon;
    addon = load(packageRoot);
    return addon;
  } catch (cause) {
    loadError = new Error(
      `connect-rdma: the native addon could not be loaded (${(cause as Error).message}). ` +
        "Build it with `npm run build:native` (needs liburing-dev, g++, make, python3).",
      { cause },
    );
    throw loadError;
  }
}
