// Frames being reassembled count against their connection's share of the lease area
// (docs/LIMITS.md, "unsent bytes per connection" and "lease area"; the rule:
// native/common/reassembly_share.h, src/channel/reassembly-share.ts). Peers that announce
// large frames and then trickle them (so the partial-frame watchdog never cuts them) must
// not fill the area the server sends from: a frame larger than what its connection's
// share leaves is reassembled only in the engine's one over-share place (io_uring: the
// others' receive pauses; net: the others are reassembled on the heap). Before, four such
// peers took the whole area and a healthy client's calls failed. The connection's unsent
// frames count too: a frame that does not fit what they leave waits (io_uring) until they
// drain, or goes to the heap (net).

import * as net from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import type { Channel } from "../../src/channel/channel.js";
import { NetEngine } from "../../src/channel/net-engine.js";
import type { NetChannel } from "../../src/channel/net-channel.js";
import { UringEngine } from "../../src/channel/uring-engine.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { CHANNELS, RawPeer, SteadyClient, boundedRoutes, framed, helloBytes, le32, liveServer, sleep, socketOptions, until } from "./support.js";

const LEASE_BYTES = 1 << 20;
const SHARE = 64 << 10;
/** A frame whose lease (body + 4-byte header) is a quarter of the area: four fill it. */
const FRAME_BODY = LEASE_BYTES / 4 - 4;
const HOSTILES = 4;
const FIRST_PART = 1000;

