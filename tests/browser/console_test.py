#!/usr/bin/python3
"""The console in a real browser: headless Chromium, driven by Selenium, presenting client
certificates over mutual TLS (see BROWSER-TESTING notes: an NSS database per user and a managed
policy that selects the certificate for the hub's origin).

Run by the end-to-end test ConsoleBrowser (tests/e2e), which starts a hub with data and sets:

  CJHUB_CONSOLE_URL          https://localhost:<port>/console/
  CJHUB_CA                   the CA certificate to trust (PEM)
  CJHUB_OPERATOR_CERT/_KEY   the operator's certificate and key (PEM)
  CJHUB_AGENCY_CERT/_KEY     Hartford PD's (CT0064000)
  CJHUB_CASE_KEY             case key of a delivered Hartford PD arrest packet
  CJHUB_MESSAGE_TYPE         the type of that message (default ArrestPacket)
  CJHUB_OTHER_MESSAGE_ID     a New Haven PD message that Hartford PD must not see
  CJHUB_PAUSE_ENDPOINT       ORI/name of an endpoint the operator pauses and resumes
  CJHUB_DEAD_DELIVERY_ID     a dead letter the operator replays
  CJHUB_DEAD_ENDPOINT        its endpoint (default CTJUD0000/main)
  CJHUB_EXPECT_RECIPIENTS    recipients the case's message must show, ORI=state,... (default
                             CTDESPP00=delivered; "delivered" also accepts acknowledged)
  CJHUB_ARTEFACTS            directory for screenshots, the downloaded CSV and the log
  CJHUB_AXE                  axe.min.js (tests/browser/node_modules/axe-core/axe.min.js)
  CJHUB_BROWSER_TIMEOUT_S    overall limit in seconds (default 90)

Must run with Debian's /usr/bin/python3 (python3-selenium). Exit status: 0 passed, 1 failed
(the failures are listed), 77 cannot run here (not root: the managed policy cannot be written).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

POLICY_DIR = '/etc/chromium/policies/managed'
POLICY_FILE = os.path.join(POLICY_DIR, 'cjhub-console-test.json')
CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
SKIP = 77


class OverallTimeout(Exception):
    pass


def env(name, default=None):
    value = os.environ.get(name, default)
    if value is None or value == '':
        raise SystemExit(f'console_test: {name} is not set')
    return value


class Run:
    def __init__(self):
        self.url = env('CJHUB_CONSOLE_URL')
        if not self.url.endswith('/'):
            self.url += '/'
        parts = urllib.parse.urlsplit(self.url)
        self.origin = f'{parts.scheme}://{parts.netloc}'
        self.ca = env('CJHUB_CA')
        self.users = {
            'operator': (env('CJHUB_OPERATOR_CERT'), env('CJHUB_OPERATOR_KEY')),
            'agency': (env('CJHUB_AGENCY_CERT'), env('CJHUB_AGENCY_KEY')),
        }
        self.case_key = env('CJHUB_CASE_KEY')
        self.message_type = env('CJHUB_MESSAGE_TYPE', 'ArrestPacket')
        self.other_message = env('CJHUB_OTHER_MESSAGE_ID')
        self.pause_endpoint = env('CJHUB_PAUSE_ENDPOINT')
        self.dead_delivery = env('CJHUB_DEAD_DELIVERY_ID')
        self.dead_endpoint = env('CJHUB_DEAD_ENDPOINT', 'CTJUD0000/main')
        self.agency_ori = env('CJHUB_AGENCY_ORI', 'CT0064000')
        self.expect_recipients = [
            tuple((item.split('=', 1) + [''])[:2])
            for item in env('CJHUB_EXPECT_RECIPIENTS', 'CTDESPP00=delivered').split(',') if item.strip()]
        self.artefacts = env('CJHUB_ARTEFACTS')
        self.axe_path = env('CJHUB_AXE')
        self.limit = float(os.environ.get('CJHUB_BROWSER_TIMEOUT_S') or 90)
        self.started = time.monotonic()
        os.makedirs(self.artefacts, exist_ok=True)
        self.logfile = open(os.path.join(self.artefacts, 'console_test.log'), 'w', encoding='utf-8')
        self.failures = []
        self.tmp = None
        self.driver = None
        self.user = None
        self.expected_errors = []   # (url fragment, status) of answers the scenario expects to fail

    # --- reporting -------------------------------------------------------------------------
    def log(self, msg):
        line = f'[{time.monotonic() - self.started:6.2f}s] {msg}'
        print(line, flush=True)
        self.logfile.write(line + '\n')
        self.logfile.flush()

    def fail(self, msg):
        self.failures.append(f'{self.user}: {msg}')
        self.log(f'FAIL {self.user}: {msg}')

    def check(self, cond, msg):
        if not cond:
            self.fail(msg)
        return cond

    def step(self, name, fn, *args):
        """Runs one step; an exception fails the step and the scenario goes on with the next."""
        self.log(f'{self.user}: {name}')
        try:
            fn(*args)
        except OverallTimeout:
            raise
        except Exception as e:  # noqa: BLE001 - every failure is reported, then the next step runs
            detail = f'{type(e).__name__}: {e}'.strip().splitlines()[0] if str(e).strip() else type(e).__name__
            self.fail(f'{name}: {detail}')
            self.logfile.write(traceback.format_exc() + '\n')
            self.shot(f'failed-{name.replace(" ", "-")}')

    def remaining(self):
        return self.limit - (time.monotonic() - self.started)

    # --- setup ---------------------------------------------------------------------------------
    def write_policy(self):
        try:
            os.makedirs(POLICY_DIR, exist_ok=True)
            pattern = json.dumps({'pattern': self.origin, 'filter': {}})
            with open(POLICY_FILE, 'w', encoding='utf-8') as f:
                json.dump({'AutoSelectCertificateForUrls': [pattern]}, f)
        except OSError as e:
            print(f'console_test: SKIP: cannot write the managed policy {POLICY_FILE}: {e}', flush=True)
            raise SystemExit(SKIP)
        self.log(f'policy {POLICY_FILE}: certificate auto-selected for {self.origin}')

    def make_home(self, user):
        cert, key = self.users[user]
        home = os.path.join(self.tmp, user, 'home')
        nssdb = os.path.join(home, '.pki', 'nssdb')
        os.makedirs(nssdb)
        p12 = os.path.join(self.tmp, user, 'client.p12')
        for cmd in (
            ['certutil', '-N', '-d', 'sql:' + nssdb, '--empty-password'],
            ['openssl', 'pkcs12', '-export', '-in', cert, '-inkey', key, '-out', p12,
             '-passout', 'pass:x', '-name', f'cjhub-{user}'],
            ['pk12util', '-i', p12, '-d', 'sql:' + nssdb, '-W', 'x'],
            ['certutil', '-A', '-d', 'sql:' + nssdb, '-n', 'cjhub-ca', '-t', 'C,,', '-i', self.ca],
        ):
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                raise RuntimeError(f'{" ".join(cmd[:2])} failed ({r.returncode}): {r.stderr.strip() or r.stdout.strip()}')
        return home

    def start_browser(self, user):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        home = self.make_home(user)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage',
                    '--user-data-dir=' + os.path.join(self.tmp, user, 'profile'),
                    '--window-size=1280,1024', '--no-first-run', '--no-default-browser-check',
                    '--disable-background-networking', '--disable-component-update', '--disable-sync',
                    '--disable-extensions', '--password-store=basic'):
            opts.add_argument(arg)
        opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        opts.add_experimental_option('prefs', {
            'download.default_directory': self.artefacts,
            'download.prompt_for_download': False,
            'download.directory_upgrade': True,
            'safebrowsing.enabled': False,
        })
        service = Service(CHROMEDRIVER, env=dict(os.environ, HOME=home),
                          log_path=os.path.join(self.artefacts, f'chromedriver-{user}.log'))
        driver = webdriver.Chrome(service=service, options=opts)
        driver.set_page_load_timeout(max(5, min(30, self.remaining())))
        driver.set_script_timeout(30)
        try:
            driver.execute_cdp_cmd('Browser.setDownloadBehavior',
                                   {'behavior': 'allow', 'downloadPath': self.artefacts})
        except Exception as e:  # noqa: BLE001 - the prefs above are the fallback
            self.log(f'(setDownloadBehavior not available: {e})')
        return driver

    # --- helpers ---------------------------------------------------------------------------------
    def wait(self, cond, what, timeout=15):
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait
        t = max(1, min(timeout, self.remaining() - 3))
        try:
            # A table re-rendered between finding a row and reading it: look again.
            return WebDriverWait(self.driver, t, poll_frequency=0.1,
                                 ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: cond(d))
        except TimeoutException:
            raise AssertionError(f'timed out after {t:.0f} s waiting for {what}') from None

    def css(self, selector):
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def one(self, selector):
        found = self.css(selector)
        if not found:
            raise AssertionError(f'no element matches {selector}')
        return found[0]

    def page_ready(self, page, hash_prefix=None):
        """Waits until the router has rendered `page` and nothing is loading."""
        def ready(d):
            state = d.execute_script(
                "const m = document.getElementById('main');"
                "return m ? [m.dataset.page, m.getAttribute('aria-busy'), location.hash] : null;")
            return bool(state) and state[0] == page and state[1] == 'false' and \
                (hash_prefix is None or state[2].startswith(hash_prefix))
        self.wait(ready, f'page {page} to be shown')
        self.show_problems()

    def show_problems(self):
        for p in self.css('#errors .problem'):
            self.log(f'  (alert shown: {p.text!r})')

    def go(self, hash_):
        self.driver.execute_script('window.location.hash = arguments[0];', hash_)

    def nav(self, page):
        self.one(f'#nav-{page}').click()
        self.page_ready(page)

    def shot(self, name):
        if not self.driver:
            return
        try:
            self.driver.save_screenshot(os.path.join(self.artefacts, f'{self.user}-{name}.png'))
        except Exception as e:  # noqa: BLE001
            self.log(f'  (screenshot {name} failed: {e})')

    def axe(self, name):
        if not self.driver.execute_script('return typeof window.axe === "object";'):
            with open(self.axe_path, encoding='utf-8') as f:
                self.driver.execute_script(f.read())
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then((r) => done(JSON.stringify(r.violations.map((v) => ({id: v.id, impact: v.impact,"
            " help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' '))})))))"
            ".catch((e) => done('ERROR ' + e));")
        if result.startswith('ERROR'):
            self.fail(f'{name}: axe could not run: {result}')
            return
        for v in json.loads(result):
            line = f'{name}: axe {v["impact"]} {v["id"]}: {v["help"]} at {", ".join(v["nodes"])}'
            if v['impact'] in ('serious', 'critical'):
                self.fail(line)
            else:
                self.log('  (' + line + ')')

    def console_log(self, name):
        for entry in self.driver.get_log('browser'):
            msg = entry.get('message', '')
            if entry.get('level') != 'SEVERE':
                self.logfile.write(f'  browser {entry.get("level")}: {msg}\n')
                continue
            if any(frag in msg and f'status of {status}' in msg for frag, status in self.expected_errors):
                self.log(f'  (expected: {msg})')
                continue
            self.fail(f'{name}: browser console SEVERE: {msg}')

    def checks(self, name):
        """Every page: a screenshot, axe (no serious or critical violation), the console log."""
        self.shot(name)
        self.axe(name)
        self.console_log(name)

    def confirm_dialog(self, reason=None, before_confirm=None):
        self.wait(lambda d: self.css('#confirm-dialog[open]'), 'the confirmation dialog')
        if reason is not None:
            box = self.one('#confirm-reason')
            box.clear()
            box.send_keys(reason)
        if before_confirm:
            before_confirm()
        self.one('#confirm-ok').click()
        self.wait(lambda d: not self.css('#confirm-dialog[open]'), 'the dialog to close')

    def row(self, table_selector, attr, value):
        rows = self.css(f'{table_selector} tr[{attr}="{value}"]')
        return rows[0] if rows else None

    def status_text(self):
        found = self.css('#status')
        return found[0].text if found else ''

    def requested_paths(self):
        return self.driver.execute_script(
            "return performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname);")

    # --- the operator ----------------------------------------------------------------------------
    def operator(self):
        self.step('overview', self.op_overview)
        self.step('messages search by case key', self.op_messages)
        self.step('message page: timeline and document', self.op_message)
        self.step('pause and resume an endpoint', self.op_pause_resume)
        self.step('replay a dead letter', self.op_replay)
        self.step('erasures and CSV export', self.op_erasures)

    def open_console(self):
        self.driver.get(self.url)
        self.wait(lambda d: self.css('#main[data-page]:not([data-page=""])'), 'the console to start')
        page = self.one('#main').get_attribute('data-page')
        if page == 'no-session':
            raise AssertionError('no session: ' + ' / '.join(p.text for p in self.css('#errors .problem')))
        self.page_ready('overview')
        self.check('Session ends after' in self.one('#idle-note').text, 'the idle timeout is not shown in the header')

    def op_overview(self):
        # /readyz answers 503 with the same JSON while a component fails: the page shows it.
        self.expected_errors.append(('/readyz', 503))
        self.open_console()
        self.check(bool(self.css('#role-operator')), 'the header does not show the operator role')
        self.wait(lambda d: self.css('#chart-throughput svg') and self.css('#chart-backlog svg'), 'the two charts')
        self.check(bool(self.css('#readiness-table, #readiness .panel-body p')), 'no readiness shown')
        self.check(bool(self.css('#stat-dead-letters')), 'no dead letter count shown')
        self.checks('overview')

    def search_case(self):
        self.nav('messages')
        box = self.one('#f-case-key')
        box.clear()
        box.send_keys(self.case_key)
        self.one('#search-submit').click()

        def found(d):
            rows = self.css('#messages-table tbody tr')
            if not rows or self.one('#main').get_attribute('aria-busy') != 'false':
                return False
            return all(self.case_key in r.text for r in rows)
        self.wait(found, f'messages of case key {self.case_key}')
        # The arrest packet of the case first (a case may also have later messages).
        return self.css(f'#messages-table tr[data-type="{self.message_type}"] a.message-link') + \
            self.css(f'#messages-table tr:not([data-type="{self.message_type}"]) a.message-link')

    def op_messages(self):
        links = self.search_case()
        self.check(len(links) >= 1, 'the search shows no message link')
        self.checks('messages')
        links[0].click()

    def check_recipients(self):
        self.wait(lambda d: self.css('#message-timeline article.recipient'), "the recipients' timeline")
        shown = {a.get_attribute('data-recipient'): a.get_attribute('data-state')
                 for a in self.css('#message-timeline article.recipient')}
        self.log(f'  recipients shown: {shown}')
        for ori, state in self.expect_recipients:
            if not self.check(ori in shown, f'recipient {ori} is not in the timeline (shown: {sorted(shown)})'):
                continue
            ok = {'delivered': ('delivered', 'acknowledged')}.get(state, (state,)) if state else None
            if ok:
                self.check(shown[ori] in ok, f'recipient {ori} is {shown[ori]}, expected {state}')
            if state == 'delivered':
                # Its attempts, each with the answer's status and how long it took.
                rows = self.css(f'#message-timeline article.recipient[data-recipient="{ori}"] '
                                f'.attempts tbody tr[data-status]')
                self.check(any(r.get_attribute('data-status').startswith('2') for r in rows),
                           f'recipient {ori}: no 2xx attempt on its timeline')
                self.check(all(' ms' in r.text for r in rows), f'recipient {ori}: an attempt without its answer time')
        return shown

    def op_message(self):
        self.page_ready('message', '#/messages/')
        self.check(bool(self.css('#message-meta')), 'no metadata section')
        self.check(self.case_key in self.one('#message-meta').text, 'the metadata does not show the case key')
        self.check_recipients()
        self.wait(lambda d: self.css('#xml-tree details.xml-element') or self.css('#redacted'), 'the document')
        if self.check(bool(self.css('#xml-tree')), 'the document is not shown as a tree'):
            self.check(self.case_key in self.one('#xml-tree').text, 'the document tree does not show the case key')
            self.one('#xml-collapse').click()
            self.check(not self.one('#xml-tree details.xml-element').get_attribute('open'), 'Collapse all did not collapse')
            self.one('#xml-expand').click()
        self.checks('message')

    def endpoint_row(self, key):
        return self.row('#endpoints-table', 'data-endpoint', key)

    def wait_paused(self, key, paused):
        def cond(d):
            r = self.endpoint_row(key)
            return r is not None and r.get_attribute('data-paused') == ('true' if paused else 'false')
        self.wait(cond, f'{key} to show {"paused" if paused else "active"}')
        return self.wait(lambda d: self.endpoint_row(key).find_element('css selector', 'td.endpoint-state').text,
                         f'the state of {key}')

    def click_in_row(self, key, selector):
        self.wait(lambda d: self.endpoint_row(key).find_element('css selector', selector).click() or True,
                  f'{selector} of {key} to be clickable')

    def op_pause_resume(self):
        self.nav('endpoints')
        key = self.pause_endpoint
        row = self.endpoint_row(key)
        if row is None:
            raise AssertionError(f'{key} is not in the endpoints table')
        if row.get_attribute('data-paused') == 'true':
            self.log(f'  {key} was paused at the start: resuming it first')
            self.click_in_row(key, '.resume-button')
            self.confirm_dialog()
            self.wait_paused(key, False)
            row = self.endpoint_row(key)
        reason = 'browser test: maintenance window'
        self.click_in_row(key, '.pause-button')
        self.confirm_dialog(reason, before_confirm=lambda: (self.shot('endpoints-dialog'), self.axe('endpoints-dialog')))
        state = self.wait_paused(key, True)
        self.check('paused' in state.lower(), f'{key} state cell says {state!r}, not paused')
        self.check(reason in state, f'{key} state cell does not show the reason: {state!r}')
        self.wait(lambda d: f'Paused {key}' in self.status_text(), 'the status message for the pause')
        self.click_in_row(key, '.resume-button')
        self.confirm_dialog()
        state = self.wait_paused(key, False)
        self.check('active' in state.lower(), f'{key} state cell says {state!r}, not active')
        self.wait(lambda d: f'Resumed {key}' in self.status_text(), 'the status message for the resume')

    def op_replay(self):
        if self.one('#main').get_attribute('data-page') != 'endpoints':
            self.nav('endpoints')
        key = self.dead_endpoint
        row = self.endpoint_row(key)
        if row is None:
            raise AssertionError(f'{key} is not in the endpoints table')
        buttons = row.find_elements('css selector', '.dead-letters-button')
        if not buttons:
            raise AssertionError(f'{key} offers no "Replay dead letters" (dead letters: '
                                 f'{row.find_element("css selector", "td.endpoint-dead-letters").text})')
        buttons[0].click()
        sel = f'#dead-letters-table tr[data-delivery-id="{self.dead_delivery}"]'
        self.wait(lambda d: self.css(sel), f'dead letter {self.dead_delivery} in the list of {key}')
        self.one(sel + ' .replay-button').click()
        self.confirm_dialog()
        self.wait(lambda d: self.one(sel + ' .replay-result').text == 'Replayed', 'the row to say Replayed')
        self.wait(lambda d: f'Replayed delivery {self.dead_delivery}' in self.status_text(), 'the status message for the replay')
        self.checks('endpoints')

    def op_erasures(self):
        self.nav('erasures')
        csv_path = os.path.join(self.artefacts, 'erasures.csv')
        if os.path.exists(csv_path):
            os.remove(csv_path)
        self.checks('erasures')
        self.one('#export-csv').click()

        def downloaded(d):
            return os.path.exists(csv_path) and not os.path.exists(csv_path + '.crdownload') and os.path.getsize(csv_path) > 0
        self.wait(downloaded, f'the download {csv_path}')
        with open(csv_path, encoding='utf-8') as f:
            header = f.readline().strip()
        self.log(f'  CSV header: {header}')
        self.check(',' in header and any(c.isalpha() for c in header), f'the CSV has no header row: {header!r}')
        self.wait(lambda d: 'erasures.csv' in self.status_text(), 'the status message for the export')
        links = self.css('#erasures-table a.erasure-link')
        if links:
            links[0].click()
            self.page_ready('erasure', '#/erasures/')
            self.check(bool(self.css('#erasure-recipients')), "no recipients' table on the erasure page")
            self.checks('erasure')
        else:
            self.log('  (no erasure in the ledger: the erasure page is not visited)')

    # --- the agency ---------------------------------------------------------------------------------
    def agency(self):
        self.step('overview', self.ag_overview)
        self.step('messages: its own message', self.ag_messages)
        self.step('another agency\'s message is not found', self.ag_other_message)
        self.step('endpoints without operator controls', self.ag_endpoints)
        self.step('erasures', self.ag_erasures)
        self.step('no operator endpoint was called', self.ag_no_admin_calls)

    def no_operator_controls(self, where):
        found = self.css('.pause-button, .resume-button, .dead-letters-button, .replay-button, #role-operator, #traffic')
        self.check(not found, f'{where}: operator controls shown to an agency: '
                   f'{[e.get_attribute("class") or e.get_attribute("id") for e in found]}')

    def ag_overview(self):
        self.open_console()
        self.no_operator_controls('overview')
        self.checks('overview')

    def ag_messages(self):
        links = self.search_case()
        self.check(len(links) >= 1, 'the search shows no message of its own case')
        self.checks('messages')
        links[0].click()
        self.page_ready('message', '#/messages/')
        self.check(bool(self.css('#message-meta')), 'its own message shows no metadata')
        self.check_recipients()
        self.wait(lambda d: self.css('#xml-tree details.xml-element') or self.css('#redacted'), 'the document')
        self.no_operator_controls('message')
        self.checks('message')

    def ag_other_message(self):
        self.expected_errors.append((f'/v1/messages/{self.other_message}', 404))
        self.go(f'#/messages/{self.other_message}')
        self.page_ready('message', f'#/messages/{self.other_message}')
        found = self.css('#not-found')
        self.check(bool(found) and 'not found' in found[0].text.lower(), 'the page does not say "not found"')
        self.check(not self.css('#message-meta, #message-timeline, #message-document, #xml-tree'),
                   "the page shows parts of another agency's message")
        self.checks('message-not-found')

    def ag_endpoints(self):
        self.nav('endpoints')
        self.wait(lambda d: self.css('#endpoints-table'), 'the endpoints table')
        self.no_operator_controls('endpoints')
        self.checks('endpoints')

    def ag_erasures(self):
        self.nav('erasures')
        self.no_operator_controls('erasures')
        self.checks('erasures')
        # The erasure it was sent is its obligation: listed as its own to confirm, and its page shows
        # its own confirmation and nobody else's.
        self.wait(lambda d: self.css('#erasures-table tbody tr[data-erasure-id]'), 'the erasure the agency owes')
        owed = [a for a in self.css('#erasures-table tbody tr[data-erasure-id]') if 'to confirm' in a.text]
        if not self.check(bool(owed), 'no erasure is listed as the agency\'s to confirm'):
            return
        from selenium.webdriver.common.by import By
        owed[0].find_element(By.CSS_SELECTOR, 'a.erasure-link').click()
        self.page_ready('erasure', '#/erasures/')
        self.check(bool(self.css('#erasure-owed')), 'the erasure page does not say the agency owes a confirmation')
        shown = [r.get_attribute('data-recipient') for r in self.css('#erasure-recipients tbody tr[data-recipient]')]
        self.log(f'  recipients shown to the agency: {shown}')
        self.check(shown == [self.agency_ori], f'the agency sees recipients other than itself: {shown}')
        summary = self.one('#erasure-summary').text
        self.check('Messages redacted' not in summary and 'Deliveries suppressed' not in summary,
                   'the agency sees what the erasure did elsewhere')
        self.checks('erasure-owed')

    def ag_no_admin_calls(self):
        bad = [p for p in self.requested_paths() if p.startswith('/v1/admin/') or p == '/v1/series']
        self.check(not bad, f'the agency page called operator endpoints: {sorted(set(bad))}')

    # --- the run ---------------------------------------------------------------------------------
    def as_user(self, user, scenario):
        self.user = user
        self.expected_errors = []
        self.log(f'--- {user} ---')
        try:
            self.driver = self.start_browser(user)
        except Exception as e:  # noqa: BLE001
            self.fail(f'the browser did not start: {type(e).__name__}: {e}')
            return
        try:
            scenario()
        finally:
            try:
                self.driver.quit()
            except Exception:  # noqa: BLE001
                pass
            self.driver = None

    def main(self):
        for tool in (CHROMIUM, CHROMEDRIVER, shutil.which('certutil'), shutil.which('pk12util')):
            if not tool or not os.path.exists(tool):
                print('console_test: missing chromium, chromium-driver or libnss3-tools '
                      '(scripts/test installs CJHUB_BROWSER_PACKAGES)', flush=True)
                return 1
        if not os.path.isfile(self.axe_path):
            print(f'console_test: {self.axe_path} is missing (npm ci in tests/browser)', flush=True)
            return 1
        self.write_policy()

        def on_alarm(signum, frame):
            raise OverallTimeout()
        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(max(1, int(self.limit)))
        self.tmp = tempfile.mkdtemp(prefix='cjhub-console-test.')
        try:
            self.as_user('operator', self.operator)
            self.as_user('agency', self.agency)
        except OverallTimeout:
            self.fail(f'the overall limit of {self.limit:.0f} s (CJHUB_BROWSER_TIMEOUT_S) was reached')
            if self.driver:
                self.shot('timeout')
                try:
                    self.driver.quit()
                except Exception:  # noqa: BLE001
                    pass
        finally:
            signal.alarm(0)
            try:
                os.remove(POLICY_FILE)
            except OSError:
                pass
            shutil.rmtree(self.tmp, ignore_errors=True)

        elapsed = time.monotonic() - self.started
        if self.failures:
            self.log(f'FAILED ({len(self.failures)} failures, {elapsed:.1f} s):')
            for f in self.failures:
                self.log('  - ' + f)
            return 1
        self.log(f'PASSED ({elapsed:.1f} s); artefacts in {self.artefacts}')
        return 0


def require_root():
    if os.geteuid() != 0:
        print(f'console_test: SKIP: not root, so the managed policy {POLICY_FILE} that selects the '
              'client certificate cannot be written', flush=True)
        raise SystemExit(SKIP)


if __name__ == '__main__':
    require_root()
    sys.exit(Run().main())
