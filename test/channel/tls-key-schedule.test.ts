// The kTLS hand-over's key derivation (src/channel/tls-key-schedule.ts) against RFC 8448's
// "Simple 1-RTT Handshake" (§3) vectors: the HkdfLabel bytes, and the keys and IVs of the
// handshake and application traffic secrets; then against node:tls itself: the secrets its
// keylog event gives for a real TLS 1.3 connection yield keys that decrypt a record the
// server sent (the first application record, after the NewSessionTicket records).
import { createDecipheriv } from "node:crypto";
import * as net from "node:net";
import * as tls from "node:tls";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";

import { hkdfLabel, parseKeylogLine, recordNonce, trafficKeys } from "../../src/channel/tls-key-schedule.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { makeTestPkis, opensslUnavailable, type TestPki } from "../support/tls-certs.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

describe("RFC 8448 §3 vectors", () => {
  it("HkdfLabel of \"key\" (16 bytes) and \"iv\" (12 bytes)", () => {
    expect(hkdfLabel("key", new Uint8Array(0), 16)).toEqual(hex("00 10 09 74 6c 73 31 33 20 6b 65 79 00"));
    expect(hkdfLabel("iv", new Uint8Array(0), 12)).toEqual(hex("00 0c 08 74 6c 73 31 33 20 69 76 00"));
  });

  it.each([
    ["server handshake", "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38", "3fce516009c21727d0f2e4e86ee403bc", "5d313eb2671276ee13000b30"],
    ["client handshake", "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21", "dbfaa693d1762c5b666af5d950258d01", "5bd3c71b836e0b76bb73265f"],
    ["server application", "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643", "9f02283b6c9c07efc26bb9f2ac92e356", "cf782b88dd83549aadf1e984"],
    ["client application", "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5", "17422dda596ed5d9acd890e3c63f5051", "5b78923dee08579033e523d9"],
  ])("%s traffic secret -> key and iv (TLS_AES_128_GCM_SHA256)", (_name, secret, key, iv) => {
    const keys = trafficKeys("TLS_AES_128_GCM_SHA256", hex(secret));
    expect(keys.key.toString("hex")).toBe(key);
    expect(keys.iv.toString("hex")).toBe(iv);
  });

  it("the nonce is the IV XOR the sequence number; a secret of the wrong length is refused", () => {
    const iv = hex("cf782b88dd83549aadf1e984");
    expect(recordNonce(iv, 0n)).toEqual(iv);
    expect(recordNonce(iv, 1n).toString("hex")).toBe("cf782b88dd83549aadf1e985");
    expect(recordNonce(iv, 0x0102n).toString("hex")).toBe("cf782b88dd83549aadf1e886");
    expect(() => trafficKeys("TLS_AES_256_GCM_SHA384", new Uint8Array(32))).toThrow(/48 bytes/);
  });

  it("parses key log lines; other text is undefined", () => {
    const entry = parseKeylogLine(`SERVER_TRAFFIC_SECRET_0 ${"ab".repeat(32)} ${"cd".repeat(32)}\n`);
    expect(entry?.label).toBe("SERVER_TRAFFIC_SECRET_0");
    expect(entry?.clientRandom).toEqual(Buffer.alloc(32, 0xab));
    expect(entry?.secret).toEqual(Buffer.alloc(32, 0xcd));
    expect(parseKeylogLine("# a comment\n")).toBeUndefined();
  });
});

const noOpenssl = opensslUnavailable();
let pki: TestPki;
beforeAll(() => {
  if (!noOpenssl) pki = makeTestPkis().trusted;
});

gatedDescribe("against node:tls", noOpenssl, () => {
  it("keys from the keylog secrets decrypt the server's first application record, counted after its session tickets", async () => {
    const payload = Buffer.from("hello from the server, record layer");
    const server = tls.createServer({ key: pki.server.key, cert: pki.server.cert, ciphers: "TLS_AES_128_GCM_SHA256" }, (socket) => {
      socket.on("error", () => undefined);
      // Tickets first (OpenSSL sends them right after the handshake), then one write: one record.
      setTimeout(() => socket.write(payload), 50);
    });
    onTestFinished(() => void server.close());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;

    // A TCP relay between client and server keeps the bytes the server sent.
    const wire: Buffer[] = [];
    const relay = net.createServer((down) => {
      const up = net.connect({ host: "127.0.0.1", port });
      for (const s of [up, down]) s.on("error", () => undefined);
      down.pipe(up);
      up.on("data", (chunk: Buffer) => {
        wire.push(chunk);
        down.write(chunk);
      });
      up.on("close", () => down.destroy());
    });
    onTestFinished(() => void relay.close());
    await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
    const secrets = new Map<string, Buffer>();
    const client = tls.connect({ host: "127.0.0.1", port: (relay.address() as net.AddressInfo).port, ca: pki.ca, servername: "localhost" });
    onTestFinished(() => void client.destroy());
    client.on("keylog", (line: Buffer) => {
      const entry = parseKeylogLine(line);
      if (entry) secrets.set(entry.label, entry.secret);
    });
    let tickets = 0;
    client.on("session", () => tickets++);
    const received = await new Promise<Buffer>((resolve, reject) => client.once("data", resolve).once("error", reject));
    expect(received).toEqual(payload);
    expect(client.getCipher().standardName).toBe("TLS_AES_128_GCM_SHA256");

    // Walk the server's records: after the handshake's, the application-key records are
    // the tickets (sequence 0..tickets-1) and then our payload (sequence = tickets).
    const bytes = Buffer.concat(wire);
    const records: Buffer[] = [];
    for (let at = 0; at + 5 <= bytes.byteLength; ) {
      const length = bytes.readUInt16BE(at + 3);
      records.push(bytes.subarray(at, at + 5 + length));
      at += 5 + length;
    }
    const last = records[records.length - 1]!;
    expect(last[0]).toBe(0x17);
    const { key, iv } = trafficKeys("TLS_AES_128_GCM_SHA256", secrets.get("SERVER_TRAFFIC_SECRET_0")!);
    const body = last.subarray(5);
    const decipher = createDecipheriv("aes-128-gcm", key, recordNonce(iv, BigInt(tickets)));
    decipher.setAAD(last.subarray(0, 5));
    decipher.setAuthTag(body.subarray(body.byteLength - 16));
    const inner = Buffer.concat([decipher.update(body.subarray(0, body.byteLength - 16)), decipher.final()]);
    // TLSInnerPlaintext: content, then the real content type (23: application data).
    expect(inner.subarray(0, payload.byteLength)).toEqual(payload);
    expect(inner[payload.byteLength]).toBe(23);
    expect(tickets).toBeGreaterThan(0);
  });
});
