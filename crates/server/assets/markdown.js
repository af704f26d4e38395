/*! A small Markdown subset rendered to DOM nodes (never to an HTML string), for
 * model responses: paragraphs, headings, bullet and numbered lists, fenced code,
 * block quotes, and inline **bold**, *emphasis*, `code` and [links](http…).
 * Anything else stays literal text.
 */

import { h } from './dom.js';

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
