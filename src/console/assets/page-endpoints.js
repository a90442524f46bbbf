// Endpoints: state, backlog, dead letters, last error and the month's availability; for operators
// Pause (with a reason), Resume and the endpoint's dead letters with a Replay button each.
'use strict';

(function (CJ) {
  const h = CJ.h;
  CJ.pages = CJ.pages || {};

  function key(e) { return e.agency + '/' + e.endpoint; }

  function path(e, action) {
    return '/v1/admin/endpoints/' + encodeURIComponent(e.agency) + '/' + encodeURIComponent(e.endpoint) + '/' + action;
  }

  function availabilityIndex(card) {
    const m = new Map();
    for (const a of (card && card.agencies) || []) for (const e of a.endpoints || []) m.set(a.agency + '/' + e.endpoint, e);
    return m;
  }

  function stateCell(e) {
    return h('span', null, CJ.badge(e.paused ? 'paused' : 'active'),
      e.paused && e.paused_reason ? h('span', {class: 'reason'}, ' ' + e.paused_reason) : null,
      !e.paused && e.consecutive_failures ? h('span', {class: 'reason'}, ' ' + e.consecutive_failures + ' consecutive failures') : null);
  }

  // The last failure: `last_error` and `last_status` when given, else the latest outage's cause;
  // with when it last failed and last answered.
  function lastErrorCell(e) {
    const parts = [];
    const outage = (e.recent_outages || [])[0];
    const statusInError = e.last_error && /^HTTP \d{3}/.test(e.last_error);
    if (e.last_status !== undefined && e.last_status !== null && !statusInError) parts.push(h('span', {class: 'last-status'}, 'HTTP ' + e.last_status + ' '));
    if (e.last_error) parts.push(h('span', {class: 'last-error'}, e.last_error));
    else if (outage) {
      parts.push(h('span', {class: 'last-error'}, outage.last_cause || outage.cause || 'outage'),
        h('span', {class: 'muted'}, outage.ended_at ? ' (outage ended ' + CJ.fmtTime(outage.ended_at) + ')' : ' (outage open since ' + CJ.fmtTime(outage.started_at) + ')'));
    }
    const failedAt = e.last_error_at || e.last_failure_at;
    if (failedAt) parts.push(h('div', {class: 'muted small'}, 'Last failure ', CJ.timeEl(failedAt)));
    if (e.last_success_at) parts.push(h('div', {class: 'muted small'}, 'Last success ', CJ.timeEl(e.last_success_at)));
    return parts.length ? h('span', null, parts) : h('span', {class: 'muted'}, 'none');
  }

  CJ.pages.endpoints = async function (ctx) {
    ctx.title('Endpoints');
    const operator = CJ.ui.isOperator();
    const tableBox = h('div', {class: 'panel-body'});
    const dlSection = h('section', {id: 'dead-letters', class: 'panel', 'aria-labelledby': 'dead-letters-heading', hidden: true});
    ctx.root.append(CJ.section(operator ? 'Every endpoint' : 'Your endpoints', 'endpoints-list', tableBox), dlSection);

    async function pause(e) {
      const c = await CJ.ui.confirm({title: 'Pause ' + key(e) + '?',
        text: 'Nothing is sent to ' + key(e) + ' until it is resumed; its backlog waits, in order. Deliveries in flight finish.',
        confirmLabel: 'Pause', askReason: true});
      if (!c.ok) return;
      try {
        await CJ.api.postJSON(path(e, 'pause'), {reason: c.reason});
        CJ.ui.status('Paused ' + key(e) + '.');
        await load(key(e), 'resume-button');
      } catch (err) { CJ.ui.problem(err); }
    }

    async function resume(e) {
      const c = await CJ.ui.confirm({title: 'Resume ' + key(e) + '?',
        text: 'Deliveries to ' + key(e) + ' start again with its backlog, in order.', confirmLabel: 'Resume'});
      if (!c.ok) return;
      try {
        await CJ.api.postJSON(path(e, 'resume'), {});
        CJ.ui.status('Resumed ' + key(e) + '.');
        await load(key(e), 'pause-button');
      } catch (err) { CJ.ui.problem(err); }
    }

    async function showDeadLetters(e) {
      CJ.clear(dlSection).hidden = false;
      dlSection.dataset.endpoint = key(e);
      const heading = h('h2', {id: 'dead-letters-heading', tabindex: '-1'}, 'Dead letters of ' + key(e));
      const body = h('div', {class: 'panel-body'}, h('p', {class: 'muted'}, 'Loading…'));
      dlSection.append(heading, body);
      heading.focus();
      let list;
      try {
        const q = new URLSearchParams({agency: e.agency, endpoint: e.endpoint});
        list = (await CJ.api.getJSON('/v1/admin/dead-letters?' + q.toString())).dead_letters || [];
      } catch (err) {
        CJ.clear(body).appendChild(h('p', {class: 'notice'}, 'The dead letters could not be listed.'));
        CJ.ui.problem(err);
        return;
      }
      const results = new Map();
      const buttons = new Map();
      const tbl = CJ.table({id: 'dead-letters-table', caption: 'Dead letters of ' + key(e) + ', oldest first', rows: list,
        empty: 'No dead letters.',
        rowAttrs: (d) => ({'data-delivery-id': d.delivery_id}),
        columns: [
          {label: 'Delivery', cell: (d) => h('span', {class: 'mono'}, d.delivery_id)},
          {label: 'Message', cell: (d) => h('a', {href: '#/messages/' + d.message_id}, d.message_type, CJ.srOnly(' message ' + d.message_id))},
          {label: 'Died', cell: (d) => CJ.timeEl(d.dead_at)},
          {label: 'Attempts', num: true, cell: (d) => CJ.fmtInt(d.attempts)},
          {label: 'Last error', cell: (d) => d.last_error || (d.last_status ? 'HTTP ' + d.last_status : '')},
          {label: 'Action', cell: (d) => {
            const res = h('span', {class: 'replay-result'});
            const btn = h('button', {type: 'button', class: 'primary replay-button', 'data-delivery-id': d.delivery_id,
              on: {click: async (ev) => {
                if (await CJ.replayDelivery(d.delivery_id, 'to ' + key(e), ev.currentTarget, res)) refreshCounts();
              }}},
            'Replay', CJ.srOnly(' delivery ' + d.delivery_id));
            results.set(d.delivery_id, res);
            buttons.set(d.delivery_id, btn);
            return h('span', null, btn, ' ', res);
          }},
        ]});
      const all = list.length > 1 ? h('button', {type: 'button', class: 'secondary', id: 'replay-all', on: {click: async () => {
        const c = await CJ.ui.confirm({title: 'Replay all ' + list.length + ' dead letters of ' + key(e) + '?',
          text: 'Every dead letter listed here is sent again. Fix the cause first.', confirmLabel: 'Replay all'});
        if (!c.ok) return;
        let n = 0;
        for (const d of list) {
          if (buttons.get(d.delivery_id).disabled) continue;
          try {
            const r = await CJ.api.postJSON('/v1/admin/dead-letters/replay', {delivery_id: d.delivery_id});
            if (r.replayed) { n++; results.get(d.delivery_id).textContent = 'Replayed'; buttons.get(d.delivery_id).disabled = true; }
          } catch (err) { CJ.ui.problem(err); break; }
        }
        CJ.ui.status('Replayed ' + n + ' dead letter' + (n === 1 ? '' : 's') + ' of ' + key(e) + '.');
        if (n) refreshCounts();
      }}}, 'Replay all') : null;
      CJ.clear(body).append(tbl, h('div', {class: 'actions'}, all,
        h('button', {type: 'button', class: 'secondary', id: 'dead-letters-close', on: {click: () => {
          dlSection.hidden = true;
          load();
        }}}, 'Close')));
    }

    // After a replay: the table's counts, without moving the focus from the dead letters.
    function refreshCounts() {
      load().catch(CJ.ui.problem);
    }

    function actions(e) {
      const label = CJ.srOnly(' ' + key(e));
      return h('span', {class: 'row-actions'},
        e.paused
          ? h('button', {type: 'button', class: 'secondary resume-button', on: {click: () => resume(e)}}, 'Resume', label)
          : h('button', {type: 'button', class: 'secondary pause-button', on: {click: () => pause(e)}}, 'Pause', label),
        e.dead_letters > 0
          ? h('button', {type: 'button', class: 'secondary dead-letters-button', on: {click: () => showDeadLetters(e)}},
            'Replay dead letters', CJ.srOnly(' of ' + key(e)))
          : null);
    }

    // Loads the table; focusKey/focusClass put the focus back on a row's button after an action.
    async function load(focusKey, focusClass) {
      const [list, card] = await Promise.all([
        CJ.api.getJSON('/v1/endpoints'),
        CJ.api.getJSON(operator ? '/v1/admin/scorecard' : '/v1/scorecard').catch((e) => { CJ.ui.problem(e); return null; }),
      ]);
      if (!ctx.alive()) return;
      const avail = availabilityIndex(card);
      const columns = [
        {label: 'Endpoint', cell: (e) => key(e)},
        {label: 'State', cls: 'endpoint-state', cell: stateCell},
        {label: 'Backlog', num: true, cls: 'endpoint-backlog', cell: (e) => CJ.fmtInt(e.backlog)},
        {label: 'Dead letters', num: true, cls: 'endpoint-dead-letters', cell: (e) => CJ.fmtInt(e.dead_letters)},
        {label: 'Last error', cell: lastErrorCell},
        {label: 'Availability (month)', num: true, cell: (e) => {
          const a = avail.get(key(e));
          return a ? CJ.fmtPercent(a.availability) : h('span', {class: 'muted'}, '—');
        }},
        {label: 'URL', cls: 'url', cell: (e) => e.url},
      ];
      if (operator) columns.push({label: 'Actions', cell: actions});
      const eps = list.endpoints || [];
      CJ.clear(tableBox).appendChild(CJ.table({id: 'endpoints-table', caption: 'Endpoints: state, backlog and failures', rows: eps,
        empty: 'No endpoints.', rowAttrs: (e) => ({'data-endpoint': key(e), 'data-paused': e.paused ? 'true' : 'false'}), columns: columns}));
      if (focusKey) {
        const btn = tableBox.querySelector('tr[data-endpoint="' + CSS.escape(focusKey) + '"] .' + focusClass);
        if (btn) btn.focus();
      }
    }

    await load();
  };
})(window.CJ);
