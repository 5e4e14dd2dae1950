// Property test (fast-check): random and mutated frames from a raw peer against a LIVE
// server, over each stream channel (uring tcp, uring unix, net tcp). Frames start as valid
// protocol frames from the src/frame encoders and are then mutated (bytes, kinds, length
// fields, truncation, duplicated stream ids, bad channel length prefixes), split at random
// points and written to a raw socket. For every generated script:
//   - everything the server sends parses;
//   - a server that closes the connection by itself said why (GOAWAY: "protocol error: …"
//     or an unsupported version), unless the channel framing itself was broken (a length
//     prefix above maxFrameBytes closes without a protocol frame);
//   - a connection the server keeps is still sane: a PING gets its PONG, unless the peer
//     is in the middle of a frame;
//   - when the peer ends its side, the server closes the connection.
// Throughout, a well-behaved client on its own connection keeps completing unary calls
// with no error, and afterwards the server holds no extra connection and no lease.
// FC_SEED=<n> replays a run; FC_RUNS=<n> changes the number of runs per channel.

import fc from "fast-check";
import { expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { FrameKind } from "../../src/frame/constants.js";
import {
  encodeCallStart,
  encodeCancel,
  encodeCredit,
  encodeEnd,
  encodeGoAway,
  encodeHalfClose,
  encodeHeaders,
  encodeHello,
  encodeMessage,
  encodePing,
} from "../../src/frame/frames.js";
import { prepareMetadata } from "../../src/frame/metadata.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { CHANNELS, CLIENT_HELLO, RawPeer, SteadyClient, boundedRoutes, bytesOf, liveServer, liveLeases, until } from "./support.js";

const MAX_FRAME = 1 << 20; // the server's channel limit in this test: length prefixes above it are channel errors
const RUNS = Number(process.env.FC_RUNS ?? 300);
// Every run counts: no time limit shrinks the run count on a loaded machine. 300 runs take
// about 2.5 s per channel here; the test's own timeout leaves room for a box far slower.
const TEST_TIMEOUT_MS = 180_000;

const GET_QUOTE = "/market.v1.MarketService/GetQuote";
const TRADE = "/market.v1.MarketService/Trade";

// ---- arbitraries -------------------------------------------------------------------

const streamId = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 0x7fff_ffff, 0xffff_ffff) },
  { weight: 1, arbitrary: fc.nat() },
);
const path = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(GET_QUOTE, TRADE, "/market.v1.MarketService/Subscribe", "/market.v1.MarketService/CancelAll") },
  { weight: 1, arbitrary: fc.constantFrom("", "/", "//", "market.v1.MarketService/GetQuote", "/market.v1.MarketService/", "/../etc/passwd", "/%00", "/\u0000/\uffff") },
  { weight: 1, arbitrary: fc.string({ maxLength: 40, unit: "binary" }) },
);
const headerName = fc.oneof(
  fc.constantFrom("x-a", "host", "content-type", "connect-timeout-ms", "grpc-timeout", "x-data-bin", "authorization"),
  fc.stringMatching(/^[a-z0-9-]{1,10}$/),
);
const headerValue = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom("[::1", "a:b:c", "-1", "99999999999999999999", "\u00ff\u0100"));
const metadata = fc.array(fc.tuple(headerName, headerValue), { maxLength: 4 }).map((entries) => {
  const h = new Headers();
  for (const [name, value] of entries) {
    try {
      h.append(name, value);
    } catch {
      // Headers refuses the value (CR, LF, NUL): the peer sends bytes instead (mutations below).
    }
  }
  return h;
});
const payload = fc.oneof(
  fc.constant(new Uint8Array([0x0a, 0x01, 0x41])), // GetQuoteRequest{symbol:"A"} / Order{client_order_id:"A"}
  fc.uint8Array({ maxLength: 64 }),
);

