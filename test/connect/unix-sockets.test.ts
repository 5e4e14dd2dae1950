// Unix sockets (docs/SECURITY.md, "Unix sockets"), on every engine that makes socket
// files (io_uring and node:net for unix://, shm:// for its rendezvous socket):
//   - the socket file's mode: owner-only by default, the `unix.mode` option otherwise,
//     set before bind (a child with umask 0 still finds exactly the asked mode);
//   - admission by uid/gid (`unix.allowUids` / `allowGids`, SO_PEERCRED at accept): a
//     refused client's call fails saying the server refused the connection, the handler
//     never runs, the server counts it (stats().refusedPeers) and goes on serving;
//   - safe create: a regular file, a directory or a symbolic link at the path is an error
//     naming it, and is left as it was (a link is never followed).
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { closeSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";

import { native } from "../../src/binding.js";
import type { ChannelEngine } from "../../src/channel/channel.js";
import { NetEngine } from "../../src/channel/net-engine.js";
import { ShmEngine } from "../../src/channel/shm-engine.js";
import { UringEngine } from "../../src/channel/uring-engine.js";
import { createServer, createUringTransport } from "../../src/index.js";
import type { ServerOptions } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { uringUnavailable } from "../channel/engines.js";
import { shmUnavailable } from "../channel/shm-suite.js";
import { Fixture, requireDist } from "../channel/support/processes.js";
import { gatedDescribe } from "../support/capability-gate.js";

const uid = process.getuid!();
const gid = process.getgid!();

/** A fresh private directory for socket files, removed after the test. */
function socketDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "connect-rdma-unix-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Case {
  name: string;
  scheme: "unix" | "shm";
  /** The server's and client's `engine` option (undefined: what the scheme picks). */
  engine?: "uring" | "net";
  unavailable: string | undefined;
  /** An engine instance of the case, for a server to share. */
  makeEngine: () => ChannelEngine & { stats(): { channels: number } };
}

const cases: Case[] = [
  { name: "io_uring engine", scheme: "unix", engine: "uring", unavailable: uringUnavailable(), makeEngine: () => new UringEngine() },
  { name: "node:net engine", scheme: "unix", engine: "net", unavailable: undefined, makeEngine: () => new NetEngine() },
  { name: "shm engine (rendezvous socket)", scheme: "shm", unavailable: shmUnavailable(), makeEngine: () => new ShmEngine() },
];

