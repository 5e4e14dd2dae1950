// The plan of a message type, built once per DescMessage from its descriptor: its fields
// in field-number order (toBinary's order, oneof members included), then its unknown
// fields. Plans are closures and tables, no generated code, so they work under a strict
// CSP and --jitless. A recursive type's plan is registered before its fields are
// planned, so it refers to itself.

import type { DescField, DescMessage, UnknownField } from "@bufbuild/protobuf";
import type { ContentPlan } from "./content.js";
import { fieldValueError, FieldValueError } from "./errors.js";
import { fieldPlan } from "./fields.js";
import type { FieldPlan, MessageRecord } from "./fields.js";
import { unknownFieldsSize, writeUnknownFields } from "./unknown-fields.js";

/** Sizes and writes the content of messages of one type. */
export class MessagePlan implements ContentPlan {
  readonly typeName: string;
  /** The fields in field-number order, and their plans (same index). */
  readonly fields: DescField[];
  readonly plans: FieldPlan[] = [];

  constructor(desc: DescMessage) {
    this.typeName = desc.typeName;
    this.fields = desc.fields.concat().sort((a, b) => a.number - b.number);
  }

  size(value: unknown): number {
    const message = value as MessageRecord;
    this.checkType(message);
    const plans = this.plans;
    let n = 0;
    let i = 0;
    try {
      for (; i < plans.length; i++) n += plans[i].size(message);
    } catch (e) {
      throw fieldValueError(e, this.typeName, this.fields[i].name);
    }
    const unknown = message.$unknown as UnknownField[] | undefined;
    return unknown === undefined ? n : n + unknownFieldsSize(unknown);
  }

  write(value: unknown, target: Uint8Array, pos: number): number {
    const message = value as MessageRecord;
    const plans = this.plans;
    let i = 0;
    try {
      for (; i < plans.length; i++) pos = plans[i].write(message, target, pos);
    } catch (e) {
      throw fieldValueError(e, this.typeName, this.fields[i].name);
    }
    const unknown = message.$unknown as UnknownField[] | undefined;
    return unknown === undefined ? pos : writeUnknownFields(unknown, target, pos);
  }

  /** toBinary refuses a message of another type (ForeignFieldError), when this type has fields. */
  private checkType(message: MessageRecord): void {
    if (message.$typeName !== this.typeName && this.fields.length > 0) {
      throw new FieldValueError(`cannot use ${String(this.fields[0])} with message ${String(message.$typeName)}`);
    }
  }
}

const plans = new WeakMap<DescMessage, MessagePlan>();

/** The plan of a message type, built on first use. */
export function messagePlan(desc: DescMessage): MessagePlan {
  let plan = plans.get(desc);
  if (plan === undefined) {
    plan = new MessagePlan(desc);
    plans.set(desc, plan);
    for (const field of plan.fields) plan.plans.push(fieldPlan(field, messagePlan));
  }
  return plan;
}
