// NativeEngineBase: what the io_uring and RDMA ChannelEngines share — the JS end of a
// native engine. The native side reports completions as 4-int events in a shared
// Int32Array, once per batch; this class turns them into channel callbacks:
//   1. Accepted / Connected -> a NativeChannel (its events set before any frame), with
//                              the peer the native side read at accept/connect
//   2. FrameView            -> onFrame(view into a receive slot), slot recycled after the batch
//   3. FrameLease           -> onFrame(view into a lease), lease freed unless held
//   4. Ended                -> onEnd() (the peer half-closed; the channel stays open for sends)
//   5. Closed               -> onClose(error) once, channel forgotten
//   6. ListenerError        -> a process warning (accepting fails, e.g. EMFILE at the fd
//                              limit; the native side retries with back-off), once per episode
// Subclasses open the native engine and translate URLs into native listen/connect calls.
import type { SendRangeTable } from "./send-pack.js";
import { unlink } from "node:fs/promises";

import { NativeEvent, type NativeEngineHandle } from "../binding.js";
import { codedError } from "../errors.js";
import { Region, type RegionOptions } from "../region.js";
import { formatChannelUrl, parseChannelUrl, type ChannelAddress } from "./address.js";
import { channelPeer, type ChannelPeer } from "./channel-peer.js";
import type { AcceptHandler, Channel, ChannelEngine, ChannelEvents, EngineName, ListenOptions, Listener } from "./channel.js";
import { engineClosedError } from "./contract.js";
import { NativeChannel, type NativeChannelOwner } from "./native-channel.js";
import { RegionSpace } from "./region-space.js";
import { SendShare } from "./send-share.js";
import { claimSocketPath, socketModeOf } from "./unix-socket-file.js";
import { closeError, systemError } from "./system-error.js";

const EVENT_CAPACITY = 4096;

/** Options every native engine takes. */
export interface NativeEngineOptions {
  /** Sizes of the engine's region: receive slots and lease area (docs/TUNING.md). */
  region?: RegionOptions;
  /** "event" (default): sleep on the loop; "spin": busy-poll for `spinMicros` after activity. */
  poll?: "event" | "spin";
  /** Busy-poll budget after the last completion in spin mode (default 50 µs). */
  spinMicros?: number;
  /** Largest frame sent or accepted (default 32 MiB). */
  maxFrameBytes?: number;
  /** listen() backlog (default 511). */
  backlog?: number;
  /**
   * Frames handed to JS per callback when many arrive at once (0: all in one callback;
   * default 16 on io_uring, 0 on RDMA). On io_uring the answers JS queued are sent after
   * each chunk, so the peer starts on them while this side handles the rest: with many
   * requests in flight both processes work at the same time instead of taking turns
   * (docs/TUNING.md).
   */
  dispatchChunk?: number;
  /**
   * Lease bytes one connection may hold in frames not written out yet (default: 3/4 of
   * `region.leaseBytes`, at most 16 MiB; docs/LIMITS.md). Beyond it, sends wait. On
   * io_uring it bounds a frame being reassembled too: one that does not fit what the
   * share leaves waits for the engine's one over-share place.
   */
  maxUnsentBytes?: number;
}

/** A listener the subclass opened natively. */
export interface OpenedListener {
  id: number;
  bound: ChannelAddress;
  /** A Unix socket file to remove when the listener closes. */
  unixPath?: string;
}

interface PendingConnect {
  resolve: (channel: NativeChannel) => void;
  reject: (error: Error) => void;
  events: ChannelEvents;
  url: string;
  address: ChannelAddress;
}

interface ListenerState {
  onAccept: AcceptHandler;
  url: string;
  bound: ChannelAddress;
  unixPath?: string;
  /** ListenOptions.onRefused: a peer the listener's `admit` refused (shm). */
  onRefused?: () => void;
}

export abstract class NativeEngineBase<N extends NativeEngineHandle> implements ChannelEngine, NativeChannelOwner {
  abstract readonly name: EngineName;
  /** The registered memory every channel of this engine receives into and sends from. */
  readonly region: Region;
  /** Largest frame sent or accepted, in bytes. */
  readonly maxFrameBytes: number;
  /** Bytes of the engine's frame header in front of each frame body. */
  readonly headerBytes: number;
  /** listen() backlog. */
  readonly backlog: number;
  /** What one connection may hold in unsent frames. */
  readonly share: SendShare;
  /** Engines that take send packs set it (send-pack.ts). */
  readonly sendRanges?: SendRangeTable;
  /** Waiters for room in the region (waitForSpace of every channel). */
  readonly space: RegionSpace;
  readonly #native: N;
  readonly #events = new Int32Array(EVENT_CAPACITY * 4);
  readonly #channels = new Map<number, NativeChannel>();
  readonly #connecting = new Map<number, PendingConnect>();
  readonly #listeners = new Map<number, ListenerState>();
  #closed = false;
  #closing: Promise<void> | undefined;

