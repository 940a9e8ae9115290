// Charts of a result, drawn as SVG: a line chart when the first column is a time
// bucket, a bar chart when the result is small and has a numeric column.

import { h } from './dom.js';
import { isNumeric } from './results.js';

const MAX_BAR_ROWS = 60;
const COLORS = ['#2563eb', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#0ea5e9'];

// Which charts fit the result, best first: ['line', 'bar'], ['bar'] or [].
export function chartKinds(table) {
  const { columnNames: names, columnDataTypes: types = [] } = table.dataSchema;
  const rows = table.rows;
  if (rows.length < 1 || names.length < 2) return [];
  const numeric = names.map((_, i) => i > 0 && isNumeric(types[i]) && rows.every((r) => typeof r[i] === 'number' || r[i] === null));
  if (!numeric.some(Boolean)) return [];
  const kinds = [];
  if (rows.length >= 2 && isTimeColumn(names[0], types[0], rows)) kinds.push('line');
  if (rows.length <= MAX_BAR_ROWS) kinds.push('bar');
  return kinds;
}

function isTimeColumn(name, type, rows) {
  if (type === 'TIMESTAMP') return true;
  const values = rows.map((r) => r[0]);
  if (/time|date|ts|bucket|minute|hour|day|week|month/i.test(name) && values.every((v) => typeof v === 'number' || !Number.isNaN(Date.parse(v)))) return true;
  // Epoch milliseconds between 2000 and 2100.
  return values.every((v) => typeof v === 'number' && v > 946684800000 && v < 4102444800000);
}

function timeValue(v) {
  return typeof v === 'number' ? v : Date.parse(v);
}

export function renderChart(table, kind) {
  const { columnNames: names, columnDataTypes: types = [] } = table.dataSchema;
  const series = names.map((n, i) => i).filter((i) => i > 0 && isNumeric(types[i]) && table.rows.every((r) => typeof r[i] === 'number' || r[i] === null));
  const width = 800;
  const height = 320;
  const pad = { left: 64, right: 16, top: 16, bottom: 48 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  let rows = table.rows.slice();
  if (kind === 'line') rows.sort((a, b) => timeValue(a[0]) - timeValue(b[0]));
  const ys = rows.flatMap((r) => series.map((i) => r[i]).filter((v) => typeof v === 'number'));
  const yMax = Math.max(0, ...ys);
  const yMin = Math.min(0, ...ys);
  const ySpan = yMax - yMin || 1;
  const yOf = (v) => pad.top + plotH - ((v - yMin) / ySpan) * plotH;
  const svg = h('svg:svg', {
    class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `${kind === 'line' ? 'Line' : 'Bar'} chart of ${series.map((i) => names[i]).join(', ')} by ${names[0]}`,
  });
  // Y axis: five ticks.
  for (let t = 0; t <= 4; t++) {
    const v = yMin + (ySpan * t) / 4;
    const y = yOf(v);
    svg.append(h('svg:line', { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: 'grid' }));
    svg.append(h('svg:text', { x: pad.left - 6, y: y + 4, 'text-anchor': 'end', class: 'tick' }, shortNumber(v)));
  }
  if (kind === 'line') {
    const xs = rows.map((r) => timeValue(r[0]));
    const xMin = Math.min(...xs);
    const xSpan = Math.max(...xs) - xMin || 1;
    const xOf = (v) => pad.left + ((v - xMin) / xSpan) * plotW;
    series.forEach((col, s) => {
      const points = rows.filter((r) => typeof r[col] === 'number').map((r) => `${xOf(timeValue(r[0])).toFixed(1)},${yOf(r[col]).toFixed(1)}`);
      svg.append(h('svg:polyline', { points: points.join(' '), fill: 'none', stroke: COLORS[s % COLORS.length], 'stroke-width': 2, class: 'series' }));
    });
    for (let t = 0; t <= 4; t++) {
      const v = xMin + (xSpan * t) / 4;
      svg.append(h('svg:text', { x: xOf(v), y: height - pad.bottom + 18, 'text-anchor': 'middle', class: 'tick' }, timeLabel(v, xSpan)));
    }
  } else {
    const band = plotW / rows.length;
    const barW = Math.max(1, (band * 0.8) / series.length);
    rows.forEach((r, k) => {
      series.forEach((col, s) => {
        const v = typeof r[col] === 'number' ? r[col] : 0;
        const y = yOf(Math.max(v, 0));
        const hgt = Math.abs(yOf(v) - yOf(0));
        svg.append(h('svg:rect', {
          x: pad.left + k * band + band * 0.1 + s * barW, y, width: barW, height: Math.max(hgt, 0.5),
          fill: COLORS[s % COLORS.length], class: 'series',
        }, h('svg:title', null, `${r[0]}: ${names[col]} = ${v}`)));
      });
      if (rows.length <= 24) {
        svg.append(h('svg:text', { x: pad.left + k * band + band / 2, y: height - pad.bottom + 18, 'text-anchor': 'middle', class: 'tick' }, String(r[0]).slice(0, 12)));
      }
    });
  }
  svg.append(h('svg:line', { x1: pad.left, x2: pad.left, y1: pad.top, y2: pad.top + plotH, class: 'axis' }));
  svg.append(h('svg:line', { x1: pad.left, x2: width - pad.right, y1: yOf(0), y2: yOf(0), class: 'axis' }));
  // Colours through the CSSOM: the page's policy refuses inline style attributes.
  const legend = h('ul', { class: 'legend' }, series.map((col, s) => {
    const swatch = h('span', { class: 'swatch' });
    swatch.style.background = COLORS[s % COLORS.length];
    return h('li', null, swatch, names[col]);
  }));
  return h('figure', { class: 'chart-figure' }, svg, legend);
}

function shortNumber(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

function timeLabel(ms, span) {
  const iso = new Date(ms).toISOString();
  if (span < 2 * 86400000) return iso.slice(11, 19);
  return iso.slice(0, 10);
}
