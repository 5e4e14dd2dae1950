// A peer that connects to an shm:// rendezvous socket and never answers (it takes the
// server's Hello and its memfd, then stays silent) must cost the server a bounded, timed
// set of fds and regions (native/shm/shm_engine.cc, RendezvousStarted/SweepRendezvous):
// each such peer is closed after rendezvousTimeoutMs, at most 64 wait at once (more are
// closed at accept), and an honest client connects as soon as there is room.
import * as net from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { ShmEngine } from "../../src/channel/shm-engine.js";
import { shmUnavailable, shmUrl } from "../channel/shm-suite.js";
import { eventually } from "../channel/echo-tests.js";
import { gatedDescribe } from "../support/capability-gate.js";

/** A raw unix-socket peer that reads what the server sends and never answers; resolves its end. */
function silentPeer(path: string): { ended: Promise<void>; socket: net.Socket } {
  const socket = net.connect(path);
  socket.on("data", () => undefined);
  socket.on("error", () => undefined);
  const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  onTestFinished(() => void socket.destroy());
  return { ended, socket };
}

async function listening(rendezvousTimeoutMs: number): Promise<{ engine: ShmEngine; url: string; path: string }> {
  const engine = new ShmEngine({ ringBytes: 64 * 1024, rendezvousTimeoutMs });
  onTestFinished(() => engine.close());
  const listener = await engine.listen(shmUrl(), () => ({ onFrame() {}, onClose() {} }));
  return { engine, url: listener.url, path: new URL(listener.url).pathname };
}

gatedDescribe("shm: peers that never answer the rendezvous", shmUnavailable(), () => {
  it("are closed after rendezvousTimeoutMs and counted; an honest client still connects", async () => {
    const { engine, url, path } = await listening(300);
    const silent = Array.from({ length: 3 }, () => silentPeer(path));
    await Promise.all(silent.map((p) => p.ended));
    expect(engine.stats().rendezvousTimeouts).toBe(3);
    const client = new ShmEngine({ ringBytes: 64 * 1024 });
    onTestFinished(() => client.close());
    const channel = await client.connect(url, { onFrame() {}, onClose() {} });
    expect(channel.closed).toBe(false);
    channel.close();
  });

  it("at most 64 wait at once: the 65th and later are closed at accept, counted", async () => {
    const { engine } = await listening(60_000).then(async (l) => {
      const peers = Array.from({ length: 70 }, () => silentPeer(l.path));
      await eventually(() => l.engine.stats().rendezvousRefused >= 6, 5000);
      // The refused ones see their socket closed at once; the 64 waiting ones are still open.
      const closed = await Promise.all(peers.map((p) => Promise.race([p.ended.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 200))])));
      expect(closed.filter(Boolean)).toHaveLength(6);
      return l;
    });
    expect(engine.stats().rendezvousRefused).toBe(6);
    expect(engine.stats().rendezvousTimeouts).toBe(0);
  });
});

describe("ShmEngine options", () => {
  it("rendezvousTimeoutMs must be a positive integer", () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => new ShmEngine({ rendezvousTimeoutMs: bad })).toThrow(RangeError);
  });
});
