// The encoder of one message type: the size pass, then the write pass into the caller's
// buffer. The lengths measured by size() stay valid for the next write() of the same
// message object, so size → allocate → write measures once. The write pass checks every
// length it writes against what it wrote, so a message changed in between is refused,
// never written wrong.

import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { EncodeRangeError, messageChanged } from "./errors.js";
import { lengths } from "./lengths.js";
import { messagePlan } from "./message-plan.js";
import type { MessagePlan } from "./message-plan.js";

/** Encodes messages of one type into caller-provided buffers. */
export interface MessageEncoder<D extends DescMessage = DescMessage> {
  /** Encoded size in bytes; the next write() of this same message reuses what it measured. */
  size(message: MessageShape<D>): number;
  /**
   * Writes the message at target[offset..] and returns the end offset; byte-for-byte what
   * toBinary returns. Throws EncodeRangeError, writing nothing, when it does not fit.
   */
  write(message: MessageShape<D>, target: Uint8Array, offset: number): number;
}

/** What the last size() measured: its message, plan and total (lengths hold the rest). */
const measured: { message: unknown; plan: MessagePlan | undefined; total: number } = {
  message: undefined,
  plan: undefined,
  total: 0,
};

function sizeOf(plan: MessagePlan, message: unknown): number {
  measured.message = undefined;
  lengths.count = 0;
  return plan.size(message);
}

class PlanEncoder<D extends DescMessage> implements MessageEncoder<D> {
  readonly #plan: MessagePlan;

  constructor(schema: D) {
    this.#plan = messagePlan(schema);
  }

  size(message: MessageShape<D>): number {
    const total = sizeOf(this.#plan, message);
    measured.message = message;
    measured.plan = this.#plan;
    measured.total = total;
    return total;
  }

  write(message: MessageShape<D>, target: Uint8Array, offset: number): number {
    const plan = this.#plan;
    const total = measured.message === message && measured.plan === plan ? measured.total : sizeOf(plan, message);
    measured.message = undefined;
    if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`encodeInto: offset ${offset} is not a byte offset`);
    const available = target.length - offset;
    if (total > available) throw new EncodeRangeError(total, Math.max(available, 0));
    lengths.cursor = 0;
    const end = plan.write(message, target, offset);
    return end - offset === total ? end : messageChanged();
  }
}

const encoders = new WeakMap<DescMessage, MessageEncoder>();

/** The encoder of a message type (built once per schema, then cached). */
export function encoderFor<D extends DescMessage>(schema: D): MessageEncoder<D> {
  let encoder = encoders.get(schema);
  if (encoder === undefined) {
    encoder = new PlanEncoder(schema);
    encoders.set(schema, encoder);
  }
  return encoder as MessageEncoder<D>;
}
