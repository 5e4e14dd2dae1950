// The two engines speak the same wire format: a net client against an io_uring echo
// server in another process, and an io_uring client against a net echo server. Skipped
// with the reason printed where io_uring is unavailable (a failure under CI=true).

import { afterAll, describe, expect, it } from "vitest";
import type { ChannelEngine } from "../../src/channel/channel.js";
import { NetEngine } from "../../src/channel/net-engine.js";
import { UringEngine } from "../../src/channel/uring-engine.js";
import { listenUrl, uringUnavailable } from "./engines.js";
import { Inbox, sendBytes } from "./support/inbox.js";
import { firstDifference, pattern } from "./support/pattern.js";
import { Fixture, requireDist } from "./support/processes.js";

const unavailable = uringUnavailable();
const combos = [
  { client: "net", server: "uring", make: (): ChannelEngine => new NetEngine() },
  { client: "uring", server: "net", make: (): ChannelEngine => new UringEngine() },
] as const;

if (unavailable !== undefined && process.env.CI !== "true") {
  console.warn(`[skip] interop: ${unavailable}`);
  describe.skip(`net <-> uring interop (skipped: ${unavailable})`, () => it("needs io_uring", () => undefined));
} else {
  describe("net <-> uring interop, server in another process", () => {
    const cleanup: (() => Promise<void>)[] = [];
    afterAll(async () => {
      for (const step of cleanup) await step();
    });

    for (const { client, server, make } of combos) {
      for (const transport of ["tcp", "unix"] as const) {
        it(`${client} client -> ${server} server over ${transport}: byte-exact echo`, async () => {
          expect(unavailable, "CI=true: a missing capability is a failure").toBeUndefined();
          requireDist(["channel", "region", "binding", "errors"]);
          const fixture = new Fixture("echo-server.js", [server, listenUrl(transport)]);
          cleanup.push(() => fixture.stop());
          const { url } = await fixture.line<{ url: string }>();
          const engine = make();
          cleanup.push(() => engine.close());
          const inbox = new Inbox();
          const channel = await engine.connect(url, inbox);
          const sizes = [0, 1, 16 * 1024 - 4, 16 * 1024 - 3, 100_000, 1 << 20];
          for (const [i, size] of sizes.entries()) {
            await sendBytes(channel, pattern(size, i));
            expect([size, firstDifference(await inbox.next(), pattern(size, i))]).toEqual([size, -1]);
          }
          channel.close();
          expect(await inbox.closed()).toBeUndefined();
        });
      }
    }
  });
}
