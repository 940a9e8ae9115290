// SQL tokens for highlighting and completion: what the editor needs, not a parser.

export const KEYWORDS = [
  'SELECT', 'FROM', 'WHERE', 'GROUP', 'BY', 'ORDER', 'LIMIT', 'OFFSET', 'HAVING', 'AS',
  'AND', 'OR', 'NOT', 'IN', 'IS', 'NULL', 'BETWEEN', 'LIKE', 'ASC', 'DESC', 'DISTINCT',
  'CASE', 'WHEN', 'THEN', 'ELSE', 'END', 'EXPLAIN', 'PLAN', 'FOR', 'TRUE', 'FALSE',
  'CAST', 'SET', 'WITH', 'UNION', 'ALL', 'JOIN', 'ON', 'INTERVAL', 'NULLS', 'FIRST', 'LAST',
];

export const FUNCTIONS = [
  'COUNT', 'SUM', 'AVG', 'MIN', 'MAX', 'DISTINCTCOUNT', 'DISTINCTCOUNTHLL', 'PERCENTILE',
  'PERCENTILETDIGEST', 'PERCENTILEEST', 'MINMAXRANGE', 'DATETRUNC', 'DATETIMECONVERT',
  'TIMECONVERT', 'TEXT_MATCH', 'REGEXP_LIKE', 'LOWER', 'UPPER', 'LENGTH', 'SUBSTR',
  'CONCAT', 'ABS', 'CEIL', 'FLOOR', 'ROUND', 'COALESCE', 'TOEPOCHSECONDS', 'FROMEPOCHSECONDS',
  'TODATETIME', 'NOW', 'ARRAYLENGTH', 'JSON_EXTRACT_SCALAR',
];

const KEYWORD_SET = new Set(KEYWORDS);
const FUNCTION_SET = new Set(FUNCTIONS);

// [{type, text, start}] covering every character of `text`.
export function tokenize(text) {
  const tokens = [];
  let i = 0;
  const push = (type, end) => { tokens.push({ type, text: text.slice(i, end), start: i }); i = end; };
  while (i < text.length) {
    const c = text[i];
    const rest = text.slice(i);
    let m;
    if ((m = /^\s+/.exec(rest))) push('space', i + m[0].length);
    else if (rest.startsWith('--')) {
      const nl = text.indexOf('\n', i);
      push('comment', nl < 0 ? text.length : nl);
    } else if (rest.startsWith('/*')) {
      const close = text.indexOf('*/', i + 2);
      push('comment', close < 0 ? text.length : close + 2);
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < text.length) {
        if (text[j] === c) {
          if (text[j + 1] === c) { j += 2; continue; }
          j++;
          break;
        }
        j++;
      }
      push(c === "'" ? 'string' : 'quoted', j);
    } else if ((m = /^(\d+\.?\d*(e[+-]?\d+)?|\.\d+(e[+-]?\d+)?)/i.exec(rest))) push('number', i + m[0].length);
    else if ((m = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(rest))) {
      const upper = m[0].toUpperCase();
      const type = KEYWORD_SET.has(upper) ? 'keyword' : FUNCTION_SET.has(upper) ? 'function' : 'ident';
      push(type, i + m[0].length);
    } else if ((m = /^(<=|>=|<>|!=|\|\||::)/.exec(rest))) push('operator', i + m[0].length);
    else push(/[(),;.]/.test(c) ? 'punct' : 'operator', i + 1);
  }
  return tokens;
}

// The tables a query names after FROM (for column completion).
export function tablesIn(text) {
  const names = [];
  const re = /\bFROM\s+["`]?([A-Za-z_][A-Za-z0-9_]*)/gi;
  let m;
  while ((m = re.exec(text))) names.push(m[1]);
  return names;
}

// A line/column position an engine error names ("at line 1, column 8", "Line: 1,
// Column: 33"), as a character offset into `text`, or null.
export function errorOffset(message, text) {
  const m = /line:?\s*(\d+),\s*column:?\s*(\d+)/i.exec(message || '');
  if (!m) return null;
  const line = Number(m[1]);
  const column = Number(m[2]);
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', offset);
    if (nl < 0) return null;
    offset = nl + 1;
  }
  return Math.min(offset + column - 1, text.length);
}