/** A valid protocol frame (as a client would send, or a server-only kind). */
const frame: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.record({ id: streamId, path, md: metadata, timeout: fc.option(fc.nat(), { nil: undefined }), msg: fc.option(payload, { nil: undefined }), end: fc.boolean() }).map((f) =>
    bytesOf(encodeCallStart(f.id, f.path, prepareMetadata(f.md), f.timeout, f.msg, f.end)),
  ),
  fc.record({ id: streamId, msg: payload, end: fc.boolean() }).map((f) => bytesOf(encodeMessage(f.id, f.msg, f.end))),
  streamId.map((id) => bytesOf(encodeHalfClose(id))),
  fc.record({ id: streamId, code: fc.integer({ min: 0, max: 255 }), reason: fc.string({ maxLength: 10 }) }).map((f) => bytesOf(encodeCancel(f.id, f.code, f.reason))),
  fc.record({ id: streamId, inc: fc.integer({ min: 0, max: 0xffff_ffff }) }).map((f) => bytesOf(encodeCredit(f.id, f.inc))),
  fc.record({ kind: fc.constantFrom(FrameKind.PING, FrameKind.PONG), id: fc.nat() }).map((f) => bytesOf(encodePing(f.kind, f.id))),
  fc.record({ last: fc.nat(), code: fc.integer({ min: 0, max: 20 }), msg: fc.string({ maxLength: 10 }) }).map((f) => bytesOf(encodeGoAway(f.last, f.code, f.msg))),
  fc.constant(bytesOf(encodeHello(CLIENT_HELLO))), // a second HELLO
  fc.record({ id: streamId, md: metadata }).map((f) => bytesOf(encodeHeaders(f.id, prepareMetadata(f.md), undefined))), // server-only kind
  streamId.map((id) =>
    bytesOf(encodeEnd(id, { headers: undefined, message: undefined, status: { code: Code.Internal, message: "x", details: [] }, trailers: prepareMetadata(undefined) })),
  ),
  fc.uint8Array({ minLength: 0, maxLength: 48 }), // noise
);

type Mutation =
  | { kind: "none" }
  | { kind: "set"; at: number; value: number }
  | { kind: "truncate"; at: number }
  | { kind: "append"; bytes: Uint8Array }
  | { kind: "u16"; at: number; value: number }
  | { kind: "u32"; at: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Mutation>({ kind: "none" }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("append" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("u16" as const), at: fc.nat(), value: fc.constantFrom(0, 1, 0x7fff, 0xffff) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("u32" as const), at: fc.nat(), value: fc.constantFrom(0, 1, 0x7fff_ffff, 0xffff_ffff, MAX_FRAME) }) },
);

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const b = new Uint8Array(bytes);
  const view = new DataView(b.buffer);
  switch (m.kind) {
    case "none":
      return b;
    case "set":
      if (b.byteLength > 0) b[m.at % b.byteLength] = m.value;
      return b;
    case "truncate":
      return b.subarray(0, m.at % (b.byteLength + 1));
    case "append":
      return Uint8Array.from([...b, ...m.bytes]);
    case "u16":
      if (b.byteLength >= 2) view.setUint16(m.at % (b.byteLength - 1), m.value, true);
      return b;
    case "u32":
      if (b.byteLength >= 4) view.setUint32(m.at % (b.byteLength - 3), m.value, true);
      return b;
  }
}

/** How a frame's channel length prefix is written. */
const framing = fc.oneof(
  { weight: 12, arbitrary: fc.constant("exact" as const) },
  { weight: 1, arbitrary: fc.constantFrom("plus1" as const, "minus1" as const, "zero" as const, "over-limit" as const, "huge" as const) },
);
type Framing = "exact" | "plus1" | "minus1" | "zero" | "over-limit" | "huge";

function prefixOf(length: number, f: Framing): number {
  switch (f) {
    case "exact":
      return length;
    case "plus1":
      return length + 1;
    case "minus1":
      return Math.max(0, length - 1);
    case "zero":
      return 0;
    case "over-limit":
      return MAX_FRAME + 1;
    case "huge":
      return 0xffff_ffff;
  }
}

/** Chaos: any frames, any order, half of them mutated. */
const chaos = fc.record({
  hello: fc.oneof(
    { weight: 6, arbitrary: fc.constant<"valid" | "mutated" | "absent">("valid") },
    { weight: 1, arbitrary: fc.constantFrom<"valid" | "mutated" | "absent">("mutated", "absent") },
  ),
  helloMutation: mutation,
  frames: fc.array(fc.record({ body: frame, mutation, framing, repeat: fc.integer({ min: 1, max: 2 }) }), { maxLength: 6 }),
});

/**
 * A conversation: valid calls with increasing stream ids (unary GetQuote, bidi Trade with
 * messages, cancels), into which one fault is injected (a mutated or foreign frame, a
 * duplicated frame, a bad length prefix) — so faults also hit streams in flight.
 */
