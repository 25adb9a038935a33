// Drives the citizen page (/citizen: Bot Framework Web Chat over Direct Line) with playwright-core and the system
// Chromium, as a resident on a phone would: reaches the send box with the keyboard, asks each --text in turn and
// waits for the bot's answer, then runs axe-core (npm) on the page. Prints one JSON line.
//
//   node tests/e2e/citizen_drive.mjs --url http://127.0.0.1:3978/citizen --text 燃えるごみの日は？ [--text ...] \
//        [--chromium /usr/bin/chromium] [--viewport 390x844] [--screenshot /tmp/citizen.png] [--timeout 45000]
//
// Exit 0 with {"ok":true,"answers":[{"question","texts","links"}],"tabsToSendBox","layout","csp","blocked",
// "pageErrors","axe":{"violations":[...]},"timings"}; exit 1 with {"ok":false,"error",...}.
// Only loopback requests leave the page (anything else is aborted and listed in "blocked": no CDN may be needed).
// CSP violations are collected from the page's securitypolicyviolation events. axe runs through the DevTools
// protocol (page.evaluate), so the page's own CSP needs no exception for it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:3978/citizen' },
    text: { type: 'string', multiple: true, default: [] },
    chromium: { type: 'string', default: process.env.CHROMIUM_PATH || '/usr/bin/chromium' },
    viewport: { type: 'string', default: '390x844' },
    screenshot: { type: 'string' },
    timeout: { type: 'string', default: '45000' },
  },
});
const timeout = Number(opt.timeout);
const [width, height] = opt.viewport.split('x').map(Number);
const started = Date.now();
const timings = {};
const mark = (name) => { timings[name] = Date.now() - started; };
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const SEND_BOX = '[data-id="webchat-sendbox-input"]';
const BOT_ACTIVITY = '.webchat__basic-transcript__activity:has(.webchat__bubble:not(.webchat__bubble--from-user))';
const userDataDir = mkdtempSync(join(tmpdir(), 'e2e-citizen-'));
const blocked = [];
const pageErrors = [];
let browser;
let page;
let exitCode = 0;

async function botActivities() {
  // the bubbles' content only: Web Chat's own labels for screen readers and the timestamps are left out
  return page.locator(BOT_ACTIVITY).evaluateAll((nodes) => nodes.map((n) => ({
    text: Array.from(n.querySelectorAll('.webchat__bubble__content')).map((c) => c.innerText.trim()).join('\n'),
    links: Array.from(n.querySelectorAll('a[href]')).map((a) => a.href),
  })));
}

try {
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: opt.chromium,
    headless: true,
    timeout,
    viewport: { width, height },
    isMobile: width < 600,
    hasTouch: width < 600,
    locale: 'ja-JP',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  mark('launched');
  page = browser.pages()[0] || await browser.newPage();
  page.setDefaultTimeout(timeout);
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (LOOPBACK.has(url.hostname) || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
    blocked.push(url.href);
    return route.abort('blockedbyclient');
  });
  page.on('pageerror', (err) => pageErrors.push(String(err && err.message || err)));
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push({ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample,
                          source: e.sourceFile, line: e.lineNumber });
    });
  });
  await page.goto(opt.url, { waitUntil: 'domcontentloaded' });
  mark('dom');
  const box = page.locator(SEND_BOX);
  await box.waitFor({ state: 'visible' });
  mark('webchat');
  // The bot's welcome (the page's webchat/join event) comes first, before any question is typed.
  await page.waitForFunction((sel) => {
    const node = document.querySelector(sel);
    const content = node && node.querySelector('.webchat__bubble__content');
    return content && content.innerText.trim().length > 0;
  }, BOT_ACTIVITY, { timeout });
  const welcome = await botActivities();
  mark('welcome');

  // Keyboard: from the top of the page, Tab until the send box has the focus (the notice, its summary and the
  // skip link come first).
  await page.locator('body').focus();
  let tabsToSendBox = null;
  for (let i = 1; i <= 25; i += 1) {
    await page.keyboard.press('Tab');
    if (await box.evaluate((el) => el === document.activeElement)) { tabsToSendBox = i; break; }
  }

  const answers = [];
  for (const question of opt.text) {
    const before = (await botActivities()).length;
    await box.focus();
    await page.keyboard.type(question);
    await page.keyboard.press('Enter');
    await page.getByText(question, { exact: true }).first().waitFor();
    // The bot's answer: a new bot activity with text (typing indicators are no activity in the transcript).
    await page.waitForFunction(([sel, n]) => {
      const nodes = document.querySelectorAll(sel);
      const last = nodes[nodes.length - 1];
      const content = last && last.querySelector('.webchat__bubble__content');
      return nodes.length > n && content && content.innerText.trim().length > 0;
    }, [BOT_ACTIVITY, before], { timeout });
    await page.waitForTimeout(1500);        // let the rest of a multi-message answer arrive and render
    const after = await botActivities();
    answers.push({ question, texts: after.slice(before).map((a) => a.text),
                   links: after.slice(before).flatMap((a) => a.links) });
    mark(`answer${answers.length}`);
  }

  const layout = await page.evaluate((sel) => {
    const r = document.querySelector(sel).getBoundingClientRect();
    return { innerWidth: window.innerWidth, innerHeight: window.innerHeight,
             scrollWidth: document.documentElement.scrollWidth,
             sendBox: { top: r.top, bottom: r.bottom, left: r.left, right: r.right } };
  }, SEND_BOX);

  await page.evaluate(axeSource);
  const axe = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    });
    return { violations: result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                                                         nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })),
             passes: result.passes.length };
  });
  mark('axe');
  const csp = await page.evaluate(() => window.__csp);
  const pageText = await page.locator('body').innerText();
  if (opt.screenshot) await page.screenshot({ path: opt.screenshot, fullPage: false });
  process.stdout.write(JSON.stringify({ ok: true, welcome, answers, tabsToSendBox, layout, csp, blocked, pageErrors, axe,
                                        pageText, timings }) + '\n');
} catch (err) {
  exitCode = 1;
  let pageText = '';
  let csp = [];
  try {
    if (page) {
      if (opt.screenshot) await page.screenshot({ path: opt.screenshot, fullPage: false });
      pageText = (await page.locator('body').innerText()).slice(-3000);
      csp = await page.evaluate(() => window.__csp || []);
    }
  } catch { /* the page is gone; report the original error */ }
  process.stdout.write(JSON.stringify({ ok: false, error: String(err && err.message || err), pageText, csp,
                                        blocked, pageErrors, timings }) + '\n');
} finally {
  if (browser) await browser.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(exitCode);
