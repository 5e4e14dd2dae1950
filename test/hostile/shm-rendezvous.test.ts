// A peer that connects to an shm:// rendezvous socket and never answers (it takes the
// server's Hello and its memfd, then stays silent) must cost the server a bounded, timed
// set of fds and regions (native/shm/shm_engine.cc, RendezvousStarted/SweepRendezvous):
// each such peer is closed after rendezvousTimeoutMs, at most 64 wait at once (more are
// closed at accept), and an honest client connects as soon as there is room. A peer the
// listener does not admit (allowUids/allowGids) is closed at accept, before any Hello or fd.
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

/** What a raw unix-socket peer receives before the server closes it (the Hello travels with the memfd). */
async function received(path: string): Promise<Buffer> {
  const socket = net.connect(path);
  onTestFinished(() => void socket.destroy());
  socket.on("error", () => undefined);
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => {
    chunks.push(chunk);
    socket.end(); // answer nothing: the server closes us at its rendezvous timeout, or at once when refusing
  });
  await new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return Buffer.concat(chunks);
}

gatedDescribe("shm: admission (allowUids/allowGids) before the rendezvous", shmUnavailable(), () => {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;

  it("a refused peer is closed at accept without the Hello, so without the memfd; counted and reported", async () => {
    const engine = new ShmEngine({ ringBytes: 64 * 1024, rendezvousTimeoutMs: 300 });
    onTestFinished(() => engine.close());
    let refused = 0;
    let accepted = 0;
    const listener = await engine.listen(shmUrl(), () => (accepted++, { onFrame() {}, onClose() {} }), { admit: { uids: [uid + 1], gids: [gid + 1] }, onRefused: () => refused++ });
    const path = new URL(listener.url).pathname;
    // The server's Hello (magic "CRSM", version, capacity: 16 bytes) goes out in the one
    // sendmsg that carries the memfd: no Hello bytes, no fd.
    expect(await received(path)).toHaveLength(0);
    await eventually(() => refused === 1, 2000);
    expect(engine.stats().refusedPeers).toBe(1);
    expect(accepted).toBe(0);
    // No region was made for it: nothing waited for its rendezvous.
    expect(engine.stats().rendezvousTimeouts).toBe(0);
    // A real client is refused too (its rendezvous ends without a region).
    const client = new ShmEngine({ ringBytes: 64 * 1024 });
    onTestFinished(() => client.close());
    await expect(client.connect(listener.url, { onFrame() {}, onClose() {} })).rejects.toThrow(/the server refused the connection: it closed the rendezvous before handing over the shared region/);
    await eventually(() => refused === 2, 2000);
  });

  it("an admitted peer (by uid, or by gid) gets the Hello; with neither list everyone does", async () => {
    for (const admit of [{ uids: [uid] }, { uids: [uid + 1], gids: [gid] }, undefined]) {
      const engine = new ShmEngine({ ringBytes: 64 * 1024, rendezvousTimeoutMs: 300 });
      onTestFinished(() => engine.close());
      let refused = 0;
      const listener = await engine.listen(shmUrl(), () => ({ onFrame() {}, onClose() {} }), { ...(admit ? { admit } : {}), onRefused: () => refused++ });
      const hello = await received(new URL(listener.url).pathname);
      expect(hello.subarray(0, 4).toString("latin1")).toBe("CRSM");
      expect(refused).toBe(0);
      expect(engine.stats().refusedPeers).toBe(0);
    }
  });
});

describe("ShmEngine options", () => {
  it("rendezvousTimeoutMs must be a positive integer", () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => new ShmEngine({ rendezvousTimeoutMs: bad })).toThrow(RangeError);
  });
});
