// The frame codec: every kind round-trips; metadata carries -bin and any Unicode; every
// truncation and random garbage fails with ProtocolError (never another exception, never
// a read outside the frame).

import { describe, expect, it } from "vitest";
import { encodeBinaryHeader } from "@connectrpc/connect";
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
  fitStatus,
} from "../../src/frame/frames.js";
import { parseFrame } from "../../src/frame/parse-frame.js";
import type { OutFrame } from "../../src/frame/frames.js";
import { prepareMetadata } from "../../src/frame/metadata.js";
import { ProtocolError } from "../../src/frame/protocol-error.js";

function bytes(out: OutFrame): Uint8Array {
  const b = new Uint8Array(out.byteLength);
  out.write(b);
  return b;
}

const UNICODE = "\uFEFFBOM first, ünïcødé ✓ 日本語 🚀 \u0000 nul \r\n ctrl \u0007";

function headers(): Headers {
  const h = new Headers();
  h.append("x-one", "1");
  h.append("x-multi", "a");
  h.append("x-multi", "b");
  h.set("x-latin", "caf\u00e9");
  h.set("x-data-bin", encodeBinaryHeader(new TextEncoder().encode("日本 🚀")));
  return h;
}

function entries(h: Headers | undefined): [string, string][] {
  return h === undefined ? [] : [...h.entries()];
}