  protected constructor(
    options: NativeEngineOptions,
    headerBytes: number,
    open: (region: Region, maxFrameBytes: number, events: Int32Array, onEvents: (count: number) => void, share: SendShare) => N,
  ) {
    this.maxFrameBytes = options.maxFrameBytes ?? 32 * 1024 * 1024;
    if (!Number.isInteger(this.maxFrameBytes) || this.maxFrameBytes < 0 || this.maxFrameBytes > 2 ** 31 - 64) {
      throw new RangeError(`maxFrameBytes must be an integer in [0, 2^31-64], got ${options.maxFrameBytes}`);
    }
    const chunk = options.dispatchChunk ?? 0;
    if (!Number.isInteger(chunk) || chunk < 0 || chunk > EVENT_CAPACITY) {
      throw new RangeError(`dispatchChunk must be an integer in [0, ${EVENT_CAPACITY}], got ${options.dispatchChunk}`);
    }
    this.backlog = options.backlog ?? 511;
    this.headerBytes = headerBytes;
    this.region = new Region(options.region);
    this.space = new RegionSpace(this.region);
    try {
      this.share = new SendShare(options.maxUnsentBytes, this.region.leaseBytes, this.region.leaseUnit);
      this.#native = open(this.region, this.maxFrameBytes, this.#events, this.#onEvents, this.share);
    } catch (error) {
      this.region.close();
      throw error;
    }
    this.setPoll(options.poll ?? "event", options.spinMicros ?? 50);
    this.#native.setDispatchChunk(chunk);
  }

  /** Switches between sleeping on the event loop and busy-polling. */
  setPoll(poll: "event" | "spin", spinMicros = 50): void {
    if (poll !== "event" && poll !== "spin") throw new TypeError(`poll must be "event" or "spin", got ${String(poll)}`);
    if (!(spinMicros >= 0 && spinMicros <= 1_000_000)) throw new RangeError(`spinMicros must be in [0, 1e6], got ${spinMicros}`);
    this.#native.setPoll(poll === "spin", spinMicros);
  }

  /** True once close() began. */
  get closed(): boolean {
    return this.#closed;
  }

  /** @internal */
  get native(): N {
    return this.#native;
  }

  /** What a connection that failed after it started (a Connected event with -errno `code`) says about why. */
  protected connectFailure(code: string): string {
    return code;
  }

  /** Opens a native connection to `address`; resolves its id (a Connected event follows). */
  protected abstract startConnect(address: ChannelAddress): Promise<number>;
  /** Opens a native listener on `address`; a socket file gets `socketMode` (unix-socket-file.ts); `options` as listen() was given them. */
  protected abstract startListen(address: ChannelAddress, socketMode: number, options?: ListenOptions): Promise<OpenedListener>;

  /** Connects to `url`; resolves once the connection is established. */
  async connect(url: string, events: ChannelEvents): Promise<Channel> {
    const address = parseChannelUrl(url);
    this.assertOpen();
    const id = await this.startConnect(address);
    return new Promise<NativeChannel>((resolve, reject) => {
      this.#connecting.set(id, { resolve, reject, events, url, address });
    });
  }

