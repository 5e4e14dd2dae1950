// The authentication steps of the handshake (docs/PROTOCOL.md §4.1): what a client's
// HELLO asks, how a server answers it (a challenge, no authentication, or a refusal with
// its reason), how the client checks the server's answer and how the server checks the
// client's AUTH. Pure decisions over auth.ts; the session sends, times and keeps state.

import { authProof, newNonce, proofMatches } from "./auth.js";
import type { AuthTranscript, ClientAuth, ServerKeys } from "./auth.js";
import type { AuthAnswer, AuthRequest } from "./frames.js";
import { ProtocolError } from "./protocol-error.js";

/**
 * Why a connection to a server with `auth` ended before it was authenticated:
 * - "no-auth": the client sent no key and the server requires one;
 * - "unknown-key-id": the client named a key the server does not hold;
 * - "wrong-proof": the client's AUTH did not prove the key (it holds another secret);
 * - "proof-rejected": the client found the server's proof wrong (the secrets differ) and said so;
 * - "unsupported-version": no protocol version both speak;
 * - "malformed": a frame that does not parse, or not the frame the handshake expects;
 * - "timeout": the handshake did not complete within handshakeTimeoutMs;
 * - "closed": the client closed the connection before the handshake completed.
 */
export type AuthFailureReason =
  | "no-auth"
  | "unknown-key-id"
  | "wrong-proof"
  | "proof-rejected"
  | "unsupported-version"
  | "malformed"
  | "timeout"
  | "closed";

/** A failed authentication: why, and the key id the client named (if it named one). */
export interface AuthFailure {
  readonly reason: AuthFailureReason;
  readonly keyId?: string;
}

/** A server's refusal: the failure, and the message its GOAWAY carries to the client. */
export interface AuthRefusal extends AuthFailure {
  readonly message: string;
}

/** Server: what it waits for the client's AUTH with. */
export interface PendingAuth {
  readonly secret: Uint8Array;
  readonly transcript: AuthTranscript;
}

/** Server: what to do with a client's HELLO. */
export type ServerAuthStep =
  | { kind: "open" }
  | { kind: "challenge"; answer: AuthAnswer; pending: PendingAuth }
  | { kind: "refuse"; refusal: AuthRefusal };

/** Client: the authentication its HELLO asks for, with a fresh nonce. */
export function authRequest(auth: ClientAuth): AuthRequest {
  return { keyId: auth.keyId, nonce: newNonce() };
}

function refuse(reason: AuthFailureReason, keyId: string | undefined, message: string): ServerAuthStep {
  return { kind: "refuse", refusal: { reason, message, ...(keyId !== undefined ? { keyId } : {}) } };
}

/**
 * Server: a HELLO without authentication passes only when the server has no keys or does
 * not require them (a client that asked for authentication then refuses the plain answer
 * itself); a known key id gets a challenge: the server's nonce and proof.
 */
export function serverAuthStep(keys: ServerKeys | undefined, request: AuthRequest | undefined, version: number): ServerAuthStep {
  if (keys === undefined) return { kind: "open" };
  if (request === undefined) {
    return keys.required ? refuse("no-auth", undefined, "server requires auth: the client sent no key") : { kind: "open" };
  }
  const secret = keys.keys.get(request.keyId);
  if (secret === undefined) return refuse("unknown-key-id", request.keyId, `unknown key id "${request.keyId}"`);
  const transcript: AuthTranscript = { version, keyId: request.keyId, clientNonce: request.nonce, serverNonce: newNonce() };
  return { kind: "challenge", answer: { nonce: transcript.serverNonce, proof: authProof(secret, "server", transcript) }, pending: { secret, transcript } };
}

/** Server: undefined when the client's AUTH proves the key, else the refusal. */
export function checkClientProof(pending: PendingAuth, proof: Uint8Array): AuthRefusal | undefined {
  if (proofMatches(pending.secret, "client", pending.transcript, proof)) return undefined;
  const keyId = pending.transcript.keyId;
  return { reason: "wrong-proof", keyId, message: `wrong proof from the client for key id "${keyId}" (it does not hold this key's secret)` };
}

/** Client: the proof to send in AUTH (none without auth), or why the server is not accepted. */
export type ClientAuthCheck = { ok: true; proof: Uint8Array | undefined } | { ok: false; message: string };

/**
 * Client: checks the server's HELLO answer to `request` (sent under `auth`). A server
 * that answers a challenge never sent violates the protocol (ProtocolError).
 */
export function clientAuthCheck(
  auth: ClientAuth | undefined,
  request: AuthRequest | undefined,
  answer: AuthAnswer | undefined,
  version: number,
): ClientAuthCheck {
  if (auth === undefined || request === undefined) {
    if (answer !== undefined) throw new ProtocolError("HELLO answers an authentication the client did not ask for");
    return { ok: true, proof: undefined };
  }
  if (answer === undefined) return { ok: false, message: "client requires auth: the server did not authenticate (it has no auth keys)" };
  const transcript: AuthTranscript = { version, keyId: auth.keyId, clientNonce: request.nonce, serverNonce: answer.nonce };
  if (!proofMatches(auth.secret, "server", transcript, answer.proof)) {
    return { ok: false, message: `wrong proof from the server for key id "${auth.keyId}" (it does not hold this key's secret)` };
  }
  return { ok: true, proof: authProof(auth.secret, "client", transcript) };
}
