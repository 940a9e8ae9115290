// The tables: each table's type, rows and size; one table's segments (refreshed while
// the page is open), consuming partitions with offsets, lag and rate, schema and config;
// and, for admins, pause, resume and force-commit.

import { h, clear, formatNumber, formatBytes, formatTime, formatAge, notice } from './dom.js';
import * as api from './api.js';

const REFRESH_MS = 3000;

export function tablesList(root, { catalog }) {
  const body = h('div', { class: 'cards' }, h('p', { class: 'muted' }, 'Loading tables…'));
  clear(root).append(h('h1', null, 'Tables'), body);
  load();
  async function load() {
    try {
      await catalog.refresh();
      const { tables } = catalog.snapshot();
      clear(body);
      if (!tables.length) body.append(notice('No tables yet: POST a schema to /schemas and a table config to /tables.'));
      // One card per table, their metadata fetched at once.
      body.append(...(await Promise.all(tables.map(tableCard))));
    } catch (e) {
      clear(body).append(notice(e.message, 'error'));
    }
  }
}

async function tableCard(name) {
  const [config, meta] = await Promise.all([api.get(`/tables/${enc(name)}`).catch(() => ({})), api.get(`/tables/${enc(name)}/metadata`).catch(() => ({}))]);
  const type = Object.keys(config)[0] || '—';
  return h('article', { class: 'card' },
    h('h2', null, h('a', { href: `#/tables/${enc(name)}` }, name)),
    h('p', { class: 'badge-row' }, h('span', { class: `badge badge-${type.toLowerCase()}` }, type)),
    h('dl', { class: 'facts' },
      fact('Rows', formatNumber(meta.numRows)),
      fact('Segments', formatNumber(meta.numSegments)),
      fact('Size', formatBytes(meta.diskSizeInBytes))));
}

export function tableDetail(root, { name, role }) {
  const segments = h('div', { id: 'segments' }, h('p', { class: 'muted' }, 'Loading segments…'));
  const partitions = h('div', { id: 'partitions' });
  const schema = h('div', { id: 'schema' });
  const config = h('div', { id: 'config' });
  const actions = h('div', { class: 'actions' });
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  clear(root).append(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/tables' }, 'Tables'), ' / ', name),
    h('div', { class: 'title-row' }, h('h1', null, name), actions),
    status,
    h('section', { 'aria-labelledby': 'segments-title' }, h('h2', { id: 'segments-title' }, 'Segments'), segments),
    h('section', { 'aria-labelledby': 'partitions-title' }, h('h2', { id: 'partitions-title' }, 'Consuming partitions'), partitions),
    h('section', { 'aria-labelledby': 'schema-title' }, h('h2', { id: 'schema-title' }, 'Schema'), schema),
    h('section', { 'aria-labelledby': 'config-title' }, h('h2', { id: 'config-title' }, 'Table config'), config));

  let type = null;
  let previousOffsets = null;
  let stopped = false;
  let timer = null;

  (async () => {
    try {
      const [cfg, sch] = await Promise.all([api.get(`/tables/${enc(name)}`), api.get(`/tables/${enc(name)}/schema`)]);
      type = Object.keys(cfg)[0];
      config.append(h('pre', { class: 'json' }, JSON.stringify(cfg, null, 2)));
      schema.append(schemaTable(sch));
      renderActions(false);
    } catch (e) {
      status.append(notice(e.message, 'error'));
    }
  })();

  async function refresh() {
    if (stopped) return;
    try {
      const [meta, consuming] = await Promise.all([
        api.get(`/segments/${enc(name)}/metadata`),
        api.get(`/tables/${enc(name)}/consumingSegmentsInfo`).catch(() => null),
      ]);
      clear(segments).append(segmentTable(meta));
      if (consuming) {
        clear(partitions).append(partitionTable(consuming, previousOffsets));
        previousOffsets = { at: performance.now(), offsets: offsetsOf(consuming) };
        renderActions(consuming.paused === true);
      } else {
        clear(partitions).append(h('p', { class: 'muted' }, 'This table does not consume a stream.'));
      }
    } catch (e) {
      clear(segments).append(notice(e.message, 'error'));
    }
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  }
  refresh();

  function renderActions(paused) {
    clear(actions);
    // A read-only user sees no admin action (the server refuses them anyway).
    if (role !== 'admin' || type !== 'REALTIME') return;
    const act = (label, path, done) => h('button', {
      type: 'button', class: 'admin-action',
      onclick: async (e) => {
        e.currentTarget.disabled = true;
        try {
          await api.post(`/tables/${enc(name)}/${path}`);
          clear(status).append(notice(done));
        } catch (err) {
          clear(status).append(notice(err.message, 'error'));
        }
        refresh();
      },
    }, label);
    actions.append(paused
      ? act('Resume consumption', 'resumeConsumption', 'Consumption resumed.')
      : act('Pause consumption', 'pauseConsumption', 'Consumption paused.'));
    actions.append(act('Force commit', 'forceCommit', 'The consuming segments are sealing.'));
  }

  return () => { stopped = true; clearTimeout(timer); };
}

