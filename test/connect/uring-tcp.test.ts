// The transport suite on the io_uring engine over TCP (skipped with the reason printed
// where io_uring is unavailable; a failure under CI=true).
import { listenUrl, uringUnavailable } from "../channel/engines.js";
import { transportSuite } from "./transport-suite.js";

transportSuite("uring-tcp", { engine: "uring", listenUrl: () => listenUrl("tcp"), unavailable: uringUnavailable });
