// The pure parts of authentication: option checks, proofs (auth.ts), the steps of the
// exchange (auth-handshake.ts) and the HELLO / AUTH layouts (frames.ts).
import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";

import {
  AUTH_MIN_VERSION,
  MAX_KEY_ID_BYTES,
  authProof,
  checkClientAuth,
  checkServerAuth,
  newNonce,
  proofMatches,
} from "../../src/frame/auth.js";
import type { AuthTranscript } from "../../src/frame/auth.js";
import { authRequest, checkClientProof, clientAuthCheck, serverAuthStep } from "../../src/frame/auth-handshake.js";
import { Flag, FrameKind, PROTOCOL_VERSION } from "../../src/frame/constants.js";
import { encodeAuth, encodeHello } from "../../src/frame/frames.js";
import { parseFrame } from "../../src/frame/parse-frame.js";
import type { Hello, OutFrame } from "../../src/frame/frames.js";
import { ProtocolError } from "../../src/frame/protocol-error.js";

const secret = new Uint8Array(randomBytes(32));
const other = new Uint8Array(randomBytes(32));
const transcript: AuthTranscript = { version: PROTOCOL_VERSION, keyId: "k1", clientNonce: newNonce(), serverNonce: newNonce() };

function bytes(out: OutFrame): Uint8Array {
  const b = new Uint8Array(out.byteLength);
  out.write(b);
  return b;
}

const LIMITS = { maxMessageBytes: 1 << 20, maxHeaderBytes: 1 << 16, maxConcurrentStreams: 8, initialWindowBytes: 1 << 20 };
const HELLO: Hello = { version: PROTOCOL_VERSION, minVersion: 2, ...LIMITS };

describe("auth options", () => {
  it("a client key: id and secret checked, the secret copied", () => {
    const mine = new Uint8Array(32).fill(7);
    const auth = checkClientAuth({ keyId: "k", secret: mine }, "createUringTransport");
    mine.fill(0);
    expect(auth.secret).toEqual(new Uint8Array(32).fill(7));
    expect(() => checkClientAuth({ keyId: "k", secret: new Uint8Array(31) }, "createUringTransport")).toThrow(RangeError);
    expect(() => checkClientAuth({ keyId: "k", secret: new Uint8Array(31) }, "createUringTransport")).toThrow(
      'createUringTransport: option "auth" (key id "k"): the secret must be at least 32 bytes, got 31',
    );
    expect(() => checkClientAuth({ keyId: "k", secret: "x".repeat(40) }, "f")).toThrow(TypeError);
    expect(() => checkClientAuth({ keyId: "", secret }, "f")).toThrow(/key id must be 1 to 256 UTF-8 bytes, got 0/);
    expect(() => checkClientAuth({ keyId: "é".repeat(129), secret }, "f")).toThrow(RangeError); // 258 bytes
    expect(checkClientAuth({ keyId: "é".repeat(128), secret }, "f").keyId).toHaveLength(128); // 256 bytes
    expect(() => checkClientAuth({ keyId: 5, secret }, "f")).toThrow(TypeError);
    expect(() => checkClientAuth(undefined, "f")).toThrow(TypeError);
  });

  it("server keys: each checked, at least one, required by default", () => {
    const keys = checkServerAuth({ keys: { a: secret, b: other } }, "createServer");
    expect([...keys.keys.keys()]).toEqual(["a", "b"]);
    expect(keys.required).toBe(true);
    expect(checkServerAuth({ keys: { a: secret }, required: false }, "createServer").required).toBe(false);
    expect(() => checkServerAuth({ keys: {} }, "createServer")).toThrow(/holds no key/);
    expect(() => checkServerAuth({ keys: { a: secret, b: new Uint8Array(8) } }, "createServer")).toThrow(/key id "b"\): the secret must be at least 32 bytes/);
    expect(() => checkServerAuth({ keys: { ["x".repeat(MAX_KEY_ID_BYTES + 1)]: secret } }, "createServer")).toThrow(RangeError);
    expect(() => checkServerAuth({ keys: secret }, "createServer")).toThrow(TypeError);
    expect(() => checkServerAuth({ keys: { a: secret }, required: "yes" }, "createServer")).toThrow(TypeError);
  });
});

