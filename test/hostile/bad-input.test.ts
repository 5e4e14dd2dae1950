// Bad input at every layer, from a raw peer against a live server over each stream channel
// (uring tcp, uring unix, net tcp) — the cases of issue 6 that test/frame/session.test.ts
// (memory engine), the transport suite's "malformed frames" and the channel suite's
// misbehaving peers do not already cover: lengths beyond limits and beyond the frame,
// every truncation of a CALL_START, unknown and ended stream ids, frames after close,
// invalid UTF-8 and bad tokens in paths and metadata, header floods, rapid reset (streams
// opened and cancelled at once), handshake and idle timeouts with slow senders, mangled
// method paths and authority headers, extreme timeouts. Each case asserts what the peer
// gets (a GOAWAY naming the protocol error, an END with a Connect code, or a connection
// that stays usable), and a well-behaved client on another connection keeps working.

import { Code } from "@connectrpc/connect";
import { describe, expect, it, onTestFinished } from "vitest";
import { Flag, FrameKind } from "../../src/frame/constants.js";
import {
  encodeCallStart,
  encodeCancel,
  encodeCredit,
  encodeGoAway,
  encodeHalfClose,
  encodeMessage,
} from "../../src/frame/frames.js";
import type { Frame } from "../../src/frame/frames.js";
import { prepareMetadata } from "../../src/frame/metadata.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { gatedDescribe } from "../support/capability-gate.js";
import {
  CHANNELS,
  RawPeer,
  SteadyClient,
  boundedRoutes,
  bytesOf,
  framed,
  header,
  helloBytes,
  le16,
  le32,
  liveLeases,
  liveServer,
  sleep,
  until,
} from "./support.js";
import type { HostileChannel, LiveServer } from "./support.js";

const GET_QUOTE = "/market.v1.MarketService/GetQuote";
const TRADE = "/market.v1.MarketService/Trade";
const SUBMIT_ORDERS = "/market.v1.MarketService/SubmitOrders";
const QUOTE_A = new Uint8Array([0x0a, 0x01, 0x41]); // GetQuoteRequest{symbol:"A"}
const enc = new TextEncoder();

// ---- raw frame builders (for bytes the encoders refuse to produce) -------------------

/** Metadata block from raw name/value bytes; `count` may lie. */
function metadataRaw(entries: [Uint8Array | string, Uint8Array | string][], count = entries.length): number[] {
  const out = [...le16(count)];
  for (const [n, v] of entries) {
    const name = typeof n === "string" ? enc.encode(n) : n;
    const value = typeof v === "string" ? enc.encode(v) : v;
    out.push(...le16(name.byteLength), ...name, ...le32(value.byteLength), ...value);
  }
  return out;
}
/** CALL_START from raw parts (no HAS_MESSAGE unless `message`). */
function callStartRaw(id: number, path: Uint8Array | string, md: number[] = metadataRaw([]), message?: Uint8Array, timeout?: number): Uint8Array {
  const p = typeof path === "string" ? enc.encode(path) : path;
  let flags = Flag.END_STREAM;
  if (message !== undefined) flags |= Flag.HAS_MESSAGE;
  if (timeout !== undefined) flags |= Flag.HAS_TIMEOUT;
  return Uint8Array.from([
    ...header(FrameKind.CALL_START, flags, id),
    ...(timeout !== undefined ? le32(timeout) : []),
    ...le16(p.byteLength),
    ...p,
    ...md,
    ...(message ?? []),
  ]);
}
/** A unary GetQuote whose request carries `payload` bytes (field 2, bytes). */
function unaryWithPayload(id: number, payload: number): Uint8Array {
  const request = Uint8Array.from([0x0a, 0x01, 0x41, 0x12, ...varint(payload), ...new Uint8Array(payload)]);
  return bytesOf(encodeCallStart(id, GET_QUOTE, prepareMetadata(undefined), undefined, request, true));
}
function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n >>>= 7) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return out;
}
function unary(id: number, path = GET_QUOTE, headers?: Headers, timeout?: number): Uint8Array {
  return bytesOf(encodeCallStart(id, path, prepareMetadata(headers), timeout, QUOTE_A, true));
}

