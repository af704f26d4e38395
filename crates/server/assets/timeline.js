/*! An execution's timeline: the model (what happened when) and its rendering.
 *
 * `buildTimeline` is pure: from the stored execution (if any) and its events it
 * derives tool calls and model turns on one time axis.
 *  - A tool call comes from its `tool_start`/`tool_complete` events and, once the
 *    execution is stored, from its ToolCallRecord (whose times win: they are the
 *    call log's own). They are matched by id (`tool_execution_id` = `tool_use_id`),
 *    else by tool name in order.
 *  - Each `usage` event ends a model turn (one is sent after every model call). A
 *    turn starts at the execution start, or where the tool batch that followed the
 *    previous turn ended. Without any usage event (events missing, or a runtime
 *    that reports none), turns are inferred as the gaps between tool batches.
 *
 * `renderTimeline` lays that out in pixels: a "Model" row and as many tool lanes
 * as overlapping calls need (parallel calls get separate lanes).
 */

import { fmtInt, fmtMs, fmtTick, h, parseTime, statusIcon } from './dom.js';

const CANCEL_PATTERN = /cancel/i;

function callStatusFromRecord(rc) {
  if (rc.success) return 'success';
  return rc.error_type === 'cancelled' ? 'cancelled' : 'failed';
}

/**
 * @param {object} args
 * @param {object|null} args.record  GET /api/v1/executions/{id}, or null before it arrived
 * @param {object[]} args.events     SSE events, in seq order
 * @param {number} args.now          the server's "now" in ms since the epoch
 */
export function buildTimeline({ record, events, now }) {
  const ts = (e) => parseTime(e.ts);
  const done = events.find((e) => e.type === 'done') || null;
  const firstTs = events.length ? ts(events[0]) : null;
  const start = parseTime(record && record.started_at) ?? firstTs ?? now;
  const running = (!record || record.status === 'running') && !done;

  // -- tool calls ------------------------------------------------------------
  const calls = [];
  const byId = new Map();
  for (const e of events) {
    if (e.type === 'tool_start') {
      const call = {
        id: e.tool_execution_id, tool: e.tool_name, input: e.tool_args, start: ts(e), end: null,
        status: 'running', durationMs: null, output: null, error: null, errorType: null,
        source: null, server: null, metadata: null, fromRecord: false, outputMayBeCut: false,
      };
      byId.set(call.id, call);
      calls.push(call);
    } else if (e.type === 'tool_complete') {
      let call = byId.get(e.tool_execution_id);
      if (!call) {
        // A stream resumed mid-call: place it by its duration.
        call = { id: e.tool_execution_id, tool: e.tool_name, input: undefined, start: ts(e) - (e.duration_ms || 0),
          fromRecord: false };
        byId.set(call.id, call);
        calls.push(call);
      }
      call.durationMs = e.duration_ms ?? null;
      call.end = call.durationMs !== null ? call.start + call.durationMs : ts(e);
      call.status = e.status === 'success' ? 'success' : CANCEL_PATTERN.test(e.error || '') ? 'cancelled' : 'failed';
      call.output = e.output ?? null;
      call.error = e.error ?? null;
      call.outputMayBeCut = (e.output || '').length >= 1000;
    }
  }
  const recordCalls = (record && record.tool_calls) || [];
  const matched = new Set();
  const pending = [];
  for (const rc of recordCalls) {
    const call = rc.tool_use_id && byId.get(rc.tool_use_id);
    if (call && !matched.has(call)) {
      matched.add(call);
      mergeRecord(call, rc);
    } else pending.push(rc);
  }
  for (const rc of pending) {
    let call = calls.find((c) => !matched.has(c) && !c.fromRecord && c.tool === rc.tool);
    if (!call) {
      call = { id: rc.tool_use_id || `call-${calls.length + 1}`, tool: rc.tool, start: null, end: null };
      calls.push(call);
    }
    matched.add(call);
    mergeRecord(call, rc);
  }
  calls.sort((a, b) => (a.start ?? 0) - (b.start ?? 0));

  // -- the end of the axis ---------------------------------------------------
  const known = [start];
  for (const c of calls) known.push(c.start, c.end);
  for (const e of events) known.push(ts(e));
  const lastKnown = Math.max(...known.filter((t) => t !== null && t !== undefined));
  const finished = parseTime(record && record.finished_at) ?? (done ? ts(done) : null);
  const end = Math.max(running ? Math.max(now, lastKnown) : (finished ?? lastKnown), lastKnown);

  // A call still open when the execution is over never completed (interrupted).
  for (const c of calls) {
    if (c.status === 'running' && !running) {
      c.status = 'cancelled';
      c.end = end;
      c.neverCompleted = true;
    }
  }

  // -- model turns -----------------------------------------------------------
  const turns = [];
  let turnStart = start;
  let lastUsageAt = null;
  let batch = [];
  let previousUsage = { input_tokens: 0, output_tokens: 0, total_tokens: 0 };
  let text = '';
  let thinking = '';
  let usageEvents = 0;
  const batchEnd = () => {
    let t = lastUsageAt ?? start;
    for (const c of batch) t = Math.max(t, c.end ?? c.start ?? t);
    return t;
  };
  for (const e of events) {
    if (e.type === 'tool_start') {
      const call = byId.get(e.tool_execution_id);
      if (call) batch.push(call);
    } else if (e.type === 'content_chunk') text += e.text || '';
    else if (e.type === 'thinking_delta') thinking += e.text || '';
    else if (e.type === 'usage') {
      usageEvents += 1;
      if (lastUsageAt !== null) turnStart = batchEnd();
      const at = ts(e);
      turns.push({
        index: turns.length + 1, start: Math.min(turnStart, at), end: at, running: false, inferred: false,
        usage: {
          input_tokens: (e.input_tokens || 0) - previousUsage.input_tokens,
          output_tokens: (e.output_tokens || 0) - previousUsage.output_tokens,
          total_tokens: (e.total_tokens || 0) - previousUsage.total_tokens,
        },
        toolCalls: 0, text, thinking,
      });
      if (turns.length > 1) turns[turns.length - 2].toolCalls = batch.length;
      previousUsage = e;
      lastUsageAt = at;
      batch = [];
      text = '';
      thinking = '';
    }
  }
  if (turns.length) turns[turns.length - 1].toolCalls = batch.length;

  if (running && !batch.some((c) => c.status === 'running')) {
    // The model is at work now: since the start, or since the last batch ended.
    const from = lastUsageAt === null ? start : batchEnd();
    turns.push({ index: turns.length + 1, start: from, end: Math.max(from, end), running: true, inferred: false,
      usage: null, toolCalls: 0, text, thinking });
  } else if (usageEvents === 0 && !running) {
    turns.push(...inferTurns(calls, start, end));
  }

  return { start, end, running, calls, turns, usageEvents, done };
}

