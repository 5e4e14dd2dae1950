// Test certificates made at run time with the openssl CLI into a temp dir (nothing
// secret is committed): a CA with a server certificate (CN localhost, SANs localhost and
// 127.0.0.1) and a client certificate, and a second, unrelated CA with its own server and
// client certificates (the "unknown CA" of the hostile tests). EC P-256 keys: fast to make.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A key and its certificate, PEM. */
export interface KeyPair {
  key: string;
  cert: string;
}

/** One CA and the certificates it signed. */
export interface TestPki {
  ca: string;
  server: KeyPair;
  client: KeyPair;
}

/** Why certificates cannot be made here (no openssl), or undefined. */
export function opensslUnavailable(): string | undefined {
  try {
    execFileSync("openssl", ["version"], { stdio: "pipe" });
    return undefined;
  } catch (e) {
    return `the openssl CLI is not available (${(e as Error).message}): the TLS tests make their certificates with it`;
  }
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

function keyPair(dir: string, name: string, subject: string, caName: string, extensions: string): KeyPair {
  openssl(dir, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", `${caName}.crt`, "-CAkey", `${caName}.key`, "-set_serial", String(Date.now()), "-days", "2", "-out", `${name}.crt`, "-extfile", `${name}.ext`]);
  return { key: readFileSync(join(dir, `${name}.key`), "utf8"), cert: readFileSync(join(dir, `${name}.crt`), "utf8") };
}

function makePki(dir: string, name: string): TestPki {
  openssl(dir, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}-ca.key`, "-out", `${name}-ca.crt`, "-days", "2", "-subj", `/CN=${name} test CA`]);
  return {
    ca: readFileSync(join(dir, `${name}-ca.crt`), "utf8"),
    server: keyPair(dir, `${name}-server`, "/CN=localhost", `${name}-ca`, "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
    client: keyPair(dir, `${name}-client`, `/CN=${name} client/O=connect-rdma tests`, `${name}-ca`, "extendedKeyUsage=clientAuth\n"),
  };
}

/** Two independent PKIs: `trusted` (the one the tests configure) and `rogue` (nobody trusts it). */
export function makeTestPkis(): { trusted: TestPki; rogue: TestPki } {
  const dir = mkdtempSync(join(tmpdir(), "connect-rdma-tls-"));
  try {
    return { trusted: makePki(dir, "trusted"), rogue: makePki(dir, "rogue") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
