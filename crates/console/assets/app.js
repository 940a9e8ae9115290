// The console's entry: sign-in when the server has [auth], the catalog of tables and
// columns, and the hash routes #/query, #/tables, #/tables/NAME and #/watch.

import { h, clear, notice } from './dom.js';
import * as api from './api.js';
import { queryView } from './query_view.js';
import { tablesList, tableDetail } from './tables_view.js';
import { watchView } from './watch_view.js';

const view = document.getElementById('view');
const sessionBox = document.getElementById('session');
const USER = 'tessera.user';

const session = { auth: false, role: null };
let dispose = null;

// Tables with their columns and types, for the sidebar and completion.
const catalog = {
  tables: [],
  columns: {},
  types: {},
  listeners: [],
  snapshot() { return { tables: this.tables, columns: this.columns, types: this.types }; },
  // Call `f` after every refresh; returns what stops it.
  onChange(f) {
    this.listeners.push(f);
    return () => { this.listeners = this.listeners.filter((g) => g !== f); };
  },
  async refresh() {
    const { tables = [] } = await api.get('/tables');
    const schemas = await Promise.all(tables.map((t) => api.get(`/tables/${encodeURIComponent(t)}/schema`).catch(() => null)));
    this.tables = tables.slice().sort();
    this.columns = {};
    this.types = {};
    tables.forEach((t, i) => {
      const s = schemas[i] || {};
      const fields = [...(s.dimensionFieldSpecs || []), ...(s.metricFieldSpecs || []), ...(s.dateTimeFieldSpecs || [])];
      this.columns[t] = fields.map((f) => f.name);
      this.types[t] = Object.fromEntries(fields.map((f) => [f.name, f.singleValueField === false ? `${f.dataType}[]` : f.dataType]));
    });
    for (const f of this.listeners) f();
  },
};

async function boot() {
  let info;
  try {
    info = await api.get('/auth/info');
  } catch (e) {
    clear(view).append(notice(`The server did not answer: ${e.message}`, 'error'));
    return;
  }
  session.auth = info.workflow !== 'NONE';
  if (session.auth && !api.credentials()) {
    login();
    return;
  }
  try {
    const me = await api.get('/auth/verify');
    session.role = me.role;
  } catch (e) {
    if (e.status === 401) {
      api.setCredentials(null);
      login('Your credentials were not accepted; sign in again.');
      return;
    }
    clear(view).append(notice(e.message, 'error'));
    return;
  }
  renderSession();
  document.body.dataset.role = session.role;
  catalog.refresh().catch(() => {});
  window.addEventListener('hashchange', route);
  route();
}

function route() {
  if (dispose) { dispose(); dispose = null; }
  const hash = location.hash.replace(/^#\/?/, '');
  const [section, ...rest] = hash.split('/');
  const name = decodeURIComponent(rest.join('/'));
  for (const a of document.querySelectorAll('.topbar nav a')) {
    if (a.dataset.section === (section || 'query')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.body.dataset.section = section || 'query';
  if (section === 'tables' && name) {
    dispose = tableDetail(view, { name, role: session.role });
    document.title = `${name} · Tessera`;
  } else if (section === 'tables') {
    tablesList(view, { catalog });
    document.title = 'Tables · Tessera';
  } else if (section === 'watch') {
    dispose = watchView(view);
    document.title = 'Watch · Tessera';
  } else {
    dispose = queryView(view, { catalog }).dispose;
    document.title = 'Query · Tessera';
  }
}

function renderSession() {
  clear(sessionBox);
  if (!session.auth) return;
  sessionBox.append(
    h('span', { class: 'who' }, `${sessionStorage.getItem(USER) || 'token'} · ${session.role}`),
    h('button', { type: 'button', class: 'link', onclick: logout }, 'Sign out'));
}

function logout() {
  api.setCredentials(null);
  sessionStorage.removeItem(USER);
  location.hash = '#/query';
  location.reload();
}

function login(message) {
  if (dispose) { dispose(); dispose = null; }
  document.body.dataset.section = 'login';
  clear(sessionBox);
  const error = h('div', { role: 'alert' }, message ? notice(message, 'error') : null);
  const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password' });
  const token = h('input', { id: 'login-token', name: 'token', type: 'password', autocomplete: 'off' });
  const form = h('form', {
    class: 'login', id: 'login-form', 'aria-labelledby': 'login-title',
    onsubmit: async (e) => {
      e.preventDefault();
      const header = token.value ? `Bearer ${token.value}` : api.basic(user.value, password.value);
      api.setCredentials(header);
      try {
        const me = await api.get('/auth/verify');
        sessionStorage.setItem(USER, token.value ? 'token' : user.value);
        session.role = me.role;
        location.reload();
      } catch (err) {
        api.setCredentials(null);
        clear(error).append(notice(err.status === 401 ? 'Those credentials were not accepted.' : err.message, 'error'));
      }
    },
  },
  h('h1', { id: 'login-title' }, 'Sign in to Tessera'),
  h('p', { class: 'muted' }, 'This server requires credentials. They stay in this browser tab only.'),
  error,
  h('label', { for: 'login-user' }, 'User'), user,
  h('label', { for: 'login-password' }, 'Password'), password,
  h('p', { class: 'muted or' }, 'or'),
  h('label', { for: 'login-token' }, 'API token'), token,
  h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  token.addEventListener('input', () => { user.required = !token.value; });
  clear(view).append(form);
  user.focus();
}

window.addEventListener('tessera:unauthorized', () => {
  if (document.body.dataset.section !== 'login') {
    api.setCredentials(null);
    login('Your session is no longer accepted; sign in again.');
  }
});

boot();