const conversation = fc
  .record({
    calls: fc.array(
      fc.record({ bidi: fc.boolean(), messages: fc.integer({ min: 0, max: 3 }), cancel: fc.boolean(), halfClose: fc.boolean(), md: metadata }),
      { minLength: 1, maxLength: 4 },
    ),
    fault: fc.record({ at: fc.nat(), body: fc.option(frame, { nil: undefined }), mutation, framing, duplicate: fc.boolean() }),
  })
  .map(({ calls, fault }) => {
    const frames: { body: Uint8Array; mutation: Mutation; framing: Framing; repeat: number }[] = [];
    const ok = (body: Uint8Array): void => void frames.push({ body, mutation: { kind: "none" }, framing: "exact", repeat: 1 });
    calls.forEach((c, i) => {
      const id = i + 1;
      const order = new Uint8Array([0x0a, 0x02, 0x6f, 0x30 + (id % 10)]); // Order{client_order_id:"o<n>"}
      if (!c.bidi) {
        ok(bytesOf(encodeCallStart(id, GET_QUOTE, prepareMetadata(c.md), 5000, new Uint8Array([0x0a, 0x01, 0x41]), true)));
        return;
      }
      ok(bytesOf(encodeCallStart(id, TRADE, prepareMetadata(c.md), undefined, undefined, false)));
      for (let m = 0; m < c.messages; m++) ok(bytesOf(encodeMessage(id, order, false)));
      if (c.cancel) ok(bytesOf(encodeCancel(id, Code.Canceled, "bye")));
      else if (c.halfClose) ok(bytesOf(encodeHalfClose(id)));
    });
    const at = fault.at % (frames.length + 1);
    const target = frames[at];
    if (fault.duplicate && target !== undefined) frames.splice(at, 0, { ...target });
    else if (fault.body !== undefined) frames.splice(at, 0, { body: fault.body, mutation: fault.mutation, framing: fault.framing, repeat: 1 });
    else if (target !== undefined) frames[at] = { ...target, mutation: fault.mutation, framing: fault.framing };
    return { hello: "valid" as const, helloMutation: { kind: "none" } as Mutation, frames };
  });

const script = fc.record({
  body: fc.oneof(chaos, conversation),
  splits: fc.array(fc.nat(), { maxLength: 4 }),
  ending: fc.constantFrom("probe" as const, "fin" as const, "reset" as const),
});
type Script = typeof script extends fc.Arbitrary<infer S> ? S : never;

interface Wire {
  bytes: Uint8Array;
  /** The server's reader meets a length prefix above maxFrameBytes (it closes without a protocol frame). */
  framingBroken: boolean;
  /** The bytes end inside a frame (the server waits for the rest). */
  midFrame: boolean;
  /** Some complete frame starts with the GOAWAY kind (a drained server may then close quietly). */
  goAwayKind: boolean;
}

function wireOf(script: Script): Wire {
  const s = script.body;
  const parts: Uint8Array[] = [];
  let framingBroken = false;
  const push = (body: Uint8Array, f: Framing): void => {
    const prefix = prefixOf(body.byteLength, f);
    const head = new Uint8Array(4);
    new DataView(head.buffer).setUint32(0, prefix, true);
    parts.push(head, body);
  };
  if (s.hello !== "absent") push(mutate(bytesOf(encodeHello(CLIENT_HELLO)), s.hello === "mutated" ? s.helloMutation : { kind: "none" }), "exact");
  for (const f of s.frames) for (let i = 0; i < f.repeat; i++) push(mutate(f.body, f.mutation), f.framing);
  const bytes = Uint8Array.from(parts.flatMap((p) => [...p]));
  // Where the server's reader stands once every byte arrived (a trivial reference reader).
  let pos = 0;
  let midFrame = false;
  let goAwayKind = false;
  while (pos < bytes.byteLength) {
    if (bytes.byteLength - pos < 4) {
      midFrame = true;
      break;
    }
    const length = new DataView(bytes.buffer, bytes.byteOffset + pos).getUint32(0, true);
    if (length > MAX_FRAME) {
      framingBroken = true; // the server closes here
      break;
    }
    if (bytes.byteLength - pos - 4 < length) {
      midFrame = true;
      break;
    }
    if (length > 0 && bytes[pos + 4] === FrameKind.GOAWAY) goAwayKind = true;
    pos += 4 + length;
  }
  return { bytes, framingBroken, midFrame, goAwayKind };
}

// ---- the property ------------------------------------------------------------------

