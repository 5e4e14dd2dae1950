// Shared pieces of the hostile-input tests (test/hostile/): the channels a live server is
// attacked over (uring tcp, uring unix, net tcp; net unix too for the client side and the
// floods), a server on an engine instance the test
// can inspect (region leases, connections), a raw peer that speaks the stream framing of
// docs/CHANNELS.md §1 by hand over node:net, and a well-behaved client that keeps making
// unary calls on its own connection while the attack runs.

import * as net from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { ConnectRouter } from "@connectrpc/connect";
import { onTestFinished } from "vitest";
import type { ChannelEngine } from "../../src/channel/channel.js";
import { NetEngine } from "../../src/channel/net-engine.js";
import { UringEngine } from "../../src/channel/uring-engine.js";
import type { RegionOptions } from "../../src/region.js";
import { FrameKind, PROTOCOL_VERSION } from "../../src/frame/constants.js";
import { encodeHello, encodePing } from "../../src/frame/frames.js";
import { parseFrame } from "../../src/frame/parse-frame.js";
import type { Frame, Hello, OutFrame } from "../../src/frame/frames.js";
import { createServer, createUringTransport } from "../../src/index.js";
import type { Server, ServerOptions, UringTransport, UringTransportOptions } from "../../src/index.js";
import { listenUrl, uringUnavailable } from "../channel/engines.js";
import { ServerLog, marketRoutes } from "../connect/market-service.js";
import { MarketService } from "../gen/market/v1/market_pb.js";

/** A channel a live server is attacked over. */
export interface HostileChannel {
  name: string;
  engine: "uring" | "net";
  url(): string;
  unavailable?: () => string | undefined;
}

export const CHANNELS: HostileChannel[] = [
  { name: "uring-tcp", engine: "uring", url: () => listenUrl("tcp"), unavailable: uringUnavailable },
  { name: "uring-unix", engine: "uring", url: () => listenUrl("unix"), unavailable: uringUnavailable },
  { name: "net-tcp", engine: "net", url: () => listenUrl("tcp") },
];

/**
 * Every byte-stream channel: CHANNELS and net over a unix socket (the raw peers over
 * node:net speak both). The client-side suite and the floods run over all of them.
 */
export const STREAM_CHANNELS: HostileChannel[] = [...CHANNELS, { name: "net-unix", engine: "net", url: () => listenUrl("unix") }];

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 5 ms; throws `what` after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** The bytes of an encoded frame. */
export function bytesOf(out: OutFrame): Uint8Array {
  const b = new Uint8Array(out.byteLength);
  out.write(b);
  return b;
}

export const CLIENT_HELLO: Hello = {
  version: PROTOCOL_VERSION,
  minVersion: 1,
  maxMessageBytes: 4 << 20,
  maxHeaderBytes: 1 << 16,
  maxConcurrentStreams: 1024,
  initialWindowBytes: 1 << 20,
};

export function helloBytes(h: Partial<Hello> = {}): Uint8Array {
  return bytesOf(encodeHello({ ...CLIENT_HELLO, ...h }));
}

export function pingBytes(id: number): Uint8Array {
  return bytesOf(encodePing(FrameKind.PING, id));
}

export function le16(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff];
}
export function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}
/** A frame header as raw bytes (for frames the encoders refuse to produce). */
export function header(kind: number, flags: number, streamId: number): number[] {
  return [kind, flags, 0, 0, ...le32(streamId)];
}

/** u32 little-endian length + body (docs/CHANNELS.md §1). */
export function framed(body: Uint8Array, length = body.byteLength): Buffer {
  const out = Buffer.alloc(4 + body.byteLength);
  out.writeUInt32LE(length >>> 0, 0);
  out.set(body, 4);
  return out;
}

/**
 * A bounded implementation for hostile tests: whatever a request says, a handler does a
 * fixed small amount of work (the market test service honours delay and payload fields,
 * which random requests would turn into minutes of sleep or gigabytes of payload).
 * `stubborn` getQuote calls (symbol "STUBBORN") ignore their signal for `stubbornMs`.
 */