type End = Extract<Frame, { kind: typeof FrameKind.END; halfClose: false }>;
function endOf(peer: RawPeer, id: number): End | undefined {
  return peer.frames().find((f): f is End => f.kind === FrameKind.END && !f.halfClose && f.streamId === id);
}

// ---- scenario runner -------------------------------------------------------------------

/** Connects, sends HELLO (unless `noHello`) and the frames, each with the channel framing. */
async function attack(live: LiveServer, frames: Uint8Array[], noHello = false): Promise<RawPeer> {
  const peer = await RawPeer.connect(live.url);
  const bytes = [...(noHello ? [] : [helloBytes()]), ...frames].map((f) => framed(f));
  await peer.write(Buffer.concat(bytes));
  return peer;
}

/** The peer gets GOAWAY(Internal, "protocol error: …" matching `message`) and is closed. */
async function expectProtocolError(peer: RawPeer, message: RegExp): Promise<void> {
  expect(await peer.closedWithin(5000), "the server closes the connection").toBe(true);
  const goAway = peer.goAway();
  expect(goAway, `a GOAWAY says why; got ${JSON.stringify(peer.frames().map((f) => f.kind))}`).toBeDefined();
  expect(goAway?.code).toBe(Code.Internal);
  expect(goAway?.message).toMatch(/^protocol error: /);
  expect(goAway?.message).toMatch(message);
  expect(peer.malformed()).toEqual([]);
}

/** The connection is still usable: a PING is answered, nothing closed it. */
async function expectAlive(peer: RawPeer): Promise<void> {
  expect(await peer.pingPong(77, 5000), `PING answered; server sent ${JSON.stringify(peer.frames().map((f) => f.kind))}`).toBe(true);
  expect(peer.isClosed).toBe(false);
  expect(peer.goAway()).toBeUndefined();
}

async function withSteady(channel: HostileChannel, live: LiveServer, body: () => Promise<void>): Promise<void> {
  const steady = new SteadyClient(live.url, channel.engine).start(1);
  await until(() => steady.ok > 0, 10_000, "the well-behaved client's first call");
  const before = steady.ok;
  await body();
  await until(() => steady.ok > before, 10_000, "a call of the well-behaved client after the attack");
  const { errors } = await steady.stop();
  expect(errors, "the well-behaved client never failed").toEqual([]);
}

interface Case {
  name: string;
  frames: () => Uint8Array[];
  error: RegExp;
  noHello?: boolean;
}

