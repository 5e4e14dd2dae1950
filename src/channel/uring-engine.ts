// UringEngine: the io_uring ChannelEngine. One native ring + one Region; every
// connection and listener made through it. The native side reports completions as
// 4-int events in a shared Int32Array, once per batch; this file turns them into
// channel callbacks:
//   1. Accepted / Connected -> a UringChannel is created (its events set before any frame)
//   2. FrameView            -> onFrame(view into a receive slot), slot recycled after the batch
//   3. FrameLease           -> onFrame(view into a lease), lease freed unless held
//   4. Closed               -> onClose(error) once, channel forgotten
import { lookup } from "node:dns/promises";
import { unlink } from "node:fs/promises";

import { native, NativeEvent, type NativeEngineStats, type NativeUringEngine } from "../binding.js";
import { codedError } from "../errors.js";
import { Region, type RegionOptions } from "../region.js";
import { formatChannelUrl, parseChannelUrl, type ChannelAddress } from "./address.js";
import type { AcceptHandler, ChannelEngine, ChannelEvents, Listener } from "./channel.js";
import { closeError, systemError } from "./system-error.js";
import { UringChannel } from "./uring-channel.js";

/** Options of an io_uring engine. */
export interface UringEngineOptions {
  region?: RegionOptions;
  /** "event" (default): sleep on the loop; "spin": busy-poll for `spinMicros` after activity. */
  poll?: "event" | "spin";
  /** Busy-poll budget after the last completion in spin mode (default 50 µs). */
  spinMicros?: number;
  /** Largest frame sent or accepted (default 32 MiB). */
  maxFrameBytes?: number;
  /** Submission queue entries (default 1024). */
  ringEntries?: number;
  /** listen() backlog (default 511). */
  backlog?: number;
}

const EVENT_CAPACITY = 4096;

interface PendingConnect {
  resolve: (channel: UringChannel) => void;
  reject: (error: Error) => void;
  events: ChannelEvents;
  url: string;
}

interface ListenerState {
  onAccept: AcceptHandler;
  unixPath?: string;
}

/** Resolves a host name to a numeric IP for the native side. */
async function resolveHost(host: string): Promise<string> {
  if (/^[\d.]+$/.test(host) || host.includes(":")) return host;
  return (await lookup(host)).address;
}

/** The io_uring engine (see file comment). */
export class UringEngine implements ChannelEngine {
  readonly name = "uring" as const;
  readonly region: Region;
  readonly maxFrameBytes: number;
  readonly #native: NativeUringEngine;
  readonly #events = new Int32Array(EVENT_CAPACITY * 4);
  readonly #channels = new Map<number, UringChannel>();
  readonly #connecting = new Map<number, PendingConnect>();
  readonly #listeners = new Map<number, ListenerState>();
  readonly #backlog: number;
  #closed = false;

  constructor(options: UringEngineOptions = {}) {
    const capabilities = native().capabilities().ioUring;
    if (!capabilities.available) {
      throw codedError("ERR_IO_URING_UNAVAILABLE", `io_uring is unavailable: ${capabilities.reason}`);
    }
    this.maxFrameBytes = options.maxFrameBytes ?? 32 * 1024 * 1024;
    if (!Number.isInteger(this.maxFrameBytes) || this.maxFrameBytes < 0 || this.maxFrameBytes > 2 ** 31 - 8) {
      throw new RangeError(`maxFrameBytes must be an integer in [0, 2^31-8], got ${options.maxFrameBytes}`);
    }
    const ringEntries = options.ringEntries ?? 1024;
    if (!Number.isInteger(ringEntries) || ringEntries < 8 || ringEntries > 32768) {
      throw new RangeError(`ringEntries must be an integer in [8, 32768], got ${ringEntries}`);
    }
    this.#backlog = options.backlog ?? 511;
    this.region = new Region(options.region);
    try {
      this.#native = new (native().UringEngine)(this.region.native, ringEntries, this.maxFrameBytes, this.#events, this.#onEvents);
    } catch (error) {
      this.region.close();
      throw error;
    }
    this.setPoll(options.poll ?? "event", options.spinMicros ?? 50);
  }

