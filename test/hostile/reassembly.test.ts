// Channel-level regression test for the first finding of `npm run fuzz`
// (fuzz/corpus/frame_assembler/regression-stall-after-header-at-buffer-end, fixed in
// 8fe7e88; before, the uring engine overwrote the neighbour lease here): a peer's
// length header ends a receive buffer while no lease is free, so the parser stalls right
// after it; when memory comes back and the next buffer holds the body AND more frames,
// the frame must be reassembled exactly — not the whole buffer copied into a lease sized
// for one frame (which overwrites whatever lease follows: another connection's frame).
// Driven through the real engines with a raw node:net peer; the region is filled from JS
// with leases carrying a pattern, so an overflow into a neighbour is visible.

import * as net from "node:net";
import { expect, it, onTestFinished } from "vitest";
import type { Channel } from "../../src/channel/channel.js";
import { NetEngine } from "../../src/channel/net-engine.js";
import { UringEngine } from "../../src/channel/uring-engine.js";
import type { RegionLease } from "../../src/region.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { CHANNELS, sleep, until } from "./support.js";

for (const channel of CHANNELS.filter((c) => c.name.endsWith("unix") || c.engine === "net")) {
  gatedDescribe(`reassembly after a stall: ${channel.name}`, channel.unavailable?.(), () => {
    it("a stall right after a length header that ended a buffer: frames exact, neighbour leases untouched", async () => {
      const options = { region: { leaseBytes: 8192, slotSize: 4096, recvSlots: 16 } };
      const engine = channel.engine === "uring" ? new UringEngine(options) : new NetEngine(options);
      onTestFinished(() => engine.close());
      const frames: Buffer[] = [];
      let closeCode: string | undefined;
      let closed = false;
      let server: Channel | undefined;
      const listener = await engine.listen(channel.url(), (ch) => {
        server = ch;
        return {
          onFrame: (f) => void frames.push(Buffer.from(f)),
          onClose: (e) => {
            closed = true;
            closeCode = (e as { code?: string } | undefined)?.code;
          },
        };
      });
      onTestFinished(() => listener.close());
      // Fill the lease area with 256-byte leases carrying a pattern.
      const held: RegionLease[] = [];
      for (let lease = engine.region.tryAllocate(252, 4); lease !== null; lease = engine.region.tryAllocate(252, 4)) {
        lease.bytes.fill(0x11);
        held.push(lease);
      }
      onTestFinished(() => held.forEach((l) => l.release()));
      const unix = /^unix:\/\/(\/.*)$/.exec(listener.url);
      const tcp = /:(\d+)$/.exec(listener.url);
      const socket = unix ? net.connect(unix[1] as string) : net.connect(Number(tcp?.[1]), "127.0.0.1");
      onTestFinished(() => socket.destroy());
      await new Promise((r) => socket.once("connect", r));
      await until(() => server !== undefined, 5000, "the accepted channel");

      const header = (n: number): Buffer => {
        const b = Buffer.alloc(4);
        b.writeUInt32LE(n);
        return b;
      };
      socket.write(header(100)); // the header alone ends a receive buffer; no lease is free
      await sleep(100);
      held[0]?.release(); // memory back: exactly one 256-byte unit; its neighbour keeps the pattern
      await sleep(100);
      socket.write(Buffer.concat([Buffer.alloc(100, 0xaa), header(50), Buffer.alloc(50, 0xbb)]));
      await until(() => frames.length >= 2 || closed, 3000, "the frames or a close");
      await sleep(50);

      expect(held[1]?.bytes.every((b) => b === 0x11), "the neighbour lease was not overwritten").toBe(true);
      if (closed) {
        // Not reassembling for lack of memory is allowed (net closes with ERR_REGION_FULL); corrupting is not.
        expect(closeCode).toBe("ERR_REGION_FULL");
      } else {
        expect(frames.map((f) => f.byteLength)).toEqual([100, 50]);
        expect(frames[0]?.every((b) => b === 0xaa)).toBe(true);
        expect(frames[1]?.every((b) => b === 0xbb)).toBe(true);
      }
    });
  });
}