for (const channel of CHANNELS) {
  gatedDescribe(`reassembly within the share: ${channel.name}`, channel.unavailable?.(), () => {
    describe("peers trickling large frames", () => {
      it("one over-share frame at a time: the lease area stays bounded, a healthy client's calls succeed, every frame is read in the end", async () => {
        const live = await liveServer(channel, { region: { leaseBytes: LEASE_BYTES }, maxUnsentBytes: SHARE, sendTimeoutMs: 2000 }, boundedRoutes());
        const baseline = live.engine.region.stats().liveLeases;
        let peak = 0;
        const sample = (): void => void (peak = Math.max(peak, live.engine.region.stats().leaseBytesInUse));
        const sampler = setInterval(sample, 5);
        onTestFinished(() => clearInterval(sampler));

        // Each peer passes HELLO, announces a frame of a quarter of the area, sends its first bytes.
        const hostiles = await Promise.all(Array.from({ length: HOSTILES }, () => RawPeer.connect(live.url)));
        const sent = hostiles.map(() => FIRST_PART);
        // 0xee: not a frame kind, so each frame, once complete, closes its connection with a protocol error.
        for (const h of hostiles) await h.write(Buffer.concat([framed(helloBytes()), Buffer.from(le32(FRAME_BODY)), Buffer.alloc(FIRST_PART, 0xee)]));
        // Then a byte each every 50 ms: steady progress, never cut as stopped mid-frame.
        let trickling = true;
        const trickle = (async () => {
          while (trickling) {
            for (const [i, h] of hostiles.entries()) if (await h.write(Buffer.alloc(1, 0xee))) sent[i]! += 1;
            await sleep(50);
          }
        })();
        await sleep(200);

        const steady = new SteadyClient(live.url, channel.engine, 5000).start(2);
        await sleep(1500);
        const { ok, errors } = await steady.stop();
        trickling = false;
        await trickle;
        sample();

        expect(errors, "the healthy client's calls").toEqual([]);
        expect(ok).toBeGreaterThan(10);
        expect(hostiles.filter((h) => h.isClosed), "no trickling peer was cut").toEqual([]);
        // One over-share frame, plus what the healthy connection and the HELLOs take (far below a share).
        expect(peak, "lease bytes in use at the peak").toBeLessThanOrEqual(FRAME_BODY + 4 + SHARE);

        // The rest of every frame: the over-share place passes from one to the next, each
        // frame is reassembled and refused (GOAWAY), and every lease comes back.
        await Promise.all(hostiles.map((h, i) => h.write(Buffer.alloc(FRAME_BODY - sent[i]!, 0xee))));
        for (const h of hostiles) expect(await h.closedWithin(10_000), "the peer's frame was read and refused").toBe(true);
        expect(hostiles.map((h) => h.goAway() !== undefined)).toEqual(hostiles.map(() => true));
        await until(() => live.engine.region.stats().liveLeases <= baseline, 5000, "the leases to come back");
        expect(peak).toBeLessThanOrEqual(FRAME_BODY + 4 + SHARE);
      });
    });

    describe("unsent frames count", () => {
      it("a frame that does not fit what the share leaves after the connection's unsent frames: io_uring waits until they drain, net takes the heap", async () => {
        const options = { region: { leaseBytes: LEASE_BYTES, slotSize: 4096, recvSlots: 64 }, maxUnsentBytes: SHARE };
        const engine = channel.engine === "uring" ? new UringEngine(options) : new NetEngine(options);
        onTestFinished(() => engine.close());
        const accepted: { channel: Channel; frames: Uint8Array[] }[] = [];
        const listener = await engine.listen(channel.url(), (ch) => {
          const entry = { channel: ch, frames: [] as Uint8Array[] };
          accepted.push(entry);
          return { onFrame: (f) => void entry.frames.push(Uint8Array.from(f)), onClose: () => undefined };
        });
        onTestFinished(() => listener.close());
        const connect = async (): Promise<net.Socket> => {
          const socket = net.connect(socketOptions(listener.url));
          onTestFinished(() => void socket.destroy());
          socket.on("error", () => undefined);
          await new Promise((r) => socket.once("connect", r));
          return socket;
        };
        // The holder: a frame larger than the share, partly sent, takes the over-share place.
        const holder = await connect();
        holder.write(Buffer.concat([Buffer.from(le32(FRAME_BODY)), Buffer.alloc(FIRST_PART, 1)]));
        await until(() => accepted.length === 1 && (accepted[0]?.channel.partialFrameBytes ?? 0) > 0, 5000, "the holder's partial frame");
        // The reader stops reading; the server sends to it until its share is full of unsent frames.
        const reader = await connect();
        reader.pause();
        await until(() => accepted.length === 2, 5000, "the reader's channel");
        const toReader = accepted[1]!.channel;
        for (let full = false; !full; ) {
          try {
            toReader.send(toReader.allocate(8192));
          } catch (error) {
            expect((error as { code?: string }).code).toBe("ERR_REGION_FULL");
            await sleep(50); // the kernel may still take some
            full = toReader.unsentBytes > SHARE - 8192 - 256;
          }
        }
        // Now a frame of 20 KiB from the reader, in two writes so that it straddles receive
        // buffers on every engine; its lease does not fit what the reader's share leaves.
        const body = Buffer.alloc(20 * 1024, 0x5a);
        const bytes = framed(body);
        reader.write(bytes.subarray(0, 1000));
        await sleep(50);
        reader.write(bytes.subarray(1000));
        await sleep(300);
        if (channel.engine === "uring") {
          expect(accepted[1]!.frames, "waiting for the over-share place or room in its share").toEqual([]);
          expect(toReader.closed).toBe(false);
          reader.resume(); // its unsent frames drain: the frame fits its share now
          await until(() => accepted[1]!.frames.length === 1, 5000, "the reader's frame");
        } else {
          expect(accepted[1]!.frames.length, "reassembled at once, on the heap").toBe(1);
          expect((toReader as NetChannel).stats().reassembledOnHeap).toBe(1);
        }
        expect(Buffer.from(accepted[1]!.frames[0]!).equals(body)).toBe(true);
        expect(accepted[0]!.frames, "the holder's frame is still partial: the place was not what let it go").toEqual([]);
        reader.resume();
      });
    });
  });
}
