// ReassemblyShare (src/channel/reassembly-share.ts), the net engine's rule for frames
// reassembled into leases (the io_uring engine's native copy, native/common/reassembly_share.h,
// is driven end to end by test/hostile/reassembly-share.test.ts): frames within what the
// connection's share leaves after its unsent frames take leases; any other frame takes the
// engine's one over-share place.

import { describe, expect, it } from "vitest";
import { ReassemblyShare } from "../../src/channel/reassembly-share.js";
import { SendShare } from "../../src/channel/send-share.js";

const LIMIT = 64 * 1024;
const UNIT = 256;

describe("ReassemblyShare", () => {
  it("admits any number of frames that fit what each connection's share leaves", () => {
    const rule = new ReassemblyShare(new SendShare(LIMIT, 1 << 20, UNIT));
    const [a, b, c] = [{}, {}, {}];
    expect(rule.admit(a, 0, LIMIT)).toBe(true);
    expect(rule.admit(b, LIMIT / 2, LIMIT / 2)).toBe(true);
    // Counted in whole lease units: 1 byte takes 256.
    expect(rule.admit(c, LIMIT - UNIT, 1)).toBe(true);
    // None of them took the over-share place: a frame larger than the share still can.
    expect(rule.admit({}, 0, LIMIT + 1)).toBe(true);
  });

  it("a frame beyond what the share leaves takes the one over-share place; others wait until it is released", () => {
    const rule = new ReassemblyShare(new SendShare(LIMIT, 1 << 20, UNIT));
    const [a, b] = [{}, {}];
    expect(rule.admit(a, 0, 4 * LIMIT)).toBe(true);
    expect(rule.admit(b, 0, LIMIT + 1), "the place is taken").toBe(false);
    // Unsent frames count: a small frame that does not fit what b's share leaves waits too.
    expect(rule.admit(b, LIMIT - UNIT, UNIT + 1)).toBe(false);
    expect(rule.admit(b, LIMIT - UNIT, UNIT), "within the share: no place needed").toBe(true);
    rule.release(b); // b never held it: no effect
    expect(rule.admit(b, 0, LIMIT + 1)).toBe(false);
    rule.release(a);
    expect(rule.admit(b, 0, LIMIT + 1)).toBe(true);
    expect(rule.admit(a, 0, LIMIT + 1)).toBe(false);
  });
});
