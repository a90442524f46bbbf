// The console's session and its requests to the hub.
//
// The browser's client certificate identifies the agency; the session token (POST /console/session)
// proves that this page made the request. The token lives in this closure only (never in storage
// or cookies), goes out as X-Cjhub-Session with every request, and is replaced by the refreshed one
// each answer carries. A 401 session-expired / session-required ends the session for good: the
// page says so and stops every timer.
'use strict';

(function (CJ) {
  const HEADER = 'X-Cjhub-Session';
  let token = null;
  let idleTimeoutS = 0;
  let lastActivity = 0;       // last answer from the hub (ms): the server's idle clock restarts then
  let countdownTimer = null;
  let ended = false;
  const endListeners = [];

  class Problem extends Error {
    constructor(status, body) {
      const p = body || {};
      super(p.title || ('HTTP ' + status));
      this.status = status;
      this.type = p.type || '';
      this.title = p.title || ('The hub answered HTTP ' + status);
      this.detail = p.detail || '';
      this.body = p;
    }
    is(slug) {
      return this.type === slug || this.type.endsWith(':' + slug) || this.type.endsWith('/' + slug);
    }
  }

  async function readProblem(resp) {
    const ct = resp.headers.get('Content-Type') || '';
    try {
      if (ct.includes('json')) return await resp.json();
      const text = await resp.text();
      return {title: resp.statusText || ('HTTP ' + resp.status), detail: text.slice(0, 300)};
    } catch (e) {
      return {title: 'HTTP ' + resp.status};
    }
  }

  function sessionProblem(p) {
    return p.status === 401 && (p.is('session-expired') || p.is('session-required'));
  }

  // request(path, {method, body, accept, allow: [statuses answered with a body, not an error]})
  async function request(path, opts) {
    const o = opts || {};
    if (ended) throw new Problem(401, {type: 'session-ended', title: 'The session has ended', detail: 'Reload the page to start a new one.'});
    const headers = {Accept: o.accept || 'application/json'};
    if (token) headers[HEADER] = token;
    let body;
    if (o.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(o.body);
    }
    let resp;
    try {
      resp = await fetch(path, {method: o.method || 'GET', headers: headers, body: body,
        credentials: 'same-origin', cache: 'no-store', redirect: 'error'});
    } catch (e) {
      throw new Problem(0, {title: 'The hub could not be reached', detail: String(e.message || e)});
    }
    const fresh = resp.headers.get(HEADER);
    if (fresh) token = fresh;
    if (resp.status !== 401) touch();
    if (resp.ok || (o.allow && o.allow.includes(resp.status))) return resp;
    const problem = new Problem(resp.status, await readProblem(resp));
    if (sessionProblem(problem)) endSession();
    throw problem;
  }

  async function getJSON(path, opts) {
    const resp = await request(path, opts);
    return resp.json();
  }

  async function postJSON(path, body) {
    const resp = await request(path, {method: 'POST', body: body || {}});
    const ct = resp.headers.get('Content-Type') || '';
    return ct.includes('json') ? resp.json() : {};
  }

  // Starts the session: resolves to {agency: {ori, name, operator}, idle_timeout_s}.
  async function start() {
    let resp;
    try {
      resp = await fetch('session', {method: 'POST', headers: {Accept: 'application/json'},
        credentials: 'same-origin', cache: 'no-store'});
    } catch (e) {
      throw new Problem(0, {title: 'The hub could not be reached', detail: String(e.message || e)});
    }
    if (!resp.ok) throw new Problem(resp.status, await readProblem(resp));
    const s = await resp.json();
    token = s.token;
    idleTimeoutS = Number(s.idle_timeout_s) || 0;
    touch();
    startCountdown();
    return s;
  }

  function touch() {
    lastActivity = Date.now();
    renderCountdown();
  }

  function remainingMs() {
    if (!idleTimeoutS) return Infinity;
    return Math.max(0, lastActivity + idleTimeoutS * 1000 - Date.now());
  }

  function renderCountdown() {
    const el = document.getElementById('idle-countdown');
    if (!el || !idleTimeoutS) return;
    if (ended) {
      el.textContent = 'Session ended';
      return;
    }
    const left = Math.ceil(remainingMs() / 1000);
    const m = Math.floor(left / 60);
    const s = left % 60;
    el.textContent = '(' + m + ':' + String(s).padStart(2, '0') + ' left)';
  }

  function startCountdown() {
    const note = document.getElementById('idle-note');
    const info = document.getElementById('session-info');
    if (idleTimeoutS && note && info) {
      const min = idleTimeoutS / 60;
      note.textContent = 'Session ends after ' +
        (Number.isInteger(min) ? min + ' min' : idleTimeoutS + ' s') + ' without activity';
      info.hidden = false;
    }
    renderCountdown();
    countdownTimer = window.setInterval(renderCountdown, 1000);
  }

  function endSession() {
    if (ended) return;
    ended = true;
    token = null;
    if (countdownTimer) window.clearInterval(countdownTimer);
    renderCountdown();
    const banner = document.getElementById('session-ended');
    if (banner) {
      const min = idleTimeoutS ? Math.round(idleTimeoutS / 60) : 0;
      banner.textContent = (min
        ? 'Your session ended after ' + min + ' minute' + (min === 1 ? '' : 's') + ' without activity. '
        : 'Your session ended. ') + 'Reload the page to start a new one.';
      banner.hidden = false;
    }
    for (const fn of endListeners) {
      try { fn(); } catch (e) { /* a listener's failure must not stop the others */ }
    }
  }

  CJ.Problem = Problem;
  CJ.api = {
    start: start,
    request: request,
    getJSON: getJSON,
    postJSON: postJSON,
    onSessionEnd: (fn) => endListeners.push(fn),
    ended: () => ended,
    idleTimeoutS: () => idleTimeoutS,
    lastActivity: () => lastActivity,
  };
})(window.CJ);
