// Fixed-width values: 32- and 64-bit integers and IEEE floats, little-endian. Floats go
// through one scratch typed array (no DataView over the caller's buffer, so nothing is
// allocated per message); NaN and -0 keep the bits V8 gives them, as DataView does.

const f64 = new Float64Array(1);
const f32 = new Float32Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const f32Bytes = new Uint8Array(f32.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Writes 32 bits little-endian (a uint32 or int32 number); returns the end. */
export function writeFixed32(target: Uint8Array, pos: number, value: number): number {
  target[pos] = value;
  target[pos + 1] = value >>> 8;
  target[pos + 2] = value >>> 16;
  target[pos + 3] = value >>> 24;
  return pos + 4;
}

/** Writes 64 bits little-endian from their low and high halves; returns the end. */
export function writeFixed64(target: Uint8Array, pos: number, lo: number, hi: number): number {
  return writeFixed32(target, writeFixed32(target, pos, lo), hi);
}

/** Writes an IEEE double; returns the end. */
export function writeDouble(target: Uint8Array, pos: number, value: number): number {
  f64[0] = value;
  return copyScratch(f64Bytes, target, pos);
}

/** Writes an IEEE single (the value rounded as DataView.setFloat32 rounds it); returns the end. */
export function writeFloat(target: Uint8Array, pos: number, value: number): number {
  f32[0] = value;
  return copyScratch(f32Bytes, target, pos);
}

/** Copies a scratch value's bytes in little-endian order. */
function copyScratch(bytes: Uint8Array, target: Uint8Array, pos: number): number {
  const n = bytes.length;
  if (littleEndian) {
    for (let i = 0; i < n; i++) target[pos + i] = bytes[i];
  } else {
    for (let i = 0; i < n; i++) target[pos + i] = bytes[n - 1 - i];
  }
  return pos + n;
}
