// RdmaEngine: the RDMA ChannelEngine (rdma://ip:port) over rdma_cm and RC queue pairs.
// Frames up to the peer's receive slot travel as one RDMA SEND into a posted receive
// slot (a view, no copy); larger frames move by one-sided RDMA READ straight into a
// lease. Message header and credit rules: docs/CHANNELS.md §2.
import { native, type NativeRdmaEngine, type NativeRdmaEngineStats } from "../binding.js";
import type { Region } from "../region.js";
import type { ChannelAddress } from "./address.js";
import { RDMA_MESSAGE_HEADER_BYTES } from "./frame-headers.js";
import { NativeEngineBase, type NativeEngineOptions, type OpenedListener } from "./native-engine-base.js";
import { resolveHost } from "./resolve.js";

/** Options of an RDMA engine. */
export interface RdmaEngineOptions extends NativeEngineOptions {
  /** Source IP to bind outgoing connections to (picks the local RDMA device). */
  localAddress?: string;
  /**
   * Receive slots posted per connection: the peer's send credits (default 16). Each
   * connection takes that many of the region's receive slots (default 2048 for RDMA), so
   * the defaults carry 128 connections; a connection that cannot get 2 is refused (ENOBUFS).
   */
  recvDepth?: number;
}

/** The RDMA engine. */
export class RdmaEngine extends NativeEngineBase<NativeRdmaEngine> {
  /** Always "rdma". */
  readonly name = "rdma" as const;
  readonly #localAddress: string;

  constructor(options: RdmaEngineOptions = {}) {
    const recvDepth = options.recvDepth ?? 16;
    if (!Number.isInteger(recvDepth) || recvDepth < 2 || recvDepth > 4096) {
      throw new RangeError(`recvDepth must be an integer in [2, 4096], got ${recvDepth}`);
    }
    const regionOptions = { recvSlots: 2048, ...options.region };
    super({ ...options, region: regionOptions }, RDMA_MESSAGE_HEADER_BYTES, (region: Region, maxFrameBytes, events, onEvents, share) =>
      new (native().RdmaEngine)(region.native, maxFrameBytes, recvDepth, share.limit, events, onEvents),
    );
    this.#localAddress = options.localAddress ?? "";
  }

  protected async startConnect(address: ChannelAddress): Promise<number> {
    if (address.scheme !== "rdma") throw new TypeError(`the RDMA engine carries rdma:// URLs, not ${address.scheme}://`);
    const ip = await resolveHost(address.host);
    this.assertOpen();
    return this.native.connect(ip, address.port, this.#localAddress);
  }

  protected async startListen(address: ChannelAddress): Promise<OpenedListener> {
    if (address.scheme !== "rdma") throw new TypeError(`the RDMA engine listens on rdma:// URLs, not ${address.scheme}://`);
    const ip = await resolveHost(address.host);
    this.assertOpen();
    const [id, port] = this.native.listen(ip, address.port, this.backlog);
    return { id, bound: { scheme: "rdma", host: address.host, port } };
  }

  /** Engine-wide counters (reads = frames moved by one-sided RDMA READ). */
  stats(): NativeRdmaEngineStats & {
    /** Channels open right now. */
    channels: number;
    /** The region's sizes and lease counters. */
    region: ReturnType<Region["stats"]>;
  } {
    return { ...this.native.stats(), channels: this.channelCount, region: this.region.stats() };
  }
}
