// The package's install script (package.json "install"): makes sure the native addon
// loads after `npm install connect-rdma`, in this order:
//   1. a prebuild in prebuilds/<platform>-<arch>/ (or an existing build/Release) that
//      loads in a child process -> done, nothing compiled (node-gyp-build's own rule);
//   2. otherwise a source build — but first scripts/ensure-system-deps.sh --check, so a
//      machine without liburing-dev & co. gets the missing Debian package names and
//      the apt-get line instead of a compiler error;
//   3. node-gyp rebuild (npm's bundled node-gyp), then the load check again; a failed
//      build ends with the package list and what to do.
// `npm install --build-from-source` (npm_config_build_from_source=true) skips step 1.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(join(root, "package.json"));
const target = `${process.platform}-${process.arch}, Node ${process.versions.node} (N-API)`;

function say(message) {
  console.error(`connect-rdma: ${message}`);
}

/** Loads the addon the way the package does, in a child process; the error text if it cannot. */
function loadCheck() {
  const gypBuild = require.resolve("node-gyp-build");
  const code = `const load = require(${JSON.stringify(gypBuild)}); const file = load.resolve(${JSON.stringify(root)}); require(file); console.log(file);`;
  const result = spawnSync(process.execPath, ["-e", code], { encoding: "utf8" });
  if (result.status === 0) return { ok: true, file: result.stdout.trim() };
  return { ok: false, error: (result.stderr || `exit ${result.status}`).trim().split("\n").slice(0, 3).join("\n") };
}

/** The Debian packages of scripts/ensure-system-deps.sh (the one list). */
function systemPackages() {
  const script = readFileSync(join(root, "scripts/ensure-system-deps.sh"), "utf8");
  return /^packages=\(([^)]*)\)/m.exec(script)?.[1].trim() ?? "liburing-dev g++ make python3";
}

function nodeGypCommand() {
  if (process.env.npm_config_node_gyp) return [process.execPath, process.env.npm_config_node_gyp];
  try {
    const pkg = require("node-gyp/package.json");
    const bin = typeof pkg.bin === "string" ? pkg.bin : pkg.bin["node-gyp"];
    return [process.execPath, join(dirname(require.resolve("node-gyp/package.json")), bin)];
  } catch {
    // Run by hand (not by npm): npm's own bundled node-gyp, if npm sits beside this node.
    const bundled = join(dirname(process.execPath), "../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js");
    return existsSync(bundled) ? [process.execPath, bundled] : ["node-gyp"];
  }
}

function main() {
  const fromSource = process.env.npm_config_build_from_source === "true";
  if (!fromSource) {
    const loaded = loadCheck();
    if (loaded.ok) {
      say(`using ${loaded.file.replace(`${root}/`, "")}`);
      return 0;
    }
    say(`no usable prebuilt addon for ${target}; building from source`);
    if (process.env.npm_config_loglevel === "verbose") say(loaded.error);
  } else {
    say("building from source (--build-from-source)");
  }

  const deps = spawnSync("bash", [join(root, "scripts/ensure-system-deps.sh"), "--check"], { stdio: ["ignore", "inherit", "inherit"] });
  if (deps.status !== 0) {
    say(`the source build cannot start: install the system packages named above, then run npm install again.`);
    return 1;
  }

  const [command, ...args] = nodeGypCommand();
  const build = spawnSync(command, [...args, "rebuild"], { cwd: root, stdio: "inherit" });
  if (build.error) {
    say(`cannot run node-gyp (${build.error.message}): run this through npm (npm rebuild connect-rdma --build-from-source) or install node-gyp`);
    return 1;
  }
  if (build.status !== 0) {
    say(
      `the source build failed (node-gyp exit ${build.status ?? build.signal}; its output is above). It needs, on Debian/Ubuntu:\n` +
        `  sudo apt-get install -y ${systemPackages()}\n` +
        "and Node's headers (node-gyp downloads them, or set npm_config_nodedir to a Node source/include tree).",
    );
    return 1;
  }
  const loaded = loadCheck();
  if (!loaded.ok) {
    say(`built, but the addon does not load:\n${loaded.error}`);
    return 1;
  }
  say(`built ${loaded.file.replace(`${root}/`, "")}`);
  return 0;
}

process.exitCode = main();