export function boundedRoutes(counters = { running: 0, peak: 0, started: 0 }, stubbornMs = 0): (router: ConnectRouter) => void {
  return (router) => {
    router.service(MarketService, {
      async getQuote(req) {
        counters.started++;
        counters.running++;
        counters.peak = Math.max(counters.peak, counters.running);
        try {
          if (req.symbol === "STUBBORN") await sleep(stubbornMs);
          return { symbol: req.symbol, sequence: 1n };
        } finally {
          counters.running--;
        }
      },
      async *subscribe(req) {
        for (let i = 0; i < Math.min(req.count, 3); i++) yield { symbol: req.symbols[0] ?? "", sequence: BigInt(i) };
      },
      async submitOrders(orders) {
        let accepted = 0;
        for await (const _ of orders) accepted++;
        return { accepted };
      },
      async *trade(orders) {
        for await (const o of orders) yield { clientOrderId: o.clientOrderId };
      },
    });
  };
}

/** A live server on an engine instance the test owns (so its region can be inspected). */
export interface LiveServer {
  server: Server;
  url: string;
  engine: ChannelEngine & { region: { stats(): { liveLeases: number; leaseBytesInUse: number } } };
  log: ServerLog;
}

export async function liveServer(
  channel: HostileChannel,
  options: Partial<ServerOptions> & { region?: RegionOptions; maxFrameBytes?: number; maxUnsentBytes?: number } = {},
  routes?: (router: ConnectRouter) => void,
): Promise<LiveServer> {
  const { region, maxFrameBytes, maxUnsentBytes, ...serverOptions } = options;
  const engineOptions = {
    ...(region ? { region } : {}),
    ...(maxFrameBytes !== undefined ? { maxFrameBytes } : {}),
    ...(maxUnsentBytes !== undefined ? { maxUnsentBytes } : {}),
  };
  const engine = channel.engine === "uring" ? new UringEngine(engineOptions) : new NetEngine(engineOptions);
  onTestFinished(() => engine.close());
  const log = new ServerLog();
  const server = createServer({ routes: routes ?? marketRoutes(log), engine, ...serverOptions });
  onTestFinished(() => server.close(0));
  const url = await server.listen(channel.url());
  return { server, url, engine, log };
}

/** The node:net connect options of a tcp:// or unix:// URL. */
export function socketOptions(url: string): net.NetConnectOpts {
  const unix = /^unix:\/\/(\/.*)$/.exec(url);
  if (unix) return { path: unix[1] as string };
  const tcp = /^tcp:\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(url);
  if (tcp) return { host: tcp[1] as string, port: Number(tcp[2]) };
  throw new Error(`not a stream URL: ${url}`);
}

/** What the server sent, frame by frame (parsed as a client would). */
export type Received = { frame: Frame } | { malformed: string; bytes: Uint8Array };

/**
 * A peer on a raw socket: writes whatever bytes the test wants, parses what the server
 * sends back (every server frame must parse), and tells when the server closed.
 */
