// Drives the Microsoft 365 Agents Playground's web UI with playwright-core and the system Chromium:
// opens the personal chat, types a message, waits for an Adaptive Card and prints what it found as JSON.
//
//   node tests/e2e/drive.mjs --url http://localhost:56150 --text /help \
//        [--chromium /usr/bin/chromium] [--screenshot /tmp/playground.png] [--timeout 30000] [--min-cards 1] \
//        [--click 活用例を見る [--fail-text このカードの操作は… ...]]
//
// With --click, once the cards are there it clicks the button with that title on the bot's first card and waits
// for what the click brings: a new card (one more than before the click), or the clicked card re-rendered in place
// (an Action.Execute answered with a refreshed card), or any --fail-text appearing on the page (the bot's error
// message: no need to wait for the timeout). "click" in the result tells which ({"newCard", "refreshed", "failText"}).
//
// Exit 0 with {"ok":true,"cards":[...innerText],"pageText":...,"timings":{...}} on stdout; exit 1 with {"ok":false,"error":...}.
// Only loopback requests are allowed out of the page (the Playground asks a CDN for fonts; those are aborted).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://localhost:56150' },
    text: { type: 'string', default: '/help' },
    chromium: { type: 'string', default: process.env.CHROMIUM_PATH || '/usr/bin/chromium' },
    screenshot: { type: 'string' },
    timeout: { type: 'string', default: '30000' },
    'min-cards': { type: 'string', default: '1' },
    click: { type: 'string' },
    'fail-text': { type: 'string', multiple: true, default: [] },
  },
});
const timeout = Number(opt.timeout);
const started = Date.now();
const timings = {};
const mark = (name) => { timings[name] = Date.now() - started; };

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const userDataDir = mkdtempSync(join(tmpdir(), 'e2e-chromium-'));
let browser;
let page;
let exitCode = 0;
try {
  // A persistent context on a fresh, empty profile directory (Playwright refuses --user-data-dir in args).
  // headless: true makes Playwright pass --headless itself.
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: opt.chromium,
    headless: true,
    timeout,
    viewport: { width: 1280, height: 800 },
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  mark('launched');
  page = browser.pages()[0] || await browser.newPage();
  page.setDefaultTimeout(timeout);
  await page.route('**/*', (route) => {
    const host = new URL(route.request().url()).hostname;
    return LOOPBACK.has(host) ? route.continue() : route.abort('blockedbyclient');
  });
  await page.goto(opt.url, { waitUntil: 'domcontentloaded' });
  mark('dom');
  // The Playground opens the personal chat with the bot; its compose box is the only textbox on the page.
  const box = page.getByRole('textbox');
  await box.waitFor({ state: 'visible' });
  mark('loaded');
  const before = await page.locator('.ac-adaptiveCard').count();
  await box.click();
  await box.pressSequentially(opt.text);
  await box.press('Enter');
  // Our own message shows up first, then the bot's card.
  await page.getByText(opt.text, { exact: true }).first().waitFor();
  const want = before + Number(opt['min-cards']);
  await page.waitForFunction(
    (n) => document.querySelectorAll('.ac-adaptiveCard').length >= n, want, { timeout });
  // let the card finish rendering (images, columns) before reading and photographing it
  await page.waitForTimeout(300);
  mark('card');
  let click = null;
  if (opt.click) {
    // the button of that title on the bot's first card (Adaptive Cards renders actions as role=button)
    const target = page.locator('.ac-adaptiveCard').nth(before);
    const button = target.getByRole('button', { name: opt.click, exact: true }).first();
    await button.waitFor({ state: 'visible' });
    const count = await page.locator('.ac-adaptiveCard').count();
    const oldText = await target.innerText();
    await button.click();
    mark('clicked');
    const failed = (texts) => texts.find((t) => document.body.innerText.includes(t)) || null;
    const seenBefore = await page.evaluate(failed, opt['fail-text']);
    const failTexts = opt['fail-text'].filter((t) => t !== seenBefore);
    await page.waitForFunction(([n, i, old, texts]) => {
      const all = document.querySelectorAll('.ac-adaptiveCard');
      return all.length >= n || (all[i] && all[i].innerText !== old)
        || texts.some((t) => document.body.innerText.includes(t));
    }, [count + 1, before, oldText, failTexts], { timeout });
    await page.waitForTimeout(300);
    mark('afterClick');
    const now = await page.locator('.ac-adaptiveCard').count();
    click = { newCard: now > count, refreshed: (await target.innerText()) !== oldText, cardsBefore: count - before,
              failText: await page.evaluate(failed, failTexts) };
  }
  const cards = await page.locator('.ac-adaptiveCard').allInnerTexts();
  // everything the page shows (conversation and log panel), for checks beyond the card
  const pageText = await page.locator('body').innerText();
  if (opt.screenshot) await page.screenshot({ path: opt.screenshot, fullPage: true });
  process.stdout.write(JSON.stringify({ ok: true, cards: cards.slice(before), click, pageText, timings }) + '\n');
} catch (err) {
  exitCode = 1;
  let pageText = '';
  try {
    if (page) {
      if (opt.screenshot) await page.screenshot({ path: opt.screenshot, fullPage: true });
      pageText = (await page.locator('body').innerText()).slice(-2000);
    }
  } catch { /* the page is gone; report the original error */ }
  process.stdout.write(JSON.stringify({ ok: false, error: String(err && err.message || err), pageText, timings }) + '\n');
} finally {
  if (browser) await browser.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(exitCode);
