// The transport suite over shm:// (createUringTransport and createServer take shm:// URLs;
// skipped with the reason printed where shm cannot run; a failure under CI=true).
import { shmUnavailable, shmUrl } from "../channel/shm-suite.js";
import { transportSuite } from "./transport-suite.js";

transportSuite("shm", { listenUrl: shmUrl, unavailable: shmUnavailable, rawFrames: true });