describe("proofs", () => {
  it("HMAC-SHA-256 over the direction's label, version, key id and both nonces", () => {
    const fields = Buffer.alloc(4);
    fields.writeUInt16LE(transcript.version, 0);
    fields.writeUInt16LE(2, 2);
    const expected = createHmac("sha256", secret)
      .update("connect-rdma auth client->server")
      .update(fields)
      .update("k1")
      .update(transcript.clientNonce)
      .update(transcript.serverNonce)
      .digest();
    expect(Buffer.from(authProof(secret, "client", transcript))).toEqual(expected);
  });

  it("each input changes the proof; a proof is not valid in the other direction (no reflection)", () => {
    const proof = authProof(secret, "client", transcript);
    expect(proofMatches(secret, "client", transcript, proof)).toBe(true);
    expect(proofMatches(secret, "server", transcript, proof)).toBe(false);
    expect(proofMatches(other, "client", transcript, proof)).toBe(false);
    expect(proofMatches(secret, "client", { ...transcript, version: transcript.version + 1 }, proof)).toBe(false);
    expect(proofMatches(secret, "client", { ...transcript, keyId: "k2" }, proof)).toBe(false);
    expect(proofMatches(secret, "client", { ...transcript, clientNonce: newNonce() }, proof)).toBe(false);
    expect(proofMatches(secret, "client", { ...transcript, serverNonce: newNonce() }, proof)).toBe(false);
    // Swapping the nonces is another transcript.
    expect(proofMatches(secret, "client", { ...transcript, clientNonce: transcript.serverNonce, serverNonce: transcript.clientNonce }, proof)).toBe(false);
    expect(proofMatches(secret, "client", transcript, proof.subarray(0, 31))).toBe(false);
  });

  it("nonces are fresh", () => {
    expect(newNonce()).toHaveLength(32);
    expect(newNonce()).not.toEqual(newNonce());
  });
});

describe("the steps of the exchange", () => {
  const keys = checkServerAuth({ keys: { k1: secret, k2: other } }, "test");
  const client = checkClientAuth({ keyId: "k1", secret }, "test");

  it("a matching key: the server proves it, the client checks and answers, the server checks that", () => {
    const request = authRequest(client);
    const step = serverAuthStep(keys, request, PROTOCOL_VERSION);
    if (step.kind !== "challenge") throw new Error(`expected a challenge, got ${step.kind}`);
    const check = clientAuthCheck(client, request, step.answer, PROTOCOL_VERSION);
    if (!check.ok) throw new Error(check.message);
    expect(check.proof).toHaveLength(32);
    expect(checkClientProof(step.pending, check.proof!)).toBeUndefined();
    // The server's own proof sent back (reflection) is refused.
    expect(checkClientProof(step.pending, step.answer.proof)?.reason).toBe("wrong-proof");
  });

  it("refusals say why", () => {
    expect(serverAuthStep(keys, undefined, PROTOCOL_VERSION)).toEqual({
      kind: "refuse",
      refusal: { reason: "no-auth", message: "server requires auth: the client sent no key" },
    });
    expect(serverAuthStep({ ...keys, required: false }, undefined, PROTOCOL_VERSION)).toEqual({ kind: "open" });
    expect(serverAuthStep(undefined, authRequest(client), PROTOCOL_VERSION)).toEqual({ kind: "open" });
    expect(serverAuthStep(keys, { keyId: "nope", nonce: newNonce() }, PROTOCOL_VERSION)).toEqual({
      kind: "refuse",
      refusal: { reason: "unknown-key-id", keyId: "nope", message: 'unknown key id "nope"' },
    });
    const step = serverAuthStep(keys, authRequest(client), PROTOCOL_VERSION);
    if (step.kind !== "challenge") throw new Error("expected a challenge");
    expect(checkClientProof(step.pending, new Uint8Array(32))).toEqual({
      reason: "wrong-proof",
      keyId: "k1",
      message: 'wrong proof from the client for key id "k1" (it does not hold this key\'s secret)',
    });
  });

  it("the client refuses a server without the key, a server without auth, and an answer it did not ask for", () => {
    const wrongClient = checkClientAuth({ keyId: "k1", secret: other }, "test");
    const request = authRequest(wrongClient);
    const step = serverAuthStep(keys, request, PROTOCOL_VERSION);
    if (step.kind !== "challenge") throw new Error("expected a challenge");
    expect(clientAuthCheck(wrongClient, request, step.answer, PROTOCOL_VERSION)).toEqual({
      ok: false,
      message: 'wrong proof from the server for key id "k1" (it does not hold this key\'s secret)',
    });
    // A different version than the server proved: the proof does not hold (no downgrade).
    const good = authRequest(client);
    const answered = serverAuthStep(keys, good, PROTOCOL_VERSION);
    if (answered.kind !== "challenge") throw new Error("expected a challenge");
    expect(clientAuthCheck(client, good, answered.answer, PROTOCOL_VERSION + 1).ok).toBe(false);
    expect(clientAuthCheck(client, good, undefined, PROTOCOL_VERSION)).toEqual({
      ok: false,
      message: "client requires auth: the server did not authenticate (it has no auth keys)",
    });
    expect(clientAuthCheck(undefined, undefined, undefined, PROTOCOL_VERSION)).toEqual({ ok: true, proof: undefined });
    expect(() => clientAuthCheck(undefined, undefined, answered.answer, PROTOCOL_VERSION)).toThrow(ProtocolError);
  });
});

