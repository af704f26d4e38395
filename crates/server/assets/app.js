/*! toolbridge dashboard: boot, hash routing and the token form.
 *
 * Routes (the hash is `#<path>[?<query>]`, so links to an execution work):
 *   #/executions[?agent=NAME&status=S]   the list
 *   #/executions/<id>[?call=<tool_use_id>|?turn=<n>]   one execution, a call or turn selected
 *   #/agents, #/runtimes
 * A `token=<T>` in the initial hash (`#token=T` or `#/executions?token=T`) is kept
 * in sessionStorage and removed from the address bar.
 */

import { api, onTokenNeeded, setToken } from './api.js';
import { h, parseHash, replace } from './dom.js';
import { agentsView, executionsView, runtimesView } from './lists.js';
import { executionView } from './execution.js';

/** Takes `token=` out of the hash into sessionStorage; returns whether it did. */
function absorbTokenFromHash() {
  const { path, query } = parseHash();
  const t = query.get('token');
  if (!t) return false;
  setToken(t);
  query.delete('token');
  const rest = query.toString();
  const hash = `#/${path.join('/')}${rest ? `?${rest}` : ''}`;
  history.replaceState(history.state, '', `${location.pathname}${location.search}${path.length ? hash : ''}`);
  return true;
}

// ---------------------------------------------------------------------------
// Token form: one <dialog>, shown when a call answers 401.
// ---------------------------------------------------------------------------

function askForToken(reason) {
  const dialog = document.getElementById('token-dialog');
  const form = dialog.querySelector('form');
  const input = dialog.querySelector('#token-input');
  const error = dialog.querySelector('#token-error');
  error.hidden = !reason;
  error.textContent = reason || '';
  input.value = '';
  return new Promise((resolve) => {
    const finish = (value) => {
      form.removeEventListener('submit', onSubmit);
      dialog.removeEventListener('cancel', onCancel);
      cancelButton.removeEventListener('click', onCancel);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (value) finish(value);
    };
    const onCancel = (event) => {
      event.preventDefault();
      finish(null);
    };
    const cancelButton = dialog.querySelector('#token-cancel');
    form.addEventListener('submit', onSubmit);
    dialog.addEventListener('cancel', onCancel);
    cancelButton.addEventListener('click', onCancel);
    dialog.showModal();
    input.focus();
  });
}

// ---------------------------------------------------------------------------
// Router: one mounted view at a time; each returns {update?(route), dispose()}.
// ---------------------------------------------------------------------------

const routes = [
  { match: (p) => p.length === 1 && p[0] === 'executions', nav: 'executions', key: () => 'executions', view: executionsView },
  { match: (p) => p.length === 2 && p[0] === 'executions', nav: 'executions', key: (p) => `execution/${p[1]}`, view: executionView },
  { match: (p) => p.length >= 1 && p[0] === 'agents', nav: 'agents', key: () => 'agents', view: agentsView },
  { match: (p) => p.length === 1 && p[0] === 'runtimes', nav: 'runtimes', key: () => 'runtimes', view: runtimesView },
];

let current = null; // {key, instance}

function route() {
  const parsed = parseHash();
  if (parsed.path.length === 0) {
    location.replace(`${location.pathname}${location.search}#/executions`);
    return;
  }
  const main = document.getElementById('main');
  const entry = routes.find((r) => r.match(parsed.path));
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (entry && link.dataset.nav === entry.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (!entry) {
    current?.instance.dispose?.();
    current = null;
    replace(main, h('section', { class: 'view' }, h('h1', { text: 'Not found' }),
      h('p', {}, 'No page here. ', h('a', { href: '#/executions', text: 'Go to the executions' }), '.')));
    return;
  }
  const key = entry.key(parsed.path);
  if (current && current.key === key && current.instance.update) {
    current.instance.update(parsed);
    return;
  }
  current?.instance.dispose?.();
  replace(main);
  const changedView = current !== null;
  current = { key, instance: entry.view(main, parsed) };
  // Move focus to the new view's content for keyboard and screen reader users,
  // but not on first load (leave the page as the browser opened it).
  if (changedView) main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

async function showServer() {
  const el = document.getElementById('server-info');
  try {
    const response = await fetch('healthz', { cache: 'no-store' });
    const data = await response.json();
    replace(el, h('span', { class: 'dot ok', 'aria-hidden': 'true' }), `server ${data.version || ''}`.trim());
    el.title = `healthz: ${data.status}`;
  } catch {
    replace(el, h('span', { class: 'dot down', 'aria-hidden': 'true' }), 'server unreachable');
  }
}

function boot() {
  onTokenNeeded(askForToken);
  absorbTokenFromHash();
  window.addEventListener('hashchange', () => {
    if (absorbTokenFromHash()) return route();
    route();
  });
  route();
  showServer();
}

boot();

// For the console: `toolbridge.api('api/v1/agents')`.
window.toolbridge = { api };
