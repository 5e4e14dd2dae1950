// UringEngine: the io_uring ChannelEngine (tcp:// and unix://). One native ring and one
// Region; frames are [u32 little-endian length][body] on the byte stream (docs/CHANNELS.md §1).
import { native, type NativeUringEngineStats, type NativeUringEngine } from "../binding.js";
import { codedError } from "../errors.js";
import type { Region } from "../region.js";
import type { ChannelAddress } from "./address.js";
import type { ListenOptions } from "./channel.js";
import { STREAM_FRAME_HEADER_BYTES } from "./frame-headers.js";
import type { NativeChannel } from "./native-channel.js";
import { NativeEngineBase, type NativeEngineOptions, type OpenedListener } from "./native-engine-base.js";
import { resolveHost } from "./resolve.js";
import { SendRangeTable } from "./send-pack.js";

/** Options of an io_uring engine. */
export interface UringEngineOptions extends NativeEngineOptions {
  /** Submission queue entries (default 1024). */
  ringEntries?: number;
  /** Frames per JS callback when a burst arrives, answers submitted after each (default 16). */
  dispatchChunk?: number;
}

/** Frames per JS callback when a burst arrives (docs/TUNING.md, "Dispatch chunks"). */
const DEFAULT_DISPATCH_CHUNK = 16;

/** The io_uring engine. */
export class UringEngine extends NativeEngineBase<NativeUringEngine> {
  /** Always "uring". */
  readonly name = "uring" as const;
  /** Small frames go into send packs, described to the ring in this table (send-pack.ts). */
  override readonly sendRanges: SendRangeTable;

  constructor(options: UringEngineOptions = {}) {
    const capabilities = native().capabilities().ioUring;
    if (!capabilities.available) {
      throw codedError("ERR_IO_URING_UNAVAILABLE", `io_uring is unavailable: ${capabilities.reason}`);
    }
    const ringEntries = options.ringEntries ?? 1024;
    if (!Number.isInteger(ringEntries) || ringEntries < 8 || ringEntries > 32768) {
      throw new RangeError(`ringEntries must be an integer in [8, 32768], got ${ringEntries}`);
    }
    const sendRanges = new SendRangeTable();
    super({ ...options, dispatchChunk: options.dispatchChunk ?? DEFAULT_DISPATCH_CHUNK }, STREAM_FRAME_HEADER_BYTES, (region: Region, maxFrameBytes, events, onEvents, share) =>
      new (native().UringEngine)(region.native, ringEntries, maxFrameBytes, share.limit, events, onEvents, sendRanges.words),
    );
    this.sendRanges = sendRanges;
    sendRanges.attach(() => this.native.drainSendRanges());
  }

  protected async startConnect(address: ChannelAddress): Promise<number> {
    if (address.scheme === "tcp") {
      const ip = await resolveHost(address.host);
      this.assertOpen();
      return this.native.connectTcp(ip, address.port);
    }
    if (address.scheme === "unix") return this.native.connectUnix(address.path);
    throw new TypeError(`the io_uring engine carries tcp:// and unix:// URLs, not ${address.scheme}://`);
  }

  protected async startListen(address: ChannelAddress, socketMode: number, options?: ListenOptions): Promise<OpenedListener> {
    const firstFrameMax = options?.firstFrameMaxBytes ?? 0;
    if (address.scheme === "tcp") {
      const ip = await resolveHost(address.host);
      this.assertOpen();
      const [id, port] = this.native.listenTcp(ip, address.port, this.backlog, firstFrameMax);
      return { id, bound: { scheme: "tcp", host: address.host, port } };
    }
    if (address.scheme === "unix") {
      const id = this.native.listenUnix(address.path, this.backlog, socketMode, firstFrameMax);
      return { id, bound: address, unixPath: address.path };
    }
    throw new TypeError(`the io_uring engine listens on tcp:// and unix:// URLs, not ${address.scheme}://`);
  }

  /** The upper-layer protocol on `channel`'s socket, as the kernel reports it (TCP_ULP): "tls" on a kTLS connection, "" otherwise. */
  ulpOf(channel: NativeChannel): string {
    return this.native.ulpOf(channel.id);
  }

  /** Engine-wide counters. */
  stats(): NativeUringEngineStats & {
    /** Channels open right now. */
    channels: number;
    /** The region's sizes and lease counters. */
    region: ReturnType<Region["stats"]>;
  } {
    return { ...this.native.stats(), channels: this.channelCount, region: this.region.stats() };
  }
}
