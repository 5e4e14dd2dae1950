// The node:net ChannelEngine: the fallback where io_uring is unavailable (old kernel,
// kernel.io_uring_disabled, a seccomp profile that blocks it). Same channel API, same
// URLs (tcp://host:port, unix:///path) and same wire format (u32 little-endian body
// length + body) as the io_uring engine, so either end can run either engine. Owns the
// Region its channels send from and reassemble into, its listeners (node:net servers;
// a unix listener's socket file is made by the addon with its mode from the start, adopted
// by node:net as an fd, and unlinked here on close)
// and its channels (net-channel.ts). With `tls`, tcp:// connections run over node:tls
// TLSSockets (same channel code above them, frames inside TLS records); TLS failures of
// the handshake reach the connecting side with node:tls's reason.

import * as net from "node:net";
import * as tls from "node:tls";
import { unlink } from "node:fs/promises";

import { native } from "../binding.js";
import type { AcceptHandler, Channel, ChannelEngine, ChannelEvents, ListenOptions, Listener } from "./channel.js";
import { formatChannelUrl, parseChannelUrl, type ChannelAddress } from "./address.js";
import { Region, type RegionOptions } from "../region.js";
import { codedError } from "../errors.js";
import { addChannelStats } from "./channel-stats.js";
import { engineClosedError } from "./contract.js";
import { NetChannel, type NetChannelHost, type NetChannelStats } from "./net-channel.js";
import { RegionSpace } from "./region-space.js";
import { ReassemblyShare } from "./reassembly-share.js";
import { SendShare } from "./send-share.js";
import { netPeer } from "./net-peer.js";
import { claimSocketPath, socketModeOf } from "./unix-socket-file.js";
import { withCertificate } from "./tls-peer.js";
import { connectTls } from "./tls-connect.js";
import { clientTlsOptions, type ClientTlsOptions, type ServerTlsOptions } from "./tls-options.js";
import { createTlsServer, serverTls, type ServerTls } from "./tls-server.js";

/** Options of {@link NetEngine}; the same shape as the io_uring engine's. */
export interface NetEngineOptions {
  /** Sizes of the engine's Region (leases for sends and reassembled frames). */
  region?: RegionOptions;
  /** Accepted for compatibility with the io_uring engine and ignored. */
  poll?: "event" | "spin";
  /** Accepted for compatibility with the io_uring engine and ignored. */
  spinMicros?: number;
  /** Largest frame body sent or accepted, in bytes (default 32 MiB). */
  maxFrameBytes?: number;
  /**
   * Lease bytes one connection may hold in frames not written out yet (default: 3/4 of
   * `region.leaseBytes`, at most 16 MiB; docs/LIMITS.md). Beyond it, sends wait. It
   * bounds a frame being reassembled into a lease too: one that does not fit what the
   * share leaves takes the engine's one over-share place, or is reassembled on the heap.
   */
  maxUnsentBytes?: number;
  /** TLS on tcp://: `server` for listen(), `client` for connect() (docs/SECURITY.md, "TLS"). */
  tls?: NetTlsOptions;
}

/** The TLS sides of a net engine; a side left out is plaintext. */
export interface NetTlsOptions {
  /** listen() serves TLS with these (key and cert required). */
  server?: ServerTlsOptions;
  /** connect() speaks TLS with these. */
  client?: ClientTlsOptions;
}

/** Counters of a net engine: every channel it made, plus what is open now. */
export interface NetEngineStats extends NetChannelStats {
  /** Channels open right now. */
  channels: number;
  /** Listeners open right now. */
  listeners: number;
  /** Leases of the engine's region currently live (sends in flight, held frames, ...). */
  liveLeases: number;
}

const DEFAULT_MAX_FRAME_BYTES = 32 * 1024 * 1024;
const U32_MAX = 0xffff_ffff;

type SocketAddress = Extract<ChannelAddress, { scheme: "tcp" | "unix" }>;

function socketAddress(url: string): SocketAddress {
  const address = parseChannelUrl(url);
  if (address.scheme !== "tcp" && address.scheme !== "unix") {
    throw new TypeError(`the net engine carries tcp:// and unix:// URLs, not "${url}"`);
  }
  return address;
}

/** A node:net server accepting channels. */
class NetListener implements Listener {
  readonly url: string;
  #server: net.Server;
  #closing: Promise<void> | undefined;
  #onClosed: () => void;