describe("frames", () => {
  it("every kind round-trips", () => {
    const msg = new Uint8Array([1, 2, 3, 250]);
    const hello = { version: 1, minVersion: 1, maxMessageBytes: 5, maxHeaderBytes: 6, maxConcurrentStreams: 7, initialWindowBytes: 8 };
    expect(parseFrame(bytes(encodeHello(hello)), true)).toEqual({ kind: FrameKind.HELLO, streamId: 0, hello });

    const cs = parseFrame(bytes(encodeCallStart(3, "/market.v1.MarketService/GetQuote", prepareMetadata(headers()), 1500, msg, true)), false);
    expect(cs.kind).toBe(FrameKind.CALL_START);
    if (cs.kind !== FrameKind.CALL_START) return;
    expect(cs.streamId).toBe(3);
    expect(cs.path).toBe("/market.v1.MarketService/GetQuote");
    expect(cs.timeoutMs).toBe(1500);
    expect(cs.endStream).toBe(true);
    expect(entries(cs.metadata)).toEqual(entries(headers()));
    expect(cs.message).toEqual(msg);

    const bare = parseFrame(bytes(encodeCallStart(4, "/a/b", prepareMetadata(undefined), undefined, undefined, false)), false);
    expect(bare).toMatchObject({ kind: FrameKind.CALL_START, timeoutMs: undefined, message: undefined, endStream: false });

    expect(parseFrame(bytes(encodeHeaders(5, prepareMetadata(headers()), msg)), true)).toMatchObject({ kind: FrameKind.HEADERS, message: msg });
    expect(parseFrame(bytes(encodeMessage(5, msg, true)), false)).toMatchObject({ kind: FrameKind.MESSAGE, endStream: true, message: msg });
    expect(parseFrame(bytes(encodeHalfClose(5)), false)).toEqual({ kind: FrameKind.END, streamId: 5, halfClose: true });

    const end = parseFrame(
      bytes(
        encodeEnd(9, {
          headers: prepareMetadata(headers()),
          message: msg,
          status: { code: 9, message: UNICODE, details: [{ type: "market.v1.RejectReason", value: msg }] },
          trailers: prepareMetadata(new Headers({ "x-t": "v" })),
        }),
      ),
      true,
    );
    expect(end.kind === FrameKind.END && !end.halfClose).toBe(true);
    if (end.kind !== FrameKind.END || end.halfClose) return;
    expect(entries(end.headers)).toEqual(entries(headers()));
    expect(end.message).toEqual(msg);
    expect(end.status).toEqual({ code: 9, message: UNICODE, details: [{ type: "market.v1.RejectReason", value: msg }] });
    expect(end.trailers.get("x-t")).toBe("v");

    expect(parseFrame(bytes(encodeCancel(9, 1, UNICODE)), false)).toEqual({ kind: FrameKind.CANCEL, streamId: 9, code: 1, reason: UNICODE });
    expect(parseFrame(bytes(encodeCredit(9, 65536)), true)).toEqual({ kind: FrameKind.CREDIT, streamId: 9, increment: 65536 });
    expect(parseFrame(bytes(encodePing(FrameKind.PING, 2 ** 40 + 5)), true)).toEqual({ kind: FrameKind.PING, streamId: 0, id: 2 ** 40 + 5 });
    expect(parseFrame(bytes(encodeGoAway(17, 13, "bye ✓")), true)).toEqual({ kind: FrameKind.GOAWAY, streamId: 0, lastStreamId: 17, code: 13, message: "bye ✓" });
  });

  it("message payloads are views into the frame (no copy)", () => {
    const frame = bytes(encodeMessage(1, new Uint8Array([7, 8, 9]), false));
    const parsed = parseFrame(frame, false);
    if (parsed.kind !== FrameKind.MESSAGE) throw new Error("kind");
    expect(parsed.message.buffer).toBe(frame.buffer);
    frame[8] = 42;
    expect(parsed.message[0]).toBe(42);
  });

  it("every truncation of a valid frame is a ProtocolError", () => {
    const valid = [
      bytes(encodeCallStart(3, "/s/m", prepareMetadata(headers()), 10, undefined, false)),
      bytes(encodeEnd(3, { headers: prepareMetadata(headers()), message: new Uint8Array(9), status: { code: 3, message: "x", details: [{ type: "t", value: new Uint8Array(3) }] }, trailers: prepareMetadata(headers()) })),
      bytes(encodeGoAway(1, 0, "m")),
      bytes(encodeHello({ version: 1, minVersion: 1, maxMessageBytes: 1, maxHeaderBytes: 1, maxConcurrentStreams: 1, initialWindowBytes: 1 })),
    ];
    for (const frame of valid) {
      const fromServer = frame[0] !== FrameKind.CALL_START;
      for (let len = 0; len < frame.byteLength; len++) {
        expect(() => parseFrame(frame.subarray(0, len), fromServer)).toThrow(ProtocolError);
      }
      // Trailing bytes are malformed too, except where a frame ends in a message.
      const longer = new Uint8Array(frame.byteLength + 1);
      longer.set(frame);
      expect(() => parseFrame(longer, fromServer)).toThrow(ProtocolError);
    }
  });

  it("random garbage never throws anything but ProtocolError", () => {
    let x = 12345;
    const rnd = (): number => {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      return x;
    };
    for (let i = 0; i < 20000; i++) {
      const len = rnd() % 64;
      const b = new Uint8Array(len);
      for (let j = 0; j < len; j++) b[j] = rnd() & 0xff;
      if (len > 0) b[0] = (rnd() % 12) as number; // mostly known kinds, to reach the bodies
      if (len > 3) {
        b[2] = 0;
        b[3] = 0;
      }
      try {
        parseFrame(b, (rnd() & 1) === 1);
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError);
      }
    }
  });

  it("reads a MESSAGE frame's header in place: stream ids up to 2^32-1, END_STREAM, the payload view", () => {
    for (const id of [1, 0x7fffffff, 0x80000001, 0xffffffff]) {
      for (const end of [false, true]) {
        const frame = bytes(encodeMessage(id, Uint8Array.of(7, 8, 9), end));
        const parsed = parseFrame(frame, false);
        expect(parsed).toEqual({ kind: FrameKind.MESSAGE, streamId: id, endStream: end, message: Uint8Array.of(7, 8, 9) });
        if (parsed.kind === FrameKind.MESSAGE) expect(parsed.message.buffer).toBe(frame.buffer); // a view, no copy
      }
    }
  });

  it("rejects bad flags, reserved bits, stream ids, directions, invalid UTF-8 and header values", () => {
    const msg = bytes(encodeMessage(1, new Uint8Array(1), false));
    const badFlag = msg.slice();
    badFlag[1] = 0x40;
    expect(() => parseFrame(badFlag, false)).toThrow(/flags 0x40 not allowed/);
    const reserved = msg.slice();
    reserved[2] = 1;
    expect(() => parseFrame(reserved, false)).toThrow(/reserved/);
    const stream0 = msg.slice();
    stream0.fill(0, 4, 8);
    expect(() => parseFrame(stream0, false)).toThrow(/stream id 0/);
    expect(() => parseFrame(bytes(encodeCallStart(1, "/a/b", prepareMetadata(undefined), undefined, undefined, false)), true)).toThrow(/sent by a server/);
    expect(() => parseFrame(bytes(encodeMessage(1, new Uint8Array(1), true)), true)).toThrow(/END_STREAM flag from a server/);
    const path = bytes(encodeCallStart(1, "/a/b", prepareMetadata(undefined), undefined, undefined, false));
    path[10] = 0xff; // inside the path: invalid UTF-8
    expect(() => parseFrame(path, false)).toThrow(/path is not valid UTF-8/);
    const h = bytes(encodeHeaders(1, prepareMetadata(new Headers({ "x-a": "b" })), undefined));
    h[12] = "X".charCodeAt(0); // upper-case name
    expect(() => parseFrame(h, true)).toThrow(/lower-case HTTP token/);
    const v = bytes(encodeHeaders(1, prepareMetadata(new Headers({ "x-a": "bcd" })), undefined));
    v[v.byteLength - 2] = 0x0a; // newline inside a value
    expect(() => parseFrame(v, true)).toThrow(/not a valid header value/);
    expect(() => parseFrame(bytes(encodeCredit(1, 1)).fill(0, 8), true)).toThrow(/zero increment/);
    const big = bytes(encodeHeaders(1, prepareMetadata(new Headers({ "x-a": "v".repeat(100) })), undefined));
    expect(() => parseFrame(big, true, 50)).toThrow(/exceeds the announced limit of 50/);
    expect(parseFrame(big, true, 200).kind).toBe(FrameKind.HEADERS);
  });

  describe("bounds of strings and statuses (issue 21)", () => {
    const end = (message: string, details: { type: string; value: Uint8Array }[] = []): Uint8Array =>
      bytes(encodeEnd(1, { headers: undefined, message: undefined, status: { code: 13, message, details }, trailers: prepareMetadata(undefined) }));

    it("an END status is bounded by max_header_bytes, checked from the lengths before the bytes", () => {
      expect(() => parseFrame(end("m".repeat(100)), true, 106)).toThrow(/status of at least 107 bytes exceeds the announced limit of 106/);
      expect(parseFrame(end("m".repeat(100)), true, 107).kind).toBe(FrameKind.END);
      // A length far beyond the frame is refused by the limit, not read.
      const lie = end("m");
      lie.set([0xff, 0xff, 0xff, 0x7f], 9); // status message length (after header, code)
      expect(() => parseFrame(lie, true, 1000)).toThrow(/status of at least \d+ bytes exceeds the announced limit of 1000/);
      const details = Array.from({ length: 300 }, () => ({ type: "t", value: new Uint8Array(0) }));
      expect(() => parseFrame(end("", details), true, 1000)).toThrow(/status of at least 1807 bytes/);
    });

    it("fitStatus: a status that fits is kept; a longer one loses its details, then its message is cut", () => {
      const status = { code: 9, message: "é".repeat(100), details: [{ type: "t", value: new Uint8Array(50) }] };
      expect(fitStatus(status, 10_000)).toBe(status);
      const noDetails = fitStatus(status, 207);
      expect(noDetails).toEqual({ code: 9, message: status.message, details: [] });
      const cut = fitStatus(status, 106);
      expect(cut.code).toBe(9);
      expect(cut.message).toBe("é".repeat(49)); // 99 bytes of room: 49 whole characters, never half of one
      expect(parseFrame(end(cut.message), true, 106).kind).toBe(FrameKind.END);
    });

    it("CANCEL reasons and GOAWAY messages: cut to 4096 bytes by the encoder, longer ones malformed", () => {
      const long = "ü".repeat(3000); // 6000 bytes
      const cancel = parseFrame(bytes(encodeCancel(1, 1, long)), true);
      expect(cancel).toMatchObject({ kind: FrameKind.CANCEL, reason: "ü".repeat(2048) });
      const goAway = parseFrame(bytes(encodeGoAway(0, 13, long)), true);
      expect(goAway).toMatchObject({ kind: FrameKind.GOAWAY, message: "ü".repeat(2048) });
      const raw = new Uint8Array(8 + 5 + 4097);
      raw.set([FrameKind.CANCEL, 0, 0, 0, 1, 0, 0, 0, 1, 0x01, 0x10, 0, 0]);
      expect(() => parseFrame(raw, true)).toThrow(/reason of 4097 bytes exceeds the limit of 4096/);
    });

    it("HELLO with max_header_bytes 0 is malformed; metadata counts are checked up front", () => {
      const hello = { version: 1, minVersion: 1, maxMessageBytes: 5, maxHeaderBytes: 0, maxConcurrentStreams: 7, initialWindowBytes: 8 };
      expect(() => parseFrame(bytes(encodeHello(hello)), true)).toThrow(/limits must be positive/);
      const flood = new Uint8Array(8 + 2 + 10);
      flood.set([FrameKind.HEADERS, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff]);
      expect(() => parseFrame(flood, true, 1 << 16)).toThrow(/response headers block of at least 458747 bytes/);
      const trailers = end("");
      trailers.set([0xff, 0xff], trailers.byteLength - 2); // the trailers' count
      expect(() => parseFrame(trailers, true, 1 << 16)).toThrow(/trailers block of at least 458747 bytes/);
    });
  });
});
