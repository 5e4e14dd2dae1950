// KtlsEngine: TLS on tcp:// with the data path on io_uring (docs/SECURITY.md, "kTLS on
// io_uring"). Each connection's handshake runs in node:tls (certificates, SNI, mutual
// TLS and their errors, shared with the TLSSocket path: tls-connect.ts, tls-server.ts);
// then its TCP socket is handed to the kernel's TLS with the keys node:tls's keylog
// secrets give (ktls-handover.ts) and adopted by this io_uring engine: frames go out as
// plaintext the kernel seals into records and arrive decrypted in the receive slots,
// decoded in place as on plaintext io_uring. A client that sends application data before
// its hand-over (one that does not wait for the server's session tickets, as ours do) is
// served on the TLSSocket path instead: node:tls has read those bytes, the kernel never
// will. Owns the node:tls servers of its listeners, the sockets still in their handshake,
// and the node:net engine of such fallback connections (made at the first); everything
// after a hand-over is the UringEngine's (channels, region, stats).
import type * as net from "node:net";
import type * as tls from "node:tls";

import { codedError } from "../errors.js";
import { formatChannelUrl, parseChannelUrl, type ChannelAddress } from "./address.js";
import type { AcceptHandler, Channel, ChannelEvents, ListenOptions, Listener } from "./channel.js";
import { handOverFd, handOverKeys, ktlsClientOptions, ktlsServerOptions, SERVER_TICKETS, TrafficSecrets, wipeKeys } from "./ktls-handover.js";
import type { NativeChannel } from "./native-channel.js";
import { NetEngine, type NetEngineOptions, type NetTlsOptions } from "./net-engine.js";
import { connectTls, TLS_HANDSHAKE_TIMEOUT_MS } from "./tls-connect.js";
import { tcpHandleOf, tcpSocketOf } from "./tls-failure.js";
import { netPeer } from "./net-peer.js";
import { clientTlsOptions } from "./tls-options.js";
import { withCertificate } from "./tls-peer.js";
import { createTlsServer, serverTls, type ServerTls } from "./tls-server.js";
import { UringEngine, type UringEngineOptions } from "./uring-engine.js";

/** Options of a {@link KtlsEngine}: an io_uring engine's, and its TLS sides (a side left out is plaintext io_uring). */
export interface KtlsEngineOptions extends UringEngineOptions {
  tls: NetTlsOptions;
}

type TcpAddress = Extract<ChannelAddress, { scheme: "tcp" }>;

/** The io_uring engine with kernel TLS on its tcp:// connections. */
export class KtlsEngine extends UringEngine {
  readonly #client: tls.ConnectionOptions | undefined;
  readonly #server: ServerTls | undefined;
  readonly #servers = new Set<tls.Server>();
  /** Sockets between their handshake and their hand-over: destroyed by close(). */
  readonly #handshaking = new Set<tls.TLSSocket>();
  #closing = false;
  /** Carries the connections of clients that sent before their hand-over (TLSSocket path). */
  #fallback: NetEngine | undefined;
  readonly #fallbackOptions: NetEngineOptions;

  constructor(options: KtlsEngineOptions) {
    const client = options.tls.client !== undefined ? ktlsClientOptions(clientTlsOptions("KtlsEngine", options.tls.client)) : undefined;
    const server = options.tls.server !== undefined ? serverTls("KtlsEngine", options.tls.server) : undefined;
    super(options);
    this.#fallbackOptions = { ...(options.region ? { region: options.region } : {}), ...(options.maxFrameBytes !== undefined ? { maxFrameBytes: options.maxFrameBytes } : {}) };
    this.#client = client;
    this.#server = server && { ...server, options: ktlsServerOptions(server.options) };
  }

