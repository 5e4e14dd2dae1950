// The message types the encoder's property tests run on: the Protobuf conformance
// messages (proto2, proto3, editions 2023; test/protobuf/gen) and every message of this
// project's own protos (bench, market, orders, the CLI's echo service).

import type { DescFile, DescMessage } from "@bufbuild/protobuf";
import * as edition2023 from "./gen/test_messages_edition2023_pb.js";
import * as proto2Editions from "./gen/test_messages_proto2_editions_pb.js";
import * as proto2 from "./gen/test_messages_proto2_pb.js";
import * as proto3Editions from "./gen/test_messages_proto3_editions_pb.js";
import * as proto3 from "./gen/test_messages_proto3_pb.js";
import { file_bench_v1_bench } from "../../bench/gen/bench/v1/bench_pb.js";
import { file_market_v1_market } from "../gen/market/v1/market_pb.js";
import { file_orders_v1_orders } from "../../examples/gen/orders/v1/orders_pb.js";
import { file_connectrdma_cli_v1_echo } from "../../src/cli/gen/connectrdma/cli/v1/echo_pb.js";
import { extensionsOf } from "./arbitrary.js";

export const conformanceFiles: readonly DescFile[] = [
  proto3.file_test_messages_proto3,
  proto2.file_test_messages_proto2,
  proto3Editions.file_test_messages_proto3_editions,
  proto2Editions.file_test_messages_proto2_editions,
  edition2023.file_test_messages_edition2023,
];

/** The conformance suite's main messages: every field kind, proto2, proto3 and editions. */
export const conformanceMessages: readonly DescMessage[] = [
  proto3.TestAllTypesProto3Schema,
  proto2.TestAllTypesProto2Schema,
  proto3Editions.TestAllTypesProto3Schema,
  proto2Editions.TestAllTypesProto2Schema,
  edition2023.TestAllTypesEdition2023Schema,
];

/** Legacy required: a group of required scalars (proto2 `required`, editions LEGACY_REQUIRED). */
export const requiredScalars: readonly DescMessage[] = [
  proto2.TestAllRequiredTypesProto2_DataSchema,
  proto2Editions.TestAllRequiredTypesProto2_DataSchema,
];

/** Required fields all the way down, in a cycle: no instance can be complete, so encoding must always fail. */
export const requiredCycles: readonly DescMessage[] = [
  proto2.TestAllRequiredTypesProto2Schema,
  proto2Editions.TestAllRequiredTypesProto2Schema,
];

/** Extensions of the conformance files, by extendee. */
export const conformanceExtensions = extensionsOf(conformanceFiles);

/** Every message type of this project's protos. */
export const projectMessages: readonly DescMessage[] = [
  file_bench_v1_bench,
  file_market_v1_market,
  file_orders_v1_orders,
  file_connectrdma_cli_v1_echo,
].flatMap((file) => file.messages);
