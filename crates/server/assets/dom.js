/*! DOM building, formatting, hash-route and Markdown helpers shared by the dashboard's views.
 *
 * Every piece of server-provided text reaches the page through `h()` as a text
 * node or an attribute value, never through innerHTML, so it cannot become markup.
 */

/**
 * Creates an element. `attrs` keys: `class`, `text`, `dataset` (object), `on`
 * (event name → handler), `style` (object of CSS properties), booleans for
 * boolean attributes, anything else set with setAttribute. Children may be
 * strings, numbers, nodes, arrays, or null/undefined/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) if (v !== undefined && v !== null) el.dataset[k] = String(v);
    } else if (key === 'on') {
      for (const [event, handler] of Object.entries(value)) el.addEventListener(event, handler);
    } else if (key === 'style') {
      for (const [prop, v] of Object.entries(value)) el.style.setProperty(prop, v);
    } else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * Like `replace`, but leaves the element alone when the new children would render
 * the same markup, so that periodic re-renders keep focus, selection and scroll.
 */
export function replaceIfChanged(el, ...children) {
  const scratch = document.createElement(el.tagName);
  append(scratch, children);
  // Keep <details> the person opened open.
  const before = el.querySelectorAll('details');
  scratch.querySelectorAll('details').forEach((details, i) => {
    if (before[i] && before[i].open) details.open = true;
  });
  if (scratch.innerHTML === el.innerHTML) return el; // reading serialised markup, never writing it
  el.replaceChildren(...scratch.childNodes);
  return el;
}

/** A millisecond duration for people: `840 ms`, `3.21 s`, `2 min 05 s`. */
export function fmtMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  ms = Math.max(0, Math.round(ms));
  if (ms < 1000) return `${ms} ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const min = Math.floor(ms / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  if (min < 60) return `${min} min ${String(s).padStart(2, '0')} s`;
  return `${Math.floor(min / 60)} h ${String(min % 60).padStart(2, '0')} min`;
}

/** A short axis label: `0`, `250 ms`, `1.5 s`, `2 min`. */
export function fmtTick(ms) {
  if (ms === 0) return '0';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(2)} s`;
  return `${+(ms / 60_000).toFixed(2)} min`;
}

const numberFormat = new Intl.NumberFormat();

/** A token count with grouping: `4,683`. */
export function fmtInt(n) {
  return n === null || n === undefined ? '—' : numberFormat.format(n);
}

