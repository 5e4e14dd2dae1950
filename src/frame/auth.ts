// Pre-shared-key authentication of a connection, as pure functions (docs/PROTOCOL.md §4.1,
// docs/SECURITY.md): the checks of the `auth` options, fresh nonces, the HMAC-SHA-256
// proof each side sends and its constant-time check. auth-handshake.ts decides the steps
// of the exchange with these; the session keeps the state.

import { Buffer } from "node:buffer";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { utf8Length } from "./wire.js";

/** Bytes of each side's nonce. */
export const AUTH_NONCE_BYTES = 32;
/** Bytes of a proof (an HMAC-SHA-256). */
export const AUTH_PROOF_BYTES = 32;
/** Shortest secret accepted: as long as the HMAC-SHA-256 output. */
export const MIN_SECRET_BYTES = 32;
/** Longest key id, in UTF-8 bytes. */
export const MAX_KEY_ID_BYTES = 256;
/** The first protocol version whose HELLO can carry authentication. */
export const AUTH_MIN_VERSION = 3;

/** Client `auth` option: the key this client proves it holds. */
export interface ClientAuth {
  /** Names the key on the server (non-empty, at most 256 UTF-8 bytes). */
  readonly keyId: string;
  /** The pre-shared secret: at least 32 bytes (random ones: `crypto.randomBytes(32)`). */
  readonly secret: Uint8Array;
}

/** Server `auth` option: the keys clients may prove, by key id. */
export interface ServerAuthOptions {
  /** Key id → secret (at least 32 bytes each). Several keys may be valid at once (rotation). */
  readonly keys: Readonly<Record<string, Uint8Array>>;
  /** Refuse clients that send no key. Default true. */
  readonly required?: boolean;
}

/** A server's checked keys (secrets copied: later changes by the caller do not apply). */
export interface ServerKeys {
  readonly keys: ReadonlyMap<string, Uint8Array>;
  readonly required: boolean;
}

/** Who a proof comes from: each direction hashes its own label, so a proof cannot be reflected. */
export type ProofDirection = "client" | "server";

/** What a proof covers besides the direction. */
export interface AuthTranscript {
  /** The protocol version the server chose. */
  readonly version: number;
  /** The client's key id; the server answers under the same key. */
  readonly keyId: string;
  readonly clientNonce: Uint8Array;
  readonly serverNonce: Uint8Array;
}

// Equal lengths, so label + the length-prefixed fields parse one way only.
const LABELS: Record<ProofDirection, Buffer> = {
  client: Buffer.from("connect-rdma auth client->server", "latin1"),
  server: Buffer.from("connect-rdma auth server->client", "latin1"),
};

function checkKeyId(keyId: unknown, where: string): string {
  if (typeof keyId !== "string") throw new TypeError(`${where}: the key id must be a string, got ${typeof keyId}`);
  const bytes = utf8Length(keyId);
  if (bytes === 0 || bytes > MAX_KEY_ID_BYTES) {
    throw new RangeError(`${where}: the key id must be 1 to ${MAX_KEY_ID_BYTES} UTF-8 bytes, got ${bytes}`);
  }
  return keyId;
}

function checkSecret(secret: unknown, where: string): Uint8Array {
  if (!(secret instanceof Uint8Array)) throw new TypeError(`${where}: the secret must be a Uint8Array`);
  if (secret.byteLength < MIN_SECRET_BYTES) {
    throw new RangeError(`${where}: the secret must be at least ${MIN_SECRET_BYTES} bytes, got ${secret.byteLength}`);
  }
  return new Uint8Array(secret);
}

/** A client's `auth` option checked (TypeError / RangeError naming `factory`), secret copied. */
export function checkClientAuth(auth: unknown, factory: string): ClientAuth {
  if (typeof auth !== "object" || auth === null) throw new TypeError(`${factory}: option "auth" must be { keyId, secret }`);
  const { keyId, secret } = auth as { keyId?: unknown; secret?: unknown };
  const where = `${factory}: option "auth"`;
  return Object.freeze({ keyId: checkKeyId(keyId, where), secret: checkSecret(secret, `${where} (key id "${String(keyId)}")`) });
}

/** A server's `auth` option checked (TypeError / RangeError naming `factory`), secrets copied. */
export function checkServerAuth(auth: unknown, factory: string): ServerKeys {
  const where = `${factory}: option "auth"`;
  if (typeof auth !== "object" || auth === null) throw new TypeError(`${where} must be { keys: { [keyId]: secret }, required? }`);
  const { keys, required } = auth as { keys?: unknown; required?: unknown };
  if (typeof keys !== "object" || keys === null || keys instanceof Uint8Array) {
    throw new TypeError(`${where}: "keys" must be an object mapping key ids to secrets`);
  }
  if (required !== undefined && typeof required !== "boolean") throw new TypeError(`${where}: "required" must be a boolean`);
  const checked = new Map<string, Uint8Array>();
  for (const [keyId, secret] of Object.entries(keys)) {
    checked.set(checkKeyId(keyId, where), checkSecret(secret, `${where} (key id "${keyId}")`));
  }
  if (checked.size === 0) throw new RangeError(`${where}: "keys" holds no key (no client could authenticate)`);
  return Object.freeze({ keys: checked, required: required ?? true });
}

/** A fresh random nonce. */
export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(AUTH_NONCE_BYTES));
}

/**
 * The proof `direction` sends: HMAC-SHA-256 under `secret` of the direction's label,
 * u16 version, u16 key id length, key id, client nonce, server nonce.
 */
export function authProof(secret: Uint8Array, direction: ProofDirection, t: AuthTranscript): Uint8Array {
  const keyId = Buffer.from(t.keyId, "utf8");
  const fields = Buffer.alloc(4);
  fields.writeUInt16LE(t.version, 0);
  fields.writeUInt16LE(keyId.byteLength, 2);
  const hmac = createHmac("sha256", secret);
  hmac.update(LABELS[direction]).update(fields).update(keyId).update(t.clientNonce).update(t.serverNonce);
  return new Uint8Array(hmac.digest());
}

/** True when `received` is the proof `direction` must send; compared in constant time. */
export function proofMatches(secret: Uint8Array, direction: ProofDirection, t: AuthTranscript, received: Uint8Array): boolean {
  const expected = authProof(secret, direction, t);
  return received.byteLength === expected.byteLength && timingSafeEqual(expected, received);
}
