// Varints: sizes and writers for 32-bit values (numbers), negative int32 (10 bytes, sign
// extended as toBinary writes them) and 64-bit values given as two 32-bit halves.

/** Bytes of an unsigned 32-bit varint. */
export function varint32Size(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

/** Writes an unsigned 32-bit varint; returns the end. */
export function writeVarint32(target: Uint8Array, pos: number, value: number): number {
  while (value > 0x7f) {
    target[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  target[pos++] = value;
  return pos;
}

/** Bytes of an int32 varint: negative values are sign-extended to 64 bits. */
export function int32Size(value: number): number {
  return value < 0 ? 10 : varint32Size(value);
}

/** Writes an int32 varint; returns the end. */
export function writeInt32(target: Uint8Array, pos: number, value: number): number {
  if (value >= 0) return writeVarint32(target, pos, value);
  for (let i = 0; i < 9; i++) {
    target[pos++] = (value & 0x7f) | 0x80;
    value >>= 7;
  }
  target[pos++] = 1;
  return pos;
}

/** Bytes of a 64-bit varint given as its low and high 32 bits. */
export function varint64Size(lo: number, hi: number): number {
  hi >>>= 0;
  if (hi === 0) return varint32Size(lo >>> 0);
  return hi < 0x8 ? 5 : hi < 0x400 ? 6 : hi < 0x20000 ? 7 : hi < 0x1000000 ? 8 : hi < 0x80000000 ? 9 : 10;
}

/** Writes a 64-bit varint given as its low and high 32 bits; returns the end. */
export function writeVarint64(target: Uint8Array, pos: number, lo: number, hi: number): number {
  lo >>>= 0;
  hi >>>= 0;
  while (hi !== 0 || lo > 0x7f) {
    target[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  target[pos++] = lo;
  return pos;
}