function schemaTable(schema) {
  const rows = [];
  for (const [kind, key] of [['dimension', 'dimensionFieldSpecs'], ['metric', 'metricFieldSpecs'], ['date-time', 'dateTimeFieldSpecs']]) {
    for (const f of schema[key] || []) {
      rows.push(h('tr', null, h('td', null, f.name), h('td', null, f.dataType), h('td', null, kind),
        h('td', null, f.singleValueField === false ? 'multi' : 'single'), h('td', null, f.format || '')));
    }
  }
  return h('div', { class: 'table-scroll' }, h('table', { class: 'data' },
    h('thead', null, h('tr', null, ['Column', 'Type', 'Field', 'Values', 'Format'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', null, rows)));
}

function segmentTable(meta) {
  const list = Object.values(meta || {});
  list.sort((a, b) => (a.state === b.state ? (b.startOffset ?? 0) - (a.startOffset ?? 0) || String(a.segmentName).localeCompare(b.segmentName) : a.state === 'CONSUMING' ? -1 : 1));
  const sealed = list.filter((s) => s.state !== 'CONSUMING').length;
  const summary = h('p', { class: 'muted', id: 'segment-summary' }, `${formatNumber(list.length)} segments: ${formatNumber(sealed)} sealed, ${formatNumber(list.length - sealed)} consuming.`);
  const rows = list.map((s) => h('tr', { dataset: { state: s.state } },
    h('td', { class: 'mono' }, s.segmentName),
    h('td', null, h('span', { class: `badge badge-${String(s.state).toLowerCase()}` }, s.state === 'CONSUMING' ? 'consuming' : 'sealed')),
    h('td', { class: 'num' }, s.partition ?? '—'),
    h('td', { class: 'num' }, formatNumber(s.totalDocs)),
    h('td', null, s.minTime ? `${formatTime(s.minTime)} → ${formatTime(s.maxTime)}` : '—'),
    h('td', { class: 'num' }, formatBytes(s.sizeBytes ?? s.memoryBytes)),
    h('td', null, tier(s)),
    h('td', null, servedBy(s))));
  return h('div', null, summary, h('div', { class: 'table-scroll' }, h('table', { class: 'data', id: 'segment-table' },
    h('thead', null, h('tr', null, ['Segment', 'State', 'Partition', 'Rows', 'Time range', 'Size', 'Tier', 'Served by'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', null, rows))));
}

function tier(s) {
  if (s.state === 'CONSUMING') return 'memory';
  return s.tier || (s.location && /^s3:/.test(s.location) ? 'object store' : 'deep store');
}

function servedBy(s) {
  if (Array.isArray(s.servers)) return s.servers.join(', ');
  return s.server || s.serverName || 'this node';
}

function offsetsOf(info) {
  const out = {};
  for (const entries of Object.values(info._segmentToConsumingInfoMap || {})) {
    for (const e of entries) {
      for (const [p, o] of Object.entries((e.partitionOffsetInfo || {}).currentOffsetsMap || {})) out[p] = Number(o);
    }
  }
  return out;
}

function partitionTable(info, previous) {
  const now = performance.now();
  const rows = [];
  for (const [segment, entries] of Object.entries(info._segmentToConsumingInfoMap || {})) {
    for (const e of entries) {
      const off = e.partitionOffsetInfo || {};
      for (const [p, o] of Object.entries(off.currentOffsetsMap || {})) {
        let rate = '—';
        if (previous && previous.offsets[p] !== undefined && now > previous.at) {
          rate = `${formatNumber(Math.max(0, Math.round(((Number(o) - previous.offsets[p]) * 1000) / (now - previous.at))))}/s`;
        }
        const lag = (off.recordsLagMap || {})[p];
        const lagMs = (off.availabilityLagMsMap || {})[p];
        rows.push(h('tr', null,
          h('td', { class: 'num' }, p), h('td', { class: 'mono' }, segment),
          h('td', null, e.consumerState), h('td', { class: 'num' }, formatNumber(Number(o))),
          h('td', { class: 'num' }, lag === null || lag === undefined ? '—' : formatNumber(Number(lag))),
          h('td', { class: 'num' }, lagMs === null || lagMs === undefined ? '—' : formatAge(Number(lagMs))),
          h('td', { class: 'num' }, rate), h('td', null, e.serverName)));
      }
    }
  }
  if (!rows.length) return h('p', { class: 'muted' }, 'No partition is consuming.');
  return h('div', null,
    info.paused ? notice('Consumption is paused.', 'warning') : null,
    h('div', { class: 'table-scroll' }, h('table', { class: 'data', id: 'partition-table' },
      h('thead', null, h('tr', null, ['Partition', 'Segment', 'State', 'Offset', 'Lag (records)', 'Lag (time)', 'Rate', 'Server'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, rows))));
}

function fact(k, v) {
  return h('div', null, h('dt', null, k), h('dd', null, v));
}

function enc(s) {
  return encodeURIComponent(s);
}
