// The pieces of a hostile server's attack on our client (issue 21), shared by the suite
// over the byte-stream channels (client-bad-input.test.ts, raw-server.ts) and the one over
// shm:// (shm-session.test.ts, channel-raw-peer.ts): a correct answer, "attack on the first
// connection, serve the later ones", the raw END with a status the test writes, what a
// protocol error detected by the client must look like, and two whole attacks: empty
// messages past the flow-control window, a GOAWAY instead of HELLO.

import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { expect, onTestFinished } from "vitest";
import { Flag, FrameKind } from "../../src/frame/constants.js";
import { encodeEnd, encodeGoAway, encodeHeaders, encodeMessage, encodePing } from "../../src/frame/frames.js";
import type { Frame } from "../../src/frame/frames.js";
import { prepareMetadata } from "../../src/frame/metadata.js";
import { createUringTransport } from "../../src/index.js";
import type { UringTransport, UringTransportOptions } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import type { RawLink, Script } from "./raw-link.js";
import { bytesOf, header, le16, until } from "./support.js";

type CallStart = Extract<Frame, { kind: typeof FrameKind.CALL_START }>;

export const QUOTE_SEQ_1 = new Uint8Array([0x38, 0x01]); // Quote{sequence: 1}
export const NO_METADATA = prepareMetadata(undefined);

/** A transport to `url` (closed when the test ends) and a MarketService client on it. */
export function clientOf(url: string, options: Partial<UringTransportOptions> = {}): { transport: UringTransport; client: Client<typeof MarketService> } {
  const transport = createUringTransport({ url, ...options });
  onTestFinished(() => transport.close());
  return { transport, client: createClient(MarketService, transport) };
}

/** Answers the next call on `conn` like a correct server: END with headers, Quote{sequence: 1}, OK. */
export async function answerUnary(conn: RawLink, from = 0): Promise<void> {
  const start = await conn.next(FrameKind.CALL_START, 5000, from);
  await conn.send(bytesOf(encodeEnd(start.streamId, { headers: NO_METADATA, message: QUOTE_SEQ_1, status: { code: 0, message: "", details: [] }, trailers: NO_METADATA })));
}

/** Connection 0 runs `attack` on the first call; every later connection answers correctly. */
export function attackThenServe<C extends RawLink>(attack: (conn: C, start: CallStart) => Promise<unknown>): Script<C> {
  return async (conn, index) => {
    if (index > 0) {
      await answerUnary(conn);
      return;
    }
    await attack(conn, await conn.next(FrameKind.CALL_START));
  };
}

export async function failure(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("the call succeeded");
}

/**
 * The attacked call fails Internal "protocol error: …" matching `message`, the client sent
 * GOAWAY(Internal) with the same text and closed the connection, and the next call works
 * (on a new connection).
 */
export async function expectClientProtocolError(server: { connections: RawLink[] }, call: Promise<unknown>, next: () => Promise<unknown>, message: RegExp): Promise<void> {
  const error = await failure(call);
  expect(error.code, error.rawMessage).toBe(Code.Internal);
  expect(error.rawMessage).toMatch(/^protocol error: /);
  expect(error.rawMessage).toMatch(message);
  const attacked = server.connections[0] as RawLink;
  expect(await attacked.closedWithin(5000), "the client closed the attacked connection").toBe(true);
  expect(attacked.goAway()).toMatchObject({ code: Code.Internal });
  expect(attacked.goAway()?.message).toMatch(message);
  expect(attacked.malformed).toEqual([]);
  await next();
  expect(server.connections.length, "the next call reconnected").toBe(2);
}

/** An END with headers, the status bytes the test writes, and the trailers block (default: none). */
export function endWithStatus(streamId: number, status: number[], trailers: number[] = le16(0)): Uint8Array {
  return Uint8Array.from([...header(FrameKind.END, Flag.HAS_HEADERS, streamId), ...le16(0), ...status, ...trailers]);
}

/**
 * Empty messages past a window of 4,096 bytes (512 of them), without CREDIT: the client
 * takes the first message, then reads nothing until the server sent the window (a PING
 * answered after it shows the connection still fine) and one message more; that one is a
 * protocol error, every message inside the window was delivered first, and no CREDIT went
 * back (1 message × 8 bytes is under half the window).
 */
export async function emptyMessagesPastWindow<C extends RawLink, S extends { url: string; connections: C[] }>(
  listen: (script: Script<C>) => Promise<S>,
  connect: (server: S, options: Partial<UringTransportOptions>) => Client<typeof MarketService>,
): Promise<void> {
  const W = 4096;
  let sentAll = false;
  const server = await listen(
    attackThenServe(async (conn, start) => {
      const empty = bytesOf(encodeMessage(start.streamId, new Uint8Array(0), false));
      await conn.send(bytesOf(encodeHeaders(start.streamId, NO_METADATA, undefined)), ...Array.from({ length: W / 8 }, () => empty));
      await conn.send(bytesOf(encodePing(FrameKind.PING, 7)));
      await conn.next(FrameKind.PONG);
      sentAll = true;
      await conn.send(empty);
    }),
  );
  const c = connect(server, { initialWindowBytes: W });
  const it = c.subscribe({ symbols: ["A"] })[Symbol.asyncIterator]();
  const first = await it.next();
  expect(first.done).toBe(false);
  await until(() => sentAll, 10_000, "the server to send the window and one more message");
  expect(await server.connections[0]?.closedWithin(5000), "the client closed the connection").toBe(true);
  let received = 1;
  const rest = (async () => {
    for (;;) {
      const r = await it.next();
      if (r.done === true) return;
      received++;
    }
  })();
  await expectClientProtocolError(server, rest, () => c.getQuote({ symbol: "next" }), /flow-control window exceeded/);
  expect(received, "the messages inside the window were all delivered before the error").toBe(W / 8);
  expect(server.connections[0]?.frames.filter((f) => f.kind === FrameKind.CREDIT)).toEqual([]);
}

/**
 * A server that answers HELLO with GOAWAY (as ours does on a version mismatch): the call
 * fails with the GOAWAY's code and message, and the client sends nothing after its HELLO
 * (no GOAWAY(Internal) back).
 */
export async function goAwayInsteadOfHello<C extends RawLink, S extends { url: string; connections: C[] }>(
  listenWithoutHello: (script: Script<C>) => Promise<S>,
  connect: (server: S) => Client<typeof MarketService>,
): Promise<void> {
  const reason = "unsupported protocol version: peer speaks 1..1, this server 2..2";
  const server = await listenWithoutHello(async (conn) => {
    await conn.next(FrameKind.HELLO);
    await conn.send(bytesOf(encodeGoAway(0, Code.FailedPrecondition, reason)));
  });
  const error = await failure(connect(server).getQuote({ symbol: "x" }));
  expect(error.code).toBe(Code.FailedPrecondition);
  expect(error.rawMessage).toContain(reason);
  const conn = server.connections[0] as C;
  expect(await conn.closedWithin(5000)).toBe(true);
  expect(conn.kinds(), "only the client's HELLO: no GOAWAY(13) back").toEqual([FrameKind.HELLO]);
}
