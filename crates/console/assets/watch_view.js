// A live panel per realtime table from the node's own Prometheus metrics: rows/s,
// lag, freshness and seals, refreshed every few seconds.

import { h, clear, formatNumber, formatAge, notice } from './dom.js';
import * as api from './api.js';
import { parseMetrics, sum, max } from './prometheus.js';

const REFRESH_MS = 2000;
const HISTORY_POINTS = 60;

export function watchView(root) {
  const panels = h('div', { class: 'cards watch' }, h('p', { class: 'muted' }, 'Reading metrics…'));
  const updated = h('p', { class: 'muted', role: 'status' });
  clear(root).append(h('h1', null, 'Watch'), updated, panels);
  const history = new Map();
  let previous = null;
  let stopped = false;
  let timer = null;

  async function tick() {
    if (stopped) return;
    try {
      const samples = parseMetrics(await api.get('/metrics', { raw: true }));
      const now = performance.now();
      const tables = [...new Set(samples.filter((s) => s.name === 'tessera_rows_ingested_total').map((s) => s.labels.table))].sort();
      clear(panels);
      if (!tables.length) panels.append(notice('This node reports no ingestion (a broker, or no realtime table yet).'));
      const read = {};
      for (const table of tables) {
        const m = { table };
        m.rows = sum(samples, 'tessera_rows_ingested_total', { table });
        m.seals = sum(samples, 'tessera_segments_sealed_total', { table });
        m.sealFailures = sum(samples, 'tessera_seal_failures_total', { table });
        m.lagRecords = sum(samples, 'tessera_consuming_lag_offsets', { table });
        m.lagSeconds = max(samples, 'tessera_consuming_lag_seconds', { table });
        m.consuming = sum(samples, 'tessera_segments', { table, state: 'consuming' });
        m.sealed = sum(samples, 'tessera_segments', { table, state: 'sealed' });
        m.consumingRows = sum(samples, 'tessera_segment_rows', { table, state: 'consuming' });
        m.filtered = sum(samples, 'tessera_rows_filtered_total', { table });
        let rate = null;
        let sealsRecent = null;
        const before = previous && previous.tables[table];
        if (before && now > previous.at) {
          rate = ((m.rows - before.rows) * 1000) / (now - previous.at);
          sealsRecent = m.seals - before.seals;
        }
        const points = history.get(table) || [];
        if (rate !== null) points.push(Math.max(rate, 0));
        while (points.length > HISTORY_POINTS) points.shift();
        history.set(table, points);
        panels.append(panel(m, rate, sealsRecent, points));
        read[table] = { rows: m.rows, seals: m.seals };
      }
      previous = { at: now, tables: read };
      updated.textContent = `Updated ${new Date().toLocaleTimeString()} · every ${REFRESH_MS / 1000} s`;
    } catch (e) {
      clear(panels).append(notice(e.message, 'error'));
    }
    if (!stopped) timer = setTimeout(tick, REFRESH_MS);
  }
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}

function panel(m, rate, sealsRecent, points) {
  return h('article', { class: 'card watch-panel', dataset: { table: m.table } },
    h('h2', null, h('a', { href: `#/tables/${encodeURIComponent(m.table)}` }, m.table)),
    h('div', { class: 'big-number' }, h('span', { class: 'value', dataset: { metric: 'rows-per-second' } }, rate === null ? '…' : formatNumber(Math.round(rate))), h('span', { class: 'unit' }, ' rows/s')),
    sparkline(points),
    h('dl', { class: 'facts' },
      fact('Rows ingested', formatNumber(m.rows)),
      fact('Lag', m.lagRecords === null ? '—' : `${formatNumber(m.lagRecords)} records`),
      fact('Freshness', m.lagSeconds === null ? '—' : `${formatAge(m.lagSeconds * 1000)} behind`),
      fact('Seals', `${formatNumber(m.seals)}${sealsRecent ? ` (+${sealsRecent})` : ''}`),
      fact('Segments', `${formatNumber(m.consuming ?? 0)} consuming, ${formatNumber(m.sealed ?? 0)} sealed`),
      fact('In memory', `${formatNumber(m.consumingRows ?? 0)} rows`),
      m.sealFailures ? fact('Seal failures', formatNumber(m.sealFailures)) : null,
      m.filtered ? fact('Rows filtered', formatNumber(m.filtered)) : null));
}

function sparkline(points) {
  const width = 240;
  const height = 48;
  const top = Math.max(1, ...points);
  const step = width / Math.max(HISTORY_POINTS - 1, 1);
  const start = width - (points.length - 1) * step;
  const coords = points.map((v, i) => `${(start + i * step).toFixed(1)},${(height - 2 - (v / top) * (height - 4)).toFixed(1)}`);
  return h('svg:svg', { class: 'sparkline', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'rows per second, last two minutes' },
    points.length > 1 ? h('svg:polyline', { points: coords.join(' '), fill: 'none', stroke: '#2563eb', 'stroke-width': 2 }) : null);
}

function fact(k, v) {
  return h('div', null, h('dt', null, k), h('dd', null, v));
}
