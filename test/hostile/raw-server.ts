// A hostile server for the client-side tests (test/hostile/client-*.test.ts), the mirror
// of support.ts's RawPeer: a node:net listener on a fresh URL of a channel's kind (TCP or
// Unix: the uring and net engines speak the same stream framing, docs/CHANNELS.md §1)
// that parses what the client sends (every client frame must parse) and writes whatever
// frames the test wants. Each accepted connection is handed to the test's script; by
// default the server answers the client's HELLO with a correct one first. What a
// connection received and how a script runs: raw-link.ts.

import * as net from "node:net";
import { onTestFinished } from "vitest";
import { RawLink, runScript } from "./raw-link.js";
import type { Script } from "./raw-link.js";
import type { HostileChannel } from "./support.js";
import { framed } from "./support.js";

/** One client connection as the raw server sees it (frames parsed as a server would). */
export class RawConnection extends RawLink {
  readonly socket: net.Socket;
  #pending: Buffer = Buffer.alloc(0);

  constructor(socket: net.Socket) {
    super(false);
    this.socket = socket;
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.once("close", () => this.markClosed());
  }

  /** Writes raw bytes; resolves when the kernel took them (false when the socket is gone). */
  write(bytes: Uint8Array): Promise<boolean> {
    if (this.socket.destroyed || this.socket.writableEnded) return Promise.resolve(false);
    return new Promise((resolve) => this.socket.write(bytes, (e) => resolve(e == null)));
  }

  /** Writes frames with the channel framing, in one write. */
  send(...bodies: Uint8Array[]): Promise<boolean> {
    return this.write(Buffer.concat(bodies.map((b) => framed(b))));
  }

  #onData(chunk: Buffer): void {
    this.#pending = this.#pending.byteLength === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (this.#pending.byteLength >= 4) {
      const length = this.#pending.readUInt32LE(0);
      if (this.#pending.byteLength < 4 + length) break;
      const body = new Uint8Array(this.#pending.subarray(4, 4 + length));
      this.#pending = this.#pending.subarray(4 + length);
      this.receive(body);
    }
  }
}

/** A raw server: one script per accepted connection (index 0, 1, …). */
export class RawServer {
  url = "";
  readonly connections: RawConnection[] = [];

  /**
   * Listens on a fresh URL of `channel`'s kind. With `answerHello` (default), each
   * connection gets a correct server HELLO once the client's arrived, then the script runs.
   */
  static async listen(channel: HostileChannel, script: Script<RawConnection>, answerHello = true): Promise<RawServer> {
    const raw = new RawServer();
    const server = net.createServer((socket) => {
      const conn = new RawConnection(socket);
      runScript(conn, raw.connections.push(conn) - 1, script, answerHello, () => socket.destroy());
    });
    onTestFinished(() => {
      for (const c of raw.connections) c.socket.destroy();
      server.close();
    });
    const unix = /^unix:\/\/(\/.*)$/.exec(channel.url());
    await new Promise<void>((resolve) => (unix ? server.listen(unix[1], resolve) : server.listen(0, "127.0.0.1", resolve)));
    const address = server.address();
    raw.url = typeof address === "string" ? `unix://${address}` : `tcp://127.0.0.1:${address?.port}`;
    return raw;
  }
}