  #unixPath: string | undefined;

  constructor(url: string, server: net.Server, onClosed: () => void, unixPath: string | undefined) {
    this.url = url;
    this.#server = server;
    this.#onClosed = onClosed;
    this.#unixPath = unixPath;
  }

  close(): Promise<void> {
    // server.close()'s callback waits for every accepted connection; the listening
    // socket itself is closed (and a unix socket file unlinked) at once, which is all
    // Listener.close() promises.
    this.#closing ??= new Promise((resolve) => {
      this.#server.close();
      this.#onClosed();
      // node:net adopted the fd and does not know the path: the file is ours to remove.
      if (this.#unixPath === undefined) setImmediate(resolve);
      else void unlink(this.#unixPath).catch(() => undefined).then(() => resolve());
    });
    return this.#closing;
  }
}

/** Channels over node:net sockets, in the io_uring engine's wire format. */
export class NetEngine implements ChannelEngine {
  /** Always "net". */
  readonly name = "net" as const;
  /** The memory every channel of this engine sends from and reassembles into. */
  readonly region: Region;
  /** Largest frame body sent or accepted, in bytes. */
  readonly maxFrameBytes: number;
  #host: NetChannelHost;
  #channels = new Set<NetChannel>();
  #listeners = new Set<NetListener>();
  #closedStats: NetChannelStats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, reassembled: 0, reassembledBytes: 0, reassembledOnHeap: 0 };
  #closing: Promise<void> | undefined;
  #tlsServer: ServerTls | undefined;
  #tlsClient: tls.ConnectionOptions | undefined;

