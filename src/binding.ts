// The only file that sees the raw native addon: loads it with node-gyp-build (a
// prebuild from prebuilds/, else build/Release) and declares its native types.
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

export interface NativeRegionStats {
  closed: boolean;
  size: number;
  slotSize: number;
  recvSlots: number;
  recvAreaBytes: number;
  leaseBytes: number;
  leaseUnit: number;
  leaseBytesInUse: number;
  liveLeases: number;
}

/** Event types written by the native engine into the shared Int32Array (4 ints each). */
export const NativeEvent = {
  FrameView: 1,
  FrameLease: 2,
  Accepted: 3,
  Connected: 4,
  Closed: 5,
} as const;

/** Reasons attached to a NativeEvent.Closed. */
export const NativeCloseReason = {
  None: 0,
  FrameTooLarge: 1,
  RegionFull: 2,
  PeerClosedMidFrame: 3,
  ProtocolError: 4,
} as const;

/** What every native engine (io_uring, RDMA) offers JS. */
export interface NativeEngineHandle {
  /** 0 or -errno; the lease belongs to the engine afterwards either way. */
  send(connection: number, leaseOffset: number, length: number): number;
  closeConnection(connection: number, graceful: boolean): number;
  closeListener(listener: number): number;
  holdSlot(offset: number): number;
  releaseSlot(index: number): void;
  setPoll(spin: boolean, spinMicros: number): void;
  stats(): object;
  close(): void;
}

/** Native `UringEngine`: one io_uring driving sockets on Node's loop. */
export interface NativeUringEngine extends NativeEngineHandle {
  listenTcp(ip: string, port: number, backlog: number): [id: number, port: number];
  listenUnix(path: string, backlog: number): number;
  connectTcp(ip: string, port: number): number;
  connectUnix(path: string): number;
  stats(): NativeEngineStats;
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

export interface NativeRdmaEngineStats {
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
  reads: number;
  readBytes: number;
  reassembled: number;
  reassembledBytes: number;
  inlineSends: number;
  creditMessages: number;
  creditStalls: number;
  keysGranted: number;
  keysRevoked: number;
  lastRevokedRkey: number;
  lastReadAddr: number;
  lastReadRkey: number;
  active: number;
}

export interface NativeEngineStats {
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
  reassembled: number;
  reassembledBytes: number;
  recvCompletions: number;
  submits: number;
  batches: number;
  bufferStarvations: number;
  active: number;
  setupFlags: number;
}

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
    events: Int32Array,
    onEvents: (count: number) => void,
  ) => NativeUringEngine;
  RdmaEngine: new (
    region: NativeRegion,
    maxFrameBytes: number,
    recvDepth: number,
    events: Int32Array,
    onEvents: (count: number) => void,
  ) => NativeRdmaEngine;
  capabilities(): NativeCapabilities;
  counters(): { liveRegions: number; liveResources: number };
}

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
