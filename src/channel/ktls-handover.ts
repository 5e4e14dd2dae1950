// The kTLS hand-over (docs/SECURITY.md, "kTLS on io_uring"): the node:tls options of the
// path (TLS 1.3 with the AES-GCM suites only; a server that never resumes a session, so
// every handshake is a full one and sends SERVER_TICKETS tickets), the traffic secrets
// node:tls's keylog gives per socket, the keys and record sequence numbers of both
// directions once the handshake is over, and the checks before the TCP socket leaves
// node:tls: no application byte read by it, nothing of its own left unwritten.
import { constants } from "node:crypto";
import type { ConnectionOptions, TlsOptions, TLSSocket } from "node:tls";

import { KTLS_SUITES, parseKeylogLine, trafficKeys, type KtlsSuite } from "./tls-key-schedule.js";
import { tcpHandleOf } from "./tls-failure.js";

/** The TLS 1.3 suites the kernel takes here (AES-GCM), in node:tls's `ciphers` syntax (TLS 1.3 names). */
const KTLS_CIPHERSUITES = "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256";

/**
 * NewSessionTicket messages a server sends after a full handshake (OpenSSL's default,
 * which Node keeps): records under the server's application key before any of ours.
 */
export const SERVER_TICKETS = 2;

/** Client options of the kTLS path: TLS 1.3, AES-GCM; no `session` is ever offered (full handshakes only). */
export function ktlsClientOptions(options: ConnectionOptions): ConnectionOptions {
  return { ...options, minVersion: "TLSv1.3", maxVersion: "TLSv1.3", ciphers: KTLS_CIPHERSUITES };
}

/**
 * Server options of the kTLS path: TLS 1.3, AES-GCM, and SSL_OP_NO_TICKET: with it (and
 * Node's server without an internal session cache) no session can be resumed, so every
 * handshake is a full one and sends SERVER_TICKETS tickets (a resumed one sends fewer).
 */
export function ktlsServerOptions(options: TlsOptions): TlsOptions {
  return { ...options, minVersion: "TLSv1.3", maxVersion: "TLSv1.3", ciphers: KTLS_CIPHERSUITES, secureOptions: (options.secureOptions ?? 0) | constants.SSL_OP_NO_TICKET };
}

/** The application traffic secrets of one connection, as its keylog lines arrive. */
export class TrafficSecrets {
  readonly #secrets = new Map<string, Buffer>();

  /** Takes one keylog line (node:tls's `keylog` event). */
  add(line: Buffer): void {
    const entry = parseKeylogLine(line);
    if (entry !== undefined) this.#secrets.set(entry.label, entry.secret);
  }

  /** The secret of `label`; throws when node:tls never logged it. */
  get(label: "CLIENT_TRAFFIC_SECRET_0" | "SERVER_TRAFFIC_SECRET_0"): Buffer {
    const secret = this.#secrets.get(label);
    if (secret === undefined) throw new Error(`kTLS hand-over: node:tls logged no ${label} for this connection`);
    return secret;
  }

  /** Overwrites the secrets (once the kernel has the keys). */
  wipe(): void {
    for (const secret of this.#secrets.values()) secret.fill(0);
    this.#secrets.clear();
  }
}

/** One direction's record key, IV and next record sequence number. */
export interface KtlsDirectionKeys {
  key: Buffer;
  iv: Buffer;
  sequence: number;
}

/**
 * The keys of both directions of `socket` (handshake done) for `side`: what we send is
 * protected with our side's traffic secret, what we receive with the peer's. Sequence
 * numbers: the server has sent SERVER_TICKETS records under its key (the tickets), the
 * client received `ticketsReceived` of them; nothing else was sent as application data.
 */
export function handOverKeys(socket: TLSSocket, secrets: TrafficSecrets, side: "client" | "server", ticketsReceived: number): { tx: KtlsDirectionKeys; rx: KtlsDirectionKeys } {
  const protocol = socket.getProtocol();
  if (protocol !== "TLSv1.3") throw new Error(`kTLS hand-over: the handshake negotiated ${String(protocol)}, not TLSv1.3`);
  const suite = socket.getCipher().standardName;
  if (!(suite in KTLS_SUITES)) throw new Error(`kTLS hand-over: the handshake negotiated ${suite}, not an AES-GCM suite the kernel takes here`);
  const client = trafficKeys(suite as KtlsSuite, secrets.get("CLIENT_TRAFFIC_SECRET_0"));
  const server = trafficKeys(suite as KtlsSuite, secrets.get("SERVER_TRAFFIC_SECRET_0"));
  return side === "client"
    ? { tx: { ...client, sequence: 0 }, rx: { ...server, sequence: ticketsReceived } }
    : { tx: { ...server, sequence: SERVER_TICKETS }, rx: { ...client, sequence: 0 } };
}

/** Overwrites both directions' key material. */
export function wipeKeys(keys: { tx: KtlsDirectionKeys; rx: KtlsDirectionKeys }): void {
  for (const direction of [keys.tx, keys.rx]) {
    direction.key.fill(0);
    direction.iv.fill(0);
  }
}

/**
 * The fd of `socket`'s TCP connection, once nothing of the TLS session is left inside
 * node:tls; otherwise throws saying what: application data it already read and decrypted
 * (the peer sent some before the hand-over: the kernel would never see it), or bytes
 * node:tls has not written yet (its tickets, its Finished).
 */
export function handOverFd(socket: TLSSocket): number {
  if (socket.readableLength > 0) {
    throw new Error(`kTLS hand-over: the peer sent ${socket.readableLength} bytes of application data before the hand-over; the path needs it to wait`);
  }
  const handle = tcpHandleOf(socket);
  if (handle === undefined || typeof handle.fd !== "number" || handle.fd < 0) throw new Error("kTLS hand-over: the TLS socket has no TCP fd (closed?)");
  if ((handle.writeQueueSize ?? 0) > 0) throw new Error(`kTLS hand-over: node:tls still has ${handle.writeQueueSize} bytes to write`);
  return handle.fd;
}
