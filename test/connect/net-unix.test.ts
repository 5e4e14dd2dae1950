// The transport suite on the node:net fallback engine over Unix sockets (runs everywhere).
import { listenUrl } from "../channel/engines.js";
import { transportSuite } from "./transport-suite.js";

transportSuite("net-unix", { engine: "net", listenUrl: () => listenUrl("unix") });
