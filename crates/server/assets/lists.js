/*! The list views: executions (filtered, paginated, live-refreshed), agents and runtimes. */

import { allowTokenPrompt, api, ApiError, withQuery } from './api.js';
import {
  announce, fmtAgo, fmtDateTime, fmtInt, fmtMs, h, notice, prettyJson, replace, setHashQuietly,
  shortId, statusBadge, toHash,
} from './dom.js';

const STATUSES = ['running', 'success', 'error', 'cancelled', 'interrupted'];
const PAGE_SIZE = 20;
const MAX_LIMIT = 200; // the most rows one refresh asks for (the server caps `limit` too)
const POLL_RUNNING_MS = 2000; // while a shown execution is running
const POLL_IDLE_MS = 10_000; // otherwise, to pick up new executions; paused while the tab is hidden

/** A one-line message for an API or network error. */
export function errorText(err) {
  if (err instanceof ApiError) {
    if (err.status === 401) return 'this server needs an API token.';
    return `${err.message}${err.field ? ` (field: ${err.field})` : ''}`;
  }
  return String(err && err.message ? err.message : err);
}

/**
 * An error notice; for a 401 (the token form was dismissed) it carries an
 * "Enter token" button that asks again and calls `retry`.
 */
export function errorNotice(prefix, err, retry) {
  const needsToken = err instanceof ApiError && err.status === 401;
  return notice('error', `${prefix}: ${errorText(err)} `,
    needsToken && retry ? h('button', { type: 'button', class: 'secondary small', 'data-testid': 'enter-token',
      on: { click: () => { allowTokenPrompt(); retry(); } } }, 'Enter token') : null);
}

let agentsCache = null; // one fetch of the agent names per page load, for filters and the run form

async function agentNames() {
  if (!agentsCache) {
    agentsCache = api('api/v1/agents')
      .then((data) => (data.agents || []).map((a) => a.name))
      .catch((err) => {
        agentsCache = null;
        throw err;
      });
  }
  return agentsCache;
}

// ---------------------------------------------------------------------------
// Executions
// ---------------------------------------------------------------------------

