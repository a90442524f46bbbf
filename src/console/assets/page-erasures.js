// Erasures: the ledger with open and overdue counts per recipient agency and each deadline's
// countdown, a CSV export, and one erasure's page with every recipient's progress. An agency sees
// the erasures it requested whole and the ones it was sent as its own obligations (view "owed":
// its own rows only).
'use strict';

(function (CJ) {
  const h = CJ.h;
  CJ.pages = CJ.pages || {};

  function deadline(e, now) {
    if (e.status === 'complete') return h('span', {class: 'muted'}, 'confirmed');
    if (e.status === 'superseded') return h('span', {class: 'muted'}, 'superseded');
    const ms = new Date(e.deadline_at).getTime() - now;
    if (isNaN(ms)) return '';
    return ms >= 0
      ? h('span', {class: 'countdown'}, CJ.fmtDuration(ms) + ' left')
      : h('span', {class: 'countdown overdue'}, 'overdue by ' + CJ.fmtDuration(-ms));
  }

  function perAgency(ers) {
    const m = new Map();
    for (const e of ers) {
      if (e.status !== 'open' && e.status !== 'overdue') continue;
      for (const r of e.recipient_states || []) {
        if (r.ack_status === 'completed' || r.state === 'suppressed') continue;
        const c = m.get(r.recipient_ori) || {ori: r.recipient_ori, open: 0, overdue: 0};
        if (r.overdue) c.overdue++; else c.open++;
        m.set(r.recipient_ori, c);
      }
    }
    return Array.from(m.values()).sort((a, b) => b.overdue - a.overdue || a.ori.localeCompare(b.ori));
  }

  function filterQuery(status, extra) {
    const q = new URLSearchParams();
    if (status) q.set('status', status);
    for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
    return q.toString();
  }

  async function exportCsv(status) {
    const resp = await CJ.api.request('/v1/erasures?' + filterQuery(status, {format: 'csv'}), {accept: 'text/csv'});
    const blob = await resp.blob();
    const url = URL.createObjectURL(blob);
    const a = h('a', {href: url, download: 'erasures.csv', class: 'sr-only'}, 'erasures.csv');
    document.body.appendChild(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 60000);
    CJ.ui.status('Exported the ledger as erasures.csv (' + CJ.fmtInt(blob.size) + ' bytes).');
  }

  CJ.pages.erasures = async function (ctx) {
    ctx.title('Erasures');
    const st = CJ.state.erasures || (CJ.state.erasures = {status: ''});
    const statusSel = h('select', {id: 'erasure-status', name: 'status'},
      h('option', {value: ''}, 'Any status'),
      ['open', 'overdue', 'complete', 'superseded'].map((s) => h('option', {value: s}, s)));
    statusSel.value = st.status;
    const form = h('form', {id: 'erasure-filter', class: 'inline-form', 'aria-label': 'Filter erasures'},
      h('div', {class: 'field'}, h('label', {for: 'erasure-status'}, 'Status'), statusSel),
      h('button', {type: 'submit', class: 'secondary', id: 'erasure-apply'}, 'Show'),
      h('button', {type: 'button', class: 'primary', id: 'export-csv', on: {click: async (ev) => {
        const btn = ev.currentTarget;
        btn.disabled = true;
        try { await exportCsv(st.status); } catch (e) { CJ.ui.problem(e); } finally { btn.disabled = false; }
      }}}, 'Export CSV'));
    const agencies = h('div', {class: 'panel-body'});
    const ledger = h('div', {class: 'panel-body'});
    ctx.root.append(form,
      CJ.section('Open and overdue by agency', 'erasure-agencies-section', agencies),
      CJ.section('Ledger', 'erasure-ledger', ledger));

    async function load() {
      const data = await CJ.api.getJSON('/v1/erasures?' + filterQuery(st.status, {limit: '1000'}));
      if (!ctx.alive()) return;
      const ers = (data.erasures || []).slice().reverse();   // newest first
      const now = Date.now();
      CJ.clear(agencies).appendChild(CJ.table({id: 'erasure-agencies', caption: 'Acknowledgements owed, by recipient agency',
        rows: perAgency(ers), empty: 'No agency owes a confirmation.',
        columns: [{label: 'Agency', cell: (r) => r.ori},
          {label: 'Open', num: true, cell: (r) => CJ.fmtInt(r.open)},
          {label: 'Overdue', num: true, cell: (r) => (r.overdue ? h('strong', {class: 'overdue'}, CJ.fmtInt(r.overdue)) : '0')}]}));
      CJ.clear(ledger).append(CJ.table({id: 'erasures-table', caption: 'Erasures, newest first', rows: ers,
        empty: 'No erasure matches.',
        rowAttrs: (e) => ({'data-erasure-id': e.erasure_id, 'data-status': e.status}),
        columns: [
          {label: 'Received (UTC)', cell: (e) => CJ.timeEl(e.received_at)},
          {label: 'Case key', cell: (e) => e.case_key},
          {label: 'Scope', cell: (e) => e.scope},
          {label: 'Requested by', cell: (e) => e.requested_by},
          {label: 'Yours', cell: (e) => (e.view === 'owed' ? CJ.badge('to confirm', 'owed')
            : e.view === 'requested' ? CJ.badge('requested', 'requested') : '')},
          {label: 'Status', cell: (e) => CJ.badge(e.status)},
          {label: 'Deadline', cell: (e) => deadline(e, now)},
          {label: 'Confirmed', num: true, cell: (e) => e.confirmed + ' of ' + e.recipients},
          {label: 'Details', cell: (e) => h('a', {href: '#/erasures/' + e.erasure_id, class: 'erasure-link'}, 'Details',
            CJ.srOnly(' of the erasure received ' + CJ.fmtTime(e.received_at)))},
        ]}),
      data.next ? h('p', {class: 'muted'}, 'Showing the first 1,000 erasures; export the CSV for all of them.') : '');
    }

    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      st.status = statusSel.value;
      CJ.ui.clearErrors();
      load().catch(CJ.ui.problem);
    });
    await load();
  };

  function confirmation(r) {
    if (r.ack_status === 'completed') return CJ.badge('confirmed');
    if (r.ack_status === 'rejected') return CJ.badge('rejected');
    if (r.state === 'suppressed') return CJ.badge('suppressed');
    return h('span', null, CJ.badge('awaited'),
      r.overdue ? [' ', CJ.badge('overdue')] : (r.follow_up_due ? [' ', CJ.badge('follow-up due', 'followup')] : null));
  }

  CJ.pages.erasure = async function (ctx) {
    ctx.title('Erasure');
    const id = ctx.params.id;
    const e = await CJ.loadById(ctx, 'Erasure', id, '/v1/erasures/' + id);
    if (!e) return;
    ctx.title('Erasure of ' + (e.scope === 'case' ? 'a case' : 'charges'));
    const owed = e.view === 'owed';
    ctx.root.append(
      h('p', null, h('a', {href: '#/erasures'}, 'Back to the ledger')),
      owed ? h('p', {class: 'notice', id: 'erasure-owed'}, 'Your agency was sent this notice. ' +
        (e.status === 'complete' ? 'It confirmed the deletion; nothing more is owed.'
          : 'Delete the case\'s records and send an acknowledgement with status "completed" before the deadline.') +
        ' Only your own confirmation is shown here.') : '',
      CJ.section('Summary', 'erasure-summary', CJ.defs([
        ['Erasure id', h('a', {href: '#/messages/' + e.erasure_id, class: 'mono'}, e.erasure_id)],
        ['Case key', e.case_key],
        ['Scope', e.scope],
        ['Requested by', e.requested_by],
        ['Status', CJ.badge(e.status)],
        ['Received', CJ.timeEl(e.received_at)],
        ['Follow-up from', CJ.timeEl(e.follow_up_at)],
        ['Deadline', h('span', null, CJ.timeEl(e.deadline_at), ' (', deadline(e, Date.now()), ')')],
        owed ? null : ['Messages redacted', CJ.fmtInt(e.redacted_messages)],
        owed ? null : ['Deliveries suppressed', CJ.fmtInt(e.suppressed_deliveries)],
        [owed ? 'Your endpoints' : 'Recipients', e.recipients + ' (delivered ' + e.delivered + ', acknowledged ' + e.acknowledged +
          ', confirmed ' + e.confirmed + ', rejected ' + e.rejected + ', overdue ' + e.overdue + ')'],
      ])),
      CJ.section('Recipients', 'erasure-recipients-section', CJ.table({id: 'erasure-recipients',
        caption: 'Each recipient\'s delivery, acknowledgement and confirmation', rows: e.recipient_states || [],
        empty: 'No recipient must confirm this erasure.',
        rowAttrs: (r) => ({'data-recipient': r.recipient_ori}),
        columns: [
          {label: 'Recipient', cell: (r) => r.recipient_ori + '/' + r.endpoint},
          {label: 'Delivery state', cell: (r) => CJ.badge(r.state)},
          {label: 'Delivered', cell: (r) => CJ.timeEl(r.delivered_at)},
          {label: 'Acknowledged', cell: (r) => (r.acknowledged_at
            ? h('span', null, CJ.timeEl(r.acknowledged_at), ' ', CJ.badge(r.ack_status || 'received'), r.ack_reason ? ' ' + r.ack_reason : '')
            : h('span', {class: 'muted'}, 'not yet'))},
          {label: 'Confirmation', cell: confirmation},
          {label: 'Attempts', num: true, cell: (r) => CJ.fmtInt(r.attempts)},
          {label: 'Last error', cell: (r) => r.last_error || ''},
        ]})));
  };
})(window.CJ);
