// DecodedStrings (src/frame/decoded-strings.ts): strings answered by their bytes, never
// confused with other bytes of the same length, and bounded however many a peer sends.
import { describe, expect, it } from "vitest";
import { DecodedStrings } from "../../src/frame/decoded-strings.js";
import { WireReader } from "../../src/frame/wire.js";
import { ProtocolError } from "../../src/frame/protocol-error.js";

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("DecodedStrings", () => {
  it("answers bytes it was given, at any offset, and nothing else", () => {
    const cache = new DecodedStrings(4, 64);
    const memory = bytes("xx/a.v1.S/Echo");
    expect(cache.find(memory, 2, 12)).toBeUndefined();
    cache.add(memory, 2, 12, "/a.v1.S/Echo");
    expect(cache.find(bytes("/a.v1.S/Echo"), 0, 12)).toBe("/a.v1.S/Echo");
    expect(cache.find(bytes("/a.v1.S/Ech0"), 0, 12)).toBeUndefined(); // same length, one byte differs
    expect(cache.find(bytes("/a.v1.S/Echo!"), 0, 13)).toBeUndefined();
    memory[5] = 0x30; // the cache kept a copy, not the caller's memory
    expect(cache.find(bytes("/a.v1.S/Echo"), 0, 12)).toBe("/a.v1.S/Echo");
  });

  it("keeps at most its capacity, replacing in turn, and skips strings above its byte bound", () => {
    const cache = new DecodedStrings(2, 8);
    for (const s of ["/one", "/two", "/three"]) cache.add(bytes(s), 0, s.length, s);
    expect(cache.find(bytes("/one"), 0, 4)).toBeUndefined(); // replaced by "/three"
    expect(cache.find(bytes("/two"), 0, 4)).toBe("/two");
    expect(cache.find(bytes("/three"), 0, 6)).toBe("/three");
    cache.add(bytes("/much/too/long"), 0, 14, "/much/too/long");
    expect(cache.find(bytes("/much/too/long"), 0, 14)).toBeUndefined();
  });

  it("behind WireReader.cachedString: a hit reads the same string, invalid UTF-8 is never cached and still fails", () => {
    const cache = new DecodedStrings(4, 64);
    const frame = new Uint8Array([1, ...bytes("/p/Q"), 2]);
    const first = new WireReader(frame, 1, "TEST");
    expect(first.cachedString(4, "path", cache)).toBe("/p/Q");
    expect(first.u8("tail")).toBe(2);
    const again = new WireReader(frame, 1, "TEST");
    expect(again.cachedString(4, "path", cache)).toBe("/p/Q");
    expect(again.u8("tail")).toBe(2); // the hit advanced the reader past the string
    const bad = new Uint8Array([0xff, 0xfe]);
    for (let i = 0; i < 2; i++) expect(() => new WireReader(bad, 0, "TEST").cachedString(2, "path", cache)).toThrow(ProtocolError);
    expect(() => new WireReader(frame, 1, "TEST").cachedString(9, "path", cache)).toThrow(/needs 9 bytes/);
  });
});
