// Hand-written SVG plots, no plotting dependency. latencyPlotSvg: HdrHistogram style, one
// panel per workload, one curve per driver, x = percentile on a log scale of 1/(1 - p)
// (0 %, 90 %, 99 %, 99.9 %, …), y = round-trip latency in µs on a log scale.
// barPlotSvg: throughput, one panel per workload, one horizontal bar per driver (median,
// whisker min–max), an optional target line.

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

/** Round numbers for a linear axis from 0 to at least `hi`: [step, top]. */
function linearScale(hi) {
  const raw = hi / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((v) => v >= raw) ?? 10 * mag;
  return [step, Math.ceil(hi / step) * step];
}

function compact(value) {
  if (value >= 1e6) return `${+(value / 1e6).toFixed(2)}M`;
  if (value >= 1e4) return `${+(value / 1e3).toFixed(1)}k`;
  return `${+value.toFixed(value < 10 ? 2 : 0)}`;
}

const BAR_H = 22;
const BAR_GAP = 8;
const BAR_LABEL_W = 250;

/**
 * Horizontal bars. panels: [{ title, unit, target?: { value, label }, bars: [{ label,
 * color, dashed?, median, min?, max?, note? }] }] (median null: "no result"); footer:
 * lines of small print. Panels stack vertically, each with its own linear scale from 0.
 */
export function barPlotSvg({ title, panels, footer = [] }) {
  const width = 900;
  const plotW = width - BAR_LABEL_W - 150;
  const out = [];
  let y = 44;
  for (const panel of panels) {
    const values = panel.bars.flatMap((b) => [b.median, b.max]).filter((v) => Number.isFinite(v));
    if (panel.target) values.push(panel.target.value);
    const [step, top] = linearScale(Math.max(1e-9, ...values));
    const sx = (v) => BAR_LABEL_W + (Math.max(0, v) / top) * plotW;
    const plotTop = y + (panel.target ? 40 : 24);
    const plotH = panel.bars.length * (BAR_H + BAR_GAP) + BAR_GAP;
    out.push(`<text x="${width / 2}" y="${y + 14}" text-anchor="middle" font-size="14" font-weight="600" ${FONT}>${escapeXml(panel.title)}</text>`);
    out.push(`<rect x="${BAR_LABEL_W}" y="${plotTop}" width="${plotW}" height="${plotH}" fill="#fff" stroke="#999"/>`);
    for (let v = 0; v <= top * 1.0001; v += step) {
      const x = sx(v).toFixed(1);
      out.push(`<line x1="${x}" y1="${plotTop}" x2="${x}" y2="${plotTop + plotH}" stroke="#e4e4e4"/>`);
      out.push(`<text x="${x}" y="${plotTop + plotH + 15}" text-anchor="middle" font-size="11" ${FONT}>${compact(v)}</text>`);
    }
    out.push(`<text x="${BAR_LABEL_W + plotW / 2}" y="${plotTop + plotH + 32}" text-anchor="middle" font-size="12" ${FONT}>${escapeXml(panel.unit)}</text>`);
    panel.bars.forEach((bar, i) => {
      const by = plotTop + BAR_GAP + i * (BAR_H + BAR_GAP);
      const mid = by + BAR_H / 2;
      out.push(`<text x="${BAR_LABEL_W - 8}" y="${mid + 4}" text-anchor="end" font-size="12" ${FONT}>${escapeXml(bar.label)}</text>`);
      if (!Number.isFinite(bar.median)) {
        out.push(`<text x="${BAR_LABEL_W + 6}" y="${mid + 4}" font-size="11" fill="#a00" ${FONT}>no result</text>`);
        return;
      }
      const dash = bar.dashed ? ' fill-opacity="0.45" stroke-dasharray="4 3"' : ' fill-opacity="0.85"';
      out.push(
        `<rect x="${BAR_LABEL_W}" y="${by}" width="${(sx(bar.median) - BAR_LABEL_W).toFixed(1)}" height="${BAR_H}" fill="${bar.color}" stroke="${bar.color}"${dash}><title>${escapeXml(`${bar.label}: ${compact(bar.median)} ${panel.unit}`)}</title></rect>`,
      );
      if (Number.isFinite(bar.min) && Number.isFinite(bar.max) && bar.max > bar.min) {
        out.push(`<line x1="${sx(bar.min).toFixed(1)}" y1="${mid}" x2="${sx(bar.max).toFixed(1)}" y2="${mid}" stroke="#222" stroke-width="1.5"/>`);
        for (const v of [bar.min, bar.max]) out.push(`<line x1="${sx(v).toFixed(1)}" y1="${mid - 5}" x2="${sx(v).toFixed(1)}" y2="${mid + 5}" stroke="#222" stroke-width="1.5"/>`);
      }
      const text = `${compact(bar.median)}${bar.note ? ` · ${bar.note}` : ""}`;
      out.push(`<text x="${(sx(Math.max(bar.median, bar.max ?? 0)) + 6).toFixed(1)}" y="${mid + 4}" font-size="11" ${FONT}>${escapeXml(text)}</text>`);
    });
    if (panel.target) {
      const x = sx(panel.target.value).toFixed(1);
      out.push(`<line x1="${x}" y1="${plotTop - 4}" x2="${x}" y2="${plotTop + plotH}" stroke="#c00" stroke-width="1.5" stroke-dasharray="5 3"/>`);
      out.push(`<text x="${x}" y="${plotTop - 8}" text-anchor="end" font-size="11" fill="#c00" ${FONT}>${escapeXml(panel.target.label)}</text>`);
    }
    y = plotTop + plotH + 48;
  }
  footer.forEach((line, i) => {
    out.push(`<text x="12" y="${y + i * 15}" font-size="10" fill="#555" ${FONT}>${escapeXml(line)}</text>`);
  });
  const height = y + footer.length * 15 + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="#fafafa"/>`,
    `<text x="${width / 2}" y="26" text-anchor="middle" font-size="17" font-weight="700" ${FONT}>${escapeXml(title)}</text>`,
    ...out,
    "</svg>",
  ].join("\n") + "\n";
}