describe("HELLO with HAS_AUTH and AUTH on the wire", () => {
  it("round-trip: client HELLO with key id and nonce, server HELLO with nonce and proof, AUTH", () => {
    const authReq = { keyId: "ключ-1", nonce: newNonce() };
    const client = bytes(encodeHello({ ...HELLO, authRequest: authReq }));
    expect(client[1]).toBe(Flag.HAS_AUTH);
    expect(client.byteLength).toBe(8 + 20 + 2 + Buffer.byteLength("ключ-1") + 32);
    expect(parseFrame(client, false)).toEqual({ kind: FrameKind.HELLO, streamId: 0, hello: { ...HELLO, authRequest: authReq } });

    const answer = { nonce: newNonce(), proof: newNonce() };
    const server = bytes(encodeHello({ ...HELLO, authAnswer: answer }));
    expect(server.byteLength).toBe(8 + 20 + 64);
    expect(parseFrame(server, true)).toEqual({ kind: FrameKind.HELLO, streamId: 0, hello: { ...HELLO, authAnswer: answer } });

    const proof = newNonce();
    const auth = bytes(encodeAuth(proof));
    expect(auth.byteLength).toBe(8 + 32);
    const parsed = parseFrame(auth, false);
    expect(parsed).toEqual({ kind: FrameKind.AUTH, streamId: 0, proof });
    // Copied out: the frame's memory may be reused once delivered.
    auth.fill(0);
    expect((parsed as { proof: Uint8Array }).proof).toEqual(proof);
  });

  it("malformed: truncated or long auth parts, an empty key id, AUTH from a server or on a stream, auth below version 3", () => {
    const good = bytes(encodeHello({ ...HELLO, authRequest: { keyId: "k", nonce: newNonce() } }));
    expect(() => parseFrame(good.subarray(0, good.byteLength - 1), false)).toThrow(ProtocolError);
    expect(() => parseFrame(new Uint8Array([...good, 0]), false)).toThrow(/trailing/);
    const empty = good.slice();
    empty[28] = 0; // key id length 0
    expect(() => parseFrame(empty, false)).toThrow(/key id of 0 bytes/);
    const long = good.slice();
    long[28] = (MAX_KEY_ID_BYTES + 1) & 0xff;
    long[29] = (MAX_KEY_ID_BYTES + 1) >> 8;
    expect(() => parseFrame(long, false)).toThrow(/key id of 257 bytes/);
    const old = bytes(encodeHello({ ...HELLO, version: AUTH_MIN_VERSION - 1, minVersion: 1, authRequest: { keyId: "k", nonce: newNonce() } }));
    expect(() => parseFrame(old, false)).toThrow(/authentication needs protocol version 3/);
    const auth = bytes(encodeAuth(newNonce()));
    expect(() => parseFrame(auth, true)).toThrow(/sent by a server/);
    expect(() => parseFrame(auth.subarray(0, 39), false)).toThrow(ProtocolError);
    const onStream = auth.slice();
    onStream[4] = 1;
    expect(() => parseFrame(onStream, false)).toThrow(/stream id must be 0/);
    const flagged = auth.slice();
    flagged[1] = Flag.HAS_AUTH;
    expect(() => parseFrame(flagged, false)).toThrow(/flags/);
  });
});
