// The progress line on stderr while the benchmark runs: a bar, runs done / total, the
// current run, an ETA. Redrawn in place on a terminal; one line per run otherwise.

const BAR = 24;

function clock(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** A progress reporter for `total` runs. */
export function progress(total, stream = process.stderr) {
  const started = performance.now();
  let done = 0;
  let lastText = "";
  const render = (text) => {
    const filled = Math.round((BAR * done) / total);
    const elapsed = performance.now() - started;
    const eta = done > 0 ? ` eta ${clock((elapsed / done) * (total - done))}` : "";
    return `[${"#".repeat(filled)}${".".repeat(BAR - filled)}] ${String(done).padStart(String(total).length)}/${total} ${clock(elapsed)}${eta}  ${text}`;
  };
  return {
    /** Shows what is happening now (terminal only). */
    update(text) {
      lastText = text;
      if (stream.isTTY) stream.write(`\r\x1b[K${render(text).slice(0, (stream.columns ?? 120) - 1)}`);
    },
    /** One run finished; `text` says how it went. */
    step(text) {
      done++;
      lastText = text;
      if (stream.isTTY) stream.write(`\r\x1b[K${render(text).slice(0, (stream.columns ?? 120) - 1)}`);
      else stream.write(`${render(text)}\n`);
    },
    end() {
      if (stream.isTTY && lastText) stream.write("\n");
    },
  };
}
