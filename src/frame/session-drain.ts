// How a session winds down: GOAWAY sent (no new calls, the session closes once no
// stream is left) or received (a client's streams above the server's last id fail
// retryable, or with the server's reason when it refused this side's AUTH), stream ids
// exhausted, the peer ending its side of the channel (streams still waiting for its
// frames are reset, the others finish while the peer is probed), and the reason a
// session gets when its channel closes under it. The timers and errors are drain.ts's;
// the session closes when this says so.

import { StatusCode } from "./constants.js";
import { PeerEndProbe, drainedError, goAwayError, peerEndedError, refusedBeforeHelloError, refusedByGoAwayError } from "./drain.js";
import { encodeGoAway } from "./frames.js";
import type { Hello, OutFrame } from "./frames.js";
import { StreamResetError } from "./protocol-error.js";
import type { Stream } from "./stream.js";
import type { StreamSlots } from "./stream-slots.js";
import type { StreamTable } from "./stream-table.js";

/** What the drain needs of its session beyond the stream table and slots. */
export interface DrainHost {
  readonly role: "client" | "server";
  readonly closed: boolean;
  /** The peer's HELLO, once the handshake established it. */
  readonly peer: Hello | undefined;
  /** Frames waiting for region space. */
  readonly queuedFrames: number;
  /** Server: the id of the last stream the peer started. */
  readonly lastPeerId: number;
  sendQuietly(out: OutFrame): void;
  /** Closes the session with `error`. */
  close(error: StreamResetError): void;
  /** PINGs the peer (a dead peer's kernel answers with a reset). */
  probePeer(): void;
}

/** The drain state of one session. */
export class SessionDrain {
  readonly #host: DrainHost;
  readonly #streams: StreamTable<Stream>;
  readonly #slots: StreamSlots;
  #goAwaySent = false;
  #goAwayReceived = false;
  #goAwayError: StreamResetError | undefined;
  #peerEnded = false;
  #peerEndProbe: PeerEndProbe | undefined;

  constructor(host: DrainHost, streams: StreamTable<Stream>, slots: StreamSlots) {
    this.#host = host;
    this.#streams = streams;
    this.#slots = slots;
  }

  /** This side sent GOAWAY: new calls are refused. */
  get goAwaySent(): boolean {
    return this.#goAwaySent;
  }

  /** GOAWAY was sent or received (or the stream ids ran out): no new streams. */
  get draining(): boolean {
    return this.#goAwaySent || this.#goAwayReceived;
  }

  /** Client: the last stream id was used; the session drains like after a GOAWAY. */
  idsExhausted(): void {
    this.#goAwayReceived = true;
  }

  /**
   * Starts draining: sends GOAWAY with the last stream id this side accepted; later
   * calls are refused (server). The session closes once no stream is left.
   */
  goAway(code: number, message: string): void {
    if (this.#host.closed || this.#goAwaySent) return;
    this.#goAwaySent = true;
    this.#slots.dropAll();
    this.#host.sendQuietly(encodeGoAway(this.#host.lastPeerId, code, message));
    this.closeIfDrained();
  }

  /** The peer's GOAWAY. */
  onGoAway(lastStreamId: number, code: number, message: string): void {
    this.#goAwayReceived = true;
    this.#slots.dropAll();
    if (code !== 0) this.#goAwayError = goAwayError(code, message);
    if (this.#host.role === "client") {
      for (const stream of this.#streams.values()) {
        if (stream.id > lastStreamId) {
          // A server that refused this side's AUTH: the calls fail for that reason, not as retryable.
          const error = code === StatusCode.UNAUTHENTICATED ? goAwayError(code, message) : refusedByGoAwayError(message);
          stream.close(error);
          stream.handler?.onReset(error);
        }
      }
    }
    this.closeIfDrained();
  }

  /** Closes the session if it drains (or the peer ended) and nothing is left to send. */
  closeIfDrained(): void {
    const host = this.#host;
    if (host.closed || this.#streams.size > 0) return;
    // Frames waiting for region space (an END, a CANCEL) go out before the channel closes.
    if (host.queuedFrames > 0) return;
    if (this.#goAwaySent || this.#goAwayReceived) {
      host.close(this.#goAwayError ?? drainedError());
    } else if (this.#peerEnded) {
      host.close(peerEndedError());
    }
  }

  /**
   * The peer ended its side of the channel (half-close): nothing more arrives. A stream
   * that still waits for the peer's frames (a client's every stream, a server call whose
   * requests did not all arrive) can never finish and is reset; a server call whose
   * requests are in keeps running and its answer still goes out (test/hostile/faults.test.ts).
   * The session closes as soon as no stream is left, so a peer that ended with nothing
   * pending is let go at once.
   */
  onPeerEnd(): void {
    const host = this.#host;
    if (host.closed || this.#peerEnded) return;
    this.#peerEnded = true;
    if (host.peer === undefined) {
      host.close(host.role === "client" ? refusedBeforeHelloError() : peerEndedError());
      return;
    }
    const error = peerEndedError();
    for (const stream of this.#streams.values()) {
      if (stream.remoteDone) continue;
      stream.close(error);
      stream.handler?.onReset(error);
    }
    this.closeIfDrained();
    if (host.closed) return;
    // While calls run for it (drain.ts, PEER_END_PROBE_MS says why).
    this.#peerEndProbe = new PeerEndProbe(() => host.probePeer());
    this.#peerEndProbe.start();
  }

  /** The error of a session whose channel closed under it (`error`: the channel's, if any). */
  channelClosedError(error: Error | undefined): StreamResetError {
    // A server closing a connection before answering HELLO refused it. A socket closed
    // with our HELLO unread reports ECONNRESET (or EPIPE on our send): the same refusal.
    const code = (error as { code?: unknown } | undefined)?.code;
    const refused = this.#host.role === "client" && this.#host.peer === undefined && (error === undefined || code === "ECONNRESET" || code === "EPIPE");
    return (
      this.#goAwayError ??
      (refused
        ? refusedBeforeHelloError(error)
        : new StreamResetError(
            "ERR_CONNECTION_CLOSED",
            StatusCode.UNAVAILABLE,
            error === undefined ? "connection closed by peer" : `connection lost: ${error.message}`,
            error,
          ))
    );
  }

  /** The session closed: the probe stops. */
  stop(): void {
    this.#peerEndProbe?.stop();
  }
}
