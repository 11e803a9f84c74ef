/**
 * Line charts as inline SVG strings: the report must open from a file, with no script and no
 * network, so the charts are drawn here rather than by a library in the page.
 */

export interface Series {
  name: string;
  color: string;
  points: readonly (readonly [number, number])[];
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** Horizontal reference lines, such as a threshold. */
  limits?: readonly { y: number; label: string }[];
  /** At least this tall on the y axis (default 1), so small values are not blown up to fill the chart. */
  yMin?: number;
}

const WIDTH = 560;
const HEIGHT = 260;
const PAD = { left: 56, right: 16, top: 28, bottom: 44 };

export const escapeXml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** 1, 2 or 5 times a power of ten: tick steps a reader can add up. */
function niceStep(range: number, ticks: number): number {
  const raw = range / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
}

const format = (value: number): string => (Math.abs(value) >= 1000 ? `${Math.round(value / 100) / 10}k` : `${Math.round(value * 100) / 100}`);

export function lineChart(spec: ChartSpec): string {
  const points = spec.series.flatMap((series) => series.points);
  const xs = points.map(([x]) => x);
  const ys = [...points.map(([, y]) => y), ...(spec.limits ?? []).map((limit) => limit.y), spec.yMin ?? 1];
  const xMin = Math.min(...xs, 0);
  const xMax = Math.max(...xs, xMin + 1);
  const yStep = niceStep(Math.max(...ys, 1e-9), 5);
  const yMax = Math.ceil(Math.max(...ys, 1e-9) / yStep) * yStep;
  const xStep = niceStep(xMax - xMin, 6);
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const sx = (x: number) => PAD.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const sy = (y: number) => PAD.top + plotH - (y / yMax) * plotH;
  const parts: string[] = [];
  parts.push(`<text x="${PAD.left}" y="18" class="title">${escapeXml(spec.title)}</text>`);
  for (let y = 0; y <= yMax + yStep / 2; y += yStep) {
    parts.push(`<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${sy(y)}" y2="${sy(y)}" class="grid"/>`);
    parts.push(`<text x="${PAD.left - 6}" y="${sy(y) + 4}" class="tick" text-anchor="end">${format(y)}</text>`);
  }
  for (let x = Math.ceil(xMin / xStep) * xStep; x <= xMax; x += xStep) {
    parts.push(`<text x="${sx(x)}" y="${HEIGHT - PAD.bottom + 16}" class="tick" text-anchor="middle">${format(x)}</text>`);
  }
  parts.push(`<text x="${PAD.left + plotW / 2}" y="${HEIGHT - 8}" class="axis" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${PAD.top + plotH / 2}) rotate(-90)" class="axis" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`);
  for (const limit of spec.limits ?? []) {
    parts.push(`<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${sy(limit.y)}" y2="${sy(limit.y)}" class="limit"/>`);
    parts.push(`<text x="${WIDTH - PAD.right - 4}" y="${sy(limit.y) - 4}" class="limit-label" text-anchor="end">${escapeXml(limit.label)}</text>`);
  }
  spec.series.forEach((series, index) => {
    const path = series.points.map(([x, y]) => `${Math.round(sx(x))},${Math.round(sy(y))}`).join(' ');
    if (series.points.length > 1) parts.push(`<polyline points="${path}" fill="none" stroke="${series.color}" stroke-width="2"/>`);
    if (series.points.length <= 30) {
      for (const [x, y] of series.points) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3.5" fill="${series.color}"/>`);
    }
    const legendX = PAD.left + 8 + index * 150;
    parts.push(`<rect x="${legendX}" y="${PAD.top + 4}" width="10" height="10" fill="${series.color}"/>`);
    parts.push(`<text x="${legendX + 14}" y="${PAD.top + 13}" class="legend">${escapeXml(series.name)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeXml(spec.title)}">${parts.join('')}</svg>`;
}
