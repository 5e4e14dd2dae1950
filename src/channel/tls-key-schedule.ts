// The TLS 1.3 key derivation the kTLS hand-over needs (docs/SECURITY.md, "kTLS design"):
// HKDF-Expand-Label (RFC 8446 §7.1) and the record keys and IVs of a traffic secret
// (§7.3), the per-record nonce (§5.3), and the traffic secrets node:tls's `keylog` event
// gives (NSS key log lines). Pure functions over node:crypto's HMAC; nothing here touches
// a socket. Only the AES-GCM suites: the ones the kernel's TLS_TX/TLS_RX take here.
import { createHmac } from "node:crypto";

/** TLS 1.3 cipher suites the kTLS path offers, with their hash and key length. */
export const KTLS_SUITES = {
  TLS_AES_128_GCM_SHA256: { hash: "sha256", hashBytes: 32, keyBytes: 16 },
  TLS_AES_256_GCM_SHA384: { hash: "sha384", hashBytes: 48, keyBytes: 32 },
} as const;

export type KtlsSuite = keyof typeof KTLS_SUITES;

/** Bytes of a TLS 1.3 record IV (and nonce) for the AES-GCM suites. */
export const IV_BYTES = 12;

/** The HkdfLabel structure: u16 length, u8-prefixed "tls13 " + label, u8-prefixed context. */
export function hkdfLabel(label: string, context: Uint8Array, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`, "ascii");
  if (full.byteLength > 255 || context.byteLength > 255 || length > 0xffff) throw new RangeError("HkdfLabel field out of range");
  const out = Buffer.alloc(2 + 1 + full.byteLength + 1 + context.byteLength);
  out.writeUInt16BE(length, 0);
  out[2] = full.byteLength;
  full.copy(out, 3);
  out[3 + full.byteLength] = context.byteLength;
  out.set(context, 4 + full.byteLength);
  return out;
}

/** HKDF-Expand (RFC 5869 §2.3) of `prk` with `info`, `length` bytes. */
export function hkdfExpand(hash: "sha256" | "sha384", prk: Uint8Array, info: Uint8Array, length: number): Buffer {
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  let produced = 0;
  for (let i = 1; produced < length; i++) {
    if (i > 255) throw new RangeError("HKDF-Expand: length above 255 hash blocks");
    previous = createHmac(hash, prk).update(previous).update(info).update(Buffer.of(i)).digest();
    blocks.push(previous);
    produced += previous.byteLength;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** HKDF-Expand-Label(secret, label, context, length) of RFC 8446 §7.1. */
export function hkdfExpandLabel(hash: "sha256" | "sha384", secret: Uint8Array, label: string, context: Uint8Array, length: number): Buffer {
  return hkdfExpand(hash, secret, hkdfLabel(label, context, length), length);
}

/** The record protection key and IV of a traffic secret (RFC 8446 §7.3). */
export function trafficKeys(suite: KtlsSuite, secret: Uint8Array): { key: Buffer; iv: Buffer } {
  const { hash, hashBytes, keyBytes } = KTLS_SUITES[suite];
  if (secret.byteLength !== hashBytes) throw new RangeError(`${suite}: a traffic secret has ${hashBytes} bytes, got ${secret.byteLength}`);
  const empty = new Uint8Array(0);
  return { key: hkdfExpandLabel(hash, secret, "key", empty, keyBytes), iv: hkdfExpandLabel(hash, secret, "iv", empty, IV_BYTES) };
}

/** The nonce of record number `sequence` (RFC 8446 §5.3): the IV XOR the 64-bit sequence number, left-padded. */
export function recordNonce(iv: Uint8Array, sequence: bigint): Buffer {
  if (iv.byteLength !== IV_BYTES) throw new RangeError(`a record IV has ${IV_BYTES} bytes, got ${iv.byteLength}`);
  const nonce = Buffer.from(iv);
  const tail = nonce.readBigUInt64BE(IV_BYTES - 8) ^ BigInt.asUintN(64, sequence);
  nonce.writeBigUInt64BE(tail, IV_BYTES - 8);
  return nonce;
}

/** One line of an NSS key log (what node:tls's `keylog` event carries). */
export interface KeylogEntry {
  /** "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "CLIENT_HANDSHAKE_TRAFFIC_SECRET", … */
  label: string;
  /** The ClientHello's random: which connection the secret belongs to. */
  clientRandom: Buffer;
  secret: Buffer;
}

/** Parses a key log line ("LABEL <client random hex> <secret hex>\n"); undefined for anything else. */
export function parseKeylogLine(line: string | Uint8Array): KeylogEntry | undefined {
  const text = typeof line === "string" ? line : Buffer.from(line).toString("latin1");
  const match = /^([A-Z_0-9]+) ([0-9a-fA-F]{64}) ((?:[0-9a-fA-F]{2})+)\r?\n?$/.exec(text);
  if (match === null) return undefined;
  return { label: match[1]!, clientRandom: Buffer.from(match[2]!, "hex"), secret: Buffer.from(match[3]!, "hex") };
}