function mergeRecord(call, rc) {
  call.fromRecord = true;
  call.tool = rc.tool;
  call.input = rc.input;
  call.output = rc.output ?? null;
  call.error = rc.error ?? null;
  call.errorType = rc.error_type ?? null;
  call.source = rc.source ?? null;
  call.server = rc.server ?? null;
  call.metadata = rc.metadata ?? null;
  call.durationMs = rc.duration_ms ?? null;
  call.start = parseTime(rc.start_time) ?? call.start;
  call.end = parseTime(rc.end_time) ?? (call.start !== null && call.durationMs !== null ? call.start + call.durationMs : call.end);
  call.status = callStatusFromRecord(rc);
  call.outputMayBeCut = false;
  call.record = rc;
}

/** Calls that overlap in time form a batch: `[{start, end, calls}]`. */
export function batchesOf(calls) {
  const sorted = calls.filter((c) => c.start !== null).sort((a, b) => a.start - b.start);
  const out = [];
  for (const c of sorted) {
    const last = out[out.length - 1];
    const cEnd = c.end ?? c.start;
    if (last && c.start <= last.end) {
      last.end = Math.max(last.end, cEnd);
      last.calls.push(c);
    } else out.push({ start: c.start, end: cEnd, calls: [c] });
  }
  return out;
}

