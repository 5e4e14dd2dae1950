// Every way a call can fail reaches its caller through the call, and nowhere else: for
// each RPC kind × each failure (a limit exceeded on either side, cancel, deadline, the
// peer gone, server or transport closed, an interceptor failing on either side), the
// call fails with the failure's code, and no promise rejects with nobody attached, on the
// client's side or the server's (test/support/unhandled-trap.ts). Calls are read the way
// connect-es's clients let an application read them: half-duplex, the responses only
// after the failure happened (connect-es's client attaches to transport.stream()'s
// promise at the first read). Runs over memory:// and io_uring (tcp).

import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Client, Interceptor } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { ChannelEngine } from "../../src/channel/channel.js";
import { UringEngine, createMemoryEngine, createServer, createUringTransport } from "../../src/index.js";
import type { Server, ServerOptions, UringTransport, UringTransportOptions } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { listenUrl, uringUnavailable } from "../channel/engines.js";
import { until } from "../hostile/support.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { trapUnhandled } from "../support/unhandled-trap.js";
import { ServerLog, marketRoutes, sleep } from "./market-service.js";
import { pushable } from "./transport-suite.js";

type MarketClient = Client<typeof MarketService>;

/** Message size of the calls: well above the small limits the failures set. */
const SIZE = 1000;
const SMALL_LIMIT = 100;

interface CallOptions {
  /** The server does not finish the call by itself (a slow handler, an endless stream, requests left open). */
  park: boolean;
  signal: AbortSignal;
  timeoutMs?: number;
}

/** A started call; outcome() reads it (the first read for streams) and gives its error, if any. */
type Start = (client: MarketClient, options: CallOptions) => () => Promise<unknown>;

async function errorOf(read: () => Promise<void>): Promise<unknown> {
  try {
    await read();
    return undefined;
  } catch (e) {
    return e;
  }
}

async function drain(it: AsyncIterator<unknown>): Promise<void> {
  while ((await it.next()).done !== true) {
    // keep reading
  }
}

function order(): { clientOrderId: string; symbol: string; quantity: bigint; signature: Uint8Array } {
  // The id comes back in a client stream's summary, the signature in a bidi stream's acks.
  return { clientOrderId: "o".repeat(SIZE), symbol: "IBM", quantity: 1n, signature: new Uint8Array(SIZE).fill(1) };
}

const KINDS: { kind: string; start: Start }[] = [
  {
    kind: "unary",
    start(client, { park, signal, timeoutMs }) {
      // createClient's unary function is the caller's own promise: attached at once, as an application awaits it.
      const result = errorOf(async () => {
        await client.getQuote({ symbol: "U", payload: new Uint8Array(SIZE), delayMs: park ? 10_000 : 0 }, { signal, timeoutMs });
      });
      return () => result;
    },
  },
  {
    kind: "server streaming",
    start(client, { park, signal, timeoutMs }) {
      const it = client.subscribe({ symbols: ["x".repeat(SIZE)], count: park ? 0 : 2, intervalMs: park ? 20 : 0 }, { signal, timeoutMs })[Symbol.asyncIterator]();
      return () => errorOf(() => drain(it));
    },
  },
  {
    kind: "client streaming",
    start(client, { park, signal, timeoutMs }) {
      const requests = pushable<ReturnType<typeof order>>();
      requests.push(order());
      if (!park) requests.end();
      const result = errorOf(async () => {
        await client.submitOrders(requests, { signal, timeoutMs });
      });
      return () => result;
    },
  },
  {
    kind: "bidi (half-duplex: sends, then reads)",
    start(client, { park, signal, timeoutMs }) {
      const requests = pushable<ReturnType<typeof order>>();
      requests.push(order());
      if (!park) requests.end();
      const it = client.trade(requests, { signal, timeoutMs })[Symbol.asyncIterator]();
      return () => errorOf(() => drain(it));
    },
  },
];

interface Live {
  server: Server;
  serverEngine: ChannelEngine;
  clientEngine: ChannelEngine;
  transport: UringTransport;
  abort(): void;
}

const rejecting: Interceptor = () => async () => {
  await sleep(1);
  throw new ConnectError("interceptor says no", Code.PermissionDenied);
};
const throwing: Interceptor = () => () => {
  throw new ConnectError("interceptor says no", Code.PermissionDenied);
};

