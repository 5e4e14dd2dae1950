// The server's close after a protocol error lingers: its GOAWAY and FIN go out, and what
// the peer still sends is read and dropped until the peer's FIN. A peer that kept
// writing (a flood, a pipelined client) therefore reads the GOAWAY and its reason, then a
// clean end; closing with unread bytes instead resets the connection, and the peer's
// writes fail (EPIPE, ECONNRESET) before it read why. Over each stream channel.

import * as net from "node:net";
import { expect, it, onTestFinished } from "vitest";
import { FrameKind } from "../../src/frame/constants.js";
import type { Frame } from "../../src/frame/frames.js";
import { parseFrame } from "../../src/frame/parse-frame.js";
import { requireDist } from "../channel/support/processes.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { CHANNELS, boundedRoutes, framed, header, helloBytes, liveServer, pingBytes, sleep, socketOptions, until } from "./support.js";

requireDist(["index", "channel", "frame", "region", "binding"]);

/** Frames of a raw byte stream with the channel framing (4-byte little-endian length). */
function framesOf(bytes: Buffer): Frame[] {
  const frames: Frame[] = [];
  for (let at = 0; at + 4 <= bytes.byteLength; ) {
    const length = bytes.readUInt32LE(at);
    if (at + 4 + length > bytes.byteLength) break;
    frames.push(parseFrame(new Uint8Array(bytes.subarray(at + 4, at + 4 + length)), true));
    at += 4 + length;
  }
  return frames;
}

for (const channel of CHANNELS) {
  gatedDescribe(`lingering close: ${channel.name}`, channel.unavailable?.(), () => {
    it("a peer that keeps writing after its protocol error still reads the GOAWAY's reason, then a clean end", async () => {
      const live = await liveServer(channel, {}, boundedRoutes());
      const socket = net.connect(socketOptions(live.url));
      onTestFinished(() => socket.destroy());
      await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
      socket.pause(); // nothing is read until the writes are done
      const errors: string[] = [];
      socket.on("error", (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
      const write = (bytes: Uint8Array) => new Promise<boolean>((resolve) => socket.write(bytes, (e) => resolve(e == null)));

      const unknownKind = new Uint8Array(header(0x7f, 0, 1));
      expect(await write(Buffer.concat([framed(helloBytes()), framed(unknownKind)]))).toBe(true);
      await sleep(200); // the server parsed it, sent its GOAWAY and closed (gracefully)
      // The peer does not know yet: it goes on writing, and the server must not reset it.
      const more = Buffer.concat(Array.from({ length: 256 }, (_, i) => framed(pingBytes(i))));
      for (let i = 0; i < 8; i++) {
        expect(await write(more), `write ${i} after the protocol error (errors: ${errors.join(", ")})`).toBe(true);
        await sleep(10);
      }
      socket.end();

      const chunks: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      const ended = new Promise<void>((resolve) => socket.once("end", resolve));
      socket.resume();
      await until(() => socket.destroyed || socket.readableEnded, 5000, "the server's end");
      await Promise.race([ended, sleep(100)]);
      expect(errors, "no reset, no failed write").toEqual([]);
      expect(socket.readableEnded, "the server's FIN arrived").toBe(true);
      const goAway = framesOf(Buffer.concat(chunks)).find((f) => f.kind === FrameKind.GOAWAY);
      expect(goAway && "message" in goAway ? goAway.message : undefined).toMatch(/protocol error: malformed frame: unknown frame kind 127/);
      // What the peer wrote after the error was dropped, not answered.
      expect(framesOf(Buffer.concat(chunks)).some((f) => f.kind === FrameKind.PONG)).toBe(false);
    });

    it("a lingering connection that never ends is closed by the drain bound (CLOSE_DRAIN_MS), every lease back", async () => {
      const live = await liveServer(channel, {}, boundedRoutes());
      const socket = net.connect({ ...socketOptions(live.url), allowHalfOpen: true });
      onTestFinished(() => socket.destroy());
      await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
      const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
      socket.on("error", () => undefined);
      socket.on("data", () => undefined);
      socket.write(Buffer.concat([framed(helloBytes()), framed(new Uint8Array(header(0x7f, 0, 1)))]));
      // Half-open on our side: we keep the connection (and keep writing) after the server's FIN.
      await until(() => socket.readableEnded, 5000, "the server's FIN");
      const started = Date.now();
      const writer = setInterval(() => socket.writable && socket.write(framed(pingBytes(1))), 50);
      onTestFinished(() => clearInterval(writer));
      await closed;
      clearInterval(writer);
      // CLOSE_DRAIN_MS (5 s) after the close: a lingering peer cannot keep the server's socket.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(live.engine.region.stats().liveLeases).toBe(0);
    }, 20_000);
  });
}
