/*! One execution: header, usage, timeline, the selected call or turn, the
 * response, and the event log — following the SSE stream while it runs.
 *
 * Data flow: GET /api/v1/executions/{id} first (it goes through the token
 * prompt if needed), then the `/events` stream, which replays every event so
 * far and follows live until `done`, then sends `result` (the stored execution)
 * and closes. Events are de-duplicated by `seq`, so EventSource's automatic
 * reconnects (which send Last-Event-ID) are harmless.
 */

import { api, ApiError, eventsUrl } from './api.js';
import {
  announce, fmtClock, fmtDateTime, fmtInt, fmtMs, h, notice, parseTime, prettyJson, renderMarkdown, replace,
  replaceIfChanged, setHashQuietly,
  shortId, statusBadge, toHash,
} from './dom.js';
import { errorNotice, errorText } from './lists.js';
import { buildTimeline, renderTimeline } from './timeline.js';

const EVENT_TYPES = ['content_chunk', 'thinking_start', 'thinking_delta', 'thinking_complete', 'tool_start',
  'tool_complete', 'usage', 'done'];
const POLL_MS = 2000; // record polling when the stream is unavailable
const MAX_REOPENS = 3; // stream retries after a refusal, while polling
const TICK_MS = 250; // how often a running timeline advances
const RENDER_DELAY_MS = 30; // coalesces bursts of events into one render
const MAX_LOGGED_EVENTS = 400; // rows shown in the event log
// An event received within this time of its timestamp arrived live rather than as
// part of a replay (counted in the timeline's data-live-events, for tests).
const LIVE_LAG_MS = 5000;