export function executionsView(root, route) {
  const state = {
    agent: route.query.get('agent') || '',
    status: route.query.get('status') || '',
    rows: [],
    nextCursor: null,
    generation: 0,
    timer: null,
    disposed: false,
    lastStatus: new Map(),
    loaded: false,
  };

  const agentSelect = h('select', { id: 'filter-agent', name: 'agent', 'data-testid': 'filter-agent' },
    h('option', { value: '', text: 'All agents' }));
  const statusSelect = h('select', { id: 'filter-status', name: 'status', 'data-testid': 'filter-status' },
    h('option', { value: '', text: 'Any status' }),
    STATUSES.map((s) => h('option', { value: s, text: s })));
  const refreshNote = h('span', { class: 'muted small', 'data-testid': 'refresh-note' });
  const refreshButton = h('button', { type: 'button', class: 'secondary', on: { click: () => refresh() } }, 'Refresh');
  const tbody = h('tbody');
  const table = h('table', { class: 'data-table executions', 'data-testid': 'executions-table' },
    h('caption', { class: 'visually-hidden', text: 'Executions, newest first' }),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', class: 'col-status', text: 'Status' }),
      h('th', { scope: 'col', class: 'col-id', text: 'Execution' }),
      h('th', { scope: 'col', class: 'col-agent', text: 'Agent' }),
      h('th', { scope: 'col', class: 'col-prompt', text: 'Prompt' }),
      h('th', { scope: 'col', class: 'col-time', text: 'Started' }),
      h('th', { scope: 'col', class: 'num', text: 'Duration' }),
      h('th', { scope: 'col', class: 'num', text: 'Tools' }),
      h('th', { scope: 'col', class: 'num', text: 'Tokens' }))),
    tbody);
  const message = h('div', { class: 'list-message' });
  const moreButton = h('button', { type: 'button', class: 'secondary', 'data-testid': 'more-button', hidden: true,
    on: { click: () => more() } }, 'More');
  const countNote = h('span', { class: 'muted small', 'data-testid': 'row-count' });

  statusSelect.value = state.status;
  const onFilter = () => {
    state.agent = agentSelect.value;
    state.status = statusSelect.value;
    setHashQuietly(toHash(['executions'], { agent: state.agent, status: state.status }));
    state.rows = [];
    state.lastStatus.clear();
    refresh();
  };
  agentSelect.addEventListener('change', onFilter);
  statusSelect.addEventListener('change', onFilter);

  const view = h('section', { class: 'view', 'data-testid': 'executions-view', 'aria-labelledby': 'executions-title' },
    h('div', { class: 'view-head' },
      h('h1', { id: 'executions-title', text: 'Executions' }),
      h('div', { class: 'filters', role: 'search', 'aria-label': 'Filter executions' },
        h('label', { for: 'filter-agent', text: 'Agent' }), agentSelect,
        h('label', { for: 'filter-status', text: 'Status' }), statusSelect),
      h('div', { class: 'head-actions' }, refreshNote, refreshButton)),
    runForm(),
    h('div', { class: 'table-wrap' }, table),
    message,
    h('div', { class: 'list-foot' }, countNote, moreButton));
  root.appendChild(view);

  agentNames().then((names) => {
    const all = state.agent && !names.includes(state.agent) ? [...names, state.agent] : names;
    for (const name of all) agentSelect.appendChild(h('option', { value: name, text: name }));
    agentSelect.value = state.agent;
  }).catch(() => {
    if (state.agent) agentSelect.appendChild(h('option', { value: state.agent, text: state.agent }));
    agentSelect.value = state.agent;
  });

  function query(extra) {
    return withQuery('api/v1/executions', { agent: state.agent, status: state.status, ...extra });
  }

  async function refresh() {
    clearTimeout(state.timer);
    const generation = ++state.generation;
    const limit = Math.min(MAX_LIMIT, Math.max(PAGE_SIZE, state.rows.length));
    try {
      const data = await api(query({ limit }));
      if (state.disposed || generation !== state.generation) return;
      state.rows = data.executions || [];
      state.nextCursor = data.next_cursor || null;
      state.loaded = true;
      replace(message);
      render();
    } catch (err) {
      if (state.disposed || generation !== state.generation) return;
      replace(message, errorNotice('Could not load the executions', err, refresh));
    }
    schedule();
  }

  async function more() {
    if (!state.nextCursor) return;
    moreButton.disabled = true;
    const generation = state.generation;
    try {
      const data = await api(query({ limit: PAGE_SIZE, cursor: state.nextCursor }));
      if (state.disposed || generation !== state.generation) return;
      const seen = new Set(state.rows.map((r) => r.id));
      state.rows.push(...(data.executions || []).filter((r) => !seen.has(r.id)));
      state.nextCursor = data.next_cursor || null;
      render();
    } catch (err) {
      replace(message, errorNotice('Could not load more', err, more));
    } finally {
      moreButton.disabled = false;
    }
  }

  function anyRunning() {
    return state.rows.some((r) => r.status === 'running');
  }

  function schedule() {
    clearTimeout(state.timer);
    if (state.disposed || document.hidden) return;
    const delay = anyRunning() ? POLL_RUNNING_MS : POLL_IDLE_MS;
    refreshNote.textContent = anyRunning() ? 'Live: refreshing every 2 s' : 'Refreshing every 10 s';
    state.timer = setTimeout(refresh, delay);
  }

  function onVisibility() {
    if (document.hidden) clearTimeout(state.timer);
    else refresh();
  }
  document.addEventListener('visibilitychange', onVisibility);

  function render() {
    // Keyed update: rows keep their element (and focus) unless their data changed.
    const existing = new Map([...tbody.children].map((tr) => [tr.dataset.id, tr]));
    let cursor = tbody.firstElementChild;
    for (const row of state.rows) {
      const key = JSON.stringify(row);
      let tr = existing.get(row.id);
      if (tr && rowKeys.get(tr) !== key) {
        const fresh = executionRow(row, key);
        tr.replaceWith(fresh);
        if (cursor === tr) cursor = fresh;
        tr = fresh;
      } else if (!tr) {
        tr = executionRow(row, key);
      }
      existing.delete(row.id);
      if (tr === cursor) cursor = cursor.nextElementSibling;
      else tbody.insertBefore(tr, cursor);
    }
    for (const tr of existing.values()) tr.remove();

    for (const row of state.rows) {
      const before = state.lastStatus.get(row.id);
      if (before === 'running' && row.status !== 'running') {
        announce(`Execution ${shortId(row.id)} (${row.agent_id}) finished: ${row.status}`);
      }
      state.lastStatus.set(row.id, row.status);
    }

    if (state.loaded && state.rows.length === 0) {
      replace(message, notice('empty', state.agent || state.status
        ? 'No executions match these filters.'
        : 'No executions yet. Start one with “New run” or from the command line.'));
    }
    moreButton.hidden = !state.nextCursor;
    countNote.textContent = state.rows.length
      ? `${state.rows.length} shown${state.nextCursor ? ', more available' : ''}`
      : '';
  }

  refresh();

  return {
    update(next) {
      const agent = next.query.get('agent') || '';
      const status = next.query.get('status') || '';
      if (agent !== state.agent || status !== state.status) {
        state.agent = agent;
        state.status = status;
        agentSelect.value = agent;
        statusSelect.value = status;
        state.rows = [];
        refresh();
      }
    },
    dispose() {
      state.disposed = true;
      clearTimeout(state.timer);
      document.removeEventListener('visibilitychange', onVisibility);
    },
  };
}