  /** Connects to `tcp://host:port` with TLS (the handshake in node:tls, then kTLS on io_uring). */
  override async connect(url: string, events: ChannelEvents): Promise<Channel> {
    const address = parseChannelUrl(url);
    if (address.scheme !== "tcp" || this.#client === undefined) return super.connect(url, events);
    this.assertOpen();
    const secrets = new TrafficSecrets();
    let tickets = 0;
    const socket = await connectTls(this.#client, address.host, address.port, (s) => {
      s.on("keylog", (line: Buffer) => secrets.add(line));
      s.on("session", () => void tickets++);
    });
    this.#handshaking.add(socket);
    try {
      // The server's tickets come one round trip after the handshake: records under its
      // key that the kernel must count before ours (docs/SECURITY.md, step 3).
      await until(socket, () => tickets >= SERVER_TICKETS, `the server sent ${SERVER_TICKETS} session tickets`);
      // node:tls may still be inside the read that brought the last ticket.
      await new Promise((resolve) => setImmediate(resolve));
      this.assertOpen();
      // The server spoke first (a GOAWAY refusing us, or a peer not of this path):
      // node:tls has those bytes, so the connection stays on the TLSSocket path.
      if (socket.readableLength > 0) return this.#fallBack(socket).adoptSocket(socket, address, () => events);
      const id = this.#handOver(socket, secrets, "client", tickets, 0);
      const peer = withCertificate(this.peerOf(id, address), socket);
      return this.openChannel(id, peer, events);
    } finally {
      secrets.wipe();
      if (this.#handshaking.has(socket)) this.#release(socket);
    }
  }

  /** Listens on `tcp://host:port` with TLS; each connection is handed to kTLS on io_uring after its handshake. */
  override async listen(url: string, onAccept: AcceptHandler, options?: ListenOptions): Promise<Listener> {
    const address = parseChannelUrl(url);
    if (address.scheme !== "tcp" || this.#server === undefined) return super.listen(url, onAccept, options);
    this.assertOpen();
    const secrets = new WeakMap<tls.TLSSocket, TrafficSecrets>();
    const server = createTlsServer(this.#server, address, options, (socket, refusal) => {
      this.#handshaking.add(socket);
      // node:tls writes its session tickets after this callback returns.
      setImmediate(() => void this.#accept(socket, secrets.get(socket) ?? new TrafficSecrets(), refusal, address, onAccept, options));
    });
    server.on("keylog", (line: Buffer, socket: tls.TLSSocket) => {
      let entry = secrets.get(socket);
      if (entry === undefined) secrets.set(socket, (entry = new TrafficSecrets()));
      entry.add(line);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: address.host, port: address.port }, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.#servers.add(server);
    const info = server.address() as net.AddressInfo;
    return {
      url: formatChannelUrl({ scheme: "tcp", host: info.address, port: info.port }),
      close: async () => {
        if (!this.#servers.delete(server)) return;
        server.close();
      },
    };
  }

  /** Closes the TLS listeners and the sockets still in their handshake, then every channel. */
  override async close(drainMs?: number): Promise<void> {
    this.#closing = true;
    for (const server of this.#servers) server.close();
    this.#servers.clear();
    for (const socket of this.#handshaking) this.#release(socket);
    await this.#fallback?.close();
    return super.close(drainMs);
  }

  async #accept(socket: tls.TLSSocket, secrets: TrafficSecrets, refusal: string | undefined, address: TcpAddress, onAccept: AcceptHandler, options?: ListenOptions): Promise<void> {
    let channel: NativeChannel;
    try {
      // Its tickets must have left before the socket leaves node:tls.
      await until(socket, () => (tcpHandleOf(socket)?.writeQueueSize ?? 0) === 0, "node:tls wrote its session tickets");
      this.assertOpen();
      if (socket.readableLength > 0) {
        this.#fallBack(socket).adoptSocket(socket, address, onAccept, refusal, options?.firstFrameMaxBytes);
        return;
      }
      const id = this.#handOver(socket, secrets, "server", 0, options?.firstFrameMaxBytes ?? 0);
      channel = this.openChannel(id, withCertificate(this.peerOf(id, address), socket, refusal), undefined);
    } catch (error) {
      if (!this.#closing) options?.onTlsFailure?.({ reason: "tls-handshake", message: (error as Error).message, peer: netPeer(tcpSocketOf(socket), address) });
      return;
    } finally {
      secrets.wipe();
      if (this.#handshaking.has(socket)) this.#release(socket);
    }
    try {
      channel.setEvents(onAccept(channel));
    } catch (error) {
      channel.close();
      process.emitWarning(`connect-rdma: accept handler threw: ${(error as Error)?.message ?? String(error)}`);
    }
  }

  /** The engine of connections whose peer sent before the hand-over; `socket` leaves the handshaking set for it. */
  #fallBack(socket: tls.TLSSocket): NetEngine {
    this.#handshaking.delete(socket);
    this.#fallback ??= new NetEngine(this.#fallbackOptions);
    return this.#fallback;
  }

  /** Installs kTLS on a duplicate of `socket`'s fd and adopts it: the connection's id. Throws saying what failed. */
  #handOver(socket: tls.TLSSocket, secrets: TrafficSecrets, side: "client" | "server", ticketsReceived: number, firstFrameMax: number): number {
    const keys = handOverKeys(socket, secrets, side, ticketsReceived);
    try {
      const fd = handOverFd(socket);
      const { tx, rx } = keys;
      return this.native.adoptKtls(fd, tx.key, tx.iv, tx.sequence, rx.key, rx.iv, rx.sequence, firstFrameMax);
    } catch (error) {
      const { code, message } = error as NodeJS.ErrnoException;
      // ENOENT from TCP_ULP: the tls module is not loaded (capabilities().tls said so at the start).
      const hint = code === "ENOENT" && message.includes("TCP_ULP") ? " (the kernel has no tls ULP: modprobe tls)" : "";
      const wrapped = codedError(code ?? "ERR_KTLS_HANDOVER", message.startsWith("kTLS") ? message : `kTLS hand-over failed: ${message}${hint}`);
      wrapped.cause = error;
      throw wrapped;
    } finally {
      wipeKeys(keys);
    }
  }

  /** Drops node's hold of a socket: the TLSSocket and its TCP socket, closed without a shutdown or a close_notify (a kTLS duplicate, if any, lives on). */
  #release(socket: tls.TLSSocket): void {
    this.#handshaking.delete(socket);
    socket.on("error", () => undefined);
    const tcp = tcpSocketOf(socket);
    socket.destroy();
    if (tcp !== socket) tcp.destroy();
  }
}

/**
 * Resolves once `done()` holds, checked now and each millisecond; rejects when the
 * socket errs or closes first, or after TLS_HANDSHAKE_TIMEOUT_MS, saying what it waited for.
 */
function until(socket: tls.TLSSocket, done: () => boolean, what: string): Promise<void> {
  if (done()) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const started = Date.now();
    const finish = (error?: Error): void => {
      clearInterval(timer);
      socket.off("error", finish);
      socket.off("close", onClose);
      if (error) reject(error);
      else resolve();
    };
    const onClose = (): void => finish(codedError("ECONNRESET", `kTLS hand-over: the connection closed before ${what}`));
    const timer = setInterval(() => {
      if (done()) finish();
      else if (Date.now() - started > TLS_HANDSHAKE_TIMEOUT_MS) finish(codedError("ERR_TLS_HANDSHAKE_TIMEOUT", `kTLS hand-over: not done within ${TLS_HANDSHAKE_TIMEOUT_MS} ms: waiting until ${what}`));
    }, 1);
    socket.once("error", finish);
    socket.once("close", onClose);
  });
}
