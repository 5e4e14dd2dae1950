// A hostile server against the client (issue 21), over each stream channel (uring tcp,
// uring unix, net tcp, net unix): a raw server (raw-server.ts) that passes HELLO and then sends what
// a correct server never would — messages past the flow-control window (empty ones
// included), statuses, CANCEL reasons, GOAWAY messages and metadata beyond their bounds,
// a GOAWAY instead of HELLO, max_header_bytes 0, PINGs it never answers, silence. Each case
// asserts the Connect code the call gets, what the client told the server (its GOAWAY),
// and that the next call works on a new connection. The server side of the same frame
// kinds is in bad-input.test.ts; floods measured for memory are in floods.test.ts; a
// subset over shm:// in shm-session.test.ts.

import { Code } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { describe, expect, it, onTestFinished } from "vitest";
import { Flag, FrameKind } from "../../src/frame/constants.js";
import { encodeEnd, encodeHeaders, encodeMessage, encodePing } from "../../src/frame/frames.js";
import type { Frame } from "../../src/frame/frames.js";
import { NetEngine } from "../../src/channel/net-engine.js";
import { UringEngine } from "../../src/channel/uring-engine.js";
import type { UringTransport, UringTransportOptions } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { NO_METADATA, QUOTE_SEQ_1, answerUnary, attackThenServe, clientOf, emptyMessagesPastWindow, goAwayInsteadOfHello, endWithStatus, expectClientProtocolError, failure } from "./client-attack.js";
import { RawServer } from "./raw-server.js";
import type { RawConnection } from "./raw-server.js";
import { STREAM_CHANNELS, bytesOf, header, le16, le32, sleep, until } from "./support.js";
import type { HostileChannel } from "./support.js";

const enc = new TextEncoder();

function client(channel: HostileChannel, server: RawServer, options: Partial<UringTransportOptions> = {}): { transport: UringTransport; client: Client<typeof MarketService> } {
  return clientOf(server.url, { engine: channel.engine, ...options });
}