interface Failure {
  failure: string;
  code: Code;
  server?: Partial<ServerOptions>;
  transport?: Partial<UringTransportOptions>;
  park?: boolean;
  timeoutMs?: number;
  act?(live: Live): unknown;
}

const FAILURES: Failure[] = [
  { failure: "request over the transport's writeMaxBytes", code: Code.ResourceExhausted, transport: { writeMaxBytes: SMALL_LIMIT } },
  { failure: "request over the server's readMaxBytes", code: Code.ResourceExhausted, server: { readMaxBytes: SMALL_LIMIT } },
  { failure: "response over the transport's readMaxBytes", code: Code.ResourceExhausted, transport: { readMaxBytes: SMALL_LIMIT } },
  { failure: "response over the server's writeMaxBytes", code: Code.ResourceExhausted, server: { writeMaxBytes: SMALL_LIMIT } },
  { failure: "cancel (AbortSignal)", code: Code.Canceled, park: true, act: (live) => live.abort() },
  { failure: "deadline", code: Code.DeadlineExceeded, park: true, timeoutMs: 50 },
  { failure: "peer gone (the server's engine closed)", code: Code.Unavailable, park: true, act: (live) => live.serverEngine.close() },
  { failure: "peer gone (the client's engine closed)", code: Code.Unavailable, park: true, act: (live) => live.clientEngine.close() },
  { failure: "server closed", code: Code.Unavailable, park: true, act: (live) => live.server.close(0) },
  { failure: "transport closed", code: Code.Canceled, park: true, act: (live) => live.transport.close() },
  { failure: "a client interceptor rejects", code: Code.PermissionDenied, transport: { interceptors: [rejecting] } },
  { failure: "a client interceptor throws synchronously", code: Code.PermissionDenied, transport: { interceptors: [throwing] } },
  { failure: "a server interceptor rejects", code: Code.PermissionDenied, server: { interceptors: [rejecting] } },
];

const TARGETS: { name: string; unavailable?: () => string | undefined; url(): string; engine(): ChannelEngine }[] = [
  { name: "memory", url: () => `memory://no-unhandled-${process.pid}-${++names}`, engine: () => createMemoryEngine() },
  { name: "uring-tcp", unavailable: uringUnavailable, url: () => listenUrl("tcp"), engine: () => new UringEngine() },
];
let names = 0;

describe("the trap", () => {
  it("catches a rejection nobody handles", async () => {
    // Checked by hand here: the trap must see what it exists to see.
    const seen: unknown[] = [];
    const listener = (reason: unknown): void => {
      seen.push(reason);
    };
    process.on("unhandledRejection", listener);
    try {
      const trap = trapUnhandled();
      void Promise.reject(new Error("nobody listens"));
      await expect(trap.check()).rejects.toThrow(/unhandled rejection: Error: nobody listens/);
    } finally {
      process.off("unhandledRejection", listener);
    }
    expect(seen).toHaveLength(1);
  });
});

for (const target of TARGETS) {
  gatedDescribe(`no unhandled rejection: ${target.name}`, target.unavailable?.(), () => {
    for (const { kind, start } of KINDS) {
      for (const f of FAILURES) {
        it(`${kind} × ${f.failure} → ${Code[f.code]} through the call only`, async () => {
          const trap = trapUnhandled();
          const serverEngine = target.engine();
          const log = new ServerLog();
          const server = createServer({ routes: marketRoutes(log), engine: serverEngine, ...f.server });
          const url = await server.listen(target.url());
          const clientEngine = target.engine();
          const transport = createUringTransport({ url, engine: clientEngine, ...f.transport });
          const controller = new AbortController();
          const live: Live = { server, serverEngine, clientEngine, transport, abort: () => controller.abort() };
          try {
            const outcome = start(createClient(MarketService, transport), { park: f.park ?? false, signal: controller.signal, timeoutMs: f.timeoutMs });
            await sleep(30); // the call is in flight
            if (f.act !== undefined) {
              await until(() => log.started.size > 0, 5000, "its handler to start");
              await f.act(live);
            }
            await sleep((f.timeoutMs ?? 0) + 50); // the failure has happened; nobody has read yet
            const error = await outcome();
            expect(error, "the call fails").toBeInstanceOf(Error);
            expect(Code[ConnectError.from(error).code]).toBe(Code[f.code]);
          } finally {
            await transport.close();
            await server.close(0);
            await serverEngine.close();
            await clientEngine.close();
          }
          await trap.check();
        });
      }
    }
  });
}