  /** Switches between sleeping on the event loop and busy-polling. */
  setPoll(poll: "event" | "spin", spinMicros = 50): void {
    if (poll !== "event" && poll !== "spin") throw new TypeError(`poll must be "event" or "spin", got ${String(poll)}`);
    if (!(spinMicros >= 0 && spinMicros <= 1_000_000)) throw new RangeError(`spinMicros must be in [0, 1e6], got ${spinMicros}`);
    this.#native.setPoll(poll === "spin", spinMicros);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** @internal */
  get native(): NativeUringEngine {
    return this.#native;
  }

  async connect(url: string, events: ChannelEvents): Promise<UringChannel> {
    const address = parseChannelUrl(url);
    this.#assertOpen();
    let id: number;
    if (address.scheme === "tcp") {
      const ip = await resolveHost(address.host);
      this.#assertOpen();
      id = this.#native.connectTcp(ip, address.port);
    } else if (address.scheme === "unix") {
      id = this.#native.connectUnix(address.path);
    } else {
      throw new TypeError(`the io_uring engine carries tcp:// and unix:// URLs, not ${address.scheme}://`);
    }
    return new Promise<UringChannel>((resolve, reject) => {
      this.#connecting.set(id, { resolve, reject, events, url });
    });
  }

  async listen(url: string, onAccept: AcceptHandler): Promise<Listener> {
    const address = parseChannelUrl(url);
    this.#assertOpen();
    let id: number;
    let bound: ChannelAddress;
    if (address.scheme === "tcp") {
      const ip = await resolveHost(address.host);
      this.#assertOpen();
      const [listenerId, port] = this.#native.listenTcp(ip, address.port, this.#backlog);
      id = listenerId;
      bound = { scheme: "tcp", host: address.host, port };
    } else if (address.scheme === "unix") {
      id = this.#native.listenUnix(address.path, this.#backlog);
      bound = address;
    } else {
      throw new TypeError(`the io_uring engine listens on tcp:// and unix:// URLs, not ${address.scheme}://`);
    }
    const state: ListenerState = { onAccept };
    if (address.scheme === "unix") state.unixPath = address.path;
    this.#listeners.set(id, state);
    const boundUrl = formatChannelUrl(bound);
    return {
      url: boundUrl,
      close: async () => {
        if (!this.#listeners.delete(id)) return;
        if (!this.#closed) this.#native.closeListener(id);
        if (state.unixPath) await unlink(state.unixPath).catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    for (const channel of [...this.#channels.values()]) channel.close();
    const pending = [...this.#connecting.values()];
    this.#connecting.clear();
    for (const p of pending) p.reject(codedError("ERR_ENGINE_CLOSED", `engine closed while connecting to ${p.url}`));
    const unixPaths = [...this.#listeners.values()].flatMap((l) => (l.unixPath ? [l.unixPath] : []));
    this.#listeners.clear();
    this.#closed = true;
    this.#native.close();
    this.region.close();
    await Promise.all(unixPaths.map((path) => unlink(path).catch(() => undefined)));
  }

  /** Engine-wide counters. */
  stats(): NativeEngineStats & { channels: number; region: ReturnType<Region["stats"]> } {
    return { ...this.#native.stats(), channels: this.#channels.size, region: this.region.stats() };
  }

  /** @internal Called by a channel that closed itself. */
  forget(id: number): void {
    this.#channels.delete(id);
  }

  #assertOpen(): void {
    if (this.#closed) throw codedError("ERR_ENGINE_CLOSED", "engine is closed");
  }

  #open(id: number, events: ChannelEvents | undefined): UringChannel {
    const channel = new UringChannel(this, id);
    this.#channels.set(id, channel);
    if (events) channel.setEvents(events);
    return channel;
  }

  // One native batch. Arrow function: passed to the native side once.
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
            else this.region.free(a - 4);
            break;
          }
          case NativeEvent.Accepted: {
            const listener = this.#listeners.get(a);
            if (!listener) {
              this.#native.closeConnection(id);
              break;
            }
            const channel = this.#open(id, undefined);
            channel.setEvents(listener.onAccept(channel));
            break;
          }
          case NativeEvent.Connected: {
            const pending = this.#connecting.get(id);
            this.#connecting.delete(id);
            if (!pending) {
              if (a === 0) this.#native.closeConnection(id);
              break;
            }
            if (a === 0) pending.resolve(this.#open(id, pending.events));
            else {
              const error = systemError(a, "connect");
              error.message = `connect to ${pending.url} failed: ${error.code}`;
              pending.reject(error);
            }
            break;
          }
          case NativeEvent.Closed: {
            const channel = this.#channels.get(id);
            this.#channels.delete(id);
            channel?.ended(closeError(a, b, this.maxFrameBytes));
            break;
          }
        }
      } catch (error) {
        // A callback above threw: that is a bug in the layer above; surface it the way
        // Node surfaces a throwing event listener, after this batch is consistent.
        process.nextTick(() => {
          throw error;
        });
      }
    }
  };
}