export class RawPeer {
  readonly socket: net.Socket;
  readonly received: Received[] = [];
  /** Resolves when the socket closed (whoever closed it). */
  readonly closed: Promise<void>;
  #closed = false;
  #ended = false;
  #pending: Buffer = Buffer.alloc(0);

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("error", () => undefined);
    socket.on("end", () => {
      this.#ended = true;
    });
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        this.#closed = true;
        resolve();
      }),
    );
  }

  static async connect(url: string): Promise<RawPeer> {
    const socket = net.connect(socketOptions(url));
    const peer = new RawPeer(socket);
    onTestFinished(() => {
      socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return peer;
  }

  /** True once the socket closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** True once the server ended its side (FIN or reset seen). */
  get serverEnded(): boolean {
    return this.#ended || this.#closed;
  }

  /** Writes raw bytes (no framing); resolves when the kernel took them (false if the socket is gone). */
  write(bytes: Uint8Array): Promise<boolean> {
    if (this.socket.destroyed || this.socket.writableEnded) return Promise.resolve(false);
    return new Promise((resolve) => this.socket.write(bytes, (e) => resolve(e == null)));
  }

  /** Writes one frame with the channel framing. */
  send(body: Uint8Array): Promise<boolean> {
    return this.write(framed(body));
  }

  frames(): Frame[] {
    return this.received.flatMap((r) => ("frame" in r ? [r.frame] : []));
  }

  malformed(): string[] {
    return this.received.flatMap((r) => ("malformed" in r ? [r.malformed] : []));
  }

  /** The GOAWAY the server sent, if any. */
  goAway(): Extract<Frame, { kind: typeof FrameKind.GOAWAY }> | undefined {
    return this.frames().find((f): f is Extract<Frame, { kind: typeof FrameKind.GOAWAY }> => f.kind === FrameKind.GOAWAY);
  }

  /** Resolves with true when the server closed the connection within `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = await Promise.race([
      this.closed.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return done;
  }

  /**
   * Sends a PING and resolves true when its PONG came back within `timeoutMs`. When the
   * write fails the server already ended the connection (EPIPE on a Unix socket it shut
   * down, or our side ended after its FIN): Node emits "close" a loop turn or more later,
   * so this waits for it (within `timeoutMs`) and `isClosed` tells the truth afterwards
   * (the property test's "neither PONG nor close" flaked on a loaded box without it).
   */
  async pingPong(id: number, timeoutMs: number): Promise<boolean> {
    if (!(await this.send(pingBytes(id)))) {
      await this.closedWithin(timeoutMs);
      return false;
    }
    const start = Date.now();
    while (Date.now() - start < timeoutMs && !this.#closed) {
      if (this.frames().some((f) => f.kind === FrameKind.PONG && f.id === id)) return true;
      await sleep(2);
    }
    return this.frames().some((f) => f.kind === FrameKind.PONG && f.id === id);
  }

  /** Ends our side (FIN) and waits for the server to close. */
  async finish(timeoutMs = 5000): Promise<boolean> {
    if (!this.socket.destroyed) this.socket.end();
    return this.closedWithin(timeoutMs);
  }

  destroy(): void {
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#pending = this.#pending.byteLength === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (this.#pending.byteLength >= 4) {
      const length = this.#pending.readUInt32LE(0);
      if (this.#pending.byteLength < 4 + length) break;
      const body = new Uint8Array(this.#pending.subarray(4, 4 + length));
      this.#pending = this.#pending.subarray(4 + length);
      try {
        this.received.push({ frame: parseFrame(body, true) });
      } catch (e) {
        this.received.push({ malformed: (e as Error).message, bytes: body });
      }
    }
  }
}

/** A well-behaved client making unary calls on its own connection until stop(). */
export class SteadyClient {
  readonly transport: UringTransport;
  ok = 0;
  readonly errors: string[] = [];
  #running: Promise<void> | undefined;
  #stop = false;

  readonly #callTimeoutMs: number;

  constructor(url: string, engine: "uring" | "net", callTimeoutMs = 10_000, options: Partial<UringTransportOptions> = {}) {
    this.#callTimeoutMs = callTimeoutMs;
    this.transport = createUringTransport({ ...options, url, engine });
    onTestFinished(() => this.transport.close());
  }

  /** Starts `concurrency` call loops. */
  start(concurrency = 2): this {
    const client = createClient(MarketService, this.transport);
    const loop = async (n: number): Promise<void> => {
      for (let i = 0; !this.#stop; i++) {
        const symbol = `steady-${n}-${i}`;
        try {
          const quote = await client.getQuote({ symbol }, { timeoutMs: this.#callTimeoutMs });
          if (quote.symbol !== symbol) this.errors.push(`wrong reply ${quote.symbol} for ${symbol}`);
          else this.ok++;
        } catch (e) {
          const err = ConnectError.from(e);
          this.errors.push(`${Code[err.code]}: ${err.rawMessage}`);
        }
        // Leave the loop room for the attack (and keep CPU for the 2-core CI box).
        await sleep(1);
      }
    };
    this.#running = Promise.all(Array.from({ length: concurrency }, (_, n) => loop(n))).then(() => undefined);
    return this;
  }

  /** Stops the loops and returns what they saw. */
  async stop(): Promise<{ ok: number; errors: string[] }> {
    this.#stop = true;
    await this.#running;
    return { ok: this.ok, errors: this.errors };
  }
}

/** Current lease count of a server's engine region. */
export function liveLeases(s: LiveServer): number {
  return s.engine.region.stats().liveLeases;
}