/** Milliseconds since the epoch from an RFC 3339 string, or null. */
export function parseTime(iso) {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** Local time of day with milliseconds, for precise event times. */
export function fmtClock(ms) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** A date and time for lists: today `14:03:22`, otherwise `Nov 28 14:03`. */
export function fmtDateTime(iso) {
  const t = parseTime(iso);
  if (t === null) return '—';
  const d = new Date(t);
  const today = new Date();
  if (d.toDateString() === today.toDateString()) {
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }
  return d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** `3 min ago`, for a title or a secondary label. */
export function fmtAgo(iso, now = Date.now()) {
  const t = parseTime(iso);
  if (t === null) return '';
  const s = Math.round((now - t) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** The first 8 characters of an id, as shown in lists (the full id goes in a title). */
export function shortId(id) {
  return String(id || '').slice(0, 8);
}

/** Pretty JSON for a `<pre>`; strings are shown as they are. */
export function prettyJson(value) {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

const STATUS_ICONS = {
  running: '●',
  success: '✓',
  error: '✕',
  failed: '✕',
  cancelled: '⊘',
  interrupted: '!',
};

/** A status pill; the icon keeps it readable without colour. */
export function statusBadge(status, attrs = {}) {
  const s = status || 'unknown';
  return h(
    'span',
    { class: ['badge', `status-${s}`], dataset: { status: s }, ...attrs },
    h('span', { class: 'badge-icon', 'aria-hidden': 'true', text: STATUS_ICONS[s] || '?' }),
    s,
  );
}

/** The icon for a status, for compact labels. */
export function statusIcon(status) {
  return STATUS_ICONS[status] || '?';
}

/** Says something to screen readers through the page's polite live region. */
export function announce(message) {
  const region = document.getElementById('announcer');
  if (!region) return;
  // Clearing first makes repeated identical messages be read again.
  region.textContent = '';
  setTimeout(() => {
    region.textContent = message;
  }, 50);
}

/** A view's loading / empty / error placeholder; `error` ones are tagged `load-error`. */
export function notice(kind, ...children) {
  return h('div', {
    class: ['notice', `notice-${kind}`],
    role: kind === 'error' ? 'alert' : null,
    'data-testid': kind === 'error' ? 'load-error' : null,
  }, ...children);
}

// ---------------------------------------------------------------------------
// Hash routes
// ---------------------------------------------------------------------------

/** `{path: ['executions', id], query: URLSearchParams}` from the current hash. */
export function parseHash(hash = location.hash) {
  let raw = hash.replace(/^#/, '');
  if (/^[a-z_]+=/.test(raw)) raw = `?${raw}`; // `#token=…` alone
  const [path, query = ''] = raw.split('?', 2);
  return {
    path: path.split('/').filter(Boolean).map(safeDecode),
    query: new URLSearchParams(query),
  };
}

function safeDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The hash for a path and query, e.g. `#/executions?agent=demo`. */
export function toHash(path, query) {
  const q = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '' && v != null)) : null;
  const qs = q && q.toString();
  return `#/${path.map(encodeURIComponent).join('/')}${qs ? `?${qs}` : ''}`;
}

/** Rewrites the hash without a navigation (no hashchange), e.g. a selection. */
export function setHashQuietly(hash) {
  if (location.hash !== hash) history.replaceState(history.state, '', hash);
}

// ---------------------------------------------------------------------------
// Markdown: a small subset rendered to DOM nodes (never to an HTML string), for
// model responses: paragraphs, headings, bullet and numbered lists, fenced code,
// block quotes, and inline **bold**, *emphasis*, `code` and [links](http…).
// Anything else stays literal text.
// ---------------------------------------------------------------------------

/** Renders `text` into a DocumentFragment. */
export function renderMarkdown(text) {
  const out = document.createDocumentFragment();
  const lines = String(text || '').replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = line.match(/^\s*(```|~~~)\s*([\w+-]*)\s*$/);
    if (fence) {
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i += 1; // the closing fence
      out.appendChild(h('pre', { class: 'code', dataset: { lang: fence[2] || undefined } }, h('code', { text: body.join('\n') })));
      continue;
    }
    if (!line.trim()) {
      i += 1;
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      out.appendChild(h(`h${Math.min(6, heading[1].length + 2)}`, { class: 'md-heading' }, inline(heading[2])));
      i += 1;
      continue;
    }
    const listItem = /^\s*([-*+]|\d+[.)])\s+/;
    if (listItem.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const list = h(ordered ? 'ol' : 'ul');
      while (i < lines.length && listItem.test(lines[i])) {
        let item = lines[i].replace(listItem, '');
        i += 1;
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !listItem.test(lines[i])) item += ` ${lines[i++].trim()}`;
        list.appendChild(h('li', {}, inline(item)));
      }
      out.appendChild(list);
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quote = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) quote.push(lines[i++].replace(/^\s*>\s?/, ''));
      out.appendChild(h('blockquote', {}, renderMarkdown(quote.join('\n'))));
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !listItem.test(lines[i]) && !/^(#{1,6})\s/.test(lines[i])
      && !/^\s*(```|~~~)/.test(lines[i]) && !/^\s*>/.test(lines[i])) para.push(lines[i++]);
    const p = h('p');
    para.forEach((l, n) => {
      if (n) p.appendChild(h('br'));
      p.appendChild(inline(l));
    });
    out.appendChild(p);
  }
  return out;
}

const INLINE = /(`+)([^`]+?)\1|\*\*([^*]+?)\*\*|__([^_]+?)__|\*([^*\s][^*]*?)\*|_([^_\s][^_]*?)_|\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g;

function inline(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) frag.appendChild(document.createTextNode(text.slice(last, m.index)));
    if (m[2] !== undefined) frag.appendChild(h('code', { text: m[2] }));
    else if (m[3] !== undefined || m[4] !== undefined) frag.appendChild(h('strong', {}, inline(m[3] ?? m[4])));
    else if (m[5] !== undefined || m[6] !== undefined) frag.appendChild(h('em', {}, inline(m[5] ?? m[6])));
    else frag.appendChild(h('a', { href: m[8], rel: 'noopener noreferrer', target: '_blank', text: m[7] }));
    last = m.index + m[0].length;
  }
  if (last < text.length) frag.appendChild(document.createTextNode(text.slice(last)));
  return frag;
}