/** Malformed frames: each closes its connection with GOAWAY naming the problem. */
const MALFORMED: Case[] = [
  // Lengths beyond the frame.
  { name: "path length beyond the frame", frames: () => [Uint8Array.from([...header(2, Flag.END_STREAM, 1), ...le16(0xffff), 0x2f, 0x61])], error: /malformed CALL_START frame: path needs 65535 bytes, 2 left/ },
  // A length above the limit is refused before it is checked against the frame (issue 21).
  { name: "metadata value length 2^32-1", frames: () => [callStartRaw(1, GET_QUOTE, [...le16(1), ...le16(1), 0x61, ...le32(0xffff_ffff), 1, 2])], error: /request headers block of at least 4294967304 bytes exceeds the announced limit of 65536/ },
  { name: "metadata value length beyond the frame", frames: () => [callStartRaw(1, GET_QUOTE, [...le16(1), ...le16(1), 0x61, ...le32(1000), 1, 2])], error: /request headers value needs 1000 bytes, 2 left/ },
  { name: "metadata count 65535 with no entries", frames: () => [callStartRaw(1, GET_QUOTE, le16(0xffff))], error: /request headers block of at least 458747 bytes exceeds the announced limit of 65536/ },
  { name: "metadata count 100 with no entries", frames: () => [callStartRaw(1, GET_QUOTE, le16(100))], error: /request headers name length needs 2 bytes, 0 left/ },
  { name: "CANCEL reason length beyond the frame", frames: () => [bytesOf(encodeCallStart(1, TRADE, prepareMetadata(undefined), undefined, undefined, false)), Uint8Array.from([...header(6, 0, 1), 1, ...le32(1000), 0x61])], error: /malformed CANCEL frame: reason needs 1000 bytes, 1 left/ },
  { name: "HAS_TIMEOUT without the timeout", frames: () => [Uint8Array.from([...header(2, Flag.HAS_TIMEOUT, 1), 0x01, 0x02])], error: /malformed CALL_START frame: timeout needs 4 bytes, 2 left/ },
  { name: "HELLO announcing zero limits", frames: () => [helloBytes({ maxMessageBytes: 0 })], noHello: true, error: /limits must be positive/ },
  { name: "HELLO announcing max_header_bytes 0", frames: () => [helloBytes({ maxHeaderBytes: 0 })], noHello: true, error: /limits must be positive/ },
  // Strings bounded by MAX_REASON_BYTES (4096), refused from their length alone (issue 21).
  { name: "a CANCEL reason above 4096 bytes", frames: () => [bytesOf(encodeCallStart(1, TRADE, prepareMetadata(undefined), undefined, undefined, false)), Uint8Array.from([...header(6, 0, 1), 1, ...le32(4097), ...new Uint8Array(4097).fill(0x61)])], error: /malformed CANCEL frame: reason of 4097 bytes exceeds the limit of 4096/ },
  { name: "a GOAWAY message of 30 MiB announced", frames: () => [Uint8Array.from([...header(10, 0, 0), ...le32(0), 13, ...le32(30 << 20), 0x61])], error: /malformed GOAWAY frame: message of 31457280 bytes exceeds the limit of 4096/ },
  { name: "trailing bytes after a CREDIT", frames: () => [bytesOf(encodeCallStart(1, TRADE, prepareMetadata(undefined), undefined, undefined, false)), Uint8Array.from([...header(7, 0, 1), ...le32(10), 0])], error: /1 unexpected trailing bytes/ },
  { name: "reserved bits set", frames: () => [Uint8Array.from([8, 0, 1, 0, 0, 0, 0, 0, ...le32(1), ...le32(0)])], error: /reserved bits set/ },
  { name: "a flag the kind does not allow", frames: () => [Uint8Array.from([8, 0x80, 0, 0, 0, 0, 0, 0, ...le32(1), ...le32(0)])], error: /flags 0x80 not allowed/ },
  // Unknown stream ids (above the last one opened: never seen).
  { name: "END for a stream never opened", frames: () => [bytesOf(encodeHalfClose(7))], error: /frame kind 5 for unknown stream 7/ },
  { name: "CANCEL for a stream never opened", frames: () => [bytesOf(encodeCancel(9, Code.Canceled, ""))], error: /frame kind 6 for unknown stream 9/ },
  { name: "CREDIT for a stream never opened", frames: () => [bytesOf(encodeCredit(3, 100))], error: /frame kind 7 for unknown stream 3/ },
  { name: "CALL_START on stream 0", frames: () => [callStartRaw(0, GET_QUOTE)], error: /stream id 0 is reserved for connection frames/ },
  { name: "PONG without a PING", frames: () => [Uint8Array.from([9, 0, 0, 0, 0, 0, 0, 0, ...le32(5), ...le32(0)])], error: /PONG 5 without a PING/ },
  // Frames after close.
  { name: "MESSAGE after half-close", frames: () => [bytesOf(encodeCallStart(1, TRADE, prepareMetadata(undefined), undefined, undefined, false)), bytesOf(encodeHalfClose(1)), bytesOf(encodeMessage(1, QUOTE_A, false))], error: /MESSAGE after half-close on stream 1/ },
  { name: "a second half-close", frames: () => [bytesOf(encodeCallStart(1, TRADE, prepareMetadata(undefined), undefined, undefined, false)), bytesOf(encodeHalfClose(1)), bytesOf(encodeHalfClose(1))], error: /second half-close on stream 1/ },
  { name: "a second HELLO", frames: () => [helloBytes()], error: /second HELLO/ },
  // Invalid UTF-8 and bad tokens.
  { name: "path with a byte that is never UTF-8", frames: () => [callStartRaw(1, Uint8Array.from([0x2f, 0xff]))], error: /path is not valid UTF-8/ },
  { name: "path with an overlong encoding", frames: () => [callStartRaw(1, Uint8Array.from([0x2f, 0xc0, 0xaf]))], error: /path is not valid UTF-8/ },
  { name: "path with a lone surrogate", frames: () => [callStartRaw(1, Uint8Array.from([0x2f, 0xed, 0xa0, 0x80]))], error: /path is not valid UTF-8/ },
  { name: "metadata name cut inside a character", frames: () => [callStartRaw(1, GET_QUOTE, metadataRaw([[Uint8Array.from([0xc3]), "v"]]))], error: /request headers name is not valid UTF-8/ },
  { name: "metadata value with a lone surrogate", frames: () => [callStartRaw(1, GET_QUOTE, metadataRaw([["x-a", Uint8Array.from([0xed, 0xa0, 0x80])]]))], error: /request headers value is not valid UTF-8/ },
  { name: "an upper-case metadata name", frames: () => [callStartRaw(1, GET_QUOTE, metadataRaw([["X-A", "v"]]))], error: /name "X-A" is not a lower-case HTTP token/ },
  { name: "a pseudo-header name (:authority)", frames: () => [callStartRaw(1, GET_QUOTE, metadataRaw([[":authority", "evil.example"]]))], error: /name ":authority" is not a lower-case HTTP token/ },
  { name: "a metadata value with CR LF (header injection)", frames: () => [callStartRaw(1, GET_QUOTE, metadataRaw([["x-a", "v\r\nx-b: injected"]]))], error: /value of "x-a" is not a valid header value/ },
  { name: "a metadata value with NUL", frames: () => [callStartRaw(1, GET_QUOTE, metadataRaw([["host", "a\u0000b"]]))], error: /value of "host" is not a valid header value/ },
  { name: "a CANCEL reason that is not UTF-8", frames: () => [bytesOf(encodeCallStart(1, TRADE, prepareMetadata(undefined), undefined, undefined, false)), Uint8Array.from([...header(6, 0, 1), 1, ...le32(2), 0xc3, 0x28])], error: /reason is not valid UTF-8/ },
];

