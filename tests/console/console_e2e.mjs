// Drives the moderator console in Debian's Chromium (headless) with playwright-core.
//
// Environment (set by tests/api/console.rs):
//   CG_BASE_URL          http://127.0.0.1:PORT
//   CG_KEY               a moderator key
//   CG_VERDICT_ID        verdict id of a held comment the test scored; marked spam by a click
//   CG_XSS_VERDICT_ID    verdict id of an older held comment carrying markup; marked not spam
//                        with the keyboard
//   CG_ARTIFACTS         directory for the screenshots
//   CG_CONSOLE_NODE_DIR  where tests/console/setup.sh installed playwright-core
//   CG_CHROMIUM          the browser (default /usr/bin/chromium)
//
// Prints one JSON line (`passed`, `failed`, `checks`: name -> "ok" or "FAIL: why"); exits 0
// when every check passed, 1 when one failed, 2 when the environment is incomplete.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) {
    console.error(`console_e2e: ${name} is not set`);
    process.exit(2);
  }
  return value;
};
const base = env('CG_BASE_URL');
const key = env('CG_KEY');
const verdictId = env('CG_VERDICT_ID');
const xssVerdictId = env('CG_XSS_VERDICT_ID');
const artifacts = env('CG_ARTIFACTS');
const nodeDir = env('CG_CONSOLE_NODE_DIR');
const executablePath = env('CG_CHROMIUM', '/usr/bin/chromium');
if (!existsSync(executablePath)) {
  console.error(`console_e2e: no browser at ${executablePath} (Debian: apt-get install chromium)`);
  process.exit(2);
}

const require = createRequire(join(nodeDir, 'package.json'));
const { chromium } = require('playwright-core');

const checks = {};
async function check(name, body) {
  try {
    await body();
    checks[name] = 'ok';
  } catch (e) {
    checks[name] = `FAIL: ${String(e && e.message || e).split('\n')[0]}`;
    console.error(`console_e2e: ${name}: ${e && e.stack || e}`);
  }
}
function assert(condition, message) {
  if (!condition) throw new Error(message);
}

