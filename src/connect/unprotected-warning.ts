// The warning of a server that listens where other hosts can reach it (a tcp:// or
// rdma:// address that is not loopback; 0.0.0.0 and :: included) with neither `auth` nor
// `tls`: anyone who reaches the port may call every method. One warning per server, at
// the first such listen; `allowUnprotected: true` says the exposure is intended.

import { parseChannelUrl } from "../channel/address.js";

/** The code of the warning. */
export const UNPROTECTED_WARNING = "CONNECT_RDMA_UNPROTECTED";

/** The server options the check reads (`auth` and `tls` come with the authentication and TLS options). */
export interface ProtectionOptions {
  auth?: unknown;
  tls?: unknown;
  /** Listening unprotected on a non-loopback address is intended: no warning. */
  allowUnprotected?: boolean;
}

/** True when `url` is a tcp:// or rdma:// address other hosts may reach. */
export function isExposed(url: string): boolean {
  const address = parseChannelUrl(url);
  if (address.scheme !== "tcp" && address.scheme !== "rdma") return false;
  return !isLoopbackHost(address.host);
}

/** 127.0.0.0/8, ::1 (and ::ffff:127.x), and the name localhost. Any other name counts as exposed. */
function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  return /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Emits the warning for a listen on `url` unless protected or allowed; returns whether it warned. */
export function warnIfUnprotected(url: string, options: ProtectionOptions): boolean {
  if (options.allowUnprotected === true) return false;
  if (options.auth !== undefined || options.tls !== undefined) return false;
  if (!isExposed(url)) return false;
  process.emitWarning(
    `connect-rdma: the server listens on ${url}, reachable from other hosts, with neither auth nor tls: anyone who reaches it may call every method`,
    {
      code: UNPROTECTED_WARNING,
      type: "ConnectRdmaWarning",
      detail: "Listen on 127.0.0.1 or a unix:// path, add auth or tls, or pass allowUnprotected: true to say this is intended (docs/SECURITY.md).",
    },
  );
  return true;
}
