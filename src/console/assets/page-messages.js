// Messages: the search (its form and pages kept in memory only, never in the URL) and one
// message's page: metadata, the document as a collapsible tree, each recipient's timeline.
'use strict';

(function (CJ) {
  const h = CJ.h;
  CJ.pages = CJ.pages || {};

  const STATES = ['pending', 'in_flight', 'delivered', 'acknowledged', 'rejected', 'dead', 'suppressed'];
  const FIELDS = [
    {name: 'case_key', id: 'f-case-key', label: 'Case key'},
    {name: 'type', id: 'f-type', label: 'Message type'},
    {name: 'sender', id: 'f-sender', label: 'Sender ORI'},
    {name: 'recipient', id: 'f-recipient', label: 'Recipient ORI'},
  ];
  const PAGE_SIZE = 50;

  // A datetime-local value ("2026-12-04T23:00") read as UTC.
  function utc(v) {
    if (!v) return '';
    return (v.length === 16 ? v + ':00' : v) + 'Z';
  }

  function query(filters, cursor) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    q.set('limit', String(PAGE_SIZE));
    if (cursor) q.set('cursor', cursor);
    return '/v1/messages?' + q.toString();
  }

  function searchForm(state, onSearch) {
    const f = state.form;
    const inputs = {};
    const fields = FIELDS.map((d) => {
      inputs[d.name] = h('input', {type: 'text', id: d.id, name: d.name, autocomplete: 'off', spellcheck: 'false', value: f[d.name] || ''});
      return h('div', {class: 'field'}, h('label', {for: d.id}, d.label), inputs[d.name]);
    });
    const stateSel = h('select', {id: 'f-state', name: 'state'},
      h('option', {value: ''}, 'Any state'), STATES.map((s) => h('option', {value: s}, s.replace('_', ' '))));
    stateSel.value = f.state || '';
    const from = h('input', {type: 'datetime-local', id: 'f-from', name: 'received_from', value: f.received_from || ''});
    const to = h('input', {type: 'datetime-local', id: 'f-to', name: 'received_to', value: f.received_to || ''});
    const form = h('form', {id: 'search-form', class: 'search-form', 'aria-label': 'Search messages'},
      h('div', {class: 'fields'}, fields,
        h('div', {class: 'field'}, h('label', {for: 'f-state'}, 'Delivery state'), stateSel),
        h('div', {class: 'field'}, h('label', {for: 'f-from'}, 'Received from (UTC)'), from),
        h('div', {class: 'field'}, h('label', {for: 'f-to'}, 'Received before (UTC)'), to)),
      h('div', {class: 'actions'},
        h('button', {type: 'submit', class: 'primary', id: 'search-submit'}, 'Search'),
        h('button', {type: 'button', class: 'secondary', id: 'search-clear', on: {click: () => {
          form.reset();
          for (const i of Object.values(inputs)) i.value = '';
          stateSel.value = ''; from.value = ''; to.value = '';
        }}}, 'Clear')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const values = {};
      for (const [k, i] of Object.entries(inputs)) values[k] = i.value.trim();
      values.state = stateSel.value;
      values.received_from = from.value;
      values.received_to = to.value;
      onSearch(values);
    });
    return form;
  }

  function recipientsCell(m) {
    const rs = m.recipients || [];
    if (!rs.length) return h('span', {class: 'muted'}, 'none');
    return h('ul', {class: 'plain'}, rs.map((r) => h('li', null, r.recipient_ori + '/' + r.endpoint + ' ', CJ.badge(r.state))));
  }

  function resultsTable(page, pageNo) {
    const rows = page.messages || [];
    return CJ.table({
      id: 'messages-table', caption: 'Messages, newest first (page ' + pageNo + ')', rows: rows,
      empty: 'No message matches.',
      rowAttrs: (m) => ({'data-message-id': m.message_id, 'data-type': m.type, class: m.erased ? 'erased' : null}),
      columns: [
        {label: 'Received (UTC)', cell: (m) => CJ.timeEl(m.received_at)},
        {label: 'Type', cell: (m) => m.type},
        {label: 'Sender', cell: (m) => m.sender_ori},
        {label: 'Case key', cell: (m) => m.case_key || h('span', {class: 'muted'}, '—')},
        {label: 'Recipients', cell: recipientsCell},
        {label: 'Message', cell: (m) => h('span', null,
          h('a', {href: '#/messages/' + m.message_id, class: 'message-link mono'}, m.message_id),
          m.erased ? [' ', CJ.badge('erased')] : null)},
      ]});
  }

  CJ.pages.messages = async function (ctx) {
    ctx.title('Messages');
    const st = CJ.state.search || (CJ.state.search = {form: {}, filters: {}, cursors: [null], page: 0});
    const results = CJ.section('Results', 'messages-results');
    const body = h('div', {class: 'panel-body'});
    results.appendChild(body);

    // moveFocus: after "Next page" / "Previous page" (the button itself is replaced), the
    // keyboard continues at the results' heading.
    async function load(moveFocus) {
      const main = document.getElementById('main');
      main.setAttribute('aria-busy', 'true');
      try {
        const data = await CJ.api.getJSON(query(st.filters, st.cursors[st.page]));
        if (!ctx.alive()) return;
        if (data.next) st.cursors[st.page + 1] = data.next;
        else st.cursors.length = st.page + 1;
        const nav = h('div', {class: 'actions pager'},
          st.page > 0 ? h('button', {type: 'button', class: 'secondary', id: 'prev-page', on: {click: () => { st.page--; load(true); }}}, 'Previous page') : null,
          data.next ? h('button', {type: 'button', class: 'secondary', id: 'next-page', on: {click: () => { st.page++; load(true); }}}, 'Next page') : null);
        CJ.clear(body).append(resultsTable(data, st.page + 1), nav);
        if (moveFocus) {
          const heading = results.querySelector('h2');
          heading.setAttribute('tabindex', '-1');
          heading.focus();
        }
        const n = (data.messages || []).length;
        CJ.ui.status(n ? n + ' message' + (n === 1 ? '' : 's') + ' on page ' + (st.page + 1) + (data.next ? '; more follow.' : '.') : 'No message matches.');
      } catch (e) {
        CJ.clear(body).appendChild(h('p', {class: 'notice'}, 'The search failed.'));
        CJ.ui.problem(e);
      } finally {
        if (ctx.alive()) main.setAttribute('aria-busy', 'false');
      }
    }

    const form = searchForm(st, (values) => {
      CJ.ui.clearErrors();
      st.form = values;
      st.filters = Object.assign({}, values, {received_from: utc(values.received_from), received_to: utc(values.received_to)});
      st.cursors = [null];
      st.page = 0;
      load();
    });
    ctx.root.append(CJ.section('Search', 'messages-search', form), results);
    await load();
  };

  // --- one message ---------------------------------------------------------------------------
  function redacted(why) {
    return h('div', {class: 'redacted', id: 'redacted'},
      h('p', {class: 'redacted-title'}, 'Redacted: erased by operation of law'),
      h('p', null, why || 'The document of this message was removed from the hub. Its metadata remains for the record.'));
  }

  function metadata(m) {
    return CJ.defs([
      ['Message id', h('span', {class: 'mono'}, m.message_id)],
      ['Type', m.type],
      ['Sender', m.sender_ori],
      ['Case key', m.case_key],
      ['Origin', m.origin_ori],
      ['Jurisdiction', m.jurisdiction],
      ['Document id', m.document_id],
      // The sender's own key: the hub shows it to the sender and operators only.
      ...(m.idempotency_key === undefined ? [] : [['Idempotency key', m.idempotency_key]]),
      ['Erases its case', m.erasure ? 'yes' : 'no'],
      ['Received', CJ.timeEl(m.received_at)],
      ['Stored', CJ.timeEl(m.stored_at)],
      ['Size', CJ.fmtInt(m.body_size) + ' bytes'],
      ['SHA-256', h('span', {class: 'mono break'}, m.body_sha256)],
    ]);
  }

  async function documentPanel(m, box) {
    if (m.payload_removed) {
      box.appendChild(redacted());
      return;
    }
    try {
      const resp = await CJ.api.request('/v1/messages/' + m.message_id + '/document', {accept: 'application/xml'});
      const text = await resp.text();
      const tree = CJ.xml.tree(text);
      box.append(h('div', {class: 'actions'},
        h('button', {type: 'button', class: 'secondary', id: 'xml-expand', on: {click: () => CJ.xml.setAllOpen(tree, true)}}, 'Expand all'),
        h('button', {type: 'button', class: 'secondary', id: 'xml-collapse', on: {click: () => CJ.xml.setAllOpen(tree, false)}}, 'Collapse all')),
      tree);
    } catch (e) {
      if (e instanceof CJ.Problem && (e.status === 410 || e.is('payload-removed'))) box.appendChild(redacted(e.detail || undefined));
      else {
        box.appendChild(h('p', {class: 'notice'}, 'The document could not be loaded.'));
        CJ.ui.problem(e);
      }
    }
  }

  function timelineStep(label, value, done) {
    return h('li', {class: done ? 'done' : 'todo'}, h('span', {class: 'step-label'}, label), ' ', value);
  }

  // Each attempt with when it began, the answer (its status, or none) and how long it took.
  function attemptsTable(r) {
    const rows = r.attempt_history || [];
    if (!rows.length) return '';
    const first = Math.max(1, r.attempts - rows.length + 1);
    return h('div', {class: 'attempts'},
      CJ.table({id: 'attempts-' + r.delivery_id, caption: 'Attempts to ' + r.recipient_ori + '/' + r.endpoint, rows: rows,
        rowAttrs: (a) => ({'data-status': a.status === undefined ? 'none' : String(a.status)}),
        columns: [
          {label: '#', num: true, cell: (a) => String(first + rows.indexOf(a))},
          {label: 'Began (UTC)', cell: (a) => CJ.timeEl(a.at)},
          {label: 'Answer', cell: (a) => (a.status === undefined ? CJ.badge('no answer', 'failing')
            : CJ.badge(String(a.status), a.status >= 200 && a.status < 300 ? 'ok' : 'failing'))},
          {label: 'Took', num: true, cell: (a) => CJ.fmtInt(a.took_ms) + ' ms'},
          {label: 'Error', cell: (a) => a.error || ''},
        ]}),
      first > 1 ? h('p', {class: 'muted small'}, 'The ' + rows.length + ' latest of ' + r.attempts + ' attempts.') : '');
  }

  function recipientTimeline(m, r, onReplay) {
    const attempts = [String(r.attempts) + ' attempt' + (r.attempts === 1 ? '' : 's')];
    if (r.last_status !== undefined) attempts.push('last status ' + r.last_status);
    if (r.last_error) attempts.push('last error: ' + r.last_error);
    if (r.waiting_for_earlier_message) attempts.push('waiting for an earlier message of the case');
    else if (r.next_attempt_at) attempts.push('next attempt ' + CJ.fmtTime(r.next_attempt_at));
    let ack;
    if (r.acknowledged_at) {
      ack = timelineStep('Acknowledged', [CJ.timeEl(r.acknowledged_at), ' ', CJ.badge(r.ack_status || 'received'),
        r.ack_reason ? ' ' + r.ack_reason : ''], true);
    } else if (r.ack_required) {
      ack = timelineStep('Acknowledgement', 'awaited', false);
    }
    const art = h('article', {class: 'recipient', 'data-recipient': r.recipient_ori, 'data-endpoint': r.endpoint,
      'data-state': r.state, 'data-delivery-id': r.delivery_id, 'aria-labelledby': 'rcpt-' + r.delivery_id},
    h('h3', {id: 'rcpt-' + r.delivery_id}, r.recipient_ori + '/' + r.endpoint + ' ', CJ.badge(r.state)),
    h('ol', {class: 'timeline'},
      timelineStep('Received by the hub', CJ.timeEl(m.received_at), true),
      timelineStep('Attempts', [attempts.join('; '), attemptsTable(r)], r.attempts > 0),
      timelineStep('Delivered', r.delivered_at ? CJ.timeEl(r.delivered_at) : 'not yet', !!r.delivered_at),
      ack,
      timelineStep('State', CJ.badge(r.state), true)),
    h('p', {class: 'muted small'}, 'Delivery ', h('span', {class: 'mono'}, r.delivery_id)));
    if (r.state === 'dead' && CJ.ui.isOperator()) {
      const result = h('span', {class: 'replay-result'});
      art.appendChild(h('div', {class: 'actions'},
        h('button', {type: 'button', class: 'primary replay-button', 'data-delivery-id': r.delivery_id,
          on: {click: (ev) => onReplay(r, ev.currentTarget, result)}}, 'Replay', CJ.srOnly(' delivery to ' + r.recipient_ori + '/' + r.endpoint)),
        result));
    }
    return art;
  }

  CJ.replayDelivery = async function (deliveryId, what, button, result) {
    const c = await CJ.ui.confirm({title: 'Replay this dead letter?',
      text: 'The delivery ' + deliveryId + ' ' + what + ' will be sent again. Fix the cause first: an endpoint that still refuses it makes a new dead letter.',
      confirmLabel: 'Replay'});
    if (!c.ok) return false;
    try {
      const r = await CJ.api.postJSON('/v1/admin/dead-letters/replay', {delivery_id: deliveryId});
      const n = r.replayed || 0;
      const text = n ? 'Replayed' : 'Not replayed (no longer a dead letter)';
      if (result) result.textContent = text;
      if (button && n) button.disabled = true;
      CJ.ui.status(n ? 'Replayed delivery ' + deliveryId + '.' : 'Delivery ' + deliveryId + ' was not replayed: it is no longer a dead letter.');
      return n > 0;
    } catch (e) {
      CJ.ui.problem(e);
      return false;
    }
  };

  CJ.pages.message = async function (ctx) {
    ctx.title('Message');
    const id = ctx.params.id;
    const m = await CJ.loadById(ctx, 'Message', id, '/v1/messages/' + id);
    if (!m) return;
    ctx.title(m.type + ' message');
    const back = h('p', null, h('a', {href: '#/messages'}, 'Back to the search'));
    const doc = h('div', {class: 'panel-body'});
    const recips = m.recipients || [];
    const timeline = CJ.section('Recipients', 'message-timeline',
      recips.length ? recips.map((r) => recipientTimeline(m, r, (rr, btn, res) =>
        CJ.replayDelivery(rr.delivery_id, 'to ' + rr.recipient_ori + '/' + rr.endpoint, btn, res)))
        : h('p', {class: 'muted'}, 'No subscription matched: the message went to no recipient.'));
    if (m.payload_removed) {
      ctx.root.appendChild(h('p', {class: 'redacted redacted-banner', id: 'redacted-banner'},
        'Redacted: erased by operation of law. Only the record of this message remains.'));
    }
    ctx.root.append(back, CJ.section('Metadata and routing keys', 'message-meta', metadata(m)),
      timeline, CJ.section('Document', 'message-document', doc));
    await documentPanel(m, doc);
  };

})(window.CJ);
