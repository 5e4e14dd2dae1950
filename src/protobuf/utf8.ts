// Strings to UTF-8 as TextEncoder writes them (a lone surrogate becomes U+FFFD, 3 bytes),
// straight into the target. Short strings are counted and written by JavaScript loops;
// long ones by Node's native UTF-8 writer (Buffer.prototype.utf8Write, which takes any
// Uint8Array and returns a number) and Buffer.byteLength: neither allocates on the JS
// heap, where TextEncoder.encodeInto needs a subarray and returns a fresh result object.
// The thresholds come from bench/encode.js (docs/ENCODING.md, "Strings").

/** Strings up to this many UTF-16 code units are measured by a JavaScript loop. */
export const LOOP_MEASURE_MAX = 64;
/** ASCII strings up to this many characters are written by a JavaScript loop. */
export const LOOP_ASCII_MAX = 32;
/** Other strings up to this many code units are written by a JavaScript loop. */
export const LOOP_UTF8_MAX = 16;

type NativeWrite = (this: Uint8Array, text: string, offset: number, length: number) => number;
type NativeLength = (text: string, encoding: "utf8") => number;
const nativeWrite = findNativeWrite();
const nativeLength = findNativeLength();
const encoder = new TextEncoder();

/** Bytes of the UTF-8 encoding of a string. */
export function utf8Length(text: string): number {
  const units = text.length;
  if (units > LOOP_MEASURE_MAX && nativeLength !== undefined) return nativeLength(text, "utf8");
  let bytes = units;
  for (let i = 0; i < units; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) {
      bytes += 1;
    } else if (unit >= 0xd800 && unit < 0xdc00 && i + 1 < units && isLowSurrogate(text.charCodeAt(i + 1))) {
      // A pair: two code units, four bytes.
      bytes += 2;
      i++;
    } else {
      bytes += 2;
    }
  }
  return bytes;
}

/**
 * Writes a string whose UTF-8 length the size pass measured as `byteLength`; returns the
 * end, or -1 when the string now has another length (the message changed meanwhile).
 */
export function writeUtf8(target: Uint8Array, pos: number, text: string, byteLength: number): number {
  const units = text.length;
  if (byteLength === units && units <= LOOP_ASCII_MAX) {
    for (let i = 0; i < units; i++) {
      const unit = text.charCodeAt(i);
      if (unit >= 0x80) return -1;
      target[pos + i] = unit;
    }
    return pos + units;
  }
  if (units <= LOOP_UTF8_MAX) {
    const end = writeUtf8Loop(target, pos, text);
    return end - pos === byteLength ? end : -1;
  }
  // Room for one more character than measured: a longer string shows as a longer write.
  // Where the target ends before that room (the string is the last thing in it), a longer
  // string would be cut to fit and pass for the measured one: measure it again.
  const room = Math.min(byteLength + 4, target.length - pos);
  if (room < byteLength + 4 && utf8Length(text) !== byteLength) return -1;
  const written =
    nativeWrite !== undefined
      ? nativeWrite.call(target, text, pos, room)
      : encoder.encodeInto(text, target.subarray(pos, pos + room)).written;
  return written === byteLength ? pos + written : -1;
}

/** Writes a string's UTF-8 by a JavaScript loop; returns the end (exported for bench/encode.js). */
export function writeUtf8Loop(target: Uint8Array, pos: number, text: string): number {
  const units = text.length;
  for (let i = 0; i < units; i++) {
    let unit = text.charCodeAt(i);
    if (unit < 0x80) {
      target[pos++] = unit;
      continue;
    }
    if (unit < 0x800) {
      target[pos++] = 0xc0 | (unit >> 6);
      target[pos++] = 0x80 | (unit & 0x3f);
      continue;
    }
    if (unit >= 0xd800 && unit < 0xe000) {
      const next = i + 1 < units ? text.charCodeAt(i + 1) : 0;
      if (unit < 0xdc00 && isLowSurrogate(next)) {
        const point = 0x10000 + ((unit - 0xd800) << 10) + (next - 0xdc00);
        target[pos++] = 0xf0 | (point >> 18);
        target[pos++] = 0x80 | ((point >> 12) & 0x3f);
        target[pos++] = 0x80 | ((point >> 6) & 0x3f);
        target[pos++] = 0x80 | (point & 0x3f);
        i++;
        continue;
      }
      unit = 0xfffd;
    }
    target[pos++] = 0xe0 | (unit >> 12);
    target[pos++] = 0x80 | ((unit >> 6) & 0x3f);
    target[pos++] = 0x80 | (unit & 0x3f);
  }
  return pos;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit < 0xe000;
}

/** Node's Buffer.byteLength, if it counts a lone surrogate as TextEncoder does (3 bytes). */
function findNativeLength(): NativeLength | undefined {
  const length = (globalThis as { Buffer?: { byteLength?: NativeLength } }).Buffer?.byteLength;
  return typeof length === "function" && length("a\ud800\ud83d\ude00é", "utf8") === 10 ? length : undefined;
}

/** Node's native UTF-8 writer, if it works on a plain Uint8Array and replaces lone surrogates. */
function findNativeWrite(): NativeWrite | undefined {
  const write = (globalThis as { Buffer?: { prototype: { utf8Write?: NativeWrite } } }).Buffer?.prototype.utf8Write;
  if (typeof write !== "function") return undefined;
  try {
    const probe = new Uint8Array(8);
    const written = write.call(probe, "a\ud800é", 1, 7);
    const expected = [0, 0x61, 0xef, 0xbf, 0xbd, 0xc3, 0xa9, 0];
    return written === 6 && expected.every((b, i) => probe[i] === b) ? write : undefined;
  } catch {
    return undefined;
  }
}
