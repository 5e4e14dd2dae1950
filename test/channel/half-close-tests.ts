// Half-close tests of the channel suite (part of "peers": the peer is a raw node:net
// socket in a child process, test/fixtures/raw-peer.js). A peer that sends whole frames
// and then FIN has ended only its side, as TCP allows: the engine under test, as client
// and as server, must report onEnd (not onClose), keep sending — the peer reads what is
// sent after its FIN — and close cleanly when told; without an onEnd callback it closes
// itself after its queued frames left. A peer that is really gone (RST after its FIN)
// must still surface as onClose(error) once something is sent. Issue 6.

import { afterEach, describe, expect, it } from "vitest";
import type { Channel } from "../../src/channel/channel.js";
import type { ChannelSuiteOptions, SuiteEngine } from "./channel-suite.js";
import { eventually } from "./echo-tests.js";
import { Inbox, sendBytes } from "./support/inbox.js";
import { pattern } from "./support/pattern.js";
import { Fixture } from "./support/processes.js";

/** Body length of the frame the peer sends before its FIN. */
const REQUEST = 100;

/** An Inbox that also records onEnd (with it, the channel stays open after the peer's FIN). */
class EndInbox extends Inbox {
  ends = 0;
  closedAtEnd: boolean | undefined;

  onEnd(): void {
    this.ends++;
    this.closedAtEnd = this.channel?.closed;
  }
}

export function halfCloseTests(options: ChannelSuiteOptions): void {
  describe("a peer that half-closes (whole frames, then FIN)", () => {
    const cleanup: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const step of cleanup.splice(0).reverse()) await step();
    });

    function engine(): SuiteEngine {
      const made = options.makeEngine();
      cleanup.push(() => made.close());
      return made;
    }

    /** The engine under test as `role`, connected to a raw peer in `mode`. */
    async function open(role: "server" | "client", mode: string, inbox: Inbox): Promise<{ tested: SuiteEngine; fixture: Fixture; baseline: number }> {
      const tested = engine();
      const baseline = tested.region.stats().liveLeases;
      let fixture: Fixture;
      if (role === "client") {
        fixture = new Fixture("raw-peer.js", ["server", mode, options.url(), String(REQUEST)]);
        cleanup.push(() => fixture.stop());
        const { url } = await fixture.line<{ url: string }>();
        inbox.channel = await tested.connect(url, inbox);
      } else {
        const listener = await tested.listen(options.url(), (channel) => {
          inbox.channel = channel;
          return inbox;
        });
        cleanup.push(() => listener.close());
        fixture = new Fixture("raw-peer.js", ["client", mode, listener.url, String(REQUEST)]);
        cleanup.push(() => fixture.stop());
      }
      await fixture.line<{ sent: boolean }>();
      return { tested, fixture, baseline };
    }

    for (const role of ["server", "client"] as const) {
      it(`as ${role}: onEnd after the frames; what is sent after it reaches the peer; close() ends cleanly`, async () => {
        const inbox = new EndInbox();
        const { tested, fixture, baseline } = await open(role, "half-close", inbox);
        await eventually(() => inbox.ends === 1, 5000);
        expect(inbox.frames.map((f) => f.byteLength)).toEqual([REQUEST]);
        expect(inbox.closedAtEnd).toBe(false);
        const channel = inbox.channel as Channel;
        expect(channel.peerEnded).toBe(true);
        expect(channel.closed).toBe(false);
        // The answer comes well after the FIN (a handler that takes its time).
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(inbox.closes).toEqual([]);
        for (const [length, seed] of [[10, 1], [5000, 2], [40_000, 3]] as const) await sendBytes(channel, pattern(length, seed));
        channel.close();
        expect(await fixture.line<{ frames: number[] }>()).toEqual({ frames: [10, 5000, 40_000] });
        expect(await inbox.closed()).toBeUndefined();
        expect(inbox.closes).toHaveLength(1);
        expect(inbox.ends).toBe(1);
        await eventually(() => tested.region.stats().liveLeases <= baseline);
      });

      it(`as ${role}: without onEnd the channel closes itself, after the frames it queued left`, async () => {
        const inbox = new Inbox();
        // Answer inside onFrame: the FIN is reported right after (same batch on io_uring).
        inbox.hook = (frame, channel) => {
          const lease = channel!.allocate(frame.byteLength);
          lease.bytes.set(frame);
          channel!.send(lease);
        };
        const { tested, fixture, baseline } = await open(role, "half-close", inbox);
        expect(await inbox.closed()).toBeUndefined();
        expect(inbox.closes).toHaveLength(1);
        expect(inbox.channel?.closed).toBe(true);
        expect(await fixture.line<{ frames: number[] }>()).toEqual({ frames: [REQUEST] });
        await eventually(() => tested.region.stats().liveLeases <= baseline);
      });

      it(`as ${role}: a peer that is gone after its FIN (RST, or a closed unix socket) → onClose(error) on a later send`, async () => {
        const inbox = new EndInbox();
        const { tested, baseline } = await open(role, "half-reset", inbox);
        await eventually(() => inbox.ends === 1, 5000);
        await new Promise((resolve) => setTimeout(resolve, 400)); // the peer resets 200 ms after its FIN
        const channel = inbox.channel as Channel;
        for (let i = 0; i < 300 && inbox.closes.length === 0; i++) {
          try {
            await sendBytes(channel, pattern(1000, i));
          } catch {
            // ERR_CHANNEL_CLOSED: onClose is on its way
          }
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        const error = (await inbox.closed()) as (Error & { code?: string }) | undefined;
        expect(error, "onClose must carry an error").toBeInstanceOf(Error);
        expect(["ECONNRESET", "EPIPE"]).toContain(error!.code);
        expect(inbox.closes).toHaveLength(1);
        expect(channel.closed).toBe(true);
        await eventually(() => tested.region.stats().liveLeases <= baseline);
      });
    }
  });
}
