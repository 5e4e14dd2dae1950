// The channel suite on the shm:// engine (skipped with the reason printed where it cannot
// run; a failure under CI=true).
import { channelSuite } from "./channel-suite.js";
import { shmSuite } from "./shm-suite.js";

channelSuite(shmSuite());
