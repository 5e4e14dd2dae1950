// Misbehaving-peer tests of the channel suite: a raw node:net peer in a child process
// (test/fixtures/raw-peer.js) stops mid-frame (FIN, RST, SIGKILL) or announces a frame
// above maxFrameBytes. The engine under test, as client and as server, must report
// onClose exactly once with the right error code, never hang, free what it held for the
// broken frame, and keep its other connections working. A peer that half-closes cleanly
// is in half-close-tests.ts.

import { afterEach, describe, expect, it } from "vitest";
import type { Channel } from "../../src/channel/channel.js";
import type { ChannelSuiteOptions, SuiteEngine } from "./channel-suite.js";
import { eventually } from "./echo-tests.js";
import { Inbox, sendBytes } from "./support/inbox.js";
import { firstDifference, pattern } from "./support/pattern.js";
import { Fixture } from "./support/processes.js";
import { halfCloseTests } from "./half-close-tests.js";

const MID_FRAME = ["ERR_PEER_CLOSED_MID_FRAME"];
const KILLED = ["ERR_PEER_CLOSED_MID_FRAME", "ECONNRESET"];
const MAX = 65536;

interface Case {
  mode: string;
  /** Error codes onClose may report. */
  codes: string[];
  kill?: boolean;
  /** Frames the engine must deliver before the close. */
  frames?: number;
}

function cases(unix: boolean): Case[] {
  return [
    { mode: "partial-end", codes: MID_FRAME },
    { mode: "header-end", codes: MID_FRAME },
    { mode: "partial-hold", codes: KILLED, kill: true },
    // Unix sockets have no RST: an abortive close is an end of stream there.
    { mode: "reset", codes: unix ? MID_FRAME : ["ECONNRESET"] },
    { mode: "oversize", codes: ["ERR_FRAME_TOO_LARGE"], frames: 1 },
  ];
}

export function peerTests(options: ChannelSuiteOptions): void {
  const unix = options.url().startsWith("unix:");
  describe("misbehaving peers (raw node:net in a child process)", () => {
    const cleanup: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const step of cleanup.splice(0).reverse()) await step();
    });

    function engine(): SuiteEngine {
      const made = options.makeEngine({ maxFrameBytes: MAX });
      cleanup.push(() => made.close());
      return made;
    }

    function peer(role: "server" | "client", mode: string, url: string): Fixture {
      const fixture = new Fixture("raw-peer.js", [role, mode, url, String(MAX)]);
      cleanup.push(() => fixture.stop());
      return fixture;
    }

    async function expectReported(inbox: Inbox, c: Case, fixture: Fixture): Promise<void> {
      await fixture.line<{ sent: boolean }>();
      if (c.kill) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        fixture.child.kill("SIGKILL");
      }
      const error = (await inbox.closed(10_000)) as (Error & { code?: string }) | undefined;
      expect(error, "onClose must carry an error").toBeInstanceOf(Error);
      expect(c.codes).toContain(error!.code);
      expect(inbox.closes).toHaveLength(1);
      expect(inbox.frames.map((f) => f.byteLength)).toEqual(new Array(c.frames ?? 0).fill(MAX));
      expect(inbox.channel?.closed).toBe(true);
      expect(() => inbox.channel!.send(inbox.channel!.allocate(1))).toThrow();
    }

    for (const c of cases(unix)) {
      it(`as client: peer ${c.mode}${c.kill ? " + SIGKILL" : ""} → onClose once with ${c.codes.join(" or ")}`, async () => {
        const tested = engine();
        const baseline = tested.region.stats().liveLeases;
        const fixture = peer("server", c.mode, options.url());
        const { url } = await fixture.line<{ url: string }>();
        const inbox = new Inbox();
        inbox.channel = await tested.connect(url, inbox);
        await expectReported(inbox, c, fixture);
        await eventually(() => tested.region.stats().liveLeases <= baseline);
      });
    }

    for (const c of cases(unix)) {
      it(`as server: peer ${c.mode}${c.kill ? " + SIGKILL" : ""} → onClose once with ${c.codes.join(" or ")}; other connections unaffected`, async () => {
        const tested = engine();
        const baseline = tested.region.stats().liveLeases;
        const inboxes: Inbox[] = [];
        const listener = await tested.listen(options.url(), (channel) => {
          const inbox = new Inbox();
          inbox.channel = channel;
          inboxes.push(inbox);
          // Echo, so that the healthy connection below can check it is still served.
          inbox.hook = (frame, ch) => {
            if (inboxes.indexOf(inbox) === 1) void sendBytes(ch!, frame.slice());
          };
          return inbox;
        });
        const fixture = peer("client", c.mode, listener.url);
        await eventually(() => inboxes.length === 1, 5000);
        const healthyInbox = new Inbox();
        const healthy: Channel = await tested.connect(listener.url, healthyInbox);
        await eventually(() => inboxes.length === 2, 5000);
        await expectReported(inboxes[0]!, c, fixture);

        await sendBytes(healthy, pattern(5000, 9));
        expect(firstDifference(await healthyInbox.next(), pattern(5000, 9))).toBe(-1);
        healthy.close();
        await healthyInbox.closed();
        await eventually(() => tested.region.stats().liveLeases <= baseline);
      });
    }
  });
  halfCloseTests(options);
}
