// A query's result as a table: sortable by any column (click or Enter on its header),
// copied as CSV or JSON.

import { h, clear, formatNumber } from './dom.js';

const MAX_RENDERED_ROWS = 2000;

export function resultTable(table) {
  const names = table.dataSchema.columnNames;
  const types = table.dataSchema.columnDataTypes || [];
  let rows = table.rows.slice();
  let sortColumn = -1;
  let ascending = true;
  const body = h('tbody');
  const headers = names.map((name, i) => h('th', {
    scope: 'col',
    'aria-sort': 'none',
    class: isNumeric(types[i]) ? 'num' : null,
  }, h('button', { type: 'button', class: 'sort', onclick: () => sortBy(i), title: `Sort by ${name}` },
    name, h('span', { class: 'type' }, types[i] || ''))));

  function sortBy(i) {
    ascending = sortColumn === i ? !ascending : true;
    sortColumn = i;
    rows.sort((a, b) => compare(a[i], b[i]) * (ascending ? 1 : -1));
    headers.forEach((th, j) => th.setAttribute('aria-sort', j === i ? (ascending ? 'ascending' : 'descending') : 'none'));
    fill();
  }

  function fill() {
    clear(body);
    for (const row of rows.slice(0, MAX_RENDERED_ROWS)) {
      body.append(h('tr', null, row.map((cell, i) => h('td', { class: isNumeric(types[i]) ? 'num' : null }, display(cell)))));
    }
  }
  fill();

  const note = table.rows.length > MAX_RENDERED_ROWS
    ? h('p', { class: 'muted' }, `Showing the first ${formatNumber(MAX_RENDERED_ROWS)} of ${formatNumber(table.rows.length)} rows; copy or download for all.`)
    : null;
  return h('div', { class: 'result-table' },
    h('div', { class: 'table-scroll' },
      h('table', { class: 'data', 'aria-label': 'Query result' }, h('thead', null, h('tr', null, headers)), body)),
    note);
}

export function toCsv(table) {
  const quote = (v) => {
    const s = v === null || v === undefined ? '' : Array.isArray(v) ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [table.dataSchema.columnNames.map(quote).join(',')];
  for (const row of table.rows) lines.push(row.map(quote).join(','));
  return `${lines.join('\n')}\n`;
}

export function toJson(table) {
  const names = table.dataSchema.columnNames;
  return JSON.stringify(table.rows.map((row) => Object.fromEntries(names.map((n, i) => [n, row[i]]))), null, 2);
}

export function isNumeric(type) {
  return ['INT', 'LONG', 'FLOAT', 'DOUBLE', 'BIG_DECIMAL', 'TIMESTAMP'].includes(type);
}

function display(cell) {
  if (cell === null || cell === undefined) return h('span', { class: 'null' }, 'null');
  if (Array.isArray(cell)) return `[${cell.join(', ')}]`;
  if (typeof cell === 'number') return formatNumber(cell);
  return String(cell);
}

function compare(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}