const userDataDir = mkdtempSync(join(tmpdir(), 'cg-console-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run',
  ],
  viewport: { width: 360, height: 780 },
  timeout: 30_000,
});
const problems = [];
try {
  const page = context.pages()[0] ?? await context.newPage();
  // Generous: CI runs this on two cores shared with everything else.
  page.setDefaultTimeout(30_000);
  // Script errors and CSP violations (reported as console errors) fail the run.
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  // Every URL the page asked for: the key must be in none of them (URLs end up in logs).
  const requestUrls = [];
  page.on('request', (r) => requestUrls.push(r.url()));
  const row = (id) => page.locator(`li[data-verdict-id="${id}"]`);

  await check('page_served_with_csp', async () => {
    const response = await page.goto(`${base}/console`);
    assert(response.status() === 200, `status ${response.status()}`);
    const csp = response.headers()['content-security-policy'] || '';
    assert(csp.includes("script-src 'self'"), `CSP: ${csp}`);
    await page.locator('#signin').waitFor({ state: 'visible' });
  });

  await check('wrong_key_is_refused', async () => {
    await page.fill('#key', 'zzzzzzzzzzzzzzzzzzzzzzzz');
    await page.click('#signin-button');
    const error = page.locator('#signin-error');
    await error.waitFor({ state: 'visible' });
    assert(/not valid/.test(await error.textContent()), await error.textContent());
    // Refused 401s show up as console errors of the fetch; they are expected here.
    problems.length = 0;
  });

  await check('sign_in_shows_the_held_comment', async () => {
    await page.fill('#key', key);
    await page.click('#signin-button');
    await row(verdictId).waitFor({ state: 'visible' });
    const text = await row(verdictId).textContent();
    assert(text.includes('Held'), `no Held badge: ${text}`);
    assert(await page.locator(`li[data-verdict-id="${verdictId}"] mark`).count() > 0,
      'no token highlighted in the comment');
    assert(await page.evaluate(() => sessionStorage.getItem('commentguard.key')) === key,
      'the key is not in session storage');
  });

  await check('markup_in_a_comment_is_shown_as_text', async () => {
    const body = row(xssVerdictId).locator('.body');
    await body.waitFor({ state: 'visible' });
    assert((await body.textContent()).includes('<img src=x onerror='), await body.textContent());
    assert(await page.locator('.queue img').count() === 0, 'an <img> from a comment was rendered');
    assert(await page.evaluate(() => window.cgInjected === undefined), 'the injected handler ran');
  });

  await check('screenshot_queue_360px', async () => {
    await page.screenshot({ path: join(artifacts, 'console-queue.png'), fullPage: false });
  });

  await check('spam_button_labels_the_row_without_a_reload', async () => {
    await page.evaluate(() => { window.cgNoReload = true; });
    await row(verdictId).getByRole('button', { name: 'Spam', exact: true }).click();
    await row(verdictId).locator('.outcome', { hasText: 'Marked spam' }).waitFor();
    assert(await page.evaluate(() => window.cgNoReload === true), 'the page reloaded');
    const pressed = await row(verdictId).getByRole('button', { name: 'Spam', exact: true })
      .getAttribute('aria-pressed');
    assert(pressed === 'true', `aria-pressed ${pressed}`);
  });

  await check('keyboard_a_marks_the_next_row_not_spam', async () => {
    // After a correction the selection moves to the next row: the older, markup comment.
    await page.locator('body').focus();
    await row(xssVerdictId).and(page.locator('.selected')).waitFor();
    await page.keyboard.press('k');
    await row(verdictId).and(page.locator('.selected')).waitFor();
    await page.keyboard.press('j');
    await row(xssVerdictId).and(page.locator('.selected')).waitFor();
    await page.keyboard.press('a');
    await row(xssVerdictId).locator('.outcome', { hasText: 'Marked not spam' }).waitFor();
  });

  await check('screenshot_queue_desktop', async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.screenshot({ path: join(artifacts, 'console-queue-desktop.png'), fullPage: false });
  });

  await check('reload_no_longer_lists_corrected_rows_as_waiting', async () => {
    await page.reload();
    // Loaded: rows, or the designed empty state (not the loading one).
    await page.waitForFunction(() => document.querySelector('#queue li')
      || document.querySelector('#queue-state.empty:not([hidden])'));
    assert(await row(verdictId).count() === 0, 'the corrected row is still waiting');
    await page.selectOption('#f-status', 'labelled');
    await row(verdictId).waitFor({ state: 'visible' });
    assert((await row(verdictId).textContent()).includes('Marked spam'), 'no label shown');
  });

  await check('model_view', async () => {
    await page.getByRole('button', { name: 'Model' }).click();
    await page.locator('#active-version').waitFor({ state: 'visible' });
    assert((await page.locator('#active-version').textContent()).startsWith('nb-'),
      'no model version');
    await page.locator('svg.chart').waitFor({ state: 'visible' });
    await page.setViewportSize({ width: 360, height: 780 });
    await page.screenshot({ path: join(artifacts, 'console-model.png'), fullPage: true });
  });

  await check('key_only_in_a_header_never_in_a_url_or_cookie', async () => {
    assert(requestUrls.length > 0, 'no requests seen');
    const leaked = requestUrls.filter((u) => u.includes(key) || u.includes(encodeURIComponent(key)));
    assert(leaked.length === 0, `the key is in a URL: ${leaked.length} requests`);
    assert((await context.cookies()).length === 0, 'the service set a cookie');
  });

  await check('no_script_errors_or_csp_violations', async () => {
    assert(problems.length === 0, problems.join('; '));
  });
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}

const failed = Object.values(checks).filter((v) => v !== 'ok').length;
console.log(JSON.stringify({
  client: 'console_e2e', passed: Object.keys(checks).length - failed, failed, checks,
}));
process.exit(failed ? 1 : 0);
