// Options checked when a transport or server is created, in connect-node's vocabulary: a
// user who swaps connect-node for connect-rdma brings connect-node's option names along.
// Each such name that means nothing here gets a TypeError at construction that names it
// and says what to use instead — not a failure at the first call, and not silence. The
// URL is checked at construction too (missing, malformed, an http(s):// URL), and so is
// CONNECT_RDMA_ENGINE.
import { parseChannelUrl } from "../channel/address.js";
import { forcedEngine } from "../channel/engines.js";

/** connect-node / connect-es option names that connect-rdma does not take, and what to do instead. */
const TRANSPORT_FOREIGN: Readonly<Record<string, string>> = {
  baseUrl: 'use "url" (tcp://host:port, unix:///path or rdma://ip:port of a connect-rdma server)',
  httpVersion: "there is no HTTP here: calls travel as frames of connect-rdma's own protocol",
  nodeOptions: "there is no HTTP agent here: engine options (poll, engine) replace it",
  useBinaryFormat: "messages always travel as binary protobuf",
  jsonOptions: "messages always travel as binary protobuf (JSON is not supported)",
  useHttpGet: "there is no HTTP here",
  sendCompression: "compression is not supported (messages travel uncompressed through registered memory)",
  acceptCompression: "compression is not supported (messages travel uncompressed through registered memory)",
  compressMinBytes: "compression is not supported",
  fetch: "there is no HTTP here",
};

const SERVER_FOREIGN: Readonly<Record<string, string>> = {
  jsonOptions: "requests always travel as binary protobuf (JSON is not supported)",
  acceptCompression: "compression is not supported",
  compressMinBytes: "compression is not supported",
  grpc: "connect-rdma serves its own protocol only (no gRPC or gRPC-web over HTTP)",
  grpcWeb: "connect-rdma serves its own protocol only (no gRPC or gRPC-web over HTTP)",
  connect: "connect-rdma serves its own protocol only",
  fallback: "there is no HTTP here: unknown methods are answered Unimplemented",
  shutdownSignal: "call server.close() (graceful: calls in flight get gracePeriodMs)",
  requestPathPrefix:
    "there are no HTTP paths here: a call names /package.Service/Method and a client cannot add a prefix; serve separate route sets on separate URLs (listen() on each)",
};

function rejectForeign(factory: string, options: object, foreign: Readonly<Record<string, string>>): void {
  for (const name of Object.keys(options)) {
    const instead = Object.hasOwn(foreign, name) ? foreign[name] : undefined;
    if (instead !== undefined && (options as Record<string, unknown>)[name] !== undefined) {
      throw new TypeError(`${factory}: option "${name}" is connect-node's and has no meaning here: ${instead}`);
    }
  }
}

/** Throws TypeError for a transport's options that cannot work: no or a bad URL, connect-node-only names. */
export function checkTransportOptions(factory: string, options: unknown): void {
  if (typeof options !== "object" || options === null) throw new TypeError(`${factory} needs an options object with a "url"`);
  rejectForeign(factory, options, TRANSPORT_FOREIGN);
  const url = (options as { url?: unknown }).url;
  if (url === undefined) throw new TypeError(`${factory}: option "url" is required (tcp://host:port, unix:///path or rdma://ip:port)`);
  if (typeof url !== "string") throw new TypeError(`${factory}: option "url" must be a string, got ${typeof url}`);
  if (/^https?:\/\//i.test(url)) {
    throw new TypeError(
      `${factory}: "${url}" is an HTTP URL; connect-rdma speaks its own protocol to a connect-rdma server (createServer().listen()) at tcp://host:port, unix:///path or rdma://ip:port`,
    );
  }
  try {
    parseChannelUrl(url);
  } catch (e) {
    throw new TypeError(`${factory}: option "url": ${(e as Error).message}`);
  }
  forcedEngine();
}

/** Throws TypeError for a server's options in connect-node's vocabulary that mean nothing here. */
export function checkServerOptions(options: unknown): void {
  if (typeof options !== "object" || options === null) throw new TypeError('createServer needs an options object with "routes"');
  rejectForeign("createServer", options, SERVER_FOREIGN);
  if (typeof (options as { routes?: unknown }).routes !== "function") {
    throw new TypeError('createServer: option "routes" must be a function (router) => void, as connectNodeAdapter takes');
  }
  forcedEngine();
}