function inferTurns(calls, start, end) {
  const turns = [];
  let from = start;
  const push = (a, b, toolCalls) => {
    if (b - a >= 1) {
      turns.push({ index: turns.length + 1, start: a, end: b, running: false, inferred: true, usage: null,
        toolCalls, text: '', thinking: '' });
    }
  };
  for (const batch of batchesOf(calls)) {
    push(from, batch.start, batch.calls.length);
    from = Math.max(from, batch.end);
  }
  push(from, end, 0);
  return turns;
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

const GAP_PX = 6; // between a bar and its outside label, and between neighbours in a lane

let measureContext = null;
function textWidth(text, font) {
  if (!measureContext) measureContext = document.createElement('canvas').getContext('2d');
  measureContext.font = font;
  return measureContext.measureText(text).width;
}

/** A round tick step (1, 2, 5 × 10^k ms) giving about `target` ticks. */
export function tickStep(spanMs, target) {
  const raw = spanMs / Math.max(1, target);
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

export function callLabel(call) {
  const ms = call.status === 'running' ? null : (call.durationMs ?? (call.end - call.start));
  return `${statusIcon(call.status)} ${call.tool} · ${ms === null ? 'running' : fmtMs(ms)}`;
}

/**
 * Renders `model` into `el` (the `[data-testid=timeline]` element).
 * `selected` is `call:<id>` or `turn:<n>`; `onSelect(key)` is called on a click.
 */
export function renderTimeline(el, model, { selected, onSelect, now }) {
  const gutter = 76; // the row labels' column, as in app.css (--tl-gutter)
  const trackPx = Math.max(200, (el.clientWidth || 1000) - gutter - 12);
  const span = Math.max(1, model.end - model.start);
  const pxPerMs = trackPx / span;
  // Bar labels are 12px at weight 550; measuring at 600 errs on the wide side.
  const font = `600 12px ${getComputedStyle(el).fontFamily || 'sans-serif'}`;
  const pct = (t) => `${(((t - model.start) / span) * 100).toFixed(4)}%`;
  const widthPct = (a, b) => `${((Math.max(0, b - a) / span) * 100).toFixed(4)}%`;
  const displayEnd = (c) => (c.status === 'running' || c.end === null ? Math.max(c.start, model.end) : c.end);

  // Lanes: greedy by start, counting an outside label as part of its bar so that
  // labels never overlap the next bar in their lane.
  const laneEnds = [];
  const placed = model.calls.filter((c) => c.start !== null).map((call) => {
    const x0 = (call.start - model.start) * pxPerMs;
    const x1 = Math.max(x0 + 3, (displayEnd(call) - model.start) * pxPerMs);
    const label = callLabel(call);
    const labelPx = textWidth(label, font) + 4;
    let placement = 'inside';
    let from = x0;
    let to = x1;
    if (x1 - x0 < labelPx) {
      if (x1 + GAP_PX + labelPx <= trackPx) {
        placement = 'right';
        to = x1 + GAP_PX + labelPx;
      } else {
        placement = 'left';
        from = x0 - GAP_PX - labelPx;
      }
    }
    let lane = laneEnds.findIndex((e) => e + GAP_PX <= from);
    if (lane === -1) {
      lane = laneEnds.length;
      laneEnds.push(to);
    } else laneEnds[lane] = to;
    return { call, lane, label, placement };
  });
  const lanes = Math.max(1, laneEnds.length);

  // Ticks
  const step = tickStep(span, Math.floor(trackPx / 110));
  const ticks = [];
  for (let t = 0; t <= span + 0.5; t += step) ticks.push(t);

  const grid = h('div', { class: 'tl-grid', 'aria-hidden': 'true' },
    ticks.map((t) => h('div', { class: 'tl-gridline', style: { left: pct(model.start + t) } })),
    model.running ? h('div', { class: 'tl-now', style: { left: pct(Math.min(now, model.end)) } }) : null);

  const axis = h('div', { class: 'tl-row tl-axis-row', 'aria-hidden': 'true' },
    h('div', { class: 'tl-label' }),
    h('div', { class: 'tl-track tl-axis' },
      ticks.map((t, i) => h('span', {
        class: ['tl-tick', i === 0 && 'first', t > 0 && (span - t) / span < 0.04 && 'last'],
        style: { left: pct(model.start + t) },
        text: fmtTick(t),
      }))));

  const turnRow = h('div', { class: 'tl-row tl-model-row' },
    h('div', { class: 'tl-label', id: 'tl-model-label' }, 'Model'),
    h('div', { class: 'tl-track', role: 'group', 'aria-labelledby': 'tl-model-label' },
      model.turns.map((turn) => turnBar(turn, { pct, widthPct, pxPerMs, selected, onSelect, font }))));

  const laneRows = [];
  for (let lane = 0; lane < lanes; lane++) {
    const inLane = placed.filter((p) => p.lane === lane);
    laneRows.push(h('div', { class: 'tl-row tl-tool-row', dataset: { lane } },
      h('div', { class: 'tl-label', id: `tl-lane-${lane}` },
        lane === 0 ? 'Tools' : h('span', { class: 'visually-hidden', text: `Tools, lane ${lane + 1}` })),
      h('div', { class: 'tl-track', role: 'group', 'aria-labelledby': `tl-lane-${lane}` },
        inLane.map((p) => toolBar(p, { pct, widthPct, displayEnd, selected, onSelect, model })))));
  }
  if (model.calls.length === 0) {
    laneRows.push(h('div', { class: 'tl-row tl-tool-row empty' },
      h('div', { class: 'tl-label', text: 'Tools' }),
      h('div', { class: 'tl-track' }, h('span', { class: 'tl-empty muted small', text: model.running ? 'no tool calls yet' : 'no tool calls' }))));
  }

  el.dataset.durationMs = String(Math.round(span));
  el.dataset.lanes = String(laneEnds.length);
  el.dataset.calls = String(model.calls.length);
  el.dataset.turns = String(model.turns.length);
  el.dataset.running = String(model.running);
  el.setAttribute('aria-label',
    `Timeline: ${model.turns.length} model turn${model.turns.length === 1 ? '' : 's'}, ` +
    `${model.calls.length} tool call${model.calls.length === 1 ? '' : 's'} over ${fmtMs(span)}`);

  // Keep keyboard focus on the same bar across re-renders (live updates).
  const focused = el.contains(document.activeElement) ? document.activeElement.dataset.key : null;
  el.replaceChildren(h('div', { class: 'tl-body' }, grid, axis, turnRow, laneRows));
  if (focused) el.querySelector(`[data-key="${CSS.escape(focused)}"]`)?.focus({ preventScroll: true });
}

function turnBar(turn, { pct, widthPct, pxPerMs, selected, onSelect, font }) {
  const key = `turn:${turn.index}`;
  const ms = turn.end - turn.start;
  const tokens = turn.usage ? `${fmtInt(turn.usage.total_tokens)} tok` : '';
  const full = `turn ${turn.index} · ${turn.running ? 'running' : fmtMs(ms)}${tokens ? ` · ${tokens}` : ''}`;
  const px = ms * pxPerMs;
  const label = [full, `turn ${turn.index} · ${turn.running ? '…' : fmtMs(ms)}`, `${turn.index}`]
    .find((l) => textWidth(l, font) + 14 <= px) || '';
  return h('button', {
    type: 'button',
    class: ['tl-bar', 'turn', turn.running && 'running', turn.inferred && 'inferred', selected === key && 'selected'],
    'data-testid': 'model-turn',
    dataset: { key, turn: turn.index, durationMs: Math.round(ms), tokens: turn.usage ? turn.usage.total_tokens : undefined,
      inferred: turn.inferred ? 'true' : undefined, status: turn.running ? 'running' : 'done' },
    style: { left: pct(turn.start), width: widthPct(turn.start, turn.end) },
    title: `Model turn ${turn.index}${turn.inferred ? ' (inferred from the gaps between tool calls)' : ''}\n` +
      `${turn.running ? 'running' : fmtMs(ms)}${turn.usage ? `\n${fmtInt(turn.usage.input_tokens)} in · ${fmtInt(turn.usage.output_tokens)} out` : ''}`,
    'aria-label': `${full}${turn.inferred ? ', inferred' : ''}`,
    'aria-pressed': selected === key ? 'true' : 'false',
    on: { click: () => onSelect(key) },
  }, h('span', { class: 'tl-bar-label', text: label }));
}

function toolBar({ call, lane, label, placement }, { pct, widthPct, displayEnd, selected, onSelect, model }) {
  const key = `call:${call.id}`;
  const end = displayEnd(call);
  const duration = call.status === 'running' ? Math.round(end - call.start) : Math.round(call.durationMs ?? (end - call.start));
  return h('button', {
    type: 'button',
    class: ['tl-bar', 'tool', `status-${call.status}`, `label-${placement}`, selected === key && 'selected'],
    'data-testid': 'tool-bar',
    dataset: { key, tool: call.tool, durationMs: duration, status: call.status, lane, callId: call.id },
    style: { left: pct(call.start), width: widthPct(call.start, end) },
    title: `${call.tool} — ${call.status}${call.neverCompleted ? ' (never completed)' : ''}\n` +
      `${fmtMs(duration)}, from +${fmtMs(call.start - model.start)}${call.error ? `\n${call.error}` : ''}`,
    'aria-label': `${call.tool}, ${call.status}, ${fmtMs(duration)}`,
    'aria-pressed': selected === key ? 'true' : 'false',
    on: { click: () => onSelect(key) },
  }, h('span', { class: 'tl-bar-label', text: label }));
}