const rowKeys = new WeakMap(); // row element → the JSON it was built from

function executionRow(row, key) {
  const href = toHash(['executions', row.id]);
  const tr = h('tr', {
    'data-testid': 'execution-row',
    class: ['clickable', row.status === 'running' && 'is-running'],
    dataset: { id: row.id, status: row.status, agent: row.agent_id, started: row.started_at },
    on: {
      click: (event) => {
        // The id cell holds the real link; the rest of the row is a convenience.
        if (event.target.closest('a') || window.getSelection().toString()) return;
        location.hash = href;
      },
    },
  },
  h('td', { class: 'col-status' }, statusBadge(row.status)),
  h('td', { class: 'col-id' }, h('a', { href, class: 'mono', title: row.id, text: shortId(row.id) })),
  h('td', { class: 'col-agent' }, row.agent_id),
  h('td', { class: 'col-prompt' },
    h('div', { class: 'truncate', title: row.prompt, text: row.prompt }),
    row.error ? h('div', { class: ['truncate', row.status === 'error' ? 'row-error' : 'row-note'], title: row.error,
      text: row.error }) : null),
  h('td', { class: 'col-time', title: `${row.started_at} (${fmtAgo(row.started_at)})`, text: fmtDateTime(row.started_at) }),
  h('td', { class: 'num' }, row.status === 'running' ? h('span', { class: 'muted', text: 'running…' }) : fmtMs(row.duration_ms)),
  h('td', { class: 'num', text: fmtInt(row.tool_calls) }),
  h('td', { class: 'num', text: fmtInt(row.total_tokens) }));
  rowKeys.set(tr, key);
  return tr;
}

/** "New run": POST /api/v1/executions?async=true, then open the new execution. */
function runForm() {
  const agent = h('select', { id: 'run-agent', name: 'agent', required: true });
  const prompt = h('textarea', { id: 'run-prompt', name: 'prompt', rows: 2, required: true,
    placeholder: 'What should the agent do?' });
  const status = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Run');
  const form = h('form', { class: 'run-form-body', on: { submit: onSubmit } },
    h('div', { class: 'field' }, h('label', { for: 'run-agent', text: 'Agent' }), agent),
    h('div', { class: 'field grow' }, h('label', { for: 'run-prompt', text: 'Prompt' }), prompt),
    h('div', { class: 'field' }, submit),
    status);
  const details = h('details', { class: 'run-form', 'data-testid': 'run-form' },
    h('summary', { text: 'New run' }), form);
  details.addEventListener('toggle', () => {
    if (!details.open || agent.options.length) return;
    agentNames().then((names) => {
      for (const name of names) agent.appendChild(h('option', { value: name, text: name }));
    }).catch((err) => {
      status.hidden = false;
      status.textContent = `Could not load the agents: ${errorText(err)}`;
    });
  });

  async function onSubmit(event) {
    event.preventDefault();
    status.hidden = true;
    submit.disabled = true;
    try {
      const data = await api('api/v1/executions?async=true', {
        method: 'POST',
        body: { agent: agent.value, prompt: prompt.value },
      });
      const id = data.execution_id || data.id;
      if (id) location.hash = toHash(['executions', id]);
    } catch (err) {
      status.hidden = false;
      status.textContent = `Could not start the run: ${errorText(err)}`;
      const field = err.field === 'agent' ? agent : err.field === 'prompt' ? prompt : null;
      if (field) {
        field.setAttribute('aria-invalid', 'true');
        field.focus();
      }
    } finally {
      submit.disabled = false;
    }
  }
  return details;
}

