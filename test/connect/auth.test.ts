// Authentication with pre-shared keys, end to end (src/frame/auth.ts, auth-handshake.ts,
// the session, createServer / createUringTransport `auth`): a matching key admits the
// calls and the handler reads the key id from peerKey; every mismatch fails the client's
// calls with Unauthenticated saying why, runs no handler, and is counted and reported on
// the server. Over the memory engine, io_uring tcp and unix, and node:net tcp.
import { randomBytes } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { ConnectRouter } from "@connectrpc/connect";
import { describe, expect, it, onTestFinished } from "vitest";

import {
  createMemoryEngine,
  createRdmaTransport,
  createServer,
  createTransport,
  createUringTransport,
  peerKey,
} from "../../src/index.js";
import type { AuthFailureInfo, ClientAuth, Server, ServerOptions, UringTransport } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { CHANNELS, until } from "../hostile/support.js";
import { gatedDescribe } from "../support/capability-gate.js";

const K1 = new Uint8Array(randomBytes(32));
const K2 = new Uint8Array(randomBytes(48));
const WRONG = new Uint8Array(randomBytes(32));

interface Target {
  name: string;
  unavailable?: string;
  listenUrl(): string;
  engine: "memory" | "uring" | "net";
}

let memoryServers = 0;
const TARGETS: Target[] = [
  { name: "memory", engine: "memory", listenUrl: () => `memory://auth-${process.pid}-${memoryServers++}` },
  ...CHANNELS.map((c) => ({ name: c.name, engine: c.engine, listenUrl: c.url, unavailable: c.unavailable?.() })),
];

/** A server whose getQuote answers with the key id its handler sees (or "-"), counting handler runs. */
function keyIdRoutes(runs: { count: number }): (router: ConnectRouter) => void {
  return (router) =>
    router.service(MarketService, {
      getQuote(req, ctx) {
        runs.count++;
        return { symbol: `${req.symbol}:${ctx.values.get(peerKey)?.keyId ?? "-"}` };
      },
    });
}

/** The call fails with Unauthenticated and a message matching `message`. */
async function unauthenticated(call: Promise<unknown>, message: RegExp = /./): Promise<void> {
  await expect(call).rejects.toMatchObject({ code: Code.Unauthenticated, rawMessage: expect.stringMatching(message) });
}

