// Line charts drawn as SVG with DOM APIs (no library). Each chart is an image with a title and
// a text description for assistive technology, and comes with its figures as a table.
'use strict';

(function (CJ) {
  const NS = 'http://www.w3.org/2000/svg';
  const h = CJ.h;
  let seq = 0;

  function s(tag, attrs, ...children) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    for (const c of children) el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }

  // The top of the y axis: four equal whole steps (1, 2, 3, 5, 10, 20, 25, 50, ...).
  function niceMax(v) {
    const raw = Math.max(1, v / 4);
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of (p >= 10 ? [1, 2, 2.5, 5, 10] : [1, 2, 3, 5, 10])) if (m * p >= raw) return 4 * m * p;
    return 40 * p;
  }

  // Axis labels: hours and minutes, with seconds when the chart spans less than ten minutes.
  function timeLabel(d, spanMs) {
    return d.toISOString().slice(11, spanMs < 600000 ? 19 : 16);
  }

  // lineChart({id, title, unit, times: [Date], series: [{name, cls, values: [number]}]})
  function lineChart(o) {
    const n = ++seq;
    const W = 640, H = 220, L = 48, R = 12, T = 12, B = 28;
    const pw = W - L - R, ph = H - T - B;
    const all = o.series.flatMap((x) => x.values);
    const ymax = niceMax(Math.max(0, ...all));
    const count = o.times.length;
    const span = count > 1 ? o.times[count - 1] - o.times[0] : 0;
    const hhmm = (d) => timeLabel(d, span);
    const x = (i) => L + (count <= 1 ? pw / 2 : (i * pw) / (count - 1));
    const y = (v) => T + ph - (v / ymax) * ph;

    const titleId = 'chart-' + n + '-title', descId = 'chart-' + n + '-desc';
    const last = o.series.map((sr) => sr.name + ' ' + (sr.values.length ? sr.values[sr.values.length - 1] : 'no data')).join(', ');
    const desc = count
      ? o.title + ' from ' + hhmm(o.times[0]) + ' to ' + hhmm(o.times[count - 1]) + ' UTC, ' + count +
        ' samples, highest ' + Math.max(0, ...all) + ' ' + o.unit + '; latest: ' + last + '.'
      : 'No samples yet.';
    const svg = s('svg', {viewBox: '0 0 ' + W + ' ' + H, class: 'chart', role: 'img',
      'aria-labelledby': titleId + ' ' + descId, focusable: 'false'},
    s('title', {id: titleId}, o.title), s('desc', {id: descId}, desc));

    // Grid and y axis: five lines.
    for (let i = 0; i <= 4; i++) {
      const v = (ymax * i) / 4;
      const yy = y(v);
      svg.appendChild(s('line', {x1: L, x2: W - R, y1: yy, y2: yy, class: i === 0 ? 'axis' : 'grid'}));
      svg.appendChild(s('text', {x: L - 6, y: yy + 4, class: 'tick', 'text-anchor': 'end'},
        Number.isInteger(v) ? v : v.toFixed(1)));
    }
    // X labels: first, middle, last.
    const labels = count > 2 ? [0, Math.floor((count - 1) / 2), count - 1] : [...Array(count).keys()];
    for (const i of labels) {
      svg.appendChild(s('text', {x: x(i), y: H - 8, class: 'tick',
        'text-anchor': i === 0 && count > 1 ? 'start' : (i === count - 1 && count > 1 ? 'end' : 'middle')}, hhmm(o.times[i])));
    }
    for (const sr of o.series) {
      if (!sr.values.length) continue;
      const pts = sr.values.map((v, i) => x(i).toFixed(1) + ',' + y(v).toFixed(1)).join(' ');
      svg.appendChild(s('polyline', {points: pts, class: 'line ' + sr.cls, fill: 'none'}));
      if (sr.values.length === 1) svg.appendChild(s('circle', {cx: x(0), cy: y(sr.values[0]), r: 3, class: 'dot ' + sr.cls}));
    }

    const legend = h('ul', {class: 'legend', 'aria-hidden': 'true'},
      o.series.map((sr) => h('li', null, h('span', {class: 'swatch ' + sr.cls}), sr.name)));

    // The same figures as a table (the last 30 samples), for reading rather than seeing.
    const rows = o.times.map((t, i) => ({t: t, i: i})).slice(-30).reverse();
    const data = h('details', {class: 'chart-data'}, h('summary', null, 'Figures: ' + o.title),
      CJ.table({caption: o.title + ' (latest first)', rows: rows,
        columns: [{label: 'Time (UTC)', cell: (r) => r.t.toISOString().slice(11, 19)}]
          .concat(o.series.map((sr) => ({label: sr.name, num: true, cell: (r) => CJ.fmtInt(sr.values[r.i])})))}));

    return h('figure', {class: 'chart-figure', id: o.id}, h('figcaption', null, o.title + ' (' + o.unit + ')'), svg, legend, data);
  }

  CJ.charts = {lineChart: lineChart};
})(window.CJ);
