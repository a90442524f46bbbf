// Overview: for operators the traffic charts (refreshed every 10 s), readiness, dead letters,
// paused endpoints, overdue erasure acknowledgements and the month's availability; for an agency
// its endpoints, its scorecard and its erasures.
'use strict';

(function (CJ) {
  const h = CJ.h;
  CJ.pages = CJ.pages || {};

  // Fills a section from a loader; a failure shows in the section and in the alert region.
  async function fill(sec, load, render) {
    const body = h('div', {class: 'panel-body'}, h('p', {class: 'muted'}, 'Loading…'));
    sec.appendChild(body);
    try {
      const data = await load();
      CJ.clear(body).appendChild(render(data));
    } catch (e) {
      CJ.clear(body).appendChild(h('p', {class: 'notice'}, 'Not available: ' + (e.title || e.message)));
      CJ.ui.problem(e);
    }
  }

  function stat(label, value, id, kind) {
    return h('div', {class: 'stat' + (kind ? ' stat-' + kind : ''), id: id},
      h('p', {class: 'stat-value'}, value), h('p', {class: 'stat-label'}, label));
  }

  // The series: throughput per interval in `points` (accepted, delivered, and failed when
  // given); the backlog either in each point or sampled on its own in `backlog`.
  function renderCharts(series) {
    const pts = series.points || [];
    const per = (series.interval_s || 10) >= 60 && (series.interval_s || 10) % 60 === 0
      ? (series.interval_s / 60 === 1 ? 'minute' : series.interval_s / 60 + ' min')
      : (series.interval_s || 10) + ' s';
    const through = [{name: 'Accepted', cls: 's-accepted', values: pts.map((p) => p.accepted || 0)},
      {name: 'Delivered', cls: 's-delivered', values: pts.map((p) => p.delivered || 0)}];
    if (pts.some((p) => p.failed !== undefined)) {
      through.push({name: 'Failed attempts', cls: 's-failed', values: pts.map((p) => p.failed || 0)});
    }
    const samples = Array.isArray(series.backlog) ? series.backlog : pts;
    return h('div', {class: 'charts'},
      CJ.charts.lineChart({id: 'chart-throughput', title: 'Throughput', unit: 'per ' + per,
        times: pts.map((p) => new Date(p.at)), series: through}),
      CJ.charts.lineChart({id: 'chart-backlog', title: 'Backlog', unit: 'deliveries waiting',
        times: samples.map((p) => new Date(p.at)),
        series: [{name: 'Backlog', cls: 's-backlog', values: samples.map((p) => p.backlog || 0)}]}));
  }

  function readinessTable(r) {
    const comps = Object.entries(r.components || {}).map(([name, c]) => Object.assign({name: name}, c));
    const overall = h('p', null, 'The hub is ', CJ.badge(r.status, r.status === 'ready' ? 'ok' : 'failing'), '.');
    if (!comps.length) return overall;
    return h('div', null, overall, CJ.table({
      id: 'readiness-table', caption: 'Readiness by component', rows: comps,
      columns: [
        {label: 'Component', cell: (c) => c.name},
        {label: 'State', cell: (c) => CJ.badge(c.state || (c.ok ? 'ok' : 'failing'))},
        {label: 'Detail', cell: (c) => c.detail || ''},
      ]}));
  }

  function endpointSummary(list) {
    const eps = list.endpoints || [];
    const dead = eps.reduce((n, e) => n + (e.dead_letters || 0), 0);
    const backlog = eps.reduce((n, e) => n + (e.backlog || 0), 0);
    const paused = eps.filter((e) => e.paused);
    const wrap = h('div', null, h('div', {class: 'stats'},
      stat('Endpoints', CJ.fmtInt(eps.length), 'stat-endpoints'),
      stat('Deliveries waiting', CJ.fmtInt(backlog), 'stat-backlog'),
      stat('Dead letters', CJ.fmtInt(dead), 'stat-dead-letters', dead ? 'warn' : ''),
      stat('Paused endpoints', CJ.fmtInt(paused.length), 'stat-paused', paused.length ? 'warn' : '')));
    if (paused.length) {
      wrap.appendChild(CJ.table({id: 'paused-table', caption: 'Paused endpoints', rows: paused,
        columns: [{label: 'Endpoint', cell: (e) => e.agency + '/' + e.endpoint},
          {label: 'Reason', cell: (e) => e.paused_reason || ''},
          {label: 'Backlog', num: true, cell: (e) => CJ.fmtInt(e.backlog)}]}));
    }
    wrap.appendChild(h('p', null, h('a', {href: '#/endpoints'}, 'All endpoints')));
    return wrap;
  }

  function overdueErasures(list) {
    const ers = list.erasures || [];
    const byAgency = new Map();
    for (const e of ers) {
      for (const r of e.recipient_states || []) {
        if (r.overdue) byAgency.set(r.recipient_ori, (byAgency.get(r.recipient_ori) || 0) + 1);
      }
    }
    const rows = Array.from(byAgency.entries()).map(([ori, n]) => ({ori: ori, n: n}));
    return h('div', null, h('div', {class: 'stats'},
      stat('Overdue erasures', CJ.fmtInt(ers.length), 'stat-overdue-erasures', ers.length ? 'warn' : ''),
      stat('Agencies behind', CJ.fmtInt(rows.length), 'stat-overdue-agencies', rows.length ? 'warn' : '')),
    rows.length ? CJ.table({id: 'overdue-table', caption: 'Overdue acknowledgements by agency', rows: rows,
      columns: [{label: 'Agency', cell: (r) => r.ori}, {label: 'Erasures overdue', num: true, cell: (r) => CJ.fmtInt(r.n)}]}) : null,
    h('p', null, h('a', {href: '#/erasures'}, 'The erasure ledger')));
  }

  function availability(card) {
    const rows = [];
    for (const a of card.agencies || []) for (const e of a.endpoints || []) rows.push(Object.assign({agency: a.agency, name: a.name}, e));
    return h('div', null,
      h('p', null, 'Month ' + card.month + ', objective ' + CJ.fmtPercent(card.objective, 1) + '.'),
      CJ.table({id: 'availability-table', caption: 'Availability of each endpoint this month', rows: rows,
        empty: 'No endpoints.',
        columns: [
          {label: 'Endpoint', cell: (e) => e.agency + '/' + e.endpoint},
          {label: 'Up now', cell: (e) => CJ.badge(e.up ? 'up' : 'down')},
          {label: 'Availability', num: true, cell: (e) => CJ.fmtPercent(e.availability)},
          {label: 'Objective', cell: (e) => CJ.badge(e.met ? 'met' : 'missed')},
          {label: 'Budget left', num: true, cell: (e) => (e.budget_left === undefined ? '—' : CJ.fmtPercent(e.budget_left, 1))},
          {label: 'Outages', num: true, cell: (e) => CJ.fmtInt(e.outages)},
        ]}));
  }

  function agencyErasures(list) {
    const ers = list.erasures || [];
    const count = (s) => ers.filter((e) => e.status === s).length;
    return h('div', null, h('div', {class: 'stats'},
      stat('Open', CJ.fmtInt(count('open')), 'stat-erasures-open'),
      stat('Overdue', CJ.fmtInt(count('overdue')), 'stat-erasures-overdue', count('overdue') ? 'warn' : ''),
      stat('Complete', CJ.fmtInt(count('complete')), 'stat-erasures-complete')),
    h('p', null, h('a', {href: '#/erasures'}, 'Your erasures')));
  }

  CJ.pages.overview = async function (ctx) {
    ctx.title('Overview');
    const get = CJ.api.getJSON;
    if (CJ.ui.isOperator()) {
      const traffic = CJ.section('Traffic', 'traffic');
      const chartsBox = h('div', {class: 'panel-body'});
      traffic.appendChild(h('p', {class: 'muted'}, 'Refreshed every 10 seconds while you use the page.'));
      traffic.appendChild(chartsBox);
      const ready = CJ.section('Readiness', 'readiness');
      const eps = CJ.section('Endpoints and dead letters', 'endpoint-summary');
      const ers = CJ.section('Overdue erasure acknowledgements', 'overdue-erasures');
      const avail = CJ.section('Availability this month', 'availability');
      ctx.root.append(traffic, ready, eps, ers, avail);

      const drawSeries = async () => {
        const s = await get('/v1/series');
        if (ctx.alive()) CJ.clear(chartsBox).appendChild(renderCharts(s));
      };
      await Promise.all([
        drawSeries().catch((e) => {
          CJ.clear(chartsBox).appendChild(h('p', {class: 'notice'}, 'Not available: ' + (e.title || e.message)));
          CJ.ui.problem(e);
        }),
        fill(ready, async () => (await CJ.api.request('/readyz', {allow: [503]})).json(), readinessTable),
        fill(eps, () => get('/v1/endpoints'), endpointSummary),
        fill(ers, () => get('/v1/erasures?status=overdue&limit=1000'), overdueErasures),
        fill(avail, () => get('/v1/admin/scorecard'), availability),
      ]);
      ctx.every(10000, drawSeries);
    } else {
      const eps = CJ.section('Your endpoints', 'endpoint-summary');
      const avail = CJ.section('Availability this month', 'availability');
      const ers = CJ.section('Erasures you requested', 'agency-erasures');
      ctx.root.append(eps, avail, ers);
      await Promise.all([
        fill(eps, () => get('/v1/endpoints'), endpointSummary),
        fill(avail, () => get('/v1/scorecard'), availability),
        fill(ers, () => get('/v1/erasures?limit=1000'), agencyErasures),
      ]);
    }
  };
})(window.CJ);