  /** Listens on `url` (port 0: any free port). */
  async listen(url: string, onAccept: AcceptHandler, options?: ListenOptions): Promise<Listener> {
    const address = parseChannelUrl(url);
    const socketMode = socketModeOf(options?.socketMode);
    this.assertOpen();
    if (address.scheme === "unix" || address.scheme === "shm") {
      await claimSocketPath(address.path);
      this.assertOpen();
    }
    const opened = await this.startListen(address, socketMode, options);
    const state: ListenerState = { onAccept, url: formatChannelUrl(opened.bound), bound: opened.bound };
    if (options?.onRefused !== undefined) state.onRefused = options.onRefused;
    if (opened.unixPath) state.unixPath = opened.unixPath;
    this.#listeners.set(opened.id, state);
    return {
      url: state.url,
      close: async () => {
        if (!this.#listeners.delete(opened.id)) return;
        if (!this.#closed) this.#native.closeListener(opened.id);
        if (state.unixPath) await unlink(state.unixPath).catch(() => undefined);
      },
    };
  }

  /**
   * Closes every listener and channel (frames already sent still leave, for at most
   * `drainMs`), then frees the native engine and the region.
   */
  async close(drainMs = 1000): Promise<void> {
    if (this.#closed || this.#closing) return this.#closing;
    this.#closing = this.#shutDown(drainMs);
    return this.#closing;
  }

  async #shutDown(drainMs: number): Promise<void> {
    const pending = [...this.#connecting.values()];
    this.#connecting.clear();
    for (const p of pending) p.reject(codedError("ERR_ENGINE_CLOSED", `engine closed while connecting to ${p.url}`));
    const unixPaths = [...this.#listeners.values()].flatMap((l) => (l.unixPath ? [l.unixPath] : []));
    for (const id of this.#listeners.keys()) this.#native.closeListener(id);
    this.#listeners.clear();
    for (const channel of [...this.#channels.values()]) channel.close();
    const deadline = Date.now() + drainMs;
    while ((this.#native.stats() as { active: number }).active > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    this.#closed = true;
    this.#native.close();
    this.region.close();
    await Promise.all(unixPaths.map((path) => unlink(path).catch(() => undefined)));
  }

  /** Number of open channels. */
  get channelCount(): number {
    return this.#channels.size;
  }

  /** @internal Called by a channel that closed itself. */
  forget(id: number): void {
    this.#channels.delete(id);
  }

  protected assertOpen(): void {
    if (this.#closed || this.#closing) throw engineClosedError();
  }

  /** What the native side read about connection `id`'s peer, as a ChannelPeer of `address`'s scheme. */
  protected peerOf(id: number, address: ChannelAddress): ChannelPeer {
    return channelPeer(address.scheme, this.#native.peerOf(id), "path" in address ? address.path : undefined);
  }

  /**
   * The channel of native connection `id`, open already: one the native side reported, or
   * one a subclass adopted (no event announces it; the kTLS hand-over, ktls-engine.ts).
   */
  protected openChannel(id: number, peer: ChannelPeer, events: ChannelEvents | undefined): NativeChannel {
    const channel = new NativeChannel(this, id, peer);
    this.#channels.set(id, channel);
    if (events) channel.setEvents(events);
    return channel;
  }

  #open(id: number, events: ChannelEvents | undefined, address: ChannelAddress): NativeChannel {
    return this.openChannel(id, this.peerOf(id, address), events);
  }

  // One native batch. An arrow function: handed to the native side once.
  #onEvents = (count: number): void => {
    const ev = this.#events;
    for (let i = 0; i < count; i++) {
      const type = ev[i * 4]!;
      const id = ev[i * 4 + 1]!;
      const a = ev[i * 4 + 2]!;
      const b = ev[i * 4 + 3]!;
      try {
        switch (type) {
          case NativeEvent.FrameView:
            this.#channels.get(id)?.deliver(a, b, false);
            break;
          case NativeEvent.FrameLease: {
            const channel = this.#channels.get(id);
            if (channel) channel.deliver(a, b, true);
            else this.region.free(a - this.headerBytes);
            break;
          }
          case NativeEvent.Accepted: {
            const listener = this.#listeners.get(a);
            if (!listener) {
              this.#native.closeConnection(id, false);
              break;
            }
            const channel = this.#open(id, undefined, listener.bound);
            channel.setEvents(listener.onAccept(channel));
            break;
          }
          case NativeEvent.Refused:
            this.#listeners.get(id)?.onRefused?.();
            break;
          case NativeEvent.Connected: {
            const pending = this.#connecting.get(id);
            this.#connecting.delete(id);
            if (!pending) {
              if (a === 0) this.#native.closeConnection(id, false);
              break;
            }
            if (a === 0) pending.resolve(this.#open(id, pending.events, pending.address));
            else {
              const error = systemError(a, "connect");
              error.message = `connect to ${pending.url} failed: ${this.connectFailure(error.code)}`;
              pending.reject(error);
            }
            break;
          }
          case NativeEvent.ListenerError: {
            const listener = this.#listeners.get(id);
            if (!listener) break;
            const error = systemError(a, "accept");
            // As servers log EMFILE: the process keeps running and accepts again once it can.
            process.emitWarning(`connect-rdma: accepting on ${listener.url} failed (${error.code}); retrying with back-off`, {
              code: "CONNECT_RDMA_ACCEPT_FAILED",
              detail: "Connections wait in the listen backlog until accepting works again (raise the fd limit: ulimit -n).",
            });
            break;
          }
          case NativeEvent.Ended:
            this.#channels.get(id)?.peerEnd();
            break;
          case NativeEvent.Closed: {
            const channel = this.#channels.get(id);
            this.#channels.delete(id);
            channel?.ended(closeError(a, b, this.maxFrameBytes));
            break;
          }
        }
      } catch (error) {
        // A callback above threw: a bug in the layer above. Surface it the way Node
        // surfaces a throwing event listener, after this batch is consistent.
        process.nextTick(() => {
          throw error;
        });
      }
    }
  };
}
