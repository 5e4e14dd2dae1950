// The handshake of one session, driven (docs/PROTOCOL.md §4): the client's HELLO (with
// `auth` its key id and nonce), the server's answer, refusal or challenge, the client's
// check of the server's proof and its AUTH, the server's check of that AUTH; the timer
// that bounds it all, the promise a caller awaits, and, on a server with keys, the reason
// reported when a connection ends before it was authenticated. The decisions are pure
// functions (handshake.ts, auth-handshake.ts); the session routes frames here until the
// peer is established and learns the outcome through HandshakeHost.
//
//   1. client connects and sends HELLO (versions, its limits; with `auth` its key id and nonce)
//   2. server answers HELLO (chosen version, its limits; with `auth` its nonce and proof),
//      or GOAWAY if none fits or the key is refused (the client then fails with the
//      GOAWAY's code and message); with `auth` the client checks the server's proof and
//      sends AUTH (its proof) before any call, and the server takes calls only after a
//      valid AUTH

import { authRequest, checkClientProof, clientAuthCheck, serverAuthStep } from "./auth-handshake.js";
import type { AuthFailure, AuthFailureReason, AuthRefusal, PendingAuth } from "./auth-handshake.js";
import { FrameKind, StatusCode } from "./constants.js";
import { encodeAuth, encodeGoAway, encodeHello } from "./frames.js";
import type { AuthRequest, Frame, Hello, OutFrame } from "./frames.js";
import { answerHello, checkServerHello, clientHello } from "./handshake.js";
import { ProtocolError, StreamResetError } from "./protocol-error.js";
import type { ResolvedSessionOptions } from "./session-options.js";

const CODE_UNAVAILABLE = StatusCode.UNAVAILABLE;
const CODE_UNAUTHENTICATED = StatusCode.UNAUTHENTICATED;

/** What the handshake needs of its session. */
export interface HandshakeHost {
  readonly role: "client" | "server";
  readonly options: ResolvedSessionOptions;
  sendQuietly(out: OutFrame): void;
  /** The handshake failed: the session closes with `error`. */
  fail(error: StreamResetError): void;
  /** The peer's limits are known (its HELLO was accepted, AUTH may still be awaited). */
  limitsKnown(hello: Hello): void;
  /** The peer is established: calls may start. */
  established(hello: Hello): void;
}

/** The handshake of one session. */
export class SessionHandshake {
  readonly #host: HandshakeHost;
  /** Server with `serverAuth`: once, when the session ended before it was authenticated. */
  readonly #onAuthFailure: ((failure: AuthFailure) => void) | undefined;
  /** Client with auth: what its HELLO asked. */
  #authRequest: AuthRequest | undefined;
  /** Server: the peer's HELLO while its AUTH is awaited. */
  #pendingAuth: { hello: Hello; auth: PendingAuth } | undefined;
  /** Why the handshake failed, when a step knew (else closed() infers it). */
  #authFailure: AuthFailure | undefined;
  #keyId: string | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #ready: { promise: Promise<void>; resolve(): void; reject(e: unknown): void };

