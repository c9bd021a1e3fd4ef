// Opens the `commentguard eval --report` page from disk in Debian's Chromium (headless, via
// playwright-core) and checks that it renders on its own: three charts drawn, the curve's
// points, the confusion matrix, no script errors, nothing fetched.
//
// Environment (set by tests/api/report.rs):
//   CG_REPORT_HTML       the report.html to open
//   CG_ARTIFACTS         directory for the screenshot
//   CG_CONSOLE_NODE_DIR  where tests/console/setup.sh installed playwright-core
//   CG_CHROMIUM          the browser (default /usr/bin/chromium)
//
// Prints one JSON line: `passed`, `failed`, `checks` (name -> "ok" or "FAIL: why") and what
// it measured (`pr_points`, `sweep_points`, `matrix`), for the Rust test to compare with
// report.json. Exits 0 when every check passed, 1 when one failed, 2 when the environment
// is incomplete.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) {
    console.error(`report_page: ${name} is not set`);
    process.exit(2);
  }
  return value;
};
const html = env('CG_REPORT_HTML');
const artifacts = env('CG_ARTIFACTS');
const nodeDir = env('CG_CONSOLE_NODE_DIR');
const executablePath = env('CG_CHROMIUM', '/usr/bin/chromium');
if (!existsSync(executablePath) || !existsSync(html)) {
  console.error(`report_page: missing ${existsSync(html) ? executablePath : html}`);
  process.exit(2);
}
const require = createRequire(join(nodeDir, 'package.json'));
const { chromium } = require('playwright-core');

const checks = {};
const measured = {};
async function check(name, body) {
  try {
    await body();
    checks[name] = 'ok';
  } catch (e) {
    checks[name] = `FAIL: ${String(e && e.message || e).split('\n')[0]}`;
    console.error(`report_page: ${name}: ${e && e.stack || e}`);
  }
}
function assert(condition, message) {
  if (!condition) throw new Error(message);
}
// "x1,y1 x2,y2 …" -> number of points, after checking every one is a pair of numbers.
function countPoints(points) {
  const pairs = points.trim().split(/\s+/).filter(Boolean);
  for (const p of pairs) {
    const xy = p.split(',').map(Number);
    assert(xy.length === 2 && xy.every(Number.isFinite), `bad point ${p}`);
  }
  return pairs.length;
}

const userDataDir = mkdtempSync(join(tmpdir(), 'cg-report-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run',
  ],
  viewport: { width: 1000, height: 900 },
  timeout: 30_000,
});
const problems = [];
const url = pathToFileURL(html).href;
const fetched = [];
try {
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('request', (r) => { if (r.url() !== url) fetched.push(r.url()); });

  await check('page_renders', async () => {
    await page.goto(url);
    assert((await page.title()).startsWith('commentguard eval'), await page.title());
    await page.locator('h1').waitFor({ state: 'visible' });
  });

  await check('three_charts_drawn', async () => {
    const boxes = await page.locator('svg').evaluateAll((svgs) =>
      svgs.map((s) => { const b = s.getBoundingClientRect(); return [s.id, b.width, b.height]; }));
    measured.charts = boxes.map((b) => b[0]);
    assert(boxes.length === 3, `${boxes.length} svg elements`);
    for (const [id, w, h] of boxes) assert(w > 200 && h > 100, `${id} is ${w}x${h}`);
  });

  await check('curve_points', async () => {
    const points = await page.locator('svg#pr-curve polyline.curve').getAttribute('points');
    measured.pr_points = countPoints(points);
    assert(measured.pr_points > 1, `${measured.pr_points} points`);
    assert(await page.locator('svg#pr-curve circle.today').count() >= 1, 'no threshold marked');
  });

  await check('sweeps_have_four_series_and_a_mark', async () => {
    measured.sweep_points = [];
    for (const id of ['hold-sweep', 'spam-sweep']) {
      const series = page.locator(`svg#${id} polyline.series`);
      assert(await series.count() === 4, `${id}: ${await series.count()} series`);
      for (let i = 0; i < 4; i++) {
        measured.sweep_points.push(countPoints(await series.nth(i).getAttribute('points')));
      }
      assert(await page.locator(`svg#${id} line.mark`).count() === 1, `${id}: no mark`);
    }
  });

  await check('confusion_matrix', async () => {
    measured.matrix = await page.locator('#confusion tr').evaluateAll((rows) =>
      rows.slice(1).map((r) => [...r.querySelectorAll('td')].slice(0, 4)
        .map((td) => parseInt(td.textContent, 10))));
    assert(measured.matrix.length === 2, `${measured.matrix.length} rows`);
    assert(measured.matrix.flat().every(Number.isInteger), JSON.stringify(measured.matrix));
  });

  await check('screenshot', async () => {
    await page.screenshot({ path: join(artifacts, 'eval-report.png'), fullPage: true });
  });

  await check('no_errors_and_nothing_fetched', async () => {
    assert(problems.length === 0, problems.join('; '));
    assert(fetched.length === 0, `fetched: ${fetched.join(', ')}`);
  });
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}

const failed = Object.values(checks).filter((v) => v !== 'ok').length;
console.log(JSON.stringify({
  client: 'report_page', passed: Object.keys(checks).length - failed, failed, checks, ...measured,
}));
process.exit(failed ? 1 : 0);
