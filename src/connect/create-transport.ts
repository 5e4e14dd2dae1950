// createTransport(): the one factory most users need. It picks the transport from the
// URL's scheme — rdma:// gets createRdmaTransport(), tcp://, unix://, shm:// and memory:// get
// createUringTransport() (io_uring, or the node:net fallback where io_uring is blocked) —
// so a service moves between channels by changing its URL only.
import { parseChannelUrl } from "../channel/address.js";
import { checkTransportOptions } from "./foreign-options.js";
import { createRdmaTransport, createUringTransport } from "./transport.js";
import type { RdmaTransportOptions, UringTransport, UringTransportOptions } from "./transport.js";

/** Options of {@link createTransport}: those of both specific factories. */
export interface TransportOptions extends UringTransportOptions {
  /** rdma:// only: the source IP address of outgoing connections (selects the local RDMA device). */
  localAddress?: string;
}

/**
 * Creates a Connect Transport for the URL: `tcp://host:port`, `unix:///path`,
 * `shm:///path` (shared memory, processes of one host), `rdma://ip:port` or `memory://name`. Throws TypeError at once for a missing or
 * malformed URL, an `http(s)://` URL, or a connect-node option that means nothing here.
 *
 * @example
 * ```ts
 * const transport = createTransport({ url: "tcp://127.0.0.1:7000" });
 * const client = createClient(MarketService, transport);
 * ```
 */
export function createTransport(options: TransportOptions): UringTransport {
  checkTransportOptions("createTransport", options);
  if (parseChannelUrl(options.url).scheme === "rdma") {
    if (typeof options.engine === "string") {
      throw new TypeError(`createTransport: option "engine": "${options.engine}" chooses between io_uring and node:net for tcp:// and unix://; rdma:// URLs use the RDMA engine`);
    }
    return createRdmaTransport(options as RdmaTransportOptions);
  }
  if (options.localAddress !== undefined) throw new TypeError('createTransport: option "localAddress" applies to rdma:// URLs only');
  return createUringTransport(options);
}