for (const channel of CHANNELS) {
  gatedDescribe(`hostile input: ${channel.name}`, channel.unavailable?.(), () => {
    describe("malformed frames close only their connection, with GOAWAY naming the problem", () => {
      it("every case, one connection each, while another client is served", async () => {
        const live = await liveServer(channel, {}, boundedRoutes());
        await withSteady(channel, live, async () => {
          for (const c of MALFORMED) {
            const peer = await attack(live, c.frames(), c.noHello);
            try {
              await expectProtocolError(peer, c.error);
            } catch (e) {
              throw new Error(`case "${c.name}": ${(e as Error).message}`, { cause: e });
            }
          }
        });
        await until(() => live.server.stats().connections <= 1, 5000, "every hostile connection closed (the well-behaved one may stay)");
      });

      it("every truncation of a CALL_START (with timeout, path, metadata) is malformed", async () => {
        const live = await liveServer(channel, {}, boundedRoutes());
        const full = bytesOf(encodeCallStart(1, GET_QUOTE, prepareMetadata(new Headers({ "x-a": "1", "x-bb": "22" })), 5000, undefined, true));
        for (let n = 0; n < full.byteLength; n++) {
          const peer = await attack(live, [full.subarray(0, n)]);
          await expectProtocolError(peer, n < 8 ? /shorter than the 8-byte header/ : /malformed CALL_START frame: .* needs \d+ bytes/);
        }
        // The whole frame is fine.
        const peer = await attack(live, [full]);
        await until(() => endOf(peer, 1) !== undefined, 5000, "the END of the complete call");
        expect(endOf(peer, 1)?.status.code).toBe(Code.Unimplemented); // no message for a unary method
      });

      it("a length prefix above maxFrameBytes closes the connection at the channel layer", async () => {
        const live = await liveServer(channel, { maxFrameBytes: 4096 }, boundedRoutes());
        await withSteady(channel, live, async () => {
          const peer = await RawPeer.connect(live.url);
          await peer.write(Buffer.concat([framed(helloBytes()), framed(new Uint8Array(16), 4097)]));
          expect(await peer.closedWithin(5000)).toBe(true);
          // A channel error: no protocol frame explains it (the HELLO reply may or may not have left first).
          expect(peer.goAway()).toBeUndefined();
          expect(peer.frames().filter((f) => f.kind !== FrameKind.HELLO)).toEqual([]);
        });
      });

      it("a length prefix beyond the bytes sent, then FIN: closed, nothing delivered", async () => {
        const live = await liveServer(channel, {}, boundedRoutes());
        const peer = await RawPeer.connect(live.url);
        await peer.write(Buffer.concat([framed(helloBytes()), framed(unary(1)).subarray(0, 12)]));
        await sleep(100);
        expect(peer.isClosed).toBe(false);
        expect(await peer.finish(5000)).toBe(true);
        expect(peer.frames().some((f) => f.kind === FrameKind.END)).toBe(false);
      });
    });

    describe("late and foreign stream ids", () => {
      it("frames for a stream that already ended are dropped; the connection stays", async () => {
        const live = await liveServer(channel, {}, boundedRoutes());
        const peer = await attack(live, [unary(1)]);
        await until(() => endOf(peer, 1) !== undefined, 5000, "END of stream 1");
        await peer.send(bytesOf(encodeMessage(1, QUOTE_A, false)));
        await peer.send(bytesOf(encodeHalfClose(1)));
        await peer.send(bytesOf(encodeCancel(1, Code.Canceled, "late")));
        await peer.send(bytesOf(encodeCredit(1, 1000)));
        await expectAlive(peer);
        await peer.send(unary(2));
        await until(() => endOf(peer, 2) !== undefined, 5000, "END of stream 2");
        expect(endOf(peer, 2)?.status.code).toBe(0);
      });

      it("a cancelled stream's late MESSAGE is dropped; ids must still increase", async () => {
        const live = await liveServer(channel, {}, boundedRoutes());
        const peer = await attack(live, [
          bytesOf(encodeCallStart(4, TRADE, prepareMetadata(undefined), undefined, undefined, false)),
          bytesOf(encodeCancel(4, Code.Canceled, "bye")),
          bytesOf(encodeMessage(4, QUOTE_A, false)),
        ]);
        await expectAlive(peer);
        await peer.send(unary(3)); // not above 4
        await expectProtocolError(peer, /CALL_START stream id 3 not above previous 4/);
      });

      it("after the server's GOAWAY (shutdown), a new call is refused with Unavailable", async () => {
        const live = await liveServer(channel, {}, boundedRoutes({ running: 0, peak: 0, started: 0 }, 400));
        const peer = await attack(live, [bytesOf(encodeCallStart(1, GET_QUOTE, prepareMetadata(undefined), undefined, enc.encode("\n\bSTUBBORN"), true))]);
        await sleep(50);
        const closing = live.server.close(2000);
        await until(() => peer.goAway() !== undefined, 5000, "the server's GOAWAY");
        expect(peer.goAway()?.code).toBe(0);
        await peer.send(unary(3));
        await until(() => endOf(peer, 3) !== undefined, 5000, "the refusal of stream 3");
        expect(endOf(peer, 3)?.status).toMatchObject({ code: Code.Unavailable, message: "server is shutting down" });
        await closing;
        expect(await peer.closedWithin(5000)).toBe(true);
        expect(endOf(peer, 1)?.status.code, "the call in flight finished before the connection closed").toBe(0);
      });

      it("the peer's GOAWAY(0): the server closes the connection once its streams ended", async () => {
        const live = await liveServer(channel, {}, boundedRoutes());
        const peer = await attack(live, [unary(1), bytesOf(encodeGoAway(1, 0, "bye"))]);
        expect(await peer.closedWithin(5000)).toBe(true);
        expect(endOf(peer, 1)?.status.code).toBe(0);
      });
    });

    describe("header floods", () => {
      it("a metadata block above the server's maxHeaderBytes is a protocol error", async () => {
        const live = await liveServer(channel, { maxHeaderBytes: 1024 }, boundedRoutes());
        const entries: [string, string][] = Array.from({ length: 100 }, (_, i) => [`x-h${i}`, "v".repeat(10)]);
        const peer = await attack(live, [callStartRaw(1, GET_QUOTE, metadataRaw(entries), QUOTE_A)]);
        await expectProtocolError(peer, /request headers block of at least \d+ bytes exceeds the announced limit of 1024/);
      });

      it("65535 entries in one frame: rejected from the count alone, other connections served", async () => {
        const live = await liveServer(channel, {}, boundedRoutes());
        await withSteady(channel, live, async () => {
          const entries: [string, string][] = Array.from({ length: 0xffff }, (_, i) => [`x-${i % 1000}`, "v"]);
          const peer = await attack(live, [callStartRaw(1, GET_QUOTE, metadataRaw(entries), QUOTE_A)]);
          // 65535 × 7 bytes (the smallest entry) + 2: no entry was decoded.
          await expectProtocolError(peer, /request headers block of at least 458747 bytes exceeds the announced limit of 65536/);
        });
      });

      it("entries under the count bound but past the limit: parsing stops at the entry that crosses it", async () => {
        const live = await liveServer(channel, {}, boundedRoutes());
        // 9,000 entries of 17 bytes (153 KB): the limit (65,536) is crossed by the value of entry 3,855.
        const entries: [string, string][] = Array.from({ length: 9000 }, (_, i) => [`x-${String(i).padStart(4, "0")}`, "vvvvv"]);
        const peer = await attack(live, [callStartRaw(1, GET_QUOTE, metadataRaw(entries), QUOTE_A)]);
        // The error names the size read so far: one entry past the limit, not the whole block.
        await expectProtocolError(peer, /request headers block of at least 65537 bytes exceeds the announced limit of 65536/);
      });

      it("one name repeated 4000 times within the limit: the call works", async () => {
        const live = await liveServer(channel, {}, boundedRoutes());
        const entries: [string, string][] = Array.from({ length: 4000 }, () => ["x-r", "ab"]);
        const peer = await attack(live, [callStartRaw(1, GET_QUOTE, metadataRaw(entries), QUOTE_A)]);
        await until(() => endOf(peer, 1) !== undefined, 5000, "the END of the call");
        expect(endOf(peer, 1)?.status.code).toBe(0);
      });
    });

    describe("mangled method paths and authority", () => {
      it("odd paths get Unimplemented on a connection that stays usable", async () => {
        const live = await liveServer(channel, {}, boundedRoutes());
        const paths = [
          "",
          "/",
          "//",
          "market.v1.MarketService/GetQuote",
          "/market.v1.MarketService/GetQuote/",
          "/market.v1.MarketService/getquote",
          "/../market.v1.MarketService/GetQuote",
          "/market.v1.MarketService/GetQuote?x=1",
          "/market.v1.MarketService/GetQuote#",
          "/market.v1.MarketService/GetQuote\u0000",
          "/$&$'$`/GetQuote",
          "/\u202e/\ufeff",
          `/${"a".repeat(65_000)}`,
        ];
        const peer = await attack(live, paths.map((p, i) => unary(i + 1, p)));
        await until(() => paths.every((_, i) => endOf(peer, i + 1) !== undefined), 5000, "an END for every path");
        paths.forEach((p, i) => {
          expect(endOf(peer, i + 1)?.status.code, JSON.stringify(p.slice(0, 40))).toBe(Code.Unimplemented);
        });
        await expectAlive(peer);
      });

      it("authority-like and protocol headers with garbage values do not break a call", async () => {
        const live = await liveServer(channel, {}, boundedRoutes());
        const values = ["[::1", "a b c", "evil.example:99999", "\u00ff\u00fe", "x".repeat(4000), "-1", "1e309", "99999999999999999999999m"];
        const names = ["host", "x-forwarded-host", "authority", "content-type", "connect-timeout-ms", "grpc-timeout", "connect-protocol-version", "te"];
        const frames = names.map((name, i) => unary(i + 1, GET_QUOTE, new Headers(values.map((v) => [name, v] as [string, string]))));
        const peer = await attack(live, frames);
        await until(() => names.every((_, i) => endOf(peer, i + 1) !== undefined), 5000, "an END for every call");
        names.forEach((name, i) => expect(endOf(peer, i + 1)?.status.code, name).toBe(0));
        await expectAlive(peer);
      });
    });

    describe("timeouts and slow senders", () => {
      it("a connection that never sends HELLO is closed after handshakeTimeoutMs", async () => {
        const live = await liveServer(channel, { handshakeTimeoutMs: 400 }, boundedRoutes());
        const start = Date.now();
        const peer = await RawPeer.connect(live.url);
        expect(await peer.closedWithin(5000)).toBe(true);
        expect(Date.now() - start).toBeGreaterThanOrEqual(350);
      });

      it("a partial HELLO (3 length bytes) is closed after handshakeTimeoutMs", async () => {
        const live = await liveServer(channel, { handshakeTimeoutMs: 400 }, boundedRoutes());
        const peer = await RawPeer.connect(live.url);
        await peer.write(framed(helloBytes()).subarray(0, 3));
        expect(await peer.closedWithin(5000)).toBe(true);
      });

      it("a HELLO trickled one byte per 100 ms does not extend the handshake timeout", async () => {
        const live = await liveServer(channel, { handshakeTimeoutMs: 500 }, boundedRoutes());
        const peer = await RawPeer.connect(live.url);
        const bytes = framed(helloBytes());
        let written = 0;
        for (; written < bytes.byteLength && !peer.isClosed; written++) {
          await peer.write(bytes.subarray(written, written + 1));
          await sleep(100);
        }
        expect(peer.isClosed, "closed").toBe(true);
        expect(written, `bytes of the ${bytes.byteLength}-byte HELLO trickled before the close`).toBeLessThan(bytes.byteLength);
        expect(peer.frames()).toEqual([]);
      });

      it("an idle connection gets GOAWAY(0, idle timeout) and is closed", async () => {
        const live = await liveServer(channel, { idleTimeoutMs: 300 }, boundedRoutes());
        const peer = await attack(live, []);
        expect(await peer.closedWithin(5000)).toBe(true);
        expect(peer.goAway()).toMatchObject({ code: 0, message: "idle timeout" });
      });

      it("a CALL_START trickled slower than the idle timeout is closed by it", async () => {
        const live = await liveServer(channel, { idleTimeoutMs: 400 }, boundedRoutes());
        const peer = await attack(live, []);
        const call = framed(unary(1));
        for (let i = 0; i < call.byteLength && !peer.isClosed; i++) {
          await peer.write(call.subarray(i, i + 1));
          await sleep(50);
        }
        expect(peer.isClosed).toBe(true);
        expect(peer.goAway()?.message).toBe("idle timeout");
        expect(endOf(peer, 1)).toBeUndefined();
      });

      it("CALL_START timeout 0 is DeadlineExceeded at once; the connection stays", async () => {
        const live = await liveServer(channel, {}, boundedRoutes({ running: 0, peak: 0, started: 0 }, 200));
        const peer = await attack(live, [bytesOf(encodeCallStart(1, GET_QUOTE, prepareMetadata(undefined), 0, enc.encode("\n\bSTUBBORN"), true))]);
        await until(() => endOf(peer, 1) !== undefined, 5000, "END of stream 1");
        expect(endOf(peer, 1)?.status.code).toBe(Code.DeadlineExceeded);
        await expectAlive(peer);
      });

      // Fixed (issue 6): a u32 wire timeout above 2^31-1 ms used to overflow setTimeout.
      it("a CALL_START timeout above 2^31-1 ms (49.7 days) does not expire at once", async () => {
        const live = await liveServer(channel, {}, boundedRoutes({ running: 0, peak: 0, started: 0 }, 100));
        const peer = await attack(live, [bytesOf(encodeCallStart(1, GET_QUOTE, prepareMetadata(undefined), 0xffff_ffff, enc.encode("\n\bSTUBBORN"), true))]);
        await until(() => endOf(peer, 1) !== undefined, 5000, "END of stream 1");
        expect(endOf(peer, 1)?.status.code).toBe(0);
      });
    });

    describe("every message costs window; silent and refusing peers (issue 21)", () => {
      it("empty MESSAGEs past the window (4096 bytes: 512 of them) to a handler that does not read are a protocol error", async () => {
        const live = await liveServer(channel, { initialWindowBytes: 4096 }, (router) =>
          router.service(MarketService, {
            async submitOrders(_orders, ctx) {
              await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
              return { accepted: 0 };
            },
          }),
        );
        const empty = bytesOf(encodeMessage(1, new Uint8Array(0), false));
        const peer = await attack(live, [bytesOf(encodeCallStart(1, SUBMIT_ORDERS, prepareMetadata(undefined), undefined, undefined, false)), ...Array.from({ length: 512 }, () => empty)]);
        // The window is exactly used up: the connection is fine …
        await expectAlive(peer);
        // … and one more empty message overruns it.
        await peer.send(empty);
        await expectProtocolError(peer, /flow-control window exceeded/);
      });

      it("keepalive: a client that does not answer the server's PING is closed; a well-behaved one is not", async () => {
        const live = await liveServer(channel, { keepaliveMs: 100, keepaliveTimeoutMs: 200 }, boundedRoutes());
        await withSteady(channel, live, async () => {
          const peer = await attack(live, []);
          expect(await peer.closedWithin(5000), "the silent peer is closed").toBe(true);
          expect(peer.frames().some((f) => f.kind === FrameKind.PING), "it was PINGed first").toBe(true);
          await sleep(400); // the steady client's connection outlives several keepalive periods
        });
      });

      it("a frame stopped half-way: the connection is closed after 2 × sendTimeoutMs without progress, its reassembly memory comes back", async () => {
        const live = await liveServer(channel, { sendTimeoutMs: 200 }, boundedRoutes());
        await withSteady(channel, live, async () => {
          const baseline = liveLeases(live);
          // A 100,000-byte frame (several receive slots: reassembled), 1,000 bytes of it, then silence.
          const peer = await attack(live, []);
          await peer.write(Buffer.concat([Buffer.from(le32(100_000)), Buffer.alloc(1000, 7)]));
          expect(await peer.closedWithin(10_000), "the server closed the stalled connection").toBe(true);
          await until(() => liveLeases(live) <= baseline, 5000, "the reassembly lease to come back");
        });
      });

      it("a frame trickled with progress is not cut, and arrives whole", async () => {
        const live = await liveServer(channel, { sendTimeoutMs: 250 }, boundedRoutes());
        const peer = await attack(live, []);
        const frame = framed(unaryWithPayload(1, 60_000));
        // 20 pieces, one every 50 ms: 1 s in all, twice the stall bound (500 ms), never stalled that long.
        const piece = Math.ceil(frame.byteLength / 20);
        for (let at = 0; at < frame.byteLength; at += piece) {
          await peer.write(frame.subarray(at, at + piece));
          await sleep(50);
        }
        await until(() => endOf(peer, 1) !== undefined, 5000, "the END of the trickled call");
        expect(endOf(peer, 1)?.status.code).toBe(0);
        expect(peer.isClosed).toBe(false);
      });

      it("a GOAWAY instead of HELLO: the server closes the connection and sends nothing", async () => {
        const live = await liveServer(channel, {}, boundedRoutes());
        const peer = await attack(live, [bytesOf(encodeGoAway(0, Code.FailedPrecondition, "no common version"))], true);
        expect(await peer.closedWithin(5000)).toBe(true);
        expect(peer.frames()).toEqual([]);
      });
    });

    describe("concurrent streams", () => {
      // Fixed (issue 6, "rapid reset", CVE-2023-44487): a cancelled stream keeps its slot until its handler settled.
      it("CALL_START + CANCEL pairs cannot run more handlers at once than maxConcurrentStreams", async () => {
        const counters = { running: 0, peak: 0, started: 0 };
        const live = await liveServer(channel, { maxConcurrentStreams: 8 }, boundedRoutes(counters, 1000));
        const frames: Uint8Array[] = [];
        for (let id = 1; id <= 200; id++) {
          frames.push(bytesOf(encodeCallStart(id, GET_QUOTE, prepareMetadata(undefined), undefined, enc.encode("\n\bSTUBBORN"), true)));
          frames.push(bytesOf(encodeCancel(id, Code.Canceled, "")));
        }
        const peer = await attack(live, frames);
        onTestFinished(() => peer.destroy());
        await until(() => counters.started >= 8, 5000, "handlers to start");
        await sleep(200);
        expect(counters.peak, `handlers running at once (started ${counters.started})`).toBeLessThanOrEqual(8);
      });
    });
  });
}
