// The lengths the size pass measures and the write pass consumes, in the same order:
// nested messages, packed lists, map entries and strings; also the two halves of each
// 64-bit integer (splitting a bigint costs more than the rest of the field). One preallocated array for the
// whole process, grown by doubling and never shrunk, so an encode allocates nothing and
// deep nesting stays linear (each length is computed once, as upb and prost do). Encoding
// is synchronous and never reentrant, so one array serves every encoder.

/** The lengths of the message measured last; `count` written by the size pass, `cursor` read by the write pass. */
export const lengths = {
  slots: new Uint32Array(256),
  /** The value a slot was measured from, where the write pass checks it is still the same (64-bit integers). */
  values: new Array<unknown>(256).fill(undefined),
  count: 0,
  cursor: 0,
};

/** The index of a new length, filled in by the size pass once it is known. */
export function reserveLength(): number {
  const index = lengths.count++;
  if (index >= lengths.slots.length) grow();
  return index;
}

/** The next length in write order. */
export function nextLength(): number {
  return lengths.slots[lengths.cursor++];
}

function grow(): void {
  const n = lengths.slots.length;
  const bigger = new Uint32Array(n * 2);
  bigger.set(lengths.slots);
  lengths.slots = bigger;
  for (let i = n; i < n * 2; i++) lengths.values.push(undefined);
}
