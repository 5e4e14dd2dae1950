// A hostile server for the client-side tests (test/hostile/client-*.test.ts), the mirror
// of support.ts's RawPeer: a node:net listener on a fresh URL of a channel's kind (TCP or
// Unix: the uring and net engines speak the same stream framing, docs/CHANNELS.md §1)
// that parses what the client sends (every client frame must parse) and writes whatever
// frames the test wants. Each accepted connection is handed to the test's script; by
// default the server answers the client's HELLO with a correct one first.

import * as net from "node:net";
import { onTestFinished } from "vitest";
import { FrameKind } from "../../src/frame/constants.js";
import { encodeHello } from "../../src/frame/frames.js";
import { parseFrame } from "../../src/frame/parse-frame.js";
import type { Frame, Hello } from "../../src/frame/frames.js";
import type { HostileChannel } from "./support.js";
import { CLIENT_HELLO, bytesOf, framed, sleep } from "./support.js";

/** One client connection as the raw server sees it. */
export class RawConnection {
  readonly socket: net.Socket;
  /** Frames the client sent, parsed as a server would. */
  readonly frames: Frame[] = [];
  /** Client frames that did not parse (a correct client sends none). */
  readonly malformed: string[] = [];
  readonly closed: Promise<void>;
  #closed = false;
  #pending: Buffer = Buffer.alloc(0);
  #wake: (() => void) | undefined;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        this.#closed = true;
        this.#wake?.();
        resolve();
      }),
    );
  }

  get isClosed(): boolean {
    return this.#closed;
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

  /** Sends a server HELLO (the defaults of a correct server, overridden by `h`). */
  hello(h: Partial<Hello> = {}): Promise<boolean> {
    return this.send(bytesOf(encodeHello({ ...CLIENT_HELLO, ...h })));
  }

  /** The first frame the client sent that matches, waiting up to `timeoutMs` for it. */
  async next<K extends Frame["kind"]>(kind: K, timeoutMs = 5000, from = 0): Promise<Extract<Frame, { kind: K }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.slice(from).find((f): f is Extract<Frame, { kind: K }> => f.kind === kind);
      if (found !== undefined) return found;
      if (this.#closed) throw new Error(`connection closed before a frame of kind ${kind}; got ${JSON.stringify(this.kinds())}`);
      if (Date.now() > deadline) throw new Error(`no frame of kind ${kind} within ${timeoutMs} ms; got ${JSON.stringify(this.kinds())}`);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 20);
      });
      this.#wake = undefined;
    }
  }

  /** The GOAWAY the client sent, if any. */
  goAway(): Extract<Frame, { kind: typeof FrameKind.GOAWAY }> | undefined {
    return this.frames.find((f): f is Extract<Frame, { kind: typeof FrameKind.GOAWAY }> => f.kind === FrameKind.GOAWAY);
  }

  kinds(): number[] {
    return this.frames.map((f) => f.kind);
  }

  /** Resolves true when the client closed the connection within `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed && Date.now() < deadline) await sleep(5);
    return this.#closed;
  }

  #onData(chunk: Buffer): void {
    this.#pending = this.#pending.byteLength === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (this.#pending.byteLength >= 4) {
      const length = this.#pending.readUInt32LE(0);
      if (this.#pending.byteLength < 4 + length) break;
      const body = new Uint8Array(this.#pending.subarray(4, 4 + length));
      this.#pending = this.#pending.subarray(4 + length);
      try {
        this.frames.push(parseFrame(body, false));
      } catch (e) {
        this.malformed.push((e as Error).message);
      }
    }
    this.#wake?.();
  }
}

/** What the raw server does with each connection. */
export type Script = (conn: RawConnection, index: number) => void | Promise<void>;

/** A raw server: one script per accepted connection (index 0, 1, …). */
export class RawServer {
  url = "";
  readonly connections: RawConnection[] = [];

  /**
   * Listens on a fresh URL of `channel`'s kind. With `answerHello` (default), each
   * connection gets a correct server HELLO once the client's arrived, then the script runs.
   */
  static async listen(channel: HostileChannel, script: Script, answerHello = true): Promise<RawServer> {
    const raw = new RawServer();
    const server = net.createServer((socket) => {
      const conn = new RawConnection(socket);
      const index = raw.connections.push(conn) - 1;
      void (async () => {
        if (answerHello) {
          await conn.next(FrameKind.HELLO);
          await conn.hello();
        }
        await script(conn, index);
      })().catch(() => socket.destroy());
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