  constructor(host: HandshakeHost, onAuthFailure: ((failure: AuthFailure) => void) | undefined) {
    this.#host = host;
    this.#onAuthFailure = onAuthFailure;
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined);
    this.#ready = { promise, resolve, reject };
  }

  /** Resolves once the handshake completed; rejects if the session closed first. */
  get ready(): Promise<void> {
    return this.#ready.promise;
  }

  /** The key id both sides proved (undefined without authentication, or before it). */
  get keyId(): string | undefined {
    return this.#keyId;
  }

  /** The channel is there: the timer starts, and a client sends HELLO. */
  start(): void {
    const host = this.#host;
    this.#timer = setTimeout(() => {
      this.#authFailure ??= this.#failureOf("timeout");
      host.fail(new StreamResetError("ERR_HANDSHAKE", CODE_UNAVAILABLE, `handshake not completed within ${host.options.handshakeTimeoutMs} ms`));
    }, host.options.handshakeTimeoutMs);
    if (host.role === "client") {
      const auth = host.options.clientAuth;
      this.#authRequest = auth !== undefined ? authRequest(auth) : undefined;
      host.sendQuietly(encodeHello({ ...clientHello(host.options), ...(this.#authRequest !== undefined ? { authRequest: this.#authRequest } : {}) }));
    }
  }

  /** A frame received before the peer was established. Throws ProtocolError for a frame out of place. */
  onFrame(frame: Frame): void {
    if (frame.kind === FrameKind.GOAWAY) {
      // A refusal instead of HELLO (no common version, a limit, a key): its reason is the
      // error. From a client awaiting AUTH: it found the server's proof wrong.
      const code = frame.code === 0 ? CODE_UNAVAILABLE : frame.code;
      if (this.#pendingAuth !== undefined && code === CODE_UNAUTHENTICATED) this.#authFailure = this.#failureOf("proof-rejected");
      this.#host.fail(new StreamResetError("ERR_HANDSHAKE", code, `connection refused by peer: ${frame.message === "" ? "GOAWAY" : frame.message}`));
      return;
    }
    if (this.#pendingAuth !== undefined) {
      if (frame.kind !== FrameKind.AUTH) throw new ProtocolError(`expected AUTH, got frame kind ${frame.kind}`);
      this.#onAuth(this.#pendingAuth, frame.proof);
      return;
    }
    if (frame.kind !== FrameKind.HELLO) throw new ProtocolError(`expected HELLO, got frame kind ${frame.kind}`);
    if (this.#host.role === "server") this.#onClientHello(frame.hello);
    else this.#onServerHello(frame.hello);
  }

  /**
   * The session closed with `error`. `unauthenticated`: it closed before the peer was
   * established, and not because this side shut it down; a server with keys then
   * reports the failure, with the step's reason, else the close's.
   */
  closed(error: StreamResetError, unauthenticated: boolean): void {
    clearTimeout(this.#timer);
    if (unauthenticated && this.#host.role === "server" && this.#host.options.serverAuth !== undefined) {
      const inferred = error.code === "ERR_PROTOCOL" ? "malformed" : error.code === "ERR_SLOW_PEER" ? "timeout" : "closed";
      this.#onAuthFailure?.(this.#authFailure ?? this.#failureOf(inferred));
    }
    this.#ready.reject(error);
  }

  #onClientHello(hello: Hello): void {
    const host = this.#host;
    const answer = answerHello(host.options, hello);
    if (!answer.accept) {
      this.#authFailure = this.#failureOf("unsupported-version");
      host.sendQuietly(encodeGoAway(0, StatusCode.FAILED_PRECONDITION, answer.message));
      host.fail(new StreamResetError("ERR_HANDSHAKE", StatusCode.FAILED_PRECONDITION, answer.message));
      return;
    }
    const step = serverAuthStep(host.options.serverAuth, hello.authRequest, answer.version);
    if (step.kind === "refuse") {
      this.#refuseAuth(step.refusal);
      return;
    }
    host.limitsKnown(hello);
    if (step.kind === "challenge") {
      // No call is taken (and no peer set) until the client's AUTH proves the key.
      this.#pendingAuth = { hello, auth: step.pending };
      host.sendQuietly(encodeHello({ ...answer.hello, authAnswer: step.answer }));
      return;
    }
    host.sendQuietly(encodeHello(answer.hello));
    this.#done(hello);
  }

  #onServerHello(hello: Hello): void {
    const host = this.#host;
    checkServerHello(hello);
    const check = clientAuthCheck(host.options.clientAuth, this.#authRequest, hello.authAnswer, hello.version);
    if (!check.ok) {
      // The server learns why, then the connection closes: no call was sent.
      host.sendQuietly(encodeGoAway(0, CODE_UNAUTHENTICATED, check.message));
      host.fail(new StreamResetError("ERR_HANDSHAKE", CODE_UNAUTHENTICATED, check.message));
      return;
    }
    this.#keyId = check.proof !== undefined ? this.#authRequest?.keyId : undefined;
    host.limitsKnown(hello);
    // Queued ahead of every CALL_START: the server reads AUTH first.
    if (check.proof !== undefined) host.sendQuietly(encodeAuth(check.proof));
    this.#done(hello);
  }

  /** Server: the client's AUTH for the challenge it was sent. */
  #onAuth(pending: { hello: Hello; auth: PendingAuth }, proof: Uint8Array): void {
    const refusal = checkClientProof(pending.auth, proof);
    if (refusal !== undefined) {
      this.#refuseAuth(refusal);
      return;
    }
    this.#pendingAuth = undefined;
    this.#keyId = pending.auth.transcript.keyId;
    this.#done(pending.hello);
  }

  /** Server: GOAWAY(Unauthenticated) with the refusal's message, then close. */
  #refuseAuth(refusal: AuthRefusal): void {
    this.#authFailure = refusal.keyId !== undefined ? { reason: refusal.reason, keyId: refusal.keyId } : { reason: refusal.reason };
    this.#host.sendQuietly(encodeGoAway(0, CODE_UNAUTHENTICATED, refusal.message));
    this.#host.fail(new StreamResetError("ERR_HANDSHAKE", CODE_UNAUTHENTICATED, refusal.message));
  }

  /** A failure for `reason`, with the key id of a challenge in progress. */
  #failureOf(reason: AuthFailureReason): AuthFailure {
    const keyId = this.#pendingAuth?.auth.transcript.keyId;
    return keyId !== undefined ? { reason, keyId } : { reason };
  }

  /** Both HELLOs (and AUTH, with authentication) went through. */
  #done(hello: Hello): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#host.established(hello);
    this.#ready.resolve();
  }
}
