/*! The dashboard's client for toolbridge's HTTP API: JSON calls with the bearer
 * token, one shared token prompt on 401, and the URL of an execution's SSE stream.
 *
 * API paths are relative (`api/v1/...`) so the dashboard also works when the
 * server is mounted under a path prefix behind a proxy.
 */

const TOKEN_KEY = 'toolbridge.token';

/** An error answer of the API: `{"error": {"code", "message", "field"?}}`. */
export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** The token kept for this tab, or null. */
export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Keeps (or, with a falsy value, forgets) the token for this tab. */
export function setToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled: the token lives as long as the page */
  }
  memoryToken = token || null;
}

let memoryToken = null;

function token() {
  return getToken() || memoryToken;
}

// The UI registers how to ask for a token (a form in a <dialog>); the promise
// resolves to the token, or null when the person dismissed the form.
let askForToken = async () => null;
let pendingAsk = null;

/** Registers the function that asks for a token: `(reason) => Promise<string|null>`. */
export function onTokenNeeded(fn) {
  askForToken = fn;
}

// Once the person dismissed the form, background refreshes must not reopen it
// every few seconds: it comes back only through allowTokenPrompt() (a button).
let dismissed = false;

/** Lets the next 401 ask for the token again (after the person dismissed the form). */
export function allowTokenPrompt() {
  dismissed = false;
}

// Concurrent 401s share one prompt instead of stacking a form per request.
function askOnce(reason) {
  if (dismissed) return Promise.resolve(null);
  if (!pendingAsk) {
    pendingAsk = Promise.resolve(askForToken(reason)).then((entered) => {
      if (!entered) dismissed = true;
      return entered;
    }).finally(() => {
      pendingAsk = null;
    });
  }
  return pendingAsk;
}

/**
 * Calls the API and returns the parsed JSON. On 401, asks for the token (once
 * for all requests waiting on it), keeps it, and retries; gives up with the
 * 401 ApiError if the person dismisses the form.
 */
export async function api(path, { method = 'GET', body, signal } = {}) {
  for (let attempt = 0; ; attempt++) {
    const sent = token();
    const headers = { Accept: 'application/json' };
    if (sent) headers.Authorization = `Bearer ${sent}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        cache: 'no-store',
      });
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      throw new ApiError(0, 'network', `cannot reach the server (${err.message})`);
    }
    if (response.status === 401) {
      // Another request may have got a token while this one was in flight.
      if (token() && token() !== sent) continue;
      const reason = sent ? 'The server rejected that token.' : null;
      const entered = await askOnce(reason);
      if (entered) {
        setToken(entered);
        continue;
      }
      throw await toError(response);
    }
    if (!response.ok) throw await toError(response);
    if (response.status === 204) return null;
    return response.json();
  }
}

async function toError(response) {
  let code = `http_${response.status}`;
  let message = `${response.status} ${response.statusText}`.trim();
  let field;
  try {
    const data = await response.json();
    if (data && data.error) {
      code = data.error.code || code;
      message = data.error.message || message;
      field = data.error.field;
    }
  } catch {
    /* not JSON: keep the status line */
  }
  return new ApiError(response.status, code, message, field);
}

/**
 * URL of an execution's event stream. EventSource cannot send an Authorization
 * header, so the token travels as `?access_token=` — the server accepts that on
 * `/events` only, never on the other endpoints.
 */
export function eventsUrl(id) {
  const url = `api/v1/executions/${encodeURIComponent(id)}/events`;
  const t = token();
  return t ? `${url}?access_token=${encodeURIComponent(t)}` : url;
}

/** Builds `path?query` from an object, leaving out empty values. */
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