for (const c of cases) {
  const engineOption = c.engine ? { engine: c.engine } : {};

  /** A server on a fresh socket path with `options`, counting the calls its handler ran. */
  async function serve(options: Partial<ServerOptions> = {}, path = join(socketDir(), "s.sock")) {
    const handled = { calls: 0 };
    const server = createServer({
      ...engineOption,
      ...options,
      routes: (router) =>
        router.service(MarketService, {
          getQuote: (req) => {
            handled.calls++;
            return { symbol: req.symbol };
          },
        }),
    });
    onTestFinished(() => server.close(0));
    const url = await server.listen(`${c.scheme}://${path}`);
    return { server, url, path, handled };
  }

  async function call(url: string) {
    const transport = createUringTransport({ url, ...engineOption });
    onTestFinished(() => transport.close());
    return createClient(MarketService, transport).getQuote({ symbol: "ACME" });
  }

  gatedDescribe(`unix sockets: ${c.name}`, c.unavailable, () => {
    it("the socket file is owner-only (0o600) by default, unix.mode otherwise", async () => {
      const byDefault = await serve();
      expect(statSync(byDefault.path).mode & 0o777).toBe(0o600);
      const shared = await serve({ unix: { mode: 0o660 } });
      expect(statSync(shared.path).mode & 0o777).toBe(0o660);
      expect((await call(shared.url)).symbol).toBe("ACME");
    });

    it("the mode is set before bind: with umask 0 the file is born owner-only", async () => {
      requireDist(["index", "connect", "frame", "channel"]);
      const path = join(socketDir(), "born.sock");
      const launcher = c.engine ? ["env", `CONNECT_RDMA_ENGINE=${c.engine}`] : [];
      const child = new Fixture("umask-listen.js", [`${c.scheme}://${path}`], [], launcher);
      onTestFinished(() => child.stop());
      // Without the fchmod before bind the file would be born 0o777 and the bind refused (EPERM).
      expect(await child.line()).toEqual({ mode: 0o600 });
    });

    it("unix.allowUids without this uid: the connection is refused before any frame, counted, and the server goes on", async () => {
      const { server, url, handled } = await serve({ unix: { allowUids: [uid + 1] } });
      const error = await call(url).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(error?.code).toBe(Code.Unavailable);
      expect(error?.message).toContain("the server refused the connection");
      expect(handled.calls).toBe(0);
      expect(server.stats().refusedPeers).toBe(1);
      expect(server.stats().framesIn).toBe(0);

      // Another server admitting this uid serves; so does one admitting its gid only.
      const admitted = await serve({ unix: { allowUids: [uid] } });
      expect((await call(admitted.url)).symbol).toBe("ACME");
      const byGroup = await serve({ unix: { allowUids: [uid + 1], allowGids: [gid] } });
      expect((await call(byGroup.url)).symbol).toBe("ACME");
      expect(byGroup.server.stats().refusedPeers).toBe(0);
    });

    it("20 refused clients at once: each closed, none left open, an admitted client served meanwhile", async () => {
      const engine = c.makeEngine();
      onTestFinished(() => engine.close());
      const refusing = await serve({ engine, unix: { allowUids: [uid + 1] } });
      const admitting = await serve({ engine });
      const refused = Array.from({ length: 20 }, () => call(refusing.url).then(() => "served", (e: unknown) => ConnectError.from(e).message));
      const [answer, ...errors] = await Promise.all([call(admitting.url), ...refused]);
      expect((answer as { symbol: string }).symbol).toBe("ACME");
      for (const message of errors) expect(message).toContain("the server refused the connection");
      expect(refusing.server.stats().refusedPeers).toBe(20);
      expect(refusing.handled.calls).toBe(0);
      // The refused connections close; the admitted one stays (its transport is open).
      for (let i = 0; i < 500 && engine.stats().channels > 1; i++) await new Promise((r) => setTimeout(r, 10));
      expect(engine.stats().channels).toBe(1);
    });

    it("a regular file, a directory or a symbolic link at the path: an error naming it, left as it was", async () => {
      const dir = socketDir();
      const file = join(dir, "file.sock");
      writeFileSync(file, "not a socket");
      const directory = join(dir, "dir.sock");
      mkdirSync(directory);
      // A link to a stale socket file: following it would replace the target.
      const target = join(dir, "target.sock");
      closeSync(native().listenUnixFd(target, 0o600, 1));
      const link = join(dir, "link.sock");
      symlinkSync(target, link);
      for (const [path, kind] of [
        [file, "a regular file"],
        [directory, "a directory"],
        [link, "a symbolic link"],
      ] as const) {
        const server = createServer({ ...engineOption, routes: () => undefined });
        onTestFinished(() => server.close(0));
        const url = `${c.scheme}://${path}`;
        const error = await server.listen(url).then(
          () => undefined,
          (e: unknown) => e as Error & { code?: string },
        );
        expect(error?.code).toBe("EEXIST");
        expect(error?.message).toBe(`bind ${url} failed: File exists (EEXIST): ${path} is ${kind}, not a socket: it is neither followed nor removed; remove it or pass another path`);
      }
      expect(readFileSync(file, "utf8")).toBe("not a socket");
      expect(lstatSync(directory).isDirectory()).toBe(true);
      expect(readlinkSync(link)).toBe(target);
      expect(lstatSync(target).isSocket()).toBe(true);
    });
  });
}

describe("unix option checks", () => {
  it("allowUids/allowGids must be arrays of ids, mode permission bits", async () => {
    expect(() => createServer({ routes: () => undefined, unix: { allowUids: [-1] } })).toThrow(/unix\.allowUids must be an array of uids\/gids/);
    expect(() => createServer({ routes: () => undefined, unix: { allowGids: "0" as never } })).toThrow(/unix\.allowGids/);
    const server = createServer({ routes: () => undefined, engine: "net", unix: { mode: 0o1777 } });
    onTestFinished(() => server.close(0));
    await expect(server.listen(`unix://${join(socketDir(), "m.sock")}`)).rejects.toThrow(/socketMode must be permission bits in \[0, 0o777\]/);
  });
});
