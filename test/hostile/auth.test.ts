// Hostile handshakes against a server with `auth` (docs/SECURITY.md), from raw sockets that
// speak the stream framing by hand: no key, an unknown key id, a wrong proof, calls sent
// before AUTH, truncated and garbled handshakes, a recorded handshake replayed, a handshake
// trickled slower than its timeout, and a flood of 200 half-open or junk handshakes.
// Each ends with the connection closed and the failure counted with its reason, no
// handler run, the server alive, and an authenticated client still served. Over io_uring
// tcp and unix and node:net tcp.
import * as net from "node:net";
import { randomBytes } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { expect, it, onTestFinished } from "vitest";

import { FrameKind, StatusCode } from "../../src/frame/constants.js";
import { encodeAuth, encodeCallStart } from "../../src/frame/frames.js";
import { prepareMetadata } from "../../src/frame/metadata.js";
import { createUringTransport } from "../../src/index.js";
import type { AuthFailureInfo, ClientAuth } from "../../src/index.js";
import { listenUrl } from "../channel/engines.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { CHANNELS, RawPeer, SteadyClient, boundedRoutes, bytesOf, framed, helloBytes, liveLeases, liveServer, sleep, socketOptions, until } from "./support.js";
import type { HostileChannel, LiveServer } from "./support.js";

const SECRET = new Uint8Array(randomBytes(32));
const GOOD: ClientAuth = { keyId: "good", secret: SECRET };
const HANDSHAKE_TIMEOUT_MS = 800;

