// Hand-written SVG latency plot, HdrHistogram style: one panel per workload, one curve
// per driver, x = percentile on a log scale of 1/(1 - p) (0 %, 90 %, 99 %, 99.9 %, …),
// y = round-trip latency in µs on a log scale. No plotting dependency.

const PANEL_W = 520;
const PANEL_H = 360;
const MARGIN = { left: 64, right: 34, top: 34, bottom: 46 };
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';

const escapeXml = (text) => String(text).replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]);

/** Points [x, µs] of a histogram of ns, x = log10(1 / (1 - p)), up to what its count supports. */
export function percentileCurve(histogram, maxNines = 5) {
  const nines = Math.min(maxNines, Math.log10(Math.max(10, histogram.totalCount)));
  const points = [];
  for (let x = 0; x <= nines + 1e-9; x += 0.05) {
    const percentile = 100 * (1 - 10 ** -x);
    points.push([x, histogram.getValueAtPercentile(percentile) / 1000]);
  }
  points.push([nines, histogram.getValueAtPercentile(100 * (1 - 10 ** -nines)) / 1000]);
  return points;
}

/** Decade-aligned ticks 1, 2, 5 × 10^n covering [lo, hi]. */
function logTicks(lo, hi) {
  const ticks = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

function tickLabel(us) {
  if (us >= 1000) return `${us / 1000} ms`;
  return us >= 1 ? `${us}` : us.toPrecision(1);
}

function percentLabel(nines) {
  if (nines === 0) return "0%";
  const p = 100 * (1 - 10 ** -nines);
  return `${p.toFixed(Math.max(0, nines - 2))}%`;
}

function panelSvg(panel, x0, y0, yLo, yHi, xMax) {
  const w = PANEL_W - MARGIN.left - MARGIN.right;
  const h = PANEL_H - MARGIN.top - MARGIN.bottom;
  const left = x0 + MARGIN.left;
  const top = y0 + MARGIN.top;
  const sx = (x) => left + (x / xMax) * w;
  const sy = (us) => top + h - ((Math.log10(us) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo))) * h;
  const out = [];
  out.push(`<text x="${left + w / 2}" y="${y0 + 20}" text-anchor="middle" font-size="14" font-weight="600" ${FONT}>${escapeXml(panel.title)}</text>`);
  out.push(`<rect x="${left}" y="${top}" width="${w}" height="${h}" fill="#fff" stroke="#999"/>`);
  for (const v of logTicks(yLo, yHi)) {
    const y = sy(v).toFixed(1);
    out.push(`<line x1="${left}" y1="${y}" x2="${left + w}" y2="${y}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${left - 6}" y="${y}" dy="4" text-anchor="end" font-size="11" ${FONT}>${tickLabel(v)}</text>`);
  }
  for (let n = 0; n <= xMax; n++) {
    const x = sx(n).toFixed(1);
    out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${top + h}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${x}" y="${top + h + 16}" text-anchor="middle" font-size="11" ${FONT}>${percentLabel(n)}</text>`);
  }
  out.push(`<text x="${left + w / 2}" y="${top + h + 36}" text-anchor="middle" font-size="12" ${FONT}>percentile</text>`);
  out.push(
    `<text transform="translate(${x0 + 16},${top + h / 2}) rotate(-90)" text-anchor="middle" font-size="12" ${FONT}>round trip (log scale)</text>`,
  );
  for (const s of panel.series) {
    const d = s.points.map(([x, us]) => `${sx(x).toFixed(1)},${sy(Math.max(us, yLo)).toFixed(1)}`).join(" ");
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : "";
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${d}"><title>${escapeXml(s.label)}</title></polyline>`);
  }
  return out.join("\n");
}

/**
 * The whole figure. panels: [{ title, series: [{ label, color, dashed?, points }] }];
 * legend: [{ label, color, dashed? }]; footer: lines of small print (machine, method).
 */
export function latencyPlotSvg({ title, panels, legend, footer = [] }) {
  const all = panels.flatMap((p) => p.series.flatMap((s) => s.points));
  const values = all.map(([, us]) => us).filter((us) => us > 0);
  const yLo = values.length ? 10 ** Math.floor(Math.log10(Math.min(...values))) : 1;
  const yHi = values.length ? 10 ** Math.ceil(Math.log10(Math.max(...values))) : 10;
  const xMax = Math.max(1, Math.ceil(Math.max(0, ...all.map(([x]) => x)) - 1e-9));
  const legendTop = 44 + PANEL_H + 10;
  const legendRows = Math.ceil(legend.length / 3);
  const width = PANEL_W * panels.length;
  const height = legendTop + legendRows * 20 + footer.length * 15 + 16;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="#fafafa"/>`,
    `<text x="${width / 2}" y="26" text-anchor="middle" font-size="17" font-weight="700" ${FONT}>${escapeXml(title)}</text>`,
  ];
  panels.forEach((panel, i) => out.push(panelSvg(panel, i * PANEL_W, 44, yLo, yHi, xMax)));
  legend.forEach((item, i) => {
    const x = 40 + (i % 3) * ((width - 80) / 3);
    const y = legendTop + Math.floor(i / 3) * 20;
    const dash = item.dashed ? ' stroke-dasharray="6 4"' : "";
    out.push(`<line x1="${x}" y1="${y}" x2="${x + 28}" y2="${y}" stroke="${item.color}" stroke-width="3"${dash}/>`);
    out.push(`<text x="${x + 36}" y="${y + 4}" font-size="12" ${FONT}>${escapeXml(item.label)}</text>`);
  });
  footer.forEach((line, i) => {
    out.push(`<text x="12" y="${legendTop + legendRows * 20 + 8 + i * 15}" font-size="10" fill="#555" ${FONT}>${escapeXml(line)}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
