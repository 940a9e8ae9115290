// EXPLAIN PLAN FOR's rows (Operator, Operator_Id, Parent_Id) as a tree.

import { h } from './dom.js';

export function isPlan(table) {
  const names = table.dataSchema.columnNames;
  return names[0] === 'Operator' && names.includes('Operator_Id') && names.includes('Parent_Id');
}

export function planTree(table) {
  const names = table.dataSchema.columnNames;
  const op = names.indexOf('Operator');
  const id = names.indexOf('Operator_Id');
  const parent = names.indexOf('Parent_Id');
  const children = new Map();
  for (const row of table.rows) {
    const p = row[parent];
    if (!children.has(p)) children.set(p, []);
    children.get(p).push(row);
  }
  const seen = new Set();
  const node = (row, depth) => {
    const key = row[id];
    const kids = seen.has(key) ? [] : children.get(key) || [];
    seen.add(key);
    const [name, detail] = splitOperator(String(row[op]));
    return h('li', { role: 'treeitem', 'aria-expanded': kids.length ? 'true' : null, 'aria-level': depth },
      h('span', { class: `plan-node plan-${name.toLowerCase().split('_')[0]}` },
        h('strong', null, name), detail ? h('span', { class: 'plan-detail' }, detail) : null),
      kids.length ? h('ul', { role: 'group' }, kids.map((k) => node(k, depth + 1))) : null);
  };
  const roots = table.rows.filter((r) => !table.rows.some((o) => o[id] === r[parent]));
  return h('ul', { class: 'plan-tree', role: 'tree', 'aria-label': 'Query plan' }, roots.map((r) => node(r, 1)));
}

function splitOperator(text) {
  const open = text.indexOf('(');
  if (open < 0 || !text.endsWith(')')) return [text, ''];
  return [text.slice(0, open), text.slice(open + 1, -1)];
}