// ---------------------------------------------------------------------------
// Agents
// ---------------------------------------------------------------------------

export function agentsView(root, route) {
  const list = h('div', { class: 'cards', 'data-testid': 'agents-list' }, notice('loading', 'Loading agents…'));
  const count = h('p', { class: 'muted' });
  root.appendChild(h('section', { class: 'view', 'data-testid': 'agents-view', 'aria-labelledby': 'agents-title' },
    h('div', { class: 'view-head' }, h('h1', { id: 'agents-title', text: 'Agents' }), count),
    list));
  let disposed = false;
  const focusName = route.path[1];

  api('api/v1/agents').then((data) => {
    if (disposed) return;
    const agents = data.agents || [];
    count.textContent = `${agents.length} agent${agents.length === 1 ? '' : 's'}`;
    replace(list, agents.length ? agents.map(agentCard) : notice('empty', 'No agents yet: `toolbridge agent create`.'));
    if (focusName) {
      const card = [...list.children].find((c) => c.dataset.agent === focusName);
      if (card) card.scrollIntoView({ block: 'start' });
    }
  }).catch((err) => {
    if (!disposed) replace(list, errorNotice('Could not load the agents', err, () => location.reload()));
  });

  return { dispose() { disposed = true; } };
}

function transportOf(server) {
  if (server && server.url) return { kind: 'http', target: server.url };
  if (server && server.command) {
    const args = Array.isArray(server.args) ? server.args : [];
    return { kind: 'stdio', target: [server.command, ...args].join(' ') };
  }
  return { kind: server && (server.type || server.transport_type) || 'unknown', target: '' };
}

function agentCard(agent) {
  const servers = Object.entries(agent.mcp_servers || {});
  const skills = agent.skills || [];
  const config = [
    ['System prompt', agent.system_prompt],
    ['Runtime config', agent.runtime_config],
    ['Model config', agent.model_config],
    ['Policy', agent.policy],
  ].filter(([, v]) => v !== undefined && v !== null && !(typeof v === 'object' && Object.keys(v).length === 0));

  return h('article', { class: 'card agent', 'data-testid': 'agent-row', dataset: { agent: agent.name } },
    h('header', { class: 'card-head' },
      h('h2', { class: 'agent-name', text: agent.name }),
      h('span', { class: 'pill', title: 'runtime', 'data-testid': 'agent-runtime' }, agent.runtime),
      agent.model_id ? h('code', { class: 'model', title: 'model', 'data-testid': 'agent-model', text: agent.model_id })
        : h('span', { class: 'muted small', text: 'no model' }),
      h('a', { class: 'card-link', href: toHash(['executions'], { agent: agent.name }) }, 'Executions →')),
    agent.description ? h('p', { class: 'description', text: agent.description }) : null,
    h('div', { class: 'card-cols' },
      h('section', { 'aria-label': `MCP servers of ${agent.name}` },
        h('h3', {}, 'MCP servers ', h('span', { class: 'count', text: servers.length })),
        servers.length ? h('ul', { class: 'plain' }, servers.map(([name, server]) => {
          const t = transportOf(server);
          const secretKeys = Object.keys((t.kind === 'http' ? server.headers : server.env) || {});
          return h('li', { 'data-testid': 'agent-mcp-server', dataset: { server: name, transport: t.kind } },
            h('strong', { text: name }), ' ',
            h('span', { class: ['pill', 'small', `transport-${t.kind}`], text: t.kind }), ' ',
            h('code', { class: 'target', title: t.target, text: t.target }),
            secretKeys.length ? h('div', { class: 'muted small' },
              `${t.kind === 'http' ? 'headers' : 'env'}: ${secretKeys.join(', ')}`) : null,
            server && server.enabled === false ? h('span', { class: 'muted small', text: ' (disabled)' }) : null);
        })) : h('p', { class: 'muted small', text: 'none' })),
      h('section', { 'aria-label': `Skills of ${agent.name}` },
        h('h3', {}, 'Skills ', h('span', { class: 'count', text: skills.length })),
        skills.length ? h('ul', { class: 'plain' }, skills.map((skill) =>
          h('li', { 'data-testid': 'agent-skill', dataset: { skill: skill.name }, class: skill.enabled === false && 'disabled' },
            h('strong', { text: skill.name }), ' ',
            h('span', { class: 'pill small', text: skill.type }),
            skill.enabled === false ? h('span', { class: 'muted small', text: ' disabled' }) : null)))
          : h('p', { class: 'muted small', text: 'none' }))),
    config.length ? h('details', { class: 'config' },
      h('summary', { text: 'Configuration' }),
      h('dl', {}, config.map(([label, value]) => [
        h('dt', { text: label }),
        h('dd', {}, h('pre', { class: 'code', text: prettyJson(value) })),
      ]))) : null,
    h('footer', { class: 'muted small' },
      `created ${fmtDateTime(agent.created_at)} · updated ${fmtDateTime(agent.updated_at)}`));
}

