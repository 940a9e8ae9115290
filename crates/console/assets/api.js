// The node's own HTTP API, with the credentials the user logged in with. Every request
// goes to this page's origin; `X-Requested-With` asks the server not to answer 401 with
// a Basic challenge, so the browser never pops its own login dialog over ours.

const CREDENTIALS = 'tessera.credentials';

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function credentials() {
  return sessionStorage.getItem(CREDENTIALS);
}

export function setCredentials(header) {
  if (header) sessionStorage.setItem(CREDENTIALS, header);
  else sessionStorage.removeItem(CREDENTIALS);
}

export function basic(user, password) {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}

export async function request(method, path, body, { raw = false, signal } = {}) {
  const headers = { 'X-Requested-With': 'XMLHttpRequest', Accept: raw ? 'text/plain' : 'application/json' };
  const auth = credentials();
  if (auth) headers.Authorization = auth;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, `the server did not answer (${e.message})`);
  }
  const text = await response.text();
  let json = null;
  if (!raw) {
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  }
  if (!response.ok) {
    const message = (json && (json.error || json.message)) || text || response.statusText;
    if (response.status === 401) window.dispatchEvent(new CustomEvent('tessera:unauthorized'));
    throw new ApiError(response.status, message, json);
  }
  return raw ? text : (json ?? text);
}

export const get = (path, options) => request('GET', path, undefined, options);
export const post = (path, body, options) => request('POST', path, body, options);

// A query through the broker endpoint; resolves to Pinot's broker response.
export function query(sql, queryOptions, signal) {
  const body = { sql };
  if (queryOptions) body.queryOptions = queryOptions;
  return post('/query/sql', body, { signal });
}
