// What a handler knows about its peer on every engine (src/connect/peer.ts, peerKey): the
// peer's address as a URL of the channel's scheme, and on unix:// and shm:// the peer
// process's credentials as the kernel recorded them (SO_PEERCRED). One case runs its
// client in a child process, so the pid the handler sees is not the server's own.
import { createClient } from "@connectrpc/connect";
import { tmpdir } from "node:os";
import { describe, expect, it, onTestFinished } from "vitest";

import { NetEngine } from "../../src/channel/net-engine.js";
import { UringEngine } from "../../src/channel/uring-engine.js";
import type { ChannelEngine } from "../../src/channel/channel.js";
import { createServer, createUringTransport, peerKey } from "../../src/index.js";
import type { Peer } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { uringUnavailable } from "../channel/engines.js";
import { shmUnavailable, shmUrl } from "../channel/shm-suite.js";
import { Fixture, requireDist } from "../channel/support/processes.js";
import { gatedDescribe, gatedIt } from "../support/capability-gate.js";
import { loopback6Unavailable } from "../channel/support/loopback6.js";

let sockets = 0;
const noLoopback6 = await loopback6Unavailable();
const unixUrl = () => `unix://${tmpdir()}/crdma-peer-${process.pid}-${++sockets}.sock`;

/** A server on `listenUrl` whose getQuote records the Peer of each call; its bound URL. */
async function peerServer(listenUrl: string, engine?: "uring" | "net") {
  const seen: (Peer | undefined)[] = [];
  const server = createServer({
    ...(engine ? { engine } : {}),
    routes: (router) =>
      router.service(MarketService, {
        getQuote: (req, ctx) => {
          seen.push(ctx.values.get(peerKey));
          return { symbol: req.symbol };
        },
      }),
  });
  onTestFinished(() => server.close(0));
  const url = await server.listen(listenUrl);
  return { url, seen };
}

/** One call from this process on `engine`; resolves with the Peer the handler saw. */
async function peerOfOneCall(listenUrl: string, engine?: "uring" | "net") {
  const { url, seen } = await peerServer(listenUrl, engine);
  const transport = createUringTransport({ url, ...(engine ? { engine } : {}) });
  onTestFinished(() => transport.close());
  await createClient(MarketService, transport).getQuote({ symbol: "ACME" });
  expect(seen).toHaveLength(1);
  return { url, peer: seen[0]! };
}

const me = () => ({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });

function socketCases(engine: "uring" | "net"): void {
  it("tcp://: the client's IP and port, no credentials", async () => {
    const { url, peer } = await peerOfOneCall("tcp://127.0.0.1:0", engine);
    expect(peer.engine).toBe(engine);
    const match = /^tcp:\/\/127\.0\.0\.1:(\d+)$/.exec(peer.address ?? "");
    expect(match, peer.address).not.toBeNull();
    // The client's ephemeral port, not the server's.
    expect(url.endsWith(`:${match![1]}`)).toBe(false);
    expect(peer.credentials).toBeUndefined();
  });

  gatedIt("tcp:// over IPv6: the address is bracketed (tcp://[::1]:port)", noLoopback6, async () => {
    const { peer } = await peerOfOneCall("tcp://[::1]:0", engine);
    expect(peer.address).toMatch(/^tcp:\/\/\[::1\]:\d+$/);
  });

  it("unix://: the socket path and the client process's pid/uid/gid", async () => {
    const { url, peer } = await peerOfOneCall(unixUrl(), engine);
    expect(peer.engine).toBe(engine);
    expect(peer.address).toBe(url);
    expect(peer.credentials).toEqual(me());
    expect(Object.isFrozen(peer.credentials)).toBe(true);
  });

  it("unix:// from a child process: its pid, not the server's", async () => {
    requireDist(["index", "connect", "frame", "channel"]);
    const { seen, url } = await peerServer(unixUrl(), engine);
    const client = new Fixture("one-call-client.js", [url, "0"], [], ["env", `CONNECT_RDMA_ENGINE=${engine}`]);
    onTestFinished(() => client.stop());
    expect(await client.line()).toEqual({ symbol: "ACME" });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.credentials).toEqual({ pid: client.child.pid, uid: process.getuid!(), gid: process.getgid!() });
    expect(seen[0]!.credentials!.pid).not.toBe(process.pid);
  });
}

/** The client side of a channel knows its peer too: the server's address. */
function clientSide(makeEngine: () => ChannelEngine): void {
  it("a connected channel's peer is the server (tcp:// and unix://)", async () => {
    const engine = makeEngine();
    onTestFinished(() => engine.close());
    const none = { onFrame: () => undefined, onClose: () => undefined };
    for (const listenUrl of ["tcp://127.0.0.1:0", unixUrl()]) {
      const listener = await engine.listen(listenUrl, () => none);
      const channel = await engine.connect(listener.url, none);
      expect(channel.peer?.address).toBe(listener.url);
      if (listenUrl.startsWith("unix:")) expect(channel.peer?.credentials).toEqual(me());
      else expect(channel.peer?.credentials).toBeUndefined();
      channel.close();
      await listener.close();
    }
  });
}

gatedDescribe("the handler's peer: io_uring engine", uringUnavailable(), () => {
  socketCases("uring");
  clientSide(() => new UringEngine());
});

describe("the handler's peer: node:net engine", () => {
  socketCases("net");
  clientSide(() => new NetEngine());
});

gatedDescribe("the handler's peer: shm engine", shmUnavailable(), () => {
  it("shm://: the rendezvous path and the client process's pid/uid/gid", async () => {
    const { url, peer } = await peerOfOneCall(shmUrl());
    expect(peer.engine).toBe("shm");
    expect(peer.address).toBe(url);
    expect(peer.credentials).toEqual(me());
  });
});

describe("the handler's peer: memory engine", () => {
  it("memory://: the address is the listener's URL", async () => {
    const { url, peer } = await peerOfOneCall(`memory://peer-engines-${process.pid}`);
    expect(peer.engine).toBe("memory");
    expect(peer.address).toBe(url);
    expect(peer.credentials).toBeUndefined();
  });
});
