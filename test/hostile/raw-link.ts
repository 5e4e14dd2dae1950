// One raw connection of the hostile tests, whatever carries it: what the side under test
// sent, frame by frame, parsed (frames that did not parse listed apart: a correct peer
// sends none), waiting for a frame of a kind, whether the connection closed, and sending
// frame bodies (the carrier's part). The base of raw-server.ts's RawConnection (node:net)
// and channel-raw-peer.ts's ChannelRawPeer (any Channel); runScript() plays a raw
// server's part on each accepted one.

import { FrameKind } from "../../src/frame/constants.js";
import { encodeHello } from "../../src/frame/frames.js";
import { parseFrame } from "../../src/frame/parse-frame.js";
import type { Frame, Hello } from "../../src/frame/frames.js";
import { CLIENT_HELLO, bytesOf, sleep } from "./support.js";

export abstract class RawLink {
  /** Frames received, parsed as the peer's role says. */
  readonly frames: Frame[] = [];
  /** Frames received that did not parse. */
  readonly malformed: string[] = [];
  /** Resolves when the connection closed (whoever closed it). */
  readonly closed: Promise<void>;
  #closed = false;
  #resolveClosed!: () => void;
  #wake: (() => void) | undefined;
  readonly #parsesServerFrames: boolean;

  /** `parsesServerFrames`: true for a peer in the client's role (it reads a server's frames). */
  constructor(parsesServerFrames: boolean) {
    this.#parsesServerFrames = parsesServerFrames;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Sends each body as one frame; resolves false once the connection is gone. */
  abstract send(...bodies: Uint8Array[]): Promise<boolean>;

  /** Sends a server HELLO (a correct server's, overridden by `h`). */
  hello(h: Partial<Hello> = {}): Promise<boolean> {
    return this.send(bytesOf(encodeHello({ ...CLIENT_HELLO, ...h })));
  }

  /** Records one frame body (the caller's copy: parsed frames keep views of it). */
  protected receive(body: Uint8Array): void {
    try {
      this.frames.push(parseFrame(body, this.#parsesServerFrames));
    } catch (e) {
      this.malformed.push((e as Error).message);
    }
    this.#wake?.();
  }

  protected markClosed(): void {
    this.#closed = true;
    this.#wake?.();
    this.#resolveClosed();
  }

  /** The first frame of `kind` from index `from` on, waiting up to `timeoutMs` for it. */
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

  /** The GOAWAY received, if any. */
  goAway(): Extract<Frame, { kind: typeof FrameKind.GOAWAY }> | undefined {
    return this.frames.find((f): f is Extract<Frame, { kind: typeof FrameKind.GOAWAY }> => f.kind === FrameKind.GOAWAY);
  }

  kinds(): number[] {
    return this.frames.map((f) => f.kind);
  }

  /** Resolves true when the connection closed within `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed && Date.now() < deadline) await sleep(5);
    return this.#closed;
  }
}

/** What a raw server does with each connection it accepted (index 0, 1, …). */
export type Script<C extends RawLink> = (conn: C, index: number) => void | Promise<void>;

/**
 * Runs `script` on an accepted connection: with `answerHello`, once the client's HELLO
 * arrived, a correct server HELLO first. A script that throws gets its connection dropped.
 */
export function runScript<C extends RawLink>(conn: C, index: number, script: Script<C>, answerHello: boolean, drop: () => void): void {
  void (async () => {
    if (answerHello) {
      await conn.next(FrameKind.HELLO);
      await conn.hello();
    }
    await script(conn, index);
  })().catch(drop);
}