function nonce(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

/** A HELLO asking to authenticate as `keyId`. */
function authHello(keyId = "good"): Uint8Array {
  return helloBytes({ authRequest: { keyId, nonce: nonce() } });
}

function callStart(streamId: number): Uint8Array {
  return bytesOf(encodeCallStart(streamId, "/market.v1.MarketService/GetQuote", prepareMetadata(undefined), undefined, new Uint8Array(0), true));
}

interface AuthServer extends LiveServer {
  counters: { running: number; peak: number; started: number };
  failures: AuthFailureInfo[];
}

async function authServer(channel: HostileChannel): Promise<AuthServer> {
  const counters = { running: 0, peak: 0, started: 0 };
  const failures: AuthFailureInfo[] = [];
  const live = await liveServer(
    channel,
    { auth: { keys: { good: SECRET } }, handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, onAuthFailure: (f) => failures.push(f) },
    boundedRoutes(counters),
  );
  return { ...live, counters, failures };
}

/** An authenticated client's call works: the server is alive and serves others. */
async function goodCallWorks(s: AuthServer, channel: HostileChannel): Promise<void> {
  const transport = createUringTransport({ url: s.url, engine: channel.engine, auth: GOOD });
  try {
    const before = s.counters.started;
    expect((await createClient(MarketService, transport).getQuote({ symbol: "after" })).symbol).toBe("after");
    expect(s.counters.started).toBe(before + 1);
  } finally {
    await transport.close();
  }
}

/** The connection was closed with GOAWAY(Unauthenticated) whose message matches. */
async function refused(peer: RawPeer, message: RegExp, code: number = StatusCode.UNAUTHENTICATED): Promise<void> {
  expect(await peer.closedWithin(5000), "the server closes the connection").toBe(true);
  const goAway = peer.goAway();
  expect(goAway?.code).toBe(code);
  expect(goAway?.message).toMatch(message);
}

/** A proxy in front of `target` that records every byte the client sent through it. */
async function recordingProxy(target: string): Promise<{ url: string; sent: Buffer[] }> {
  const sent: Buffer[] = [];
  const proxy = net.createServer((down) => {
    const up = net.connect(socketOptions(target));
    down.on("data", (d: Buffer) => {
      sent.push(Buffer.from(d));
      up.write(d);
    });
    up.on("data", (d: Buffer) => down.write(d));
    const end = (): void => {
      down.destroy();
      up.destroy();
    };
    for (const s of [down, up]) {
      s.on("error", () => undefined);
      s.on("close", end);
    }
  });
  onTestFinished(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
  if (target.startsWith("unix://")) {
    const url = listenUrl("unix");
    await new Promise<void>((resolve) => proxy.listen(url.slice("unix://".length), resolve));
    return { url, sent };
  }
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  return { url: `tcp://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`, sent };
}

for (const channel of CHANNELS) {
  gatedDescribe(`hostile auth: ${channel.name}`, channel.unavailable?.(), () => {
    it("no key: GOAWAY(Unauthenticated) and close; a CALL_START sent along runs nothing", async () => {
      const s = await authServer(channel);
      const peer = await RawPeer.connect(s.url);
      await peer.write(Buffer.concat([framed(helloBytes()), framed(callStart(1))]));
      await refused(peer, /server requires auth: the client sent no key/);
      await until(() => s.failures.length === 1, 5000, "the failure reported");
      expect(s.failures[0]?.reason).toBe("no-auth");
      expect(s.counters.started).toBe(0);
      await goodCallWorks(s, channel);
      expect(s.server.stats().authFailures).toBe(1);
    });

    it("an unknown key id: refused naming it", async () => {
      const s = await authServer(channel);
      const peer = await RawPeer.connect(s.url);
      await peer.send(authHello("stolen-laptop"));
      await refused(peer, /unknown key id "stolen-laptop"/);
      await until(() => s.failures.length === 1, 5000, "the failure reported");
      expect(s.failures[0]).toMatchObject({ reason: "unknown-key-id", keyId: "stolen-laptop" });
      await goodCallWorks(s, channel);
    });

    it("a wrong proof (the server's own proof reflected, then random bytes): refused, no handler ran", async () => {
      const s = await authServer(channel);
      for (const reflect of [true, false]) {
        const peer = await RawPeer.connect(s.url);
        await peer.send(authHello());
        await until(() => peer.frames().some((f) => f.kind === FrameKind.HELLO), 5000, "the server's HELLO");
        const hello = peer.frames().find((f) => f.kind === FrameKind.HELLO);
        const answer = hello?.kind === FrameKind.HELLO ? hello.hello.authAnswer : undefined;
        expect(answer?.proof).toHaveLength(32);
        await peer.write(Buffer.concat([framed(bytesOf(encodeAuth(reflect ? answer!.proof : nonce()))), framed(callStart(1))]));
        await refused(peer, /wrong proof from the client for key id "good"/);
      }
      await until(() => s.failures.length === 2, 5000, "the failures reported");
      expect(s.failures.map((f) => f.reason)).toEqual(["wrong-proof", "wrong-proof"]);
      expect(s.counters.started).toBe(0);
      await goodCallWorks(s, channel);
    });

    it("calls before AUTH: a protocol error, nothing runs", async () => {
      const s = await authServer(channel);
      const peer = await RawPeer.connect(s.url);
      await peer.write(Buffer.concat([framed(authHello()), framed(callStart(1))]));
      await refused(peer, /protocol error: expected AUTH, got frame kind 2/, StatusCode.INTERNAL);
      await until(() => s.failures.length === 1, 5000, "the failure reported");
      expect(s.failures[0]).toMatchObject({ reason: "malformed", keyId: "good" });
      expect(s.counters.started).toBe(0);
      await goodCallWorks(s, channel);
    });

    it("truncated and garbled handshakes: each closed and counted", async () => {
      const s = await authServer(channel);
      const hello = authHello();
      const cases: Array<{ bytes: Buffer; reason: string }> = [
        // A HELLO cut inside its auth part: malformed.
        { bytes: framed(hello.subarray(0, hello.byteLength - 5)), reason: "malformed" },
        // Half a frame, then silence: the handshake timeout.
        { bytes: framed(hello).subarray(0, 20), reason: "timeout" },
        // Random bodies in valid framing.
        { bytes: framed(new Uint8Array(randomBytes(64))), reason: "malformed" },
        // A HELLO whose key id length runs past its end.
        { bytes: framed(Uint8Array.from([...hello.subarray(0, 28), 0xff, 0x00, ...hello.subarray(30)])), reason: "malformed" },
      ];
      for (const c of cases) {
        const peer = await RawPeer.connect(s.url);
        await peer.write(c.bytes);
        expect(await peer.closedWithin(HANDSHAKE_TIMEOUT_MS + 5000), `closed: ${c.reason}`).toBe(true);
      }
      await until(() => s.failures.length === cases.length, 5000, "every failure reported");
      expect(s.failures.map((f) => f.reason)).toEqual(cases.map((c) => c.reason));
      expect(s.counters.started).toBe(0);
      await goodCallWorks(s, channel);
    });

    it("a recorded handshake replayed later fails: the server's fresh nonce makes the old AUTH wrong", async () => {
      const s = await authServer(channel);
      const proxy = await recordingProxy(s.url);
      const recorded = createUringTransport({ url: proxy.url, engine: channel.engine, auth: GOOD });
      expect((await createClient(MarketService, recorded).getQuote({ symbol: "once" })).symbol).toBe("once");
      await recorded.close();
      expect(s.counters.started).toBe(1);
      const bytes = Buffer.concat(proxy.sent);
      expect(bytes.byteLength).toBeGreaterThan(4 + 28 + 40);

      const peer = await RawPeer.connect(s.url);
      await peer.write(bytes);
      await refused(peer, /wrong proof from the client for key id "good"/);
      await until(() => s.failures.length === 1, 5000, "the failure reported");
      expect(s.failures[0]).toMatchObject({ reason: "wrong-proof", keyId: "good" });
      expect(s.counters.started, "the replayed call did not run").toBe(1);
      await goodCallWorks(s, channel);
    });

    it("a handshake trickled slower than its timeout: closed at the timeout", async () => {
      const s = await authServer(channel);
      const peer = await RawPeer.connect(s.url);
      const bytes = framed(authHello());
      const start = Date.now();
      for (let i = 0; i < bytes.byteLength && !peer.isClosed; i++) {
        await peer.write(bytes.subarray(i, i + 1));
        await sleep(50); // ~75 bytes: about 4 s, five times the timeout
      }
      expect(peer.isClosed || (await peer.closedWithin(5000))).toBe(true);
      expect(Date.now() - start).toBeLessThan(bytes.byteLength * 50);
      await until(() => s.failures.length === 1, 5000, "the failure reported");
      expect(s.failures[0]?.reason).toBe("timeout");
      await goodCallWorks(s, channel);
    });

    it("a flood of 200 half-open and junk handshakes: a good client keeps calling; all counted; connections and leases return", async () => {
      const s = await authServer(channel);
      await goodCallWorks(s, channel);
      const leases = liveLeases(s);
      const steady = new SteadyClient(s.url, channel.engine, 10_000, { auth: GOOD }).start(2);
      await until(() => steady.ok > 0, 10_000, "the steady client's first call");
      const peers: RawPeer[] = [];
      for (let i = 0; i < 200; i++) {
        const peer = await RawPeer.connect(s.url);
        peers.push(peer);
        switch (i % 4) {
          case 0: // nothing at all
            break;
          case 1: // junk framing: a length no frame has
            await peer.write(new Uint8Array(randomBytes(32)));
            break;
          case 2: // half a HELLO
            await peer.write(framed(authHello()).subarray(0, 17));
            break;
          case 3: // a HELLO and no AUTH
            await peer.send(authHello());
            break;
        }
      }
      const closed = await Promise.all(peers.map((p) => p.closedWithin(HANDSHAKE_TIMEOUT_MS + 10_000)));
      expect(closed.every(Boolean), "every flooding connection closed by the server").toBe(true);
      const okDuringFlood = steady.ok;
      await until(() => steady.ok > okDuringFlood, 10_000, "a call after the flood");
      const { ok, errors } = await steady.stop();
      expect(errors).toEqual([]);
      expect(ok).toBeGreaterThan(1);
      await until(() => s.server.stats().authFailures === 200, 5000, "200 failures counted");
      expect(s.failures.filter((f) => !["timeout", "malformed", "closed"].includes(f.reason))).toEqual([]);
      expect(s.failures.filter((f) => f.reason === "timeout").length).toBeGreaterThanOrEqual(150); // silent, half and no-AUTH ones
      expect(s.counters.started - ok).toBeLessThanOrEqual(1); // only the good clients' calls ran
      await steady.transport.close();
      await until(() => s.server.stats().connections === 0, 5000, "connections back to none");
      await until(() => liveLeases(s) === leases, 5000, `region leases back to ${leases}`);
    });
  });
}