export function executionView(root, route) {
  const id = route.path[1];
  const state = {
    id,
    record: null,
    events: [],
    lastSeq: 0,
    minLag: Infinity, // smallest (receive time − event ts): maps local time onto the server's clock
    liveEvents: 0, // events received within LIVE_LAG_MS of their timestamp (live, not replayed)
    source: null,
    streamState: 'idle', // idle | connecting | live | closed | unavailable
    selected: selectionFrom(route.query),
    disposed: false,
    frame: 0,
    tick: null,
    poll: null,
    cancelling: false,
    lastStatus: null,
    rawResponse: false,
    reopens: 0,
    shownResponse: null,
  };

  // -- skeleton --------------------------------------------------------------
  // Status changes are announced once, through the page's live region (announce()).
  const statusSlot = h('span', { class: 'status-slot', 'data-testid': 'execution-status' });
  const streamNote = h('span', { class: 'stream-note small', 'data-testid': 'stream-state' });
  const cancelButton = h('button', { type: 'button', class: 'danger', 'data-testid': 'cancel-button', hidden: true,
    on: { click: cancel } }, 'Cancel');
  const cancelNote = h('span', { class: 'small muted', role: 'status' });
  const title = h('h1', { class: 'exec-title' }, 'Execution ', h('code', { title: id, text: shortId(id) }));
  const prompt = h('p', { class: 'prompt', 'data-testid': 'execution-prompt' });
  const errorBox = h('div', { class: 'error-slot' });
  const facts = h('dl', { class: 'facts', 'data-testid': 'execution-facts' });
  const usage = h('div', { class: 'usage', 'data-testid': 'usage-total' });
  const timeline = h('div', { class: 'timeline', 'data-testid': 'timeline', role: 'group' });
  const legend = h('ul', { class: 'legend', 'aria-label': 'Legend' },
    ['success', 'failed', 'running', 'cancelled'].map((s) =>
      h('li', {}, h('span', { class: ['swatch', `status-${s}`], 'aria-hidden': 'true' }), s)),
    h('li', {}, h('span', { class: 'swatch turn', 'aria-hidden': 'true' }), 'model turn'));
  const detail = h('section', { class: 'panel detail', 'data-testid': 'detail-panel', 'aria-labelledby': 'detail-title' });
  const responseText = h('div', { class: 'response markdown', 'data-testid': 'response', tabindex: '0' });
  const rawToggle = h('button', { type: 'button', class: 'link-button small', 'aria-pressed': 'false',
    'data-testid': 'raw-toggle',
    on: { click: () => {
      state.rawResponse = !state.rawResponse;
      rawToggle.setAttribute('aria-pressed', String(state.rawResponse));
      state.shownResponse = null;
      scheduleRender();
    } } }, 'Show raw text');
  const thinking = h('details', { class: 'thinking', hidden: true },
    h('summary', { text: 'Thinking' }), h('pre', { class: 'thinking-text' }));
  const responsePanel = h('section', { class: 'panel', 'aria-labelledby': 'response-title' },
    h('div', { class: 'panel-head' }, h('h2', { id: 'response-title', text: 'Response' }), rawToggle),
    thinking, responseText);
  const eventCount = h('span', { class: 'count' });
  const eventList = h('ol', { class: 'event-log' });
  const eventsPanel = h('details', { class: 'panel events', 'data-testid': 'events-log' },
    h('summary', {}, 'Events ', eventCount), eventList);
  const message = h('div');

  const view = h('section', { class: 'view execution', 'data-testid': 'execution-view', dataset: { id } },
    h('div', { class: 'exec-head' },
      h('a', { href: '#/executions', class: 'back' }, '← Executions'),
      title, statusSlot, streamNote,
      h('div', { class: 'head-actions' }, cancelNote, cancelButton)),
    message,
    prompt,
    errorBox,
    h('div', { class: 'summary-row' }, facts, usage),
    h('section', { class: 'panel timeline-panel', 'aria-labelledby': 'timeline-title' },
      h('div', { class: 'panel-head' }, h('h2', { id: 'timeline-title', text: 'Timeline' }), legend),
      timeline),
    h('div', { class: 'columns' }, detail, responsePanel),
    eventsPanel);
  root.appendChild(view);

  const resize = new ResizeObserver(() => scheduleRender());
  resize.observe(timeline);

  // -- data ------------------------------------------------------------------
  async function load() {
    replace(message, notice('loading', 'Loading the execution…'));
    try {
      state.record = await api(`api/v1/executions/${encodeURIComponent(id)}`);
      replace(message);
    } catch (err) {
      if (state.disposed) return;
      if (err instanceof ApiError && err.status === 404) {
        replace(message, notice('error', `No execution ${id}. `, h('a', { href: '#/executions', text: 'Back to the list' }), '.'));
      } else {
        replace(message, errorNotice('Could not load the execution', err, () => {
          replace(message);
          load();
        }));
      }
      view.classList.add('failed-load');
      return;
    }
    if (state.disposed) return;
    scheduleRender();
    openStream();
  }

  function openStream() {
    state.streamState = 'connecting';
    const source = new EventSource(eventsUrl(id));
    state.source = source;
    const onEvent = (msg) => {
      let event;
      try {
        event = JSON.parse(msg.data);
      } catch {
        return;
      }
      receive(event);
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, onEvent);
    source.addEventListener('open', () => {
      state.streamState = 'live';
      stopPolling();
      scheduleRender();
    });
    source.addEventListener('result', (msg) => {
      // The stream's last message: the stored execution. Close before the
      // server's close makes EventSource reconnect.
      source.close();
      state.source = null;
      state.streamState = 'closed';
      try {
        state.record = JSON.parse(msg.data);
      } catch {
        refreshRecord();
      }
      scheduleRender();
    });
    source.addEventListener('error', () => {
      if (state.disposed || state.source !== source) return;
      if (source.readyState === EventSource.CLOSED) {
        // Refused (e.g. 401/404): no automatic retry. Poll the record instead.
        state.source = null;
        state.streamState = 'unavailable';
        startPolling();
      } else {
        state.streamState = 'connecting'; // EventSource retries with Last-Event-ID
      }
      scheduleRender();
    });
  }

  function receive(event) {
    const seq = Number(event.seq);
    if (!Number.isFinite(seq) || seq <= state.lastSeq) return;
    state.lastSeq = seq;
    state.events.push(event);
    const at = parseTime(event.ts);
    if (at !== null) {
      const lag = Date.now() - at;
      state.minLag = Math.min(state.minLag, lag);
      if (lag < LIVE_LAG_MS) state.liveEvents += 1;
    }
    scheduleRender();
  }

  async function refreshRecord() {
    try {
      state.record = await api(`api/v1/executions/${encodeURIComponent(id)}`);
      scheduleRender();
    } catch (err) {
      replace(message, errorNotice('Could not refresh', err, refreshRecord));
    }
  }

  function startPolling() {
    stopPolling();
    state.poll = setInterval(async () => {
      if (!isRunning()) return stopPolling();
      await refreshRecord();
      // Whatever refused the stream (a token entered since, a restart) may have
      // passed: try it again a few times while the execution runs.
      if (isRunning() && !state.source && !state.disposed && state.reopens < MAX_REOPENS) {
        state.reopens += 1;
        stopPolling();
        openStream();
      }
    }, POLL_MS);
  }

  function stopPolling() {
    clearInterval(state.poll);
    state.poll = null;
  }

  async function cancel() {
    if (state.cancelling) return;
    state.cancelling = true;
    cancelButton.disabled = true;
    cancelButton.textContent = 'Cancelling…';
    cancelNote.textContent = '';
    try {
      const data = await api(`api/v1/executions/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
      cancelNote.textContent = data && data.cancelled ? 'Cancel requested' : 'Not cancelled: it had already ended';
      if (!state.source) refreshRecord();
    } catch (err) {
      cancelNote.textContent = `Cancel failed: ${errorText(err)}`;
      cancelButton.disabled = false;
      cancelButton.textContent = 'Cancel';
      state.cancelling = false;
    }
  }

  // -- rendering ---------------------------------------------------------------
  function isRunning() {
    const done = state.events.some((e) => e.type === 'done');
    return state.record ? state.record.status === 'running' && !done : false;
  }

  function serverNow() {
    return Date.now() - (Number.isFinite(state.minLag) ? Math.max(0, state.minLag) : 0);
  }

  // Renders are coalesced on a short timer rather than requestAnimationFrame:
  // bursts of events (a replay) cost one render, and timers keep running under
  // headless Chromium's virtual time, which the check relies on.
  function scheduleRender() {
    if (state.frame || state.disposed) return;
    state.frame = setTimeout(() => {
      state.frame = 0;
      render();
    }, RENDER_DELAY_MS);
  }

  function select(key) {
    state.selected = state.selected === key ? null : key;
    setHashQuietly(toHash(['executions', id], selectionQuery(state.selected)));
    render();
  }

  function render() {
    if (state.disposed || !state.record) return;
    const record = state.record;
    const running = isRunning();
    const model = buildTimeline({ record, events: state.events, now: serverNow() });
    const done = model.done;
    const status = running ? 'running' : (record.status === 'running' && done ? statusFromDone(done) : record.status);

    // Header
    if (status !== state.lastStatus) {
      replace(statusSlot, statusBadge(status));
      if (status !== 'running') cancelNote.textContent = '';
      if (state.lastStatus === 'running') announce(`Execution ${shortId(id)} finished: ${status}`);
      state.lastStatus = status;
    }
    view.dataset.status = status;
    cancelButton.hidden = !running;
    streamNote.textContent = {
      connecting: running ? 'connecting…' : '',
      live: running ? '● live' : '',
      unavailable: running ? 'live stream unavailable — refreshing every 2 s' : '',
    }[state.streamState] || '';
    streamNote.className = `stream-note small ${state.streamState}`;
    prompt.textContent = record.prompt || '';
    // A cancelled or interrupted execution carries an `error` too; it is not a failure.
    const errorKind = { cancelled: 'muted', interrupted: 'warn' }[status] || 'error';
    replaceIfChanged(errorBox, record.error
      ? h('div', { class: ['notice', `notice-${errorKind}`], 'data-testid': 'execution-error' },
        h('strong', { text: errorKind === 'error' ? 'Error: ' : `${status[0].toUpperCase()}${status.slice(1)}: ` }),
        record.error)
      : null);

    renderFacts(record, model, status);
    renderUsage(record, running);

    // Timeline
    timeline.dataset.live = String(running);
    timeline.dataset.events = String(state.events.length);
    timeline.dataset.liveEvents = String(state.liveEvents);
    renderTimeline(timeline, model, { selected: state.selected, onSelect: select, now: serverNow() });

    renderDetail(model);
    renderResponse(record, running);
    renderEvents(model);

    clearTimeout(state.tick);
    if (running) state.tick = setTimeout(scheduleRender, TICK_MS);
  }

  function renderFacts(record, model, status) {
    const failed = model.calls.filter((c) => c.status === 'failed').length;
    const duration = record.duration_ms ?? (model.running ? model.end - model.start : null);
    const done = model.done;
    const items = [
      ['Agent', h('a', { href: toHash(['agents', record.agent_id]), text: record.agent_id })],
      ['Runtime', record.runtime_type],
      ['Model', h('code', { text: record.model || '—' })],
      ['Started', h('span', { title: record.started_at, text: fmtDateTime(record.started_at) })],
      ['Duration', h('span', { 'data-testid': 'execution-duration' }, model.running ? `${fmtMs(duration)}…` : fmtMs(duration))],
      ['Finish reason', h('span', { 'data-testid': 'finish-reason',
        text: record.finish_reason || (done && done.finish_reason) || (status === 'running' ? '—' : 'none') })],
      ['Tool calls', h('span', {}, String(model.calls.length),
        failed ? h('span', { class: 'status-failed', text: ` · ${failed} failed` }) : null)],
    ];
    replaceIfChanged(facts, items.map(([k, v]) => h('div', { class: 'fact' }, h('dt', { text: k }), h('dd', {}, v))));
  }

  function renderUsage(record, running) {
    // While running, the latest `usage` event (cumulative) is the best we have.
    let u = record.usage || {};
    if (running || !record.usage) {
      const last = [...state.events].reverse().find((e) => e.type === 'usage');
      if (last) u = last;
    }
    usage.dataset.inputTokens = String(u.input_tokens ?? 0);
    usage.dataset.outputTokens = String(u.output_tokens ?? 0);
    usage.dataset.totalTokens = String(u.total_tokens ?? 0);
    replaceIfChanged(usage,
      h('h2', { class: 'visually-hidden', text: 'Usage' }),
      h('div', { class: 'stats' },
        tokenStat('Input', u.input_tokens), tokenStat('Output', u.output_tokens),
        tokenStat('Total', u.total_tokens, 'total')),
      h('div', { class: 'usage-foot muted small' },
        `${fmtInt(u.cache_read_tokens ?? 0)} cached`,
        u.model_provider ? ` · ${u.model_provider}` : '',
        running ? ' · so far' : ''));
  }

  function renderDetail(model) {
    const sel = state.selected;
    if (sel && sel.startsWith('call:')) {
      const call = model.calls.find((c) => `call:${c.id}` === sel);
      if (call) return replaceIfChanged(detail, callDetail(call, model));
    } else if (sel && sel.startsWith('turn:')) {
      const turn = model.turns.find((t) => `turn:${t.index}` === sel);
      if (turn) return replaceIfChanged(detail, turnDetail(turn, model));
    }
    replaceIfChanged(detail, h('h2', { id: 'detail-title', text: 'Details' }),
      h('p', { class: 'muted', text: model.calls.length || model.turns.length
        ? 'Select a tool call or a model turn on the timeline to see its input and output.'
        : 'Nothing happened yet.' }));
  }

  function renderResponse(record, running) {
    const streamed = state.events.filter((e) => e.type === 'content_chunk').map((e) => e.text || '').join('');
    const text = !running && record.response ? record.response : streamed || record.response || '';
    if (state.shownResponse !== text) {
      state.shownResponse = text;
      // Rendered Markdown is built from DOM nodes (dom.js), never from an HTML string.
      if (state.rawResponse) replace(responseText, h('pre', { class: 'raw', text }));
      else replace(responseText, renderMarkdown(text));
    }
    responseText.classList.toggle('empty', !text);
    responseText.dataset.placeholder = running ? 'waiting for the response…' : 'no response text';
    const thought = state.events.filter((e) => e.type === 'thinking_delta').map((e) => e.text || '').join('');
    thinking.hidden = !thought;
    const pre = thinking.querySelector('pre');
    if (pre.textContent !== thought) pre.textContent = thought;
  }

  function renderEvents(model) {
    eventCount.textContent = String(state.events.length);
    if (!eventsPanel.open) return; // built when opened
    const shown = state.events.slice(-MAX_LOGGED_EVENTS);
    if (eventList.childElementCount === shown.length && eventList.lastElementChild?.dataset.seq === String(state.lastSeq)) return;
    replace(eventList, shown.map((e) => h('li', { dataset: { seq: e.seq, type: e.type } },
      h('span', { class: 'mono muted', text: `+${fmtMs((parseTime(e.ts) ?? model.start) - model.start)}` }),
      h('span', { class: ['ev-type', `ev-${e.type}`], text: e.type }),
      h('span', { class: 'ev-summary', text: eventSummary(e) }))));
  }
  eventsPanel.addEventListener('toggle', () => scheduleRender());

  load();

  return {
    update(next) {
      const selected = selectionFrom(next.query);
      if (selected !== state.selected) {
        state.selected = selected;
        scheduleRender();
      }
    },
    dispose() {
      state.disposed = true;
      state.source?.close();
      state.source = null;
      stopPolling();
      clearTimeout(state.tick);
      clearTimeout(state.frame);
      resize.disconnect();
    },
  };
}

function statusFromDone(done) {
  const reason = done.finish_reason;
  if (reason === 'cancelled') return 'cancelled';
  if (reason === 'error') return 'error';
  return 'success';
}

function selectionFrom(query) {
  if (query.get('call')) return `call:${query.get('call')}`;
  if (query.get('turn')) return `turn:${query.get('turn')}`;
  return null;
}

function selectionQuery(selected) {
  if (!selected) return null;
  const [kind, value] = [selected.slice(0, selected.indexOf(':')), selected.slice(selected.indexOf(':') + 1)];
  return { [kind]: value };
}

function tokenStat(label, value, cls) {
  return h('div', { class: ['stat', cls] },
    h('span', { class: 'stat-value', text: fmtInt(value ?? 0) }),
    h('span', { class: 'stat-label', text: `${label}${cls === 'total' ? ' tokens' : ''}` }));
}

function callDetail(call, model) {
  const duration = call.status === 'running' ? null : (call.durationMs ?? (call.end - call.start));
  const facts = [
    ['Status', statusBadge(call.status)],
    call.errorType ? ['Error type', h('code', { text: call.errorType })] : null,
    ['Duration', call.status === 'running' ? 'running…' : fmtMs(duration)],
    ['Started', `+${fmtMs(call.start - model.start)} (${fmtClock(call.start)})`],
    call.source || call.server ? ['Source', `${call.source || '?'}${call.server ? ` · ${call.server}` : ''}`] : null,
    ['Call id', h('code', { text: call.id })],
  ].filter(Boolean);
  const output = call.output ?? '';
  return [
    h('h2', { id: 'detail-title', class: 'detail-title' }, h('code', { text: call.tool })),
    h('dl', { class: 'kv' }, facts.map(([k, v]) => [h('dt', { text: k }), h('dd', {}, v)])),
    h('h3', { text: 'Input' }),
    h('pre', { class: 'code', 'data-testid': 'call-input', tabindex: '0', text: call.input === undefined ? '(not known)' : prettyJson(call.input) }),
    call.error ? [h('h3', { text: 'Error' }), h('pre', { class: 'code error-text', 'data-testid': 'call-error', tabindex: '0', text: call.error })] : null,
    call.status !== 'running' && (output || !call.error) ? [
      h('h3', {}, 'Output', call.outputMayBeCut ? h('span', { class: 'muted small', text: ' (first 1000 characters while running)' }) : null),
      h('pre', { class: ['code', !output && 'empty'], 'data-testid': 'call-output', tabindex: '0', text: output || '(empty)' }),
    ] : null,
    call.metadata && Object.keys(call.metadata).length
      ? h('details', {}, h('summary', { text: 'Metadata' }), h('pre', { class: 'code', text: prettyJson(call.metadata) }))
      : null,
  ];
}

function turnDetail(turn, model) {
  const ms = turn.end - turn.start;
  const facts = [
    ['Duration', turn.running ? 'in progress' : fmtMs(ms)],
    ['Started', `+${fmtMs(turn.start - model.start)} (${fmtClock(turn.start)})`],
    turn.usage ? ['Tokens', `${fmtInt(turn.usage.input_tokens)} in · ${fmtInt(turn.usage.output_tokens)} out · ${fmtInt(turn.usage.total_tokens)} total`] : null,
    ['Tool calls after it', String(turn.toolCalls)],
  ].filter(Boolean);
  return [
    h('h2', { id: 'detail-title', class: 'detail-title' }, `Model turn ${turn.index}`,
      turn.running ? h('span', { class: 'muted small', text: ' (in progress)' }) : null),
    turn.inferred ? h('p', { class: 'muted small', text: 'No usage events were recorded: this turn is inferred from the gaps between tool calls.' }) : null,
    h('dl', { class: 'kv' }, facts.map(([k, v]) => [h('dt', { text: k }), h('dd', {}, v)])),
    turn.thinking ? [h('h3', { text: 'Thinking' }), h('pre', { class: 'code', text: turn.thinking })] : null,
    turn.text ? [h('h3', { text: 'Text' }), h('pre', { class: 'code', text: turn.text })] : null,
  ];
}

function eventSummary(e) {
  switch (e.type) {
    case 'content_chunk':
    case 'thinking_delta':
      return JSON.stringify(e.text || '');
    case 'tool_start':
      return `${e.tool_name} ${JSON.stringify(e.tool_args ?? {})}`;
    case 'tool_complete':
      return `${e.tool_name} ${e.status} in ${fmtMs(e.duration_ms)}${e.error ? ` — ${e.error}` : ''}`;
    case 'usage':
      return `${fmtInt(e.input_tokens)} in · ${fmtInt(e.output_tokens)} out · ${fmtInt(e.total_tokens)} total (cumulative)`;
    case 'done':
      return `finish reason: ${e.finish_reason}`;
    default:
      return '';
  }
}