  constructor(options: NetEngineOptions = {}) {
    const max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isInteger(max) || max < 0 || max > U32_MAX) {
      throw new RangeError(`maxFrameBytes must be an integer in [0, ${U32_MAX}], got ${max}`);
    }
    if (options.poll !== undefined && options.poll !== "event" && options.poll !== "spin") {
      throw new TypeError(`poll must be "event" or "spin", got ${String(options.poll)}`);
    }
    this.maxFrameBytes = max;
    if (options.tls?.server !== undefined) this.#tlsServer = serverTls("NetEngine", options.tls.server);
    if (options.tls?.client !== undefined) this.#tlsClient = clientTlsOptions("NetEngine", options.tls.client);
    const region = new Region(options.region);
    let share: SendShare;
    try {
      share = new SendShare(options.maxUnsentBytes, region.leaseBytes, region.leaseUnit);
    } catch (error) {
      region.close();
      throw error;
    }
    this.region = region;
    this.#host = {
      region: this.region,
      space: new RegionSpace(this.region),
      share,
      reassembly: new ReassemblyShare(share),
      headers: new DataView(this.region.buffer),
      maxFrameBytes: max,
      forget: (channel) => {
        this.#channels.delete(channel);
        addStats(this.#closedStats, channel.stats());
      },
    };
  }

  /** Connects to `tcp://host:port` or `unix:///path`. */
  async connect(url: string, events: ChannelEvents): Promise<Channel> {
    this.#assertOpen();
    const address = socketAddress(url);
    const tlsClient = this.#tlsFor(address, this.#tlsClient);
    let socket: net.Socket;
    if (address.scheme === "tcp" && tlsClient !== undefined) {
      socket = await connectTls(tlsClient, address.host, address.port);
    } else {
      const plain = address.scheme === "tcp" ? net.connect({ host: address.host, port: address.port, allowHalfOpen: true }) : net.connect({ path: address.path, allowHalfOpen: true });
      await new Promise<void>((resolve, reject) => {
        plain.once("error", reject);
        plain.once("connect", () => {
          plain.off("error", reject);
          resolve();
        });
      });
      socket = plain;
    }
    if (this.#closing) {
      socket.destroy();
      throw codedError("ERR_ENGINE_CLOSED", "Engine was closed while connecting");
    }
    return this.#adopt(socket, address, () => events);
  }

  /** Listens on `tcp://host:port` (port 0: any) or `unix:///path` (its file gets `options.socketMode`, default 0o600). */
  async listen(url: string, onAccept: AcceptHandler, listenOptions?: ListenOptions): Promise<Listener> {
    this.#assertOpen();
    const address = socketAddress(url);
    const socketMode = socketModeOf(listenOptions?.socketMode);
    let fd: number | undefined;
    if (address.scheme === "unix") {
      await claimSocketPath(address.path);
      this.#assertOpen();
      fd = native().listenUnixFd(address.path, socketMode, 511);
    }
    // allowHalfOpen: a peer's FIN is onEnd(), not our end (NetChannel closes when told).
    // `refusal`: why a TLS client's certificate is refused (the server answers GOAWAY).
    const accept = (socket: net.Socket, refusal?: string): void => {
      socket.allowHalfOpen = true;
      if (this.#closing) {
        socket.destroy();
        return;
      }
      this.#adopt(socket, address, onAccept, refusal, listenOptions?.firstFrameMaxBytes);
    };
    const tlsServer = this.#tlsFor(address, this.#tlsServer);
    // A client that fails the TLS handshake costs its socket only, and is reported (tls-server.ts).
    const server =
      tlsServer !== undefined && address.scheme === "tcp" ? createTlsServer(tlsServer, address, listenOptions, accept) : net.createServer({ allowHalfOpen: true }, (socket) => accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      const options = address.scheme === "tcp" ? { host: address.host, port: address.port } : { fd: fd as number };
      server.listen(options, () => {
        server.off("error", reject);
        resolve();
      });
    });
    let bound: string;
    if (address.scheme === "tcp") {
      const info = server.address() as net.AddressInfo;
      bound = formatChannelUrl({ scheme: "tcp", host: info.address, port: info.port });
    } else {
      bound = formatChannelUrl(address);
    }
    const listener = new NetListener(bound, server, () => this.#listeners.delete(listener), address.scheme === "unix" ? address.path : undefined);
    this.#listeners.add(listener);
    return listener;
  }

  /** Closes every listener and channel (queued frames drain first), then the region. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#listeners].map((listener) => listener.close()));
      const channels = [...this.#channels];
      for (const channel of channels) channel.close();
      await Promise.all(channels.map((channel) => channel.whenClosed));
      this.region.close();
    })();
    return this.#closing;
  }

  /** Counters summed over every channel this engine made. */
  stats(): NetEngineStats {
    const totals = { ...this.#closedStats };
    for (const channel of this.#channels) addStats(totals, channel.stats());
    const liveLeases = this.region.closed ? 0 : this.region.stats().liveLeases;
    return { ...totals, channels: this.#channels.size, listeners: this.#listeners.size, liveLeases };
  }

  /**
   * @internal A channel over a socket connected elsewhere, as if this engine had accepted
   * it (the kTLS engine's fallback for a TLS client that sent before its hand-over:
   * ktls-engine.ts); `onAccept` gets it, as a listener's handler would.
   */
  adoptSocket(socket: net.Socket, address: Extract<ChannelAddress, { scheme: "tcp" }>, onAccept: AcceptHandler, certificateError?: string, firstFrameMaxBytes?: number): NetChannel {
    this.#assertOpen();
    socket.allowHalfOpen = true;
    return this.#adopt(socket, address, onAccept, certificateError, firstFrameMaxBytes);
  }

  #adopt(socket: net.Socket, address: SocketAddress, onAccept: AcceptHandler, certificateError?: string, firstFrameMaxBytes?: number): NetChannel {
    if (socket.remoteFamily !== undefined) socket.setNoDelay(true);
    const channel = new NetChannel(this.#host, socket, withCertificate(netPeer(socket, address), socket, certificateError), firstFrameMaxBytes);
    this.#channels.add(channel);
    let events: ChannelEvents;
    try {
      events = onAccept(channel);
    } catch (error) {
      // The accept handler refused the connection: drop it, keep listening.
      this.#channels.delete(channel);
      socket.destroy();
      process.emitWarning(`connect-rdma: accept handler threw: ${(error as Error)?.message ?? String(error)}`);
      return channel;
    }
    channel.start(events);
    return channel;
  }

  /** The TLS options of a side for `address`; TLS is for tcp:// only (a TypeError otherwise). */
  #tlsFor<T>(address: SocketAddress, options: T | undefined): T | undefined {
    if (options === undefined) return undefined;
    if (address.scheme !== "tcp") throw new TypeError(`tls applies to tcp:// URLs only, not ${formatChannelUrl(address)}`);
    return options;
  }

  #assertOpen(): void {
    if (this.#closing) throw engineClosedError();
  }
}

function addStats(into: NetChannelStats, from: NetChannelStats): void {
  addChannelStats(into, from);
  into.reassembledOnHeap += from.reassembledOnHeap;
}
