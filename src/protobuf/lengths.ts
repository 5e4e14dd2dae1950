// The lengths the size pass measures and the write pass consumes, in the same order:
// nested messages, packed lists, map entries and strings. One preallocated array for the
// whole process, grown by doubling and never shrunk, so an encode allocates nothing and
// deep nesting stays linear (each length is computed once, as upb and prost do). Encoding
// is synchronous and never reentrant, so one array serves every encoder.

/** The lengths of the message measured last; `count` written by the size pass, `cursor` read by the write pass. */
export const lengths = {
  slots: new Uint32Array(256),
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
  const bigger = new Uint32Array(lengths.slots.length * 2);
  bigger.set(lengths.slots);
  lengths.slots = bigger;
}