for (const target of TARGETS) {
  gatedDescribe(`auth: ${target.name}`, target.unavailable, () => {
    async function serve(options: Partial<ServerOptions>): Promise<{ server: Server; url: string; runs: { count: number }; failures: AuthFailureInfo[] }> {
      const runs = { count: 0 };
      const failures: AuthFailureInfo[] = [];
      const engine = target.engine === "memory" ? undefined : target.engine;
      const server = createServer({ routes: keyIdRoutes(runs), ...(engine ? { engine } : {}), onAuthFailure: (f) => failures.push(f), ...options });
      onTestFinished(() => server.close(0));
      return { server, url: await server.listen(target.listenUrl()), runs, failures };
    }

    function transport(url: string, auth?: ClientAuth): UringTransport {
      const engine = target.engine === "memory" ? createMemoryEngine() : target.engine;
      const t = createUringTransport({ url, engine, ...(auth ? { auth } : {}) });
      onTestFinished(async () => {
        await t.close();
        if (typeof engine === "object") await engine.close();
      });
      return t;
    }

    const quote = (t: UringTransport, symbol: string): Promise<{ symbol: string }> => createClient(MarketService, t).getQuote({ symbol });

    it("a matching key: calls run and the handler reads the key id; several keys are valid at once (rotation)", async () => {
      const { server, url, runs, failures } = await serve({ auth: { keys: { old: K1, new: K2 } } });
      const oldKey = transport(url, { keyId: "old", secret: K1 });
      const newKey = transport(url, { keyId: "new", secret: K2 });
      expect((await quote(oldKey, "a")).symbol).toBe("a:old");
      expect((await quote(oldKey, "b")).symbol).toBe("b:old");
      expect((await quote(newKey, "c")).symbol).toBe("c:new");
      expect(runs.count).toBe(3);
      expect(server.stats().authFailures).toBe(0);
      expect(failures).toEqual([]);
    });

    it("no key, server requires one: Unauthenticated, no handler ran, counted as no-auth", async () => {
      const { server, url, runs, failures } = await serve({ auth: { keys: { k1: K1 } } });
      await unauthenticated(quote(transport(url), "x"), /server requires auth: the client sent no key/);
      expect(runs.count).toBe(0);
      await until(() => failures.length === 1, 5000, "onAuthFailure");
      expect(failures[0]?.reason).toBe("no-auth");
      expect(failures[0]?.keyId).toBeUndefined();
      expect(failures[0]?.peer.engine).toBe(target.engine);
      expect(server.stats().authFailures).toBe(1);
    });

    it("a wrong secret: the client refuses the server's proof; the server counts proof-rejected under that key id", async () => {
      const { server, url, runs, failures } = await serve({ auth: { keys: { k1: K1 } } });
      await unauthenticated(quote(transport(url, { keyId: "k1", secret: WRONG }), "x"), /wrong proof from the server for key id "k1"/);
      expect(runs.count).toBe(0);
      await until(() => failures.length === 1, 5000, "onAuthFailure");
      expect(failures[0]).toMatchObject({ reason: "proof-rejected", keyId: "k1" });
      expect(server.stats().authFailures).toBe(1);
    });

    it("an unknown key id: Unauthenticated naming it", async () => {
      const { server, url, runs, failures } = await serve({ auth: { keys: { k1: K1 } } });
      await unauthenticated(quote(transport(url, { keyId: "k9", secret: K1 }), "x"), /unknown key id "k9"/);
      expect(runs.count).toBe(0);
      await until(() => failures.length === 1, 5000, "onAuthFailure");
      expect(failures[0]).toMatchObject({ reason: "unknown-key-id", keyId: "k9" });
      expect(server.stats().authFailures).toBe(1);
    });

    it("client requires auth, the server has none: Unauthenticated, no handler ran", async () => {
      const { server, url, runs } = await serve({});
      await unauthenticated(quote(transport(url, { keyId: "k1", secret: K1 }), "x"), /client requires auth: the server did not authenticate/);
      expect(runs.count).toBe(0);
      expect(server.stats().authFailures).toBe(0); // nothing to fail on a server without keys
    });

    it("required: false admits clients without a key (no key id) and still checks those that send one", async () => {
      const { url, failures } = await serve({ auth: { keys: { k1: K1 }, required: false } });
      expect((await quote(transport(url), "a")).symbol).toBe("a:-");
      expect((await quote(transport(url, { keyId: "k1", secret: K1 }), "b")).symbol).toBe("b:k1");
      await unauthenticated(quote(transport(url, { keyId: "k2", secret: K1 }), "c"));
      await until(() => failures.length === 1, 5000, "onAuthFailure");
    });

    it("an onAuthFailure that throws or rejects: the server goes on serving", async () => {
      let calls = 0;
      const { server, url } = await serve({
        auth: { keys: { k1: K1 } },
        onAuthFailure: (f) => {
          calls++;
          if (f.keyId === "bad") throw new Error("observer failed");
          return Promise.reject(new Error("async observer failed")) as unknown as void;
        },
      });
      await unauthenticated(quote(transport(url, { keyId: "bad", secret: K1 }), "x"));
      await unauthenticated(quote(transport(url), "y"));
      expect((await quote(transport(url, { keyId: "k1", secret: K1 }), "z")).symbol).toBe("z:k1");
      await until(() => calls === 2, 5000, "both failures reported");
      expect(server.stats().authFailures).toBe(2);
    });
  });
}

describe("auth options at construction", () => {
  it("short secrets, empty or long key ids: a RangeError / TypeError from every factory", () => {
    const short = { keyId: "k", secret: new Uint8Array(16) };
    expect(() => createUringTransport({ url: "tcp://127.0.0.1:1", auth: short })).toThrow(/createUringTransport: option "auth" \(key id "k"\): the secret must be at least 32 bytes, got 16/);
    expect(() => createTransport({ url: "unix:///tmp/x.sock", auth: short })).toThrow(RangeError);
    expect(() => createTransport({ url: "shm:///tmp/x", auth: short })).toThrow(RangeError);
    expect(() => createRdmaTransport({ url: "rdma://127.0.0.1:1", auth: short })).toThrow(/createRdmaTransport: .*at least 32 bytes/);
    expect(() => createUringTransport({ url: "tcp://127.0.0.1:1", auth: { keyId: "", secret: K1 } })).toThrow(RangeError);
    expect(() => createUringTransport({ url: "tcp://127.0.0.1:1", auth: { keyId: "x".repeat(257), secret: K1 } })).toThrow(RangeError);
    expect(() => createUringTransport({ url: "tcp://127.0.0.1:1", auth: { keyId: "k", secret: "0".repeat(64) as never } })).toThrow(TypeError);
    expect(() => createServer({ routes: () => undefined, auth: { keys: { k: new Uint8Array(31) } } })).toThrow(/createServer: .*at least 32 bytes, got 31/);
    expect(() => createServer({ routes: () => undefined, auth: { keys: {} } })).toThrow(RangeError);
    expect(() => createServer({ routes: () => undefined, onAuthFailure: "log" as never })).toThrow(TypeError);
  });
});
