/**
 * What every unlearnjs report page and chart shares (this package's and `@unlearnjs/grid`'s):
 * the escaping, the colours, the axis scale and the page style, so that the reports look and
 * behave alike and each rule has one owner.
 */

/** Bar colours, one per sparsity (colour-blind-friendly Tableau 10). */
export const CHART_PALETTE: readonly string[] = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1'];

/**
 * A round upper bound and tick step for values up to `max` (about 5 ticks of 1, 2 or 5 × 10^k).
 * @param max - the largest value to show
 * @returns the axis top and the tick step
 */
export function niceScale(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) as number) * mag;
  return { top: Math.ceil(max / step - 1e-9) * step, step };
}

/**
 * Escape text for XML/HTML content and attribute values.
 * @param s - any text
 * @returns the text with `& < > " '` as entities
 */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/**
 * The inline CSS of a self-contained report page.
 * @param maxWidthRem - the page's maximum width (wide tables need more) @defaultValue 72
 * @returns a CSS block for a `<style>` element
 */
export function reportStyle(maxWidthRem = 72): string {
  return `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: ${maxWidthRem}rem; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; }
td.num { text-align: right; white-space: nowrap; }
th { background: #f4f4f4; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
.charts figure { margin: 0; }
.meta { color: #555; }
`;
}
