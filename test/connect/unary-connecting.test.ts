// A unary call made before its connection is up waits for the connection under the
// call's own deadline and signal: a server that accepts and never answers the handshake
// fails the call with DeadlineExceeded at its deadline, or Canceled when the caller
// aborts — with and without interceptors (without, the request object has no `signal`
// of its own and the call's is used). Closing the transport then ends the half-open
// connection at once: a session whose server never answered drops it (no lingering
// close waiting CLOSE_DRAIN_MS for a FIN that will not come). Over node:net and io_uring.
import { createServer as createTcpServer } from "node:net";
import type { AddressInfo, Server as TcpServer, Socket } from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Interceptor } from "@connectrpc/connect";
import { afterEach, expect, it } from "vitest";
import { CLOSE_DRAIN_MS } from "../../src/channel/contract.js";
import { createUringTransport } from "../../src/index.js";
import type { UringTransport } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { uringUnavailable } from "../channel/engines.js";
import { gatedDescribe } from "../support/capability-gate.js";

const open: { server?: TcpServer; sockets: Socket[]; transport?: UringTransport } = { sockets: [] };

afterEach(async () => {
  await open.transport?.close();
  for (const s of open.sockets.splice(0)) s.destroy();
  await new Promise<void>((resolve) => (open.server ? open.server.close(() => resolve()) : resolve()));
  open.server = undefined;
  open.transport = undefined;
});

/**
 * A TCP server that accepts and then does nothing, as a hung process: never reads (so it
 * never answers a FIN either), never writes; resolves its tcp:// URL.
 */
async function silentServer(): Promise<string> {
  const server = createTcpServer((socket) => open.sockets.push(socket.on("error", () => undefined)));
  open.server = server;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const passThrough: Interceptor = (next) => (req) => next(req);

async function codeOf(call: Promise<unknown>): Promise<Code | undefined> {
  try {
    await call;
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(ConnectError);
    return (e as ConnectError).code;
  }
}

const sleep = (ms: number) => new Promise<"still closing">((resolve) => setTimeout(() => resolve("still closing"), ms));

for (const engine of ["net", "uring"] as const) {
  for (const [how, interceptors] of [
    ["without interceptors", [] as Interceptor[]],
    ["behind an interceptor", [passThrough]],
  ] as const) {
    gatedDescribe(`a unary call waiting for its connection (${engine}, ${how})`, engine === "uring" ? uringUnavailable() : undefined, () => {
      it("fails with DeadlineExceeded at its deadline; closing the transport ends the connection at once", async () => {
        open.transport = createUringTransport({ url: await silentServer(), engine, interceptors: [...interceptors] });
        const client = createClient(MarketService, open.transport);
        const started = performance.now();
        expect(await codeOf(client.getQuote({ symbol: "ACME" }, { timeoutMs: 150 }))).toBe(Code.DeadlineExceeded);
        expect(performance.now() - started).toBeGreaterThanOrEqual(140);
        expect(open.sockets.length).toBe(1); // it did connect: the wait was for the handshake
        // Well below the bound a lingering close would wait for the FIN (the channel's
        // CLOSE_DRAIN_MS on node:net, the native engine's 1 s drain on io_uring), whatever
        // the load: the close does not wait.
        const bound = engine === "net" ? CLOSE_DRAIN_MS / 2 : 500;
        expect(await Promise.race([open.transport.close().then(() => "closed"), sleep(bound)])).toBe("closed");
      });

      it("fails with Canceled when the caller aborts", async () => {
        open.transport = createUringTransport({ url: await silentServer(), engine, interceptors: [...interceptors] });
        const client = createClient(MarketService, open.transport);
        const controller = new AbortController();
        const call = client.getQuote({ symbol: "ACME" }, { signal: controller.signal });
        await new Promise((resolve) => setTimeout(resolve, 50));
        controller.abort();
        expect(await codeOf(call)).toBe(Code.Canceled);
      });
    });
  }
}
