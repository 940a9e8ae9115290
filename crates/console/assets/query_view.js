// The query page: the editor, the tables and their columns, the history, and the
// result as a table, a chart, a plan tree or JSON, with the response's statistics.

import { h, clear, formatNumber, formatAge, notice } from './dom.js';
import * as api from './api.js';
import { SqlEditor } from './editor.js';
import { errorOffset } from './sql.js';
import { resultTable, toCsv, toJson } from './results.js';
import { chartKinds, renderChart } from './chart.js';
import { isPlan, planTree } from './explain.js';

const HISTORY = 'tessera.history';
const HISTORY_SIZE = 50;
const DRAFT = 'tessera.draft';

export function queryView(root, { catalog, initialSql }) {
  const results = h('section', { class: 'results', 'aria-live': 'polite', 'aria-label': 'Result' });
  const historyList = h('ol', { class: 'history-list' });
  const runButton = h('button', { type: 'button', class: 'primary', id: 'run-query', onclick: () => run() }, 'Run');
  const editor = new SqlEditor({
    catalog: () => catalog.snapshot(),
    onRun: () => run(),
    value: initialSql || localStorage.getItem(DRAFT) || defaultSql(catalog.snapshot()),
  });
  editor.input.addEventListener('input', () => localStorage.setItem(DRAFT, editor.value));
  let inFlight = null;

  const tree = tableTree(catalog, editor);
  const sidebar = h('aside', { class: 'sidebar', 'aria-label': 'Tables' }, h('h2', null, 'Tables'), tree.element);
  clear(root).append(h('div', { class: 'query-layout' },
    sidebar,
    h('div', { class: 'query-main' },
      h('h1', { class: 'visually-hidden' }, 'Query'),
      editor.element,
      h('div', { class: 'toolbar' }, runButton,
        h('span', { class: 'muted hint' }, 'Ctrl+Enter runs · Ctrl+Space completes'),
        h('button', { type: 'button', onclick: () => { editor.value = `EXPLAIN PLAN FOR ${editor.value.replace(/^\s*EXPLAIN\s+PLAN\s+FOR\s+/i, '')}`; run(); } }, 'Explain')),
      results,
      h('details', { class: 'history' }, h('summary', null, 'History'), historyList))));
  renderHistory();
  editor.focus();

  async function run() {
    const sql = editor.value.trim();
    if (!sql) return;
    if (inFlight) inFlight.abort();
    const controller = new AbortController();
    inFlight = controller;
    runButton.disabled = true;
    clear(results).append(h('p', { class: 'muted', role: 'status' }, 'Running…'));
    const started = performance.now();
    try {
      const response = await api.query(sql, undefined, controller.signal);
      const elapsed = performance.now() - started;
      remember(sql);
      showResponse(response, elapsed);
    } catch (e) {
      if (e.name === 'AbortError') return;
      // A refused query still answers Pinot's broker response, with its exceptions.
      if (e.body && Array.isArray(e.body.exceptions)) showResponse(e.body, performance.now() - started);
      else clear(results).append(errorBox(e.message));
    } finally {
      if (inFlight === controller) inFlight = null;
      runButton.disabled = false;
    }
  }

  function showResponse(response, elapsed) {
    clear(results);
    const exceptions = response.exceptions || [];
    if (exceptions.length && !response.resultTable) {
      const message = exceptions.map((e) => e.message).join('\n');
      results.append(errorBox(message, exceptions[0].errorCode));
      const at = errorOffset(message, editor.value);
      if (at !== null) editor.markError(at);
      return;
    }
    const table = response.resultTable || { dataSchema: { columnNames: [], columnDataTypes: [] }, rows: [] };
    results.append(stats(response, elapsed));
    for (const e of exceptions) results.append(notice(`${e.errorCode}: ${e.message}`, 'warning'));
    if (response.numGroupsLimitReached) results.append(notice('The group limit was reached: the result may be incomplete (raise numGroupsLimit or maxStateBytes).', 'warning'));
    const views = [];
    if (isPlan(table)) views.push(['Plan', () => planTree(table)]);
    views.push(['Table', () => resultTable(table)]);
    for (const kind of isPlan(table) ? [] : chartKinds(table)) views.push([kind === 'line' ? 'Line chart' : 'Bar chart', () => renderChart(table, kind)]);
    views.push(['JSON', () => h('pre', { class: 'json' }, JSON.stringify(response, null, 2))]);
    const panel = h('div', { class: 'result-panel', role: 'tabpanel' });
    const tabs = views.map(([name, make], i) => h('button', {
      type: 'button', role: 'tab', class: 'tab', 'aria-selected': i === 0 ? 'true' : 'false',
      dataset: { view: name.toLowerCase().replace(' ', '-') },
      onclick: (e) => select(e.currentTarget, make),
    }, name));
    function select(tab, make) {
      tabs.forEach((t) => t.setAttribute('aria-selected', t === tab ? 'true' : 'false'));
      clear(panel).append(make());
    }
    const copy = (format) => () => copyText(format === 'csv' ? toCsv(table) : toJson(table), format, results);
    results.append(h('div', { class: 'result-bar' },
      h('div', { role: 'tablist', 'aria-label': 'Result views' }, tabs),
      h('div', { class: 'copy' },
        h('button', { type: 'button', onclick: copy('csv') }, 'Copy CSV'),
        h('button', { type: 'button', onclick: copy('json') }, 'Copy JSON'))),
      panel);
    select(tabs[0], views[0][1]);
  }

  function remember(sql) {
    const history = loadHistory().filter((q) => q !== sql);
    history.unshift(sql);
    localStorage.setItem(HISTORY, JSON.stringify(history.slice(0, HISTORY_SIZE)));
    renderHistory();
  }

  function renderHistory() {
    clear(historyList);
    for (const sql of loadHistory()) {
      historyList.append(h('li', null, h('button', { type: 'button', class: 'link', onclick: () => { editor.value = sql; editor.focus(); } }, sql)));
    }
  }

  const dispose = () => {
    tree.stop();
    if (inFlight) inFlight.abort();
  };
  return { run, editor, dispose };
}

