// Small DOM and formatting helpers shared by the console's pages. Everything is built with DOM
// APIs and text nodes: no markup from strings, so data from the hub is never parsed as HTML.
'use strict';

window.CJ = window.CJ || {};

(function (CJ) {
  // h('a', {href: '#/x', class: 'y', on: {click: fn}}, 'text', child, [more children])
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  function setAttrs(el, attrs) {
    if (!attrs) return;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'on') {
        for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      } else if (k === 'dataset') {
        for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
      } else if (k === 'text') {
        el.textContent = String(v);
      } else if (v === true) {
        el.setAttribute(k, '');
      } else {
        el.setAttribute(k, String(v));
      }
    }
  }

  function append(el, children) {
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      if (Array.isArray(c)) append(el, c);
      else if (c instanceof Node) el.appendChild(c);
      else el.appendChild(document.createTextNode(String(c)));
    }
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  // Text for screen readers only (e.g. which row a "Pause" button belongs to).
  function srOnly(text) {
    return h('span', {class: 'sr-only'}, text);
  }

  // "2026-12-04 23:00:12 UTC" (to the second); '' for nothing.
  function fmtTime(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  }

  function timeEl(iso) {
    if (!iso) return h('span', {class: 'muted'}, '—');
    return h('time', {datetime: iso}, fmtTime(iso));
  }

  // A duration in milliseconds, in the two largest units: "3 d 4 h", "12 min 5 s".
  function fmtDuration(ms) {
    let s = Math.max(0, Math.round(ms / 1000));
    const units = [['d', 86400], ['h', 3600], ['min', 60], ['s', 1]];
    const parts = [];
    for (const [name, size] of units) {
      const n = Math.floor(s / size);
      if (n > 0 || (size === 1 && parts.length === 0)) {
        parts.push(n + ' ' + name);
        s -= n * size;
      } else if (parts.length) {
        break;
      }
      if (parts.length === 2) break;
    }
    return parts.join(' ');
  }

  function fmtPercent(ratio, digits) {
    if (ratio === null || ratio === undefined || isNaN(ratio)) return 'not watched';
    return (ratio * 100).toFixed(digits === undefined ? 3 : digits) + ' %';
  }

  function fmtInt(n) {
    return (n === undefined || n === null) ? '—' : Number(n).toLocaleString('en-US');
  }

  // A state badge: its text is the state itself, so colour is never the only cue.
  function badge(text, kind) {
    return h('span', {class: 'badge badge-' + (kind || String(text).replace(/[^a-z_]/gi, '').toLowerCase())}, text);
  }

  // table({caption, columns: [{label, cell(row) -> node|string, num}], rows, empty, rowAttrs(row)})
  function table(opts) {
    const thead = h('thead', null, h('tr', null,
      opts.columns.map((c) => h('th', {scope: 'col', class: c.num ? 'num' : null}, c.label))));
    const tbody = h('tbody');
    for (const row of opts.rows) {
      const tr = h('tr', opts.rowAttrs ? opts.rowAttrs(row) : null);
      opts.columns.forEach((c, i) => {
        const value = c.cell(row);
        if (i === 0 && opts.rowHeader !== false) tr.appendChild(h('th', {scope: 'row', class: c.num ? 'num' : null}, value));
        else tr.appendChild(h('td', {class: [c.num ? 'num' : '', c.cls || ''].join(' ').trim() || null}, value));
      });
      tbody.appendChild(tr);
    }
    const t = h('table', {class: 'data', id: opts.id},
      h('caption', null, opts.caption), thead, tbody);
    const wrap = h('div', {class: 'table-wrap'}, t);
    if (opts.rows.length === 0) wrap.appendChild(h('p', {class: 'empty'}, opts.empty || 'Nothing to show.'));
    return wrap;
  }

  // <dl> from [[term, value], ...]; values may be nodes.
  function defs(pairs, cls) {
    const dl = h('dl', {class: cls || 'defs'});
    for (const pair of pairs) {
      if (!pair) continue;   // a row left out for this reader
      const [term, value] = pair;
      dl.appendChild(h('dt', null, term));
      dl.appendChild(h('dd', null, value === '' || value === undefined || value === null ? h('span', {class: 'muted'}, '—') : value));
    }
    return dl;
  }

  function section(title, id, ...children) {
    const headingId = (id || 'sec-' + title.toLowerCase().replace(/[^a-z0-9]+/g, '-')) + '-heading';
    return h('section', {id: id, 'aria-labelledby': headingId, class: 'panel'},
      h('h2', {id: headingId}, title), children);
  }

  function isUuid(s) {
    return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
  }

  CJ.h = h;
  // The notice a page shows for an id that is not there, or not this agency's to see.
  function notFound(kind) {
    return h('div', {class: 'notice', id: 'not-found'},
      h('h2', null, kind + ' not found'),
      h('p', null, 'No ' + kind.toLowerCase() + ' with this id is visible to your agency.'));
  }

  // A page's object by its id: the JSON at `path`, or null after showing `kind` not found (an id
  // that is not a UUID, or a 404). Any other problem is thrown to the page.
  async function loadById(ctx, kind, id, path) {
    try {
      if (!isUuid(id)) throw new CJ.Problem(404, {title: 'not found'});
      return await CJ.api.getJSON(path);
    } catch (err) {
      if (err instanceof CJ.Problem && err.status === 404) {
        ctx.title(kind + ' not found');
        ctx.root.appendChild(notFound(kind));
        return null;
      }
      throw err;
    }
  }

  CJ.notFound = notFound;
  CJ.loadById = loadById;
  CJ.clear = clear;
  CJ.srOnly = srOnly;
  CJ.fmtTime = fmtTime;
  CJ.timeEl = timeEl;
  CJ.fmtDuration = fmtDuration;
  CJ.fmtPercent = fmtPercent;
  CJ.fmtInt = fmtInt;
  CJ.badge = badge;
  CJ.table = table;
  CJ.defs = defs;
  CJ.section = section;
  CJ.isUuid = isUuid;
})(window.CJ);
