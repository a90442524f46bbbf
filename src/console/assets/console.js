// The console's shell: the session, the hash router, the status and error regions and the
// confirmation dialog. Routes carry no subject data: only page names and message or erasure ids.
//   #/overview  #/messages  #/messages/<uuid>  #/endpoints  #/erasures  #/erasures/<uuid>
'use strict';

(function (CJ) {
  const h = CJ.h;
  CJ.pages = CJ.pages || {};
  CJ.state = {};              // per-page memory (e.g. the message search); never in the URL
  CJ.session = null;          // {agency: {ori, name, operator}, idle_timeout_s}

  let generation = 0;
  let timers = [];
  let lastInput = Date.now();

  // --- status and error regions -------------------------------------------------------------
  const ui = {
    status(text) {
      const el = document.getElementById('status');
      el.textContent = '';
      // A fresh text node, so the same message twice is announced twice.
      const gen = generation;
      window.setTimeout(() => { if (gen === generation) el.textContent = text; }, 30);
    },
    clearErrors() {
      CJ.clear(document.getElementById('errors'));
    },
    // Shows a problem (title and detail) in the alert region; other errors by their message.
    problem(err) {
      if (CJ.api.ended()) return;
      const box = document.getElementById('errors');
      const title = err && err.title ? err.title : 'Something went wrong';
      const detail = err && err.title ? err.detail : String((err && err.message) || err);
      box.appendChild(h('div', {class: 'problem'},
        h('p', {class: 'problem-title'}, title + (err && err.status ? ' (HTTP ' + err.status + ')' : '')),
        detail ? h('p', {class: 'problem-detail'}, detail) : null));
      if (!(err instanceof CJ.Problem)) console.warn(err);  // eslint-disable-line no-console
    },
    isOperator() {
      return !!(CJ.session && CJ.session.agency && CJ.session.agency.operator);
    },
    // The user touched the page within the idle timeout: automatic refreshes may go on. (They
    // stop otherwise, so a console left open does not keep its session alive forever.)
    userActive() {
      const limit = (CJ.api.idleTimeoutS() || 900) * 1000;
      return Date.now() - lastInput < limit && !document.hidden;
    },
    confirm: confirmDialog,
  };
  CJ.ui = ui;

  // --- the confirmation dialog --------------------------------------------------------------
  // confirmDialog({title, text, confirmLabel, askReason}) -> Promise<{ok, reason}>
  function confirmDialog(o) {
    const dlg = document.getElementById('confirm-dialog');
    const form = document.getElementById('confirm-form');
    const reasonField = document.getElementById('confirm-reason-field');
    const reason = document.getElementById('confirm-reason');
    const reasonError = document.getElementById('confirm-reason-error');
    const okButton = document.getElementById('confirm-ok');
    const cancelButton = document.getElementById('confirm-cancel');
    const opener = document.activeElement;

    document.getElementById('confirm-title').textContent = o.title;
    document.getElementById('confirm-text').textContent = o.text;
    okButton.textContent = o.confirmLabel || 'Confirm';
    reasonField.hidden = !o.askReason;
    reason.value = '';
    reason.required = !!o.askReason;
    reason.removeAttribute('aria-invalid');
    reason.removeAttribute('aria-describedby');
    reasonError.hidden = true;

    return new Promise((resolve) => {
      function finish(result) {
        form.removeEventListener('submit', onSubmit);
        cancelButton.removeEventListener('click', onCancel);
        dlg.removeEventListener('cancel', onEscape);
        if (dlg.open) dlg.close();
        if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
        resolve(result);
      }
      function onSubmit(ev) {
        ev.preventDefault();
        if (o.askReason && reason.value.trim() === '') {
          reasonError.hidden = false;
          reason.setAttribute('aria-invalid', 'true');
          reason.setAttribute('aria-describedby', 'confirm-reason-error');
          reason.focus();
          return;
        }
        finish({ok: true, reason: reason.value.trim()});
      }
      function onCancel() { finish({ok: false}); }
      function onEscape(ev) { ev.preventDefault(); finish({ok: false}); }
      form.addEventListener('submit', onSubmit);
      cancelButton.addEventListener('click', onCancel);
      dlg.addEventListener('cancel', onEscape);
      dlg.showModal();
      (o.askReason ? reason : cancelButton).focus();
    });
  }

  // --- routing -----------------------------------------------------------------------------
  const routes = [
    [/^#\/overview$/, 'overview'],
    [/^#\/messages$/, 'messages'],
    [/^#\/messages\/([^/]+)$/, 'message'],
    [/^#\/endpoints$/, 'endpoints'],
    [/^#\/erasures$/, 'erasures'],
    [/^#\/erasures\/([^/]+)$/, 'erasure'],
  ];
  const navFor = {overview: 'overview', messages: 'messages', message: 'messages',
    endpoints: 'endpoints', erasures: 'erasures', erasure: 'erasures'};

  function stopTimers() {
    for (const t of timers) window.clearInterval(t);
    timers = [];
  }

  async function route() {
    const hash = window.location.hash || '';
    if (!hash.startsWith('#/')) {
      window.location.replace('#/overview');
      return;
    }
    let name = null, params = {};
    for (const [re, page] of routes) {
      const m = re.exec(hash);
      if (m) { name = page; params = {id: m[1] ? decodeURIComponent(m[1]) : undefined}; break; }
    }
    if (!name) {
      window.location.replace('#/overview');
      return;
    }
    const gen = ++generation;
    stopTimers();
    ui.clearErrors();
    document.getElementById('status').textContent = '';
    const main = document.getElementById('main');
    const page = CJ.clear(document.getElementById('page'));
    main.dataset.page = name;
    main.setAttribute('aria-busy', 'true');
    for (const a of document.querySelectorAll('.site-nav a')) {
      if (a.dataset.page === navFor[name]) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const root = h('div', {class: 'view view-' + name});
    page.appendChild(root);
    const ctx = {
      root: root,
      params: params,
      alive: () => gen === generation,
      title(text) {
        document.getElementById('page-title').textContent = text;
        document.title = text + ' · cjhub console';
      },
      every(ms, fn) {
        const t = window.setInterval(() => {
          if (gen !== generation || CJ.api.ended()) { window.clearInterval(t); return; }
          if (!ui.userActive()) return;
          fn().catch((e) => { if (gen === generation) ui.problem(e); });
        }, ms);
        timers.push(t);
      },
    };
    try {
      await CJ.pages[name](ctx);
    } catch (e) {
      if (gen === generation) ui.problem(e);
    } finally {
      if (gen === generation) {
        main.setAttribute('aria-busy', 'false');
        // Screen readers start reading the new page at its heading.
        document.getElementById('page-title').focus();
      }
    }
  }

  // --- start ---------------------------------------------------------------------------------
  async function boot() {
    for (const ev of ['keydown', 'pointerdown', 'wheel']) {
      document.addEventListener(ev, () => { lastInput = Date.now(); }, {passive: true, capture: true});
    }
    document.getElementById('skip-link').addEventListener('click', (ev) => {
      ev.preventDefault();
      document.getElementById('page-title').focus();
    });
    CJ.api.onSessionEnd(() => {
      stopTimers();
      document.getElementById('main').setAttribute('aria-busy', 'false');
    });
    const who = document.getElementById('who');
    try {
      CJ.session = await CJ.api.start();
    } catch (e) {
      who.textContent = 'No session';
      document.querySelector('.site-nav').hidden = true;
      document.getElementById('page-title').textContent = 'The console is not available to this certificate';
      ui.problem(e);
      document.getElementById('main').setAttribute('aria-busy', 'false');
      document.getElementById('main').dataset.page = 'no-session';
      return;
    }
    const a = CJ.session.agency || {};
    CJ.clear(who).appendChild(document.createTextNode((a.name || a.ori) + ' (' + a.ori + ')'));
    if (a.operator) who.appendChild(h('span', {class: 'role-badge', id: 'role-operator'}, 'Operator'));
    document.body.classList.toggle('is-operator', !!a.operator);
    window.addEventListener('hashchange', route);
    route();
  }

  document.addEventListener('DOMContentLoaded', boot);
})(window.CJ);
