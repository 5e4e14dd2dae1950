// The echo service of `connect-rdma serve` (connectrdma.cli.v1.EchoService, generated
// from proto/connectrdma/cli/v1/echo.proto into ./gen): Echo returns the request
// unchanged, Info describes the serving process. Owns the implementation and the
// engine-name logic serve reports (which engine a listen URL ends up on, and why).
import { hostname, release } from "node:os";

import type { ConnectRouter } from "@connectrpc/connect";

import { autoEngine } from "../index.js";
import { packageVersion } from "./format.js";
import { EchoService } from "./gen/connectrdma/cli/v1/echo_pb.js";

export { EchoService };

/** Engines a user may ask for on tcp:// and unix:// URLs. */
export const ENGINE_CHOICES = ["auto", "uring", "net"] as const;
export type EngineChoice = (typeof ENGINE_CHOICES)[number];

/** The engine that carries `url` given the --engine choice, and why "auto" fell back. */
export function engineFor(url: string, choice: EngineChoice): { engine: string; reason?: string } {
  if (url.startsWith("rdma://")) return { engine: "rdma" };
  if (url.startsWith("memory://")) return { engine: "memory" };
  if (choice !== "auto") return { engine: choice };
  const auto = autoEngine();
  return auto.reason !== undefined ? { engine: auto.engine, reason: auto.reason } : { engine: auto.engine };
}

/** Registers EchoService; `engine` is what Info reports. */
export function echoRoutes(engine: { engine: string; reason?: string }): (router: ConnectRouter) => void {
  const version = packageVersion();
  return (router) => {
    router.service(EchoService, {
      echo(request) {
        return { payload: request.payload, seq: request.seq };
      },
      info() {
        return {
          hostname: hostname(),
          pid: process.pid,
          version,
          engine: engine.engine,
          engineReason: engine.reason ?? "",
          nodeVersion: process.versions.node,
          kernel: release(),
        };
      },
    });
  };
}
