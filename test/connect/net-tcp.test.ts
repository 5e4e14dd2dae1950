// The transport suite on the node:net fallback engine over TCP (runs everywhere).
import { listenUrl } from "../channel/engines.js";
import { transportSuite } from "./transport-suite.js";

transportSuite("net-tcp", { engine: "net", listenUrl: () => listenUrl("tcp") });