function loadHistory() {
  try { return JSON.parse(localStorage.getItem(HISTORY) || '[]'); } catch { return []; }
}

function defaultSql(snapshot) {
  const table = (snapshot.tables || [])[0] || 'events';
  return `SELECT * FROM ${table} LIMIT 10`;
}

function errorBox(message, code) {
  return h('div', { class: 'error-box', role: 'alert' },
    h('strong', null, code ? `Error ${code}` : 'Error'), h('pre', null, message));
}

function stats(r, elapsed) {
  const pruned = (r.numSegmentsQueried ?? 0) - (r.numSegmentsProcessed ?? 0);
  const items = [
    ['Time', `${formatNumber(r.timeUsedMs)} ms (round trip ${Math.round(elapsed)} ms)`],
    ['Rows', formatNumber(r.resultTable ? r.resultTable.rows.length : 0)],
    ['Docs scanned', `${formatNumber(r.numDocsScanned)} of ${formatNumber(r.totalDocs)}`],
    ['Segments', `${formatNumber(r.numSegmentsQueried)} queried, ${formatNumber(r.numSegmentsMatched)} matched, ${formatNumber(Math.max(pruned, 0))} pruned`],
    ['Entries scanned', `${formatNumber(r.numEntriesScannedInFilter)} in filter, ${formatNumber(r.numEntriesScannedPostFilter)} after`],
  ];
  if (typeof r.minConsumingFreshnessTimeMs === 'number' && r.minConsumingFreshnessTimeMs > 0) {
    items.push(['Fresh to', `${formatAge(Date.now() - r.minConsumingFreshnessTimeMs)} ago`]);
  }
  return h('dl', { class: 'stats', 'aria-label': 'Query statistics' }, items.map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v))));
}

async function copyText(text, format, near) {
  try {
    await navigator.clipboard.writeText(text);
    near.prepend(notice(`Copied the result as ${format.toUpperCase()}.`));
  } catch {
    // No clipboard (an insecure origin): download it instead.
    const url = URL.createObjectURL(new Blob([text], { type: format === 'csv' ? 'text/csv' : 'application/json' }));
    const a = h('a', { href: url, download: `result.${format}` });
    document.body.append(a);
    a.click();
    a.remove();
    URL.revokeObjectURL(url);
  }
}

function tableTree(catalog, editor) {
  const list = h('ul', { class: 'table-tree' });
  const fill = () => {
    clear(list);
    const { tables, columns, types } = catalog.snapshot();
    if (!tables.length) list.append(h('li', { class: 'muted' }, 'No tables yet.'));
    for (const t of tables) {
      list.append(h('li', null,
        h('details', { open: tables.length <= 3 },
          h('summary', null, h('button', { type: 'button', class: 'link', title: `Insert ${t}`, onclick: () => editor.insert(t) }, t)),
          h('ul', null, (columns[t] || []).map((c) => h('li', null,
            h('button', { type: 'button', class: 'link', title: `Insert ${c}`, onclick: () => editor.insert(c) }, c),
            h('span', { class: 'type' }, (types[t] || {})[c] || '')))))));
    }
  };
  fill();
  return { element: list, stop: catalog.onChange(fill) };
}
