// 64-bit integer values to their two 32-bit halves, with toBinary's checks. protobuf-es
// accepts a bigint, a decimal string (jstype = JS_STRING) or anything BigInt() takes.
// A bigint goes through a scratch DataView; a short decimal string or a safe integer is
// split with plain arithmetic: neither allocates. Anything else is handed to BigInt()
// exactly as protobuf-es does, which accepts and refuses the same inputs.

const scratch = new DataView(new ArrayBuffer(8));
const INT64_MIN = -(BigInt(1) << BigInt(63));
const INT64_MAX = (BigInt(1) << BigInt(63)) - BigInt(1);
const UINT64_MAX = (BigInt(1) << BigInt(64)) - BigInt(1);
const ZERO = BigInt(0);
const TWO_32 = 4294967296;

/** The halves of the last value split: [low 32 bits, high 32 bits], as int32. */
export const int64Halves = new Int32Array(2);

/** Splits a signed 64-bit value into int64Halves; throws as toBinary does for invalid values. */
export const splitInt64 = splitter("int64", INT64_MIN, INT64_MAX);

/** Splits an unsigned 64-bit value into int64Halves; throws as toBinary does for invalid values. */
export const splitUint64 = splitter("uint64", ZERO, UINT64_MAX);

function splitter(name: string, min: bigint, max: bigint): (value: unknown) => void {
  const unsigned = min === ZERO;
  const split = (value: unknown): void => {
    if (typeof value === "bigint") {
      if (value < min || value > max) throw new Error(`invalid ${name}: ${value}`);
      if (unsigned) scratch.setBigUint64(0, value, true);
      else scratch.setBigInt64(0, value, true);
      readScratch();
    } else if (!(typeof value === "number" ? splitSafe(value, unsigned) : typeof value === "string" && splitDecimal(value, unsigned))) {
      const parsed = BigInt(value as string);
      if (parsed < min || parsed > max) throw new Error(`invalid ${name}: ${String(value)}`);
      split(parsed);
    }
  };
  return split;
}

function readScratch(): void {
  int64Halves[0] = scratch.getInt32(0, true);
  int64Halves[1] = scratch.getInt32(4, true);
}

/** A safe integer (the halves of its two's complement); false for anything else. */
function splitSafe(value: number, unsigned: boolean): boolean {
  if (!Number.isSafeInteger(value) || (unsigned && value < 0)) return false;
  const hi = Math.floor(value / TWO_32);
  int64Halves[0] = value - hi * TWO_32;
  int64Halves[1] = hi;
  return true;
}

/** "-?[0-9]{1,15}" (below 2^53, so exact in a double); false for anything else. */
function splitDecimal(text: string, unsigned: boolean): boolean {
  const length = text.length;
  let i = 0;
  if (length > 0 && text.charCodeAt(0) === 0x2d) {
    if (unsigned) return false;
    i = 1;
  }
  if (length === i || length - i > 15) return false;
  let value = 0;
  for (; i < length; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return false;
    value = value * 10 + digit;
  }
  return splitSafe(text.charCodeAt(0) === 0x2d ? -value : value, unsigned);
}
