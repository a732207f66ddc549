import { CHART_PALETTE as PALETTE, niceScale } from '@unlearnjs/eval-mia';
import type { GridResults, GridSummaryGroup } from './grid-results-schema.js';
import { COLUMN_TITLES, type GridColumn, escapeXml, seedValues, sparsityTitle, statOf } from './report-format.js';

const n2 = (v: number) => String(Math.round(v * 100) / 100);

/**
 * A chart of one column of one table (model × scenario) that shows the spread over seeds: per
 * method, one slot per sparsity (dense and sparse side by side), a pale bar up to the mean, a
 * whisker from mean − std to mean + std, and each seed's value as a dot.
 *
 * @param results - the grid's results
 * @param groups - the table's groups (one model and scenario)
 * @param column - the metric, or `gap` for the average gap to retrain
 * @returns an inline SVG element (no external references)
 * @internal
 */
export function renderSpreadChart(results: GridResults, groups: readonly GridSummaryGroup[], column: GridColumn): string {
  const labels = [...new Set(groups.map((g) => g.label))];
  const sparsities = [...new Set(groups.map((g) => g.sparsity))].sort((a, b) => a - b);
  const slots = groups.map((g) => {
    const stat = statOf(g, column);
    return { g, stat, values: seedValues(results, g, column), x: labels.indexOf(g.label), s: sparsities.indexOf(g.sparsity) };
  });
  const highs = slots.flatMap((p) => [...p.values.map((v) => v.value), (p.stat.mean ?? 0) + (p.stat.std ?? 0)]);
  const { top, step } = niceScale(Math.max(0, ...highs));

  const slot = 22;
  const groupGap = 26;
  const groupWidth = sparsities.length * slot + groupGap;
  const left = 56;
  const right = 16;
  const titleH = 30;
  const legendH = 22;
  const plotTop = titleH + legendH + 8;
  const plotH = 200;
  const bottom = 44;
  const width = Math.max(360, left + right + labels.length * groupWidth);
  const height = plotTop + plotH + bottom;
  const y = (v: number) => plotTop + plotH - (Math.min(Math.max(v, 0), top) / top) * plotH;
  const title = `${COLUMN_TITLES[column]}: mean ± std and each seed`;
  const unit = column === 'RTE' ? 'minutes' : column === 'gap' ? 'Avg. Gap (points)' : `${column} (%)`;

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}" font-family="system-ui, sans-serif">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600">${escapeXml(title)}</text>`,
  ];
  let lx = left;
  sparsities.forEach((s, i) => {
    const label = sparsityTitle(s);
    out.push(`<rect x="${lx}" y="${titleH + 4}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`);
    out.push(`<text x="${lx + 16}" y="${titleH + 14}" font-size="11">${escapeXml(label)}</text>`);
    lx += 24 + label.length * 7;
  });
  for (let v = 0; v <= top + step / 2; v += step) {
    out.push(`<line x1="${left}" y1="${n2(y(v))}" x2="${width - right}" y2="${n2(y(v))}" stroke="#e0e0e0" stroke-width="1"/>`);
    out.push(`<text x="${left - 6}" y="${n2(y(v) + 4)}" text-anchor="end" font-size="10">${Number(v.toPrecision(6))}</text>`);
  }
  out.push(`<line x1="${left}" y1="${plotTop}" x2="${left}" y2="${plotTop + plotH}" stroke="#333333" stroke-width="1"/>`);
  out.push(`<line x1="${left}" y1="${plotTop + plotH}" x2="${width - right}" y2="${plotTop + plotH}" stroke="#333333" stroke-width="1"/>`);
  out.push(
    `<text x="14" y="${plotTop + plotH / 2}" text-anchor="middle" font-size="11" transform="rotate(-90 14 ${plotTop + plotH / 2})">${escapeXml(unit)}</text>`,
  );
  labels.forEach((label, g) => {
    const gx = left + groupGap / 2 + g * groupWidth;
    out.push(
      `<text x="${n2(gx + (sparsities.length * slot) / 2)}" y="${plotTop + plotH + 16}" text-anchor="middle" font-size="11">${escapeXml(label)}</text>`,
    );
  });
  for (const p of slots) {
    const colour = PALETTE[p.s % PALETTE.length];
    const x0 = left + groupGap / 2 + p.x * groupWidth + p.s * slot;
    const cx = x0 + (slot - 2) / 2;
    const where = `${p.g.label}, ${sparsityTitle(p.g.sparsity)}`;
    const { mean, std } = p.stat;
    if (mean !== null) {
      out.push(
        `<rect x="${n2(x0)}" y="${n2(y(mean))}" width="${slot - 2}" height="${n2(plotTop + plotH - y(mean))}" fill="${colour}" fill-opacity="0.3"><title>${escapeXml(`${where}: mean ${mean.toFixed(2)}${std === null ? '' : ` ± ${std.toFixed(2)}`} (n = ${p.stat.n})`)}</title></rect>`,
      );
      out.push(
        `<line x1="${n2(x0)}" y1="${n2(y(mean))}" x2="${n2(x0 + slot - 2)}" y2="${n2(y(mean))}" stroke="${colour}" stroke-width="2"/>`,
      );
      if (std !== null) {
        const [lo, hi] = [y(mean - std), y(mean + std)];
        out.push(`<line x1="${n2(cx)}" y1="${n2(lo)}" x2="${n2(cx)}" y2="${n2(hi)}" stroke="#333333" stroke-width="1"/>`);
        for (const yy of [lo, hi])
          out.push(`<line x1="${n2(cx - 4)}" y1="${n2(yy)}" x2="${n2(cx + 4)}" y2="${n2(yy)}" stroke="#333333" stroke-width="1"/>`);
      }
    }
    // Spread the dots across the slot so that equal values stay visible.
    p.values.forEach((v, i) => {
      const dx = p.values.length === 1 ? 0 : ((i / (p.values.length - 1)) * 2 - 1) * ((slot - 2) / 2 - 3);
      out.push(
        `<circle cx="${n2(cx + dx)}" cy="${n2(y(v.value))}" r="2.5" fill="${colour}" stroke="#222222" stroke-width="0.5"><title>${escapeXml(`${where}, seed ${v.seed}: ${v.value.toFixed(2)}`)}</title></circle>`,
      );
    });
  }
  out.push('</svg>');
  return out.join('\n');
}
