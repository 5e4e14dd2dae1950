// The `tls` options of servers and client transports, named as node:tls names them, and
// their checking at construction: an unknown name (a typo would otherwise mean plaintext),
// a server without key and cert, or a minVersion below TLS 1.2 is a TypeError at once.
// Turns checked options into node:tls's options (TLS 1.3 unless minVersion says otherwise).
import type { ConnectionOptions, SecureVersion, TlsOptions as NodeServerTlsOptions } from "node:tls";

/** PEM text or bytes, or several of them: what node:tls takes for key, cert and ca. */
type Pem = string | Buffer | Array<string | Buffer>;

/** Server side `tls` (createServer): node:tls's names and meanings. */
export interface ServerTlsOptions {
  /** The server's private key (PEM). Required. */
  key: Pem;
  /** The server's certificate chain (PEM). Required. */
  cert: Pem;
  /** CAs whose client certificates are trusted (mutual TLS). Default: Node's bundled roots. */
  ca?: Pem;
  /** Ask clients for a certificate (mutual TLS). Default false. */
  requestCert?: boolean;
  /** With requestCert: refuse clients whose certificate is absent or not signed by `ca`. Default true. */
  rejectUnauthorized?: boolean;
  /** Lowest TLS version accepted. Default "TLSv1.3". */
  minVersion?: "TLSv1.2" | "TLSv1.3";
}

/** Client side `tls` (createUringTransport, createTransport): node:tls's names and meanings. */
export interface ClientTlsOptions {
  /** CAs whose server certificates are trusted. Default: Node's bundled roots. */
  ca?: Pem;
  /** The client's private key (PEM), for servers that ask for a certificate. */
  key?: Pem;
  /** The client's certificate chain (PEM), for servers that ask for one. */
  cert?: Pem;
  /** Server name sent (SNI) and checked against the certificate. Default: the URL's host when it is a name, not an IP. */
  servername?: string;
  /** Refuse a server whose certificate does not verify (CA, name). Default true. */
  rejectUnauthorized?: boolean;
  /** Lowest TLS version accepted. Default "TLSv1.3". */
  minVersion?: "TLSv1.2" | "TLSv1.3";
}

const SERVER_NAMES = ["key", "cert", "ca", "requestCert", "rejectUnauthorized", "minVersion"] as const;
const CLIENT_NAMES = ["key", "cert", "ca", "servername", "rejectUnauthorized", "minVersion"] as const;
const VERSIONS: readonly SecureVersion[] = ["TLSv1.2", "TLSv1.3"];

/** Default minimum: TLS 1.3 (one round trip, no renegotiation, forward secrecy always). */
export const DEFAULT_TLS_MIN_VERSION = "TLSv1.3";

function checkNames(where: string, options: unknown, names: readonly string[]): Record<string, unknown> {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(`${where}: option "tls" must be an object of node:tls options (${names.join(", ")})`);
  }
  const record = options as Record<string, unknown>;
  for (const name of Object.keys(record)) {
    if (!names.includes(name)) throw new TypeError(`${where}: tls option "${name}" is not supported here; supported: ${names.join(", ")}`);
  }
  const min = record.minVersion;
  if (min !== undefined && !VERSIONS.includes(min as SecureVersion)) {
    throw new TypeError(`${where}: tls.minVersion must be "TLSv1.2" or "TLSv1.3", got ${JSON.stringify(min)}`);
  }
  for (const flag of ["requestCert", "rejectUnauthorized"]) {
    if (record[flag] !== undefined && typeof record[flag] !== "boolean") throw new TypeError(`${where}: tls.${flag} must be a boolean`);
  }
  return record;
}

/** Throws TypeError unless `options` is a usable server `tls`; returns node:tls server options. */
export function serverTlsOptions(where: string, options: unknown): NodeServerTlsOptions {
  const record = checkNames(where, options, SERVER_NAMES) as Partial<ServerTlsOptions>;
  if (record.key === undefined || record.cert === undefined) {
    throw new TypeError(`${where}: tls needs "key" and "cert" (PEM) on the server`);
  }
  return { ...record, minVersion: record.minVersion ?? DEFAULT_TLS_MIN_VERSION };
}

/** Throws TypeError unless `options` is a usable client `tls`; returns node:tls connect options. */
export function clientTlsOptions(where: string, options: unknown): ConnectionOptions {
  const record = checkNames(where, options, CLIENT_NAMES) as Partial<ClientTlsOptions>;
  if (record.servername !== undefined && typeof record.servername !== "string") throw new TypeError(`${where}: tls.servername must be a string`);
  return { ...record, minVersion: record.minVersion ?? DEFAULT_TLS_MIN_VERSION };
}