// ---------------------------------------------------------------------------
// Runtimes
// ---------------------------------------------------------------------------

const CAPABILITIES = ['streaming', 'tools', 'mcp', 'hooks', 'cancellation', 'conversation_history', 'custom_tools'];
const CAPABILITY_LABELS = { mcp: 'MCP', conversation_history: 'History', custom_tools: 'Custom tools' };

export function runtimesView(root) {
  const body = h('div', {}, notice('loading', 'Loading runtimes…'));
  root.appendChild(h('section', { class: 'view', 'data-testid': 'runtimes-view', 'aria-labelledby': 'runtimes-title' },
    h('div', { class: 'view-head' }, h('h1', { id: 'runtimes-title', text: 'Runtimes' })), body));
  let disposed = false;
  api('api/v1/runtimes').then((data) => {
    if (disposed) return;
    const runtimes = data.runtimes || [];
    replace(body, h('div', { class: 'table-wrap' }, h('table', { class: 'data-table runtimes' },
      h('caption', { class: 'visually-hidden', text: 'Runtimes and their capabilities' }),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', text: 'Runtime' }),
        h('th', { scope: 'col', text: 'Kind' }),
        h('th', { scope: 'col', text: 'Description' }),
        CAPABILITIES.map((c) => h('th', { scope: 'col', class: 'cap', title: c,
          text: CAPABILITY_LABELS[c] || c[0].toUpperCase() + c.slice(1) })))),
      h('tbody', {}, runtimes.map((rt) => h('tr', { 'data-testid': 'runtime-row', dataset: { runtime: rt.runtime_type } },
        h('th', { scope: 'row' }, h('code', { text: rt.runtime_type }),
          rt.runtime_config_schema && Object.keys(rt.runtime_config_schema).length
            ? h('details', { class: 'schema' }, h('summary', { text: 'config schema' }),
              h('pre', { class: 'code', text: prettyJson(rt.runtime_config_schema) }))
            : null),
        h('td', {}, h('span', { class: 'pill', text: rt.kind || '—' })),
        h('td', { text: rt.description || '' }),
        CAPABILITIES.map((c) => {
          const yes = rt.capabilities && rt.capabilities[c];
          return h('td', { class: ['cap', yes ? 'yes' : 'no'] },
            h('span', { 'aria-hidden': 'true', text: yes ? '✓' : '–' }),
            h('span', { class: 'visually-hidden', text: yes ? 'yes' : 'no' }));
        })))))));
  }).catch((err) => {
    if (!disposed) replace(body, errorNotice('Could not load the runtimes', err, () => location.reload()));
  });
  return { dispose() { disposed = true; } };
}