for (const channel of STREAM_CHANNELS) {
  gatedDescribe(`hostile server: ${channel.name}`, channel.unavailable?.(), () => {
    describe("flow control: every message costs its frame header", () => {
      it("empty messages past the window (4096 bytes: 512 of them) without CREDIT are a protocol error", () =>
        emptyMessagesPastWindow(
          (script) => RawServer.listen(channel, script),
          (server, options) => client(channel, server, options).client,
        ));
    });

    describe("strings and statuses are bounded (docs/LIMITS.md)", () => {
      it("a status message of 70,000 bytes (above the 64 KiB max_header_bytes) is a protocol error, not the call's error", async () => {
        const text = new Uint8Array(70_000).fill(0x61);
        const server = await RawServer.listen(channel, attackThenServe((conn, start) => conn.send(endWithStatus(start.streamId, [13, ...le32(text.byteLength), ...text, ...le16(0)]))));
        const { client: c } = client(channel, server);
        await expectClientProtocolError(server, c.getQuote({ symbol: "x" }), () => c.getQuote({ symbol: "next" }), /malformed END frame: status of at least 70005 bytes exceeds the announced limit of 65536/);
      });

      it("a status message announced at 30 MiB is refused from its length (nothing decoded)", async () => {
        const server = await RawServer.listen(channel, attackThenServe((conn, start) => conn.send(endWithStatus(start.streamId, [13, ...le32(30 << 20), 0x61]))));
        const { client: c } = client(channel, server);
        await expectClientProtocolError(server, c.getQuote({ symbol: "x" }), () => c.getQuote({ symbol: "next" }), /status of at least 31457285 bytes exceeds the announced limit of 65536/);
      });

      it("65,535 error details are refused from their count", async () => {
        const details = Array.from({ length: 0xffff }, () => [...le16(1), 0x74, ...le32(0)]).flat();
        const server = await RawServer.listen(channel, attackThenServe((conn, start) => conn.send(Uint8Array.from([...header(FrameKind.END, Flag.HAS_HEADERS, start.streamId), ...le16(0), 13, ...le32(0), ...le16(0xffff), ...details, ...le16(0)]))));
        const { client: c } = client(channel, server);
        // 7 bytes of code, message length and count + 65,535 × 6 (the smallest detail).
        await expectClientProtocolError(server, c.getQuote({ symbol: "x" }), () => c.getQuote({ symbol: "next" }), /status of at least 393217 bytes exceeds the announced limit of 65536/);
      });

      it("details within the limit still reach the application", async () => {
        const value = new Uint8Array(100).fill(7);
        const detail = [...le16(4), ...enc.encode("t.v1"), ...le32(value.byteLength), ...value];
        const server = await RawServer.listen(channel, attackThenServe((conn, start) => conn.send(endWithStatus(start.streamId, [9, ...le32(2), 0x6f, 0x6b, ...le16(2), ...detail, ...detail]))));
        const { client: c } = client(channel, server);
        const error = await failure(c.getQuote({ symbol: "x" }));
        expect(error.code).toBe(Code.FailedPrecondition);
        expect(error.rawMessage).toBe("ok");
        expect(error.details).toHaveLength(2);
      });

      it("a CANCEL reason above 4096 bytes is a protocol error", async () => {
        const reason = new Uint8Array(5000).fill(0x61);
        const server = await RawServer.listen(channel, attackThenServe((conn, start) => conn.send(Uint8Array.from([...header(FrameKind.CANCEL, 0, start.streamId), 13, ...le32(reason.byteLength), ...reason]))));
        const { client: c } = client(channel, server);
        await expectClientProtocolError(server, c.getQuote({ symbol: "x" }), () => c.getQuote({ symbol: "next" }), /malformed CANCEL frame: reason of 5000 bytes exceeds the limit of 4096/);
      });

      it("a GOAWAY message above 4096 bytes is a protocol error", async () => {
        const server = await RawServer.listen(channel, attackThenServe((conn) => conn.send(Uint8Array.from([...header(FrameKind.GOAWAY, 0, 0), ...le32(0), 13, ...le32(30 << 20), 0x61]))));
        const { client: c } = client(channel, server);
        await expectClientProtocolError(server, c.getQuote({ symbol: "x" }), () => c.getQuote({ symbol: "next" }), /malformed GOAWAY frame: message of 31457280 bytes exceeds the limit of 4096/);
      });

      it("response headers: 65,535 entries are refused from the count, a 20 MiB value from its length", async () => {
        const server = await RawServer.listen(channel, async (conn, index) => {
          if (index > 1) return answerUnary(conn);
          const start = await conn.next(FrameKind.CALL_START);
          const block = index === 0 ? le16(0xffff) : [...le16(1), ...le16(1), 0x61, ...le32(20 << 20), 0x62];
          await conn.send(Uint8Array.from([...header(FrameKind.HEADERS, 0, start.streamId), ...block]));
        });
        const { client: c } = client(channel, server);
        const flood = await failure(c.getQuote({ symbol: "x" }));
        expect(flood.rawMessage).toMatch(/response headers block of at least 458747 bytes exceeds the announced limit of 65536/);
        const big = await failure(c.getQuote({ symbol: "y" }));
        expect(big.rawMessage).toMatch(/response headers block of at least 20971529 bytes exceeds the announced limit of 65536/);
        expect((await c.getQuote({ symbol: "z" })).sequence).toBe(1n);
      });

      it("trailers: 65,535 entries refused from the count, a 20 MiB value from its length, 1 MiB of entries at the entry crossing the limit", async () => {
        const OK = [0, ...le32(0), ...le16(0)];
        const kib = new Uint8Array(1024).fill(0x76);
        const floods = [
          le16(0xffff),
          [...le16(1), ...le16(1), 0x61, ...le32(20 << 20), 0x62],
          // 1,000 entries of 1,031 bytes: parsing stops at entry 64's value (2 + 64 × 1,031 bytes).
          [...le16(1000), ...Array.from({ length: 1000 }, () => [...le16(1), 0x61, ...le32(kib.byteLength), ...kib]).flat()],
        ];
        const server = await RawServer.listen(channel, async (conn, index) => {
          const flood = floods[index];
          if (flood === undefined) return answerUnary(conn);
          const start = await conn.next(FrameKind.CALL_START);
          await conn.send(endWithStatus(start.streamId, OK, flood));
        });
        const { client: c } = client(channel, server);
        for (const size of [458747, 20971529, 65986]) {
          const error = await failure(c.getQuote({ symbol: "x" }));
          expect(error.code, error.rawMessage).toBe(Code.Internal);
          expect(error.rawMessage).toMatch(new RegExp(`^protocol error: .*trailers block of at least ${size} bytes exceeds the announced limit of 65536`));
        }
        expect((await c.getQuote({ symbol: "z" })).sequence).toBe(1n);
        expect(server.connections.map((conn) => conn.goAway()?.code)).toEqual([Code.Internal, Code.Internal, Code.Internal, undefined]);
      });
    });

    describe("partial frames", () => {
      it("a server that stops half-way through a frame: cut after 2 × sendTimeoutMs; a shared engine's other server keeps serving", async () => {
        const region = { leaseBytes: 1024 * 1024 };
        const engine = channel.engine === "uring" ? new UringEngine({ region }) : new NetEngine({ region });
        onTestFinished(() => engine.close());
        // Announces a frame of most of the client's lease area, sends 1,000 bytes of it, goes silent.
        const hostile = await RawServer.listen(
          channel,
          attackThenServe((conn) => conn.write(Buffer.concat([Buffer.from(le32(900 * 1024)), Buffer.alloc(1000, 7)]))),
        );
        const healthy = await RawServer.listen(channel, async (conn) => {
          for (let from = 0; !conn.isClosed; ) {
            await answerUnary(conn, from);
            from = conn.frames.length;
          }
        });
        const baseline = engine.region.stats().liveLeases;
        const victim = client(channel, hostile, { engine, sendTimeoutMs: 200 }).client;
        const bystander = client(channel, healthy, { engine }).client;
        const error = await failure(victim.getQuote({ symbol: "x" }));
        expect(error.code).toBe(Code.Unavailable);
        expect(error.rawMessage).toMatch(/peer stopped in the middle of a frame: 1004 bytes of it arrived/);
        expect(await hostile.connections[0]?.closedWithin(5000)).toBe(true);
        await until(() => engine.region.stats().liveLeases <= baseline, 5000, "the reassembly lease to come back");
        expect((await bystander.getQuote({ symbol: "y" })).sequence).toBe(1n);
        expect((await victim.getQuote({ symbol: "next" })).sequence).toBe(1n);
      });
    });

    describe("handshake", () => {
      it("a GOAWAY instead of HELLO: the call fails with its code and message; the client answers nothing", () =>
        goAwayInsteadOfHello(
          (script) => RawServer.listen(channel, script, false),
          (server) => client(channel, server).client,
        ));

      it("max_header_bytes 0 in the server's HELLO is a protocol error at the handshake", async () => {
        const server = await RawServer.listen(
          channel,
          async (conn) => {
            await conn.next(FrameKind.HELLO);
            await conn.hello({ maxHeaderBytes: 0 });
          },
          false,
        );
        const { client: c } = client(channel, server);
        const error = await failure(c.getQuote({ symbol: "x" }));
        expect(error.code).toBe(Code.Unavailable);
        expect(error.rawMessage).toMatch(/protocol error: malformed HELLO frame: limits must be positive/);
        const conn = server.connections[0] as RawConnection;
        expect(await conn.closedWithin(5000)).toBe(true);
        expect(conn.goAway()).toMatchObject({ code: Code.Internal });
      });
    });

    describe("ping and keepalive", () => {
      it("transport.ping() against a server that ignores PING: DeadlineExceeded after its timeout, Canceled on its signal", async () => {
        let conn: RawConnection | undefined;
        const server = await RawServer.listen(channel, async (c) => {
          conn = c;
          await answerUnary(c);
        });
        const { transport, client: c } = client(channel, server);
        const timedOut = await failure(transport.ping({ timeoutMs: 200 }));
        expect(timedOut.code).toBe(Code.DeadlineExceeded);
        const pingsSeen = (): number => conn?.frames.filter((f) => f.kind === FrameKind.PING).length ?? 0;
        const before = pingsSeen();
        const abort = new AbortController();
        const pending = transport.ping({ timeoutMs: 0, signal: abort.signal });
        await until(() => pingsSeen() > before, 5000, "the second PING");
        abort.abort();
        expect((await failure(pending)).code).toBe(Code.Canceled);
        // PONGs that come after their pings were given up are not protocol errors.
        await conn?.send(bytesOf(encodePing(FrameKind.PONG, before + 1)));
        expect((await c.getQuote({ symbol: "after" })).sequence).toBe(1n);
        expect(server.connections).toHaveLength(1);
      });

      it("keepalive: a server silent after HELLO is closed once its PING goes unanswered; the call fails Unavailable", async () => {
        const server = await RawServer.listen(channel, async (conn) => {
          const start = await conn.next(FrameKind.CALL_START);
          await conn.send(bytesOf(encodeHeaders(start.streamId, NO_METADATA, undefined)));
        });
        const { client: c } = client(channel, server, { keepaliveMs: 100, keepaliveTimeoutMs: 200 });
        const call = (async () => {
          for await (const _ of c.subscribe({ symbols: ["A"] }));
        })();
        const error = await failure(call);
        expect(error.code).toBe(Code.Unavailable);
        expect(error.rawMessage).toMatch(/no PONG within 200 ms of a keepalive PING/);
        const conn = server.connections[0] as RawConnection;
        expect(conn.kinds()).toContain(FrameKind.PING);
        expect(await conn.closedWithin(5000)).toBe(true);
      });

      it("keepalive: a server that answers PINGs keeps its quiet call open", async () => {
        let pings = 0;
        const server = await RawServer.listen(channel, async (conn) => {
          const start = await conn.next(FrameKind.CALL_START);
          await conn.send(bytesOf(encodeHeaders(start.streamId, NO_METADATA, undefined)));
          for (let seen = 0; pings < 3 && !conn.isClosed; ) {
            const frames = conn.frames.filter((f): f is Extract<Frame, { kind: typeof FrameKind.PING }> => f.kind === FrameKind.PING);
            for (; seen < frames.length; seen++) await conn.send(bytesOf(encodePing(FrameKind.PONG, (frames[seen] as { id: number }).id)));
            pings = seen;
            await sleep(10);
          }
          await conn.send(bytesOf(encodeMessage(start.streamId, QUOTE_SEQ_1, false)), bytesOf(encodeEnd(start.streamId, { headers: undefined, message: undefined, status: { code: 0, message: "", details: [] }, trailers: NO_METADATA })));
        });
        const { client: c } = client(channel, server, { keepaliveMs: 50, keepaliveTimeoutMs: 1000 });
        const got: bigint[] = [];
        for await (const q of c.subscribe({ symbols: ["A"] })) got.push(q.sequence);
        expect(pings).toBeGreaterThanOrEqual(3);
        expect(got).toEqual([1n]);
      });
    });
  });
}
