import { METRIC_TITLES, escapeXml, methodLines, sparsitiesOf, sparsityLabel } from './report-layout.js';
import { CHART_PALETTE as PALETTE, niceScale } from './report-kit.js';
import type { Results } from './results-schema.js';

/** Trim floating noise from tick labels (0.30000000000000004 → 0.3). */
function tickLabel(v: number): string {
  return String(Number(v.toPrecision(6)));
}

/** Metrics in percent (the y-axis says so). */
const PERCENT_METRICS = new Set(['UA', 'MIA-efficacy', 'RA', 'TA', 'TA-all', 'MIA-privacy']);

const n2 = (v: number) => String(Math.round(v * 100) / 100);

/**
 * A grouped bar chart of one metric: one group per method, one bar per sparsity, as a
 * self-contained SVG document.
 *
 * @param results - validated results
 * @param metric - a metric key of the rows (`UA`, `MIA-efficacy`, `RA`, `TA`, `RTE`, or another recorded one)
 * @returns SVG text (UTF-8, no external references); rows without the metric get no bar
 */
export function renderSvgChart(results: Results, metric: string): string {
  const lines = methodLines(results);
  const sparsities = sparsitiesOf(results.rows);
  const values = lines
    .flatMap((l) => sparsities.map((s) => l.bySparsity.get(s)?.metrics[metric]))
    .filter((v): v is number => Number.isFinite(v));
  const { top, step } = niceScale(Math.max(0, ...values));

  const bar = 18;
  const groupGap = 28;
  const groupWidth = sparsities.length * bar + groupGap;
  const left = 56;
  const right = 16;
  const titleH = 30;
  const legendH = 22;
  const plotTop = titleH + legendH + 8;
  const plotH = 200;
  const bottom = 44;
  const width = Math.max(360, left + right + lines.length * groupWidth);
  const height = plotTop + plotH + bottom;
  const y = (v: number) => plotTop + plotH - (Math.min(Math.max(v, 0), top) / top) * plotH;
  const title = `${METRIC_TITLES[metric] ?? metric} by method and sparsity`;

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}" font-family="system-ui, sans-serif">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600">${escapeXml(title)}</text>`,
  ];
  // Legend: one swatch per sparsity.
  let lx = left;
  sparsities.forEach((s, i) => {
    const label = sparsityLabel(s);
    out.push(`<rect x="${lx}" y="${titleH + 4}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`);
    out.push(`<text x="${lx + 16}" y="${titleH + 14}" font-size="11">${escapeXml(label)}</text>`);
    lx += 24 + label.length * 7;
  });
  // Y axis with grid lines.
  for (let v = 0; v <= top + step / 2; v += step) {
    const yy = n2(y(v));
    out.push(`<line x1="${left}" y1="${yy}" x2="${width - right}" y2="${yy}" stroke="#e0e0e0" stroke-width="1"/>`);
    out.push(`<text x="${left - 6}" y="${n2(y(v) + 4)}" text-anchor="end" font-size="10">${tickLabel(v)}</text>`);
  }
  out.push(`<line x1="${left}" y1="${plotTop}" x2="${left}" y2="${plotTop + plotH}" stroke="#333333" stroke-width="1"/>`);
  out.push(`<line x1="${left}" y1="${plotTop + plotH}" x2="${width - right}" y2="${plotTop + plotH}" stroke="#333333" stroke-width="1"/>`);
  out.push(
    `<text x="14" y="${plotTop + plotH / 2}" text-anchor="middle" font-size="11" transform="rotate(-90 14 ${plotTop + plotH / 2})">${escapeXml(metric === 'RTE' ? 'minutes' : PERCENT_METRICS.has(metric) ? `${metric} (%)` : metric)}</text>`,
  );
  // Bars.
  lines.forEach((line, g) => {
    const gx = left + groupGap / 2 + g * groupWidth;
    sparsities.forEach((s, i) => {
      const v = line.bySparsity.get(s)?.metrics[metric];
      if (v === undefined || !Number.isFinite(v)) return;
      const x = gx + i * bar;
      const yy = y(v);
      out.push(
        `<rect x="${n2(x)}" y="${n2(yy)}" width="${bar - 2}" height="${n2(plotTop + plotH - yy)}" fill="${PALETTE[i % PALETTE.length]}"><title>${escapeXml(`${line.label}, ${sparsityLabel(s)}: ${v.toFixed(2)}`)}</title></rect>`,
      );
      out.push(`<text x="${n2(x + (bar - 2) / 2)}" y="${n2(yy - 3)}" text-anchor="middle" font-size="8">${escapeXml(v.toFixed(1))}</text>`);
    });
    out.push(
      `<text x="${n2(gx + (sparsities.length * bar) / 2)}" y="${plotTop + plotH + 16}" text-anchor="middle" font-size="11">${escapeXml(line.label)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
