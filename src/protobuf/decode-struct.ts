// google.protobuf.Struct fields kept as JSON, as protobuf-es keeps them (every Struct field
// outside google.protobuf.Value): the Struct message read from the wire becomes a JSON
// object (null for a Value without a kind), and a Struct field occurring again is merged
// into the message form of the JSON read before (its keys first, new ones replacing them).

/** A message as the decoder builds it. */
type MessageRecord = Record<string, unknown>;

type Kind = { case: string | undefined; value?: unknown };

/** The JSON object of a Struct message. */
export function structToLocal(struct: MessageRecord): unknown {
  const json: Record<string, unknown> = {};
  const fields = struct.fields as Record<string, MessageRecord>;
  for (const key of Object.keys(fields)) setOwn(json, key, valueToLocal(fields[key]));
  return json;
}

function valueToLocal(value: MessageRecord): unknown {
  const kind = value.kind as Kind;
  switch (kind.case) {
    case "structValue":
      return structToLocal(kind.value as MessageRecord);
    case "listValue":
      return ((kind.value as MessageRecord).values as MessageRecord[]).map(valueToLocal);
    case "nullValue":
    case undefined:
      return null;
    default:
      return kind.value;
  }
}

/** The Struct message of a JSON object read before. */
export function structToMessage(json: unknown): MessageRecord {
  const fields: Record<string, unknown> = {};
  if (json !== null && typeof json === "object" && !Array.isArray(json)) {
    const object = json as Record<string, unknown>;
    for (const key of Object.keys(object)) setOwn(fields, key, valueToMessage(object[key]));
  }
  return { $typeName: "google.protobuf.Struct", fields };
}

function valueToMessage(json: unknown): MessageRecord {
  let kind: Kind = { case: undefined };
  if (typeof json === "number") kind = { case: "numberValue", value: json };
  else if (typeof json === "string") kind = { case: "stringValue", value: json };
  else if (typeof json === "boolean") kind = { case: "boolValue", value: json };
  else if (json === null) kind = { case: "nullValue", value: 0 };
  else if (Array.isArray(json)) kind = { case: "listValue", value: { $typeName: "google.protobuf.ListValue", values: json.map(valueToMessage) } };
  else if (typeof json === "object") kind = { case: "structValue", value: structToMessage(json) };
  return { $typeName: "google.protobuf.Value", kind };
}

/** Assigns a property, "__proto__" included (as an own property). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}