for (const channel of CHANNELS) {
  gatedDescribe(`hostile frames (property): ${channel.name}`, channel.unavailable?.(), () => {
    it("random and mutated frames: the server stays up, closes bad connections with a clear error, serves others throughout", async () => {
      const live = await liveServer(channel, { maxFrameBytes: MAX_FRAME, handshakeTimeoutMs: 3000 }, boundedRoutes());
      const steady = new SteadyClient(live.url, channel.engine).start(2);
      await until(() => steady.ok > 0, 10_000, "the well-behaved client's first call");
      const baselineLeases = liveLeases(live);
      const okBefore = steady.ok;
      let runs = 0;
      const outcome = { protocolError: 0, channelError: 0, pong: 0, midFrame: 0, reset: 0, calls: 0 };
      const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : undefined;

      await fc.assert(
        fc.asyncProperty(script, async (s) => {
          runs++;
          const wire = wireOf(s);
          const peer = await RawPeer.connect(live.url);
          let at = 0;
          for (const cut of [...new Set(s.splits.map((x) => x % (wire.bytes.byteLength + 1)))].sort((a, b) => a - b)) {
            await peer.write(wire.bytes.subarray(at, cut));
            at = cut;
          }
          await peer.write(wire.bytes.subarray(at));

          if (s.ending === "reset") {
            peer.destroy();
            outcome.reset++;
            return;
          }
          if (s.ending === "probe") {
            // The server either closes by itself, or the connection is still sane.
            const closedByServer = await peer.closedWithin(wire.framingBroken ? 2000 : 50);
            if (closedByServer && !wire.framingBroken && !wire.goAwayKind) {
              expect(peer.goAway()?.code ?? 0, "a server that closes a connection says why (GOAWAY with an error code)").not.toBe(0);
            }
            if (!closedByServer && !wire.midFrame) {
              const pong = await peer.pingPong(0x5eed, 3000);
              const closedNow = peer.isClosed;
              if (pong) outcome.pong++;
              if (!pong && !wire.goAwayKind) {
                const goAway = peer.goAway();
                expect(goAway?.code ?? 0, "a server that closes a connection says why (GOAWAY with an error code)").not.toBe(0);
              }
              expect(pong || closedNow, `neither PONG nor close; server sent ${JSON.stringify(peer.frames().map((f) => f.kind))}`).toBe(true);
            }
            if (wire.midFrame) outcome.midFrame++;
          }
          expect(await peer.finish(5000), "the server closes the connection once the peer ended its side").toBe(true);

          expect(peer.malformed(), "every frame the server sent parses").toEqual([]);
          const goAway = peer.goAway();
          if (goAway === undefined && wire.framingBroken) outcome.channelError++;
          if (peer.frames().some((f) => f.kind === FrameKind.END)) outcome.calls++;
          if (goAway !== undefined && goAway.code !== 0) {
            outcome.protocolError++;
            expect([Code.Internal, Code.FailedPrecondition]).toContain(goAway.code);
            expect(goAway.message).toMatch(/^(protocol error: |internal error: |unsupported protocol version)/);
          }
          // Only kinds a server may send, and Connect codes in END (PING: the server probes a
          // peer that ended its side while its calls run, docs/CHANNELS.md §4).
          for (const f of peer.frames()) {
            expect([FrameKind.HELLO, FrameKind.HEADERS, FrameKind.MESSAGE, FrameKind.END, FrameKind.CANCEL, FrameKind.CREDIT, FrameKind.PING, FrameKind.PONG, FrameKind.GOAWAY]).toContain(f.kind);
            if (f.kind === FrameKind.END && !f.halfClose && f.status.code !== 0) {
              expect(f.status.code).toBeLessThanOrEqual(16);
            }
          }
        }),
        { numRuns: RUNS, ...(seed !== undefined ? { seed } : {}), endOnFailure: true },
      );

      const { ok, errors } = await steady.stop();
      expect(errors, "the well-behaved client never failed").toEqual([]);
      expect(ok - okBefore, "the well-behaved client completed calls during the attack").toBeGreaterThan(0);
      expect(runs, "scripts run (every one of FC_RUNS, never fewer)").toBe(RUNS);
      // Every hostile connection is gone, and so is every lease it made the server take.
      await until(() => live.server.stats().connections <= 1, 10_000, "hostile connections to close");
      await until(() => liveLeases(live) <= baselineLeases, 10_000, `server leases back to ${baselineLeases} (now ${liveLeases(live)})`);
      console.log(`[property ${channel.name}] ${runs} scripts ${JSON.stringify(outcome)}; well-behaved client: ${ok - okBefore} calls ok during the attack`);
    }, TEST_TIMEOUT_MS);
  });
}
