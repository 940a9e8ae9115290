// The SQL editor: a textarea over a highlighted copy of its text, with completion of
// keywords, functions, tables and the columns of the tables the query names.

import { h, clear } from './dom.js';
import { tokenize, tablesIn, KEYWORDS, FUNCTIONS } from './sql.js';

export class SqlEditor {
  // catalog: () => ({tables: [name], columns: {table: [name]}}); onRun: () => void.
  constructor({ catalog, onRun, value = '' }) {
    this.catalog = catalog;
    this.onRun = onRun;
    this.errorAt = null;
    this.code = h('code');
    this.highlight = h('pre', { class: 'editor-highlight', 'aria-hidden': 'true' }, this.code);
    this.input = h('textarea', {
      class: 'editor-input',
      id: 'sql-input',
      spellcheck: 'false',
      autocomplete: 'off',
      autocapitalize: 'off',
      'aria-label': 'SQL query (Ctrl+Enter runs it, Ctrl+Space completes)',
      'aria-autocomplete': 'list',
      'aria-controls': 'sql-completion',
    });
    this.list = h('ul', { class: 'completion', id: 'sql-completion', role: 'listbox', hidden: true });
    this.element = h('div', { class: 'editor' }, this.highlight, this.input, this.list);
    this.items = [];
    this.selected = 0;
    this.input.value = value;
    this.input.addEventListener('input', () => { this.errorAt = null; this.render(); this.complete(false); });
    this.input.addEventListener('scroll', () => this.syncScroll());
    this.input.addEventListener('keydown', (e) => this.keydown(e));
    this.input.addEventListener('blur', () => setTimeout(() => this.closeList(), 150));
    this.render();
  }

  get value() { return this.input.value; }

  set value(text) {
    this.input.value = text;
    this.errorAt = null;
    this.render();
  }

  focus() { this.input.focus(); }

  // Underline the character at `offset` (an engine error's position).
  markError(offset) {
    this.errorAt = offset;
    this.render();
  }

  render() {
    const text = this.input.value;
    clear(this.code);
    for (const token of tokenize(text)) {
      const end = token.start + token.text.length;
      if (this.errorAt !== null && this.errorAt >= token.start && this.errorAt < end) {
        const cut = this.errorAt - token.start;
        this.code.append(span(token.type, token.text.slice(0, cut)));
        this.code.append(h('mark', { class: 'error-mark', title: 'the error is here' }, token.text.slice(cut) || ' '));
      } else {
        this.code.append(span(token.type, token.text));
      }
    }
    if (this.errorAt !== null && this.errorAt >= text.length) {
      this.code.append(h('mark', { class: 'error-mark', title: 'the error is here' }, ' '));
    }
    // A trailing newline needs a character after it to take up a line in the <pre>.
    this.code.append(' ');
    this.syncScroll();
  }

  syncScroll() {
    this.highlight.scrollTop = this.input.scrollTop;
    this.highlight.scrollLeft = this.input.scrollLeft;
  }

  keydown(e) {
    if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') {
      e.preventDefault();
      this.closeList();
      this.onRun();
      return;
    }
    if (e.ctrlKey && (e.key === ' ' || e.code === 'Space')) {
      e.preventDefault();
      this.complete(true);
      return;
    }
    if (!this.list.hidden) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const n = this.items.length;
        this.selected = (this.selected + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
        this.showList();
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        this.accept(this.items[this.selected]);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        this.closeList();
        return;
      }
    }
    if (e.key === 'Tab' && !e.shiftKey && this.list.hidden) {
      // Tab indents inside the editor; Escape then Tab leaves it (keyboard users).
      if (this.escaped) { this.escaped = false; return; }
      e.preventDefault();
      document.execCommand('insertText', false, '  ');
    }
    this.escaped = e.key === 'Escape';
  }

  // The word being typed before the caret: [start, prefix].
  word() {
    const at = this.input.selectionStart;
    const before = this.input.value.slice(0, at);
    const m = /[A-Za-z_][A-Za-z0-9_]*$/.exec(before);
    return m ? [at - m[0].length, m[0]] : [at, ''];
  }

  candidates(prefix) {
    const { tables = [], columns = {} } = this.catalog() || {};
    const named = tablesIn(this.input.value);
    const cols = new Set();
    for (const t of named.length ? named : tables) for (const c of columns[t] || []) cols.add(c);
    const lower = prefix.toLowerCase();
    const out = [];
    const add = (text, kind) => {
      if (text.toLowerCase().startsWith(lower) && text.toLowerCase() !== lower && !out.some((o) => o.text === text)) {
        out.push({ text, kind });
      }
    };
    for (const c of cols) add(c, 'column');
    for (const t of tables) add(t, 'table');
    for (const f of FUNCTIONS) add(f, 'function');
    for (const k of KEYWORDS) add(k, 'keyword');
    return out.slice(0, 12);
  }

  complete(explicit) {
    const [, prefix] = this.word();
    if (!explicit && prefix.length < 1) { this.closeList(); return; }
    this.items = this.candidates(prefix);
    this.selected = 0;
    if (this.items.length === 0) { this.closeList(); return; }
    this.showList();
  }

  showList() {
    clear(this.list);
    this.items.forEach((item, i) => {
      this.list.append(h('li', {
        role: 'option',
        id: `completion-${i}`,
        'aria-selected': i === this.selected ? 'true' : 'false',
        class: `completion-${item.kind}`,
        onmousedown: (e) => { e.preventDefault(); this.accept(item); },
      }, item.text, h('span', { class: 'completion-kind' }, item.kind)));
    });
    this.input.setAttribute('aria-activedescendant', `completion-${this.selected}`);
    this.input.setAttribute('aria-expanded', 'true');
    // Under the caret's line: the editor's font is monospace.
    const before = this.input.value.slice(0, this.input.selectionStart);
    const lines = before.split('\n');
    const style = getComputedStyle(this.input);
    const lineHeight = parseFloat(style.lineHeight) || 20;
    const charWidth = parseFloat(style.fontSize) * 0.6 || 8;
    const top = parseFloat(style.paddingTop) + lines.length * lineHeight - this.input.scrollTop;
    const left = Math.min(parseFloat(style.paddingLeft) + lines[lines.length - 1].length * charWidth,
      this.input.clientWidth - 220);
    this.list.style.top = `${Math.max(top, 0)}px`;
    this.list.style.left = `${Math.max(left, 0)}px`;
    this.list.hidden = false;
  }

  closeList() {
    this.list.hidden = true;
    this.input.removeAttribute('aria-activedescendant');
    this.input.setAttribute('aria-expanded', 'false');
  }

  accept(item) {
    if (!item) return;
    const [start] = this.word();
    this.input.setSelectionRange(start, this.input.selectionStart);
    document.execCommand('insertText', false, item.kind === 'function' ? `${item.text}(` : item.text);
    this.closeList();
    this.input.focus();
  }

  // Insert text at the caret (a column or table clicked in the sidebar).
  insert(text) {
    this.input.focus();
    document.execCommand('insertText', false, text);
  }
}

function span(type, text) {
  return type === 'space' ? document.createTextNode(text) : h('span', { class: `tok-${type}` }, text);
}
