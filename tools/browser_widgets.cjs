// Drives the kernel-free explorer widgets of the built book in headless Debian
// chromium (playwright-core, vendored): run by tools/browser_widgets.py, which
// passes a JSON config as argv[2] and reads one JSON line from stdout.
'use strict';
const { chromium } = require('playwright-core');
const cfg = JSON.parse(process.argv[2]);

function watch(page, log) {
  page.on('console', (m) => {
    if (m.type() === 'error') log.consoleErrors.push(`${m.text()} [${(m.location() || {}).url || ''}]`);
  });
  page.on('pageerror', (e) => log.pageErrors.push(String(e.message || e)));
}

async function open(ctx, url, log, ready = '.plx-root[data-ready="true"]') {
  const page = await ctx.newPage();
  watch(page, log);
  const t0 = Date.now();
  await page.goto(url, {waitUntil: 'load', timeout: cfg.timeoutMs});
  await page.waitForSelector(ready, {timeout: cfg.timeoutMs});
  return {page, readyMs: Date.now() - t0};
}

function readValues(root) {
  // every [data-key] under the widget root: exact value and the text shown
  const out = {values: {}, text: {}};
  for (const el of document.querySelectorAll(`${root} [data-key]`)) {
    out.values[el.dataset.key] = el.dataset.value;
    out.text[el.dataset.key] = el.textContent;
  }
  return out;
}

async function setCase(page, id) {
  await page.fill('.plx-search', id);
  const value = await page.evaluate((cid) => {
    const opt = Array.from(document.querySelectorAll('.plx-case option')).find((o) => o.text.startsWith(cid + ' ·'));
    return opt ? opt.value : null;
  }, id);
  if (value === null) throw new Error(`case ${id} not in the explorer's list`);
  await page.selectOption('.plx-case', value);
  await page.waitForFunction((cid) => document.querySelector('.plx-root').dataset.case === cid, id);
}

async function setP(page, p) {
  await page.click(`button.plx-p[data-p="${p}"]`);
  await page.waitForFunction((pp) => document.querySelector('.plx-root').dataset.p === pp, p);
}

async function setB(page, b) {
  // the slider's own input handler recomputes and redraws synchronously: time it
  return page.evaluate((bb) => {
    const slider = document.querySelector('.plx-b');
    const t0 = performance.now();
    slider.value = String(bb);
    slider.dispatchEvent(new Event('input', {bubbles: true}));
    const handler = performance.now() - t0;
    const root = document.querySelector('.plx-root');
    return {handler, recompute: Number(root.dataset.recomputeMs), b: Number(root.dataset.b)};
  }, b);
}

async function hover(page, spec) {
  const lay = JSON.parse(await page.getAttribute('.plx-canvas', 'data-layout'));
  const box = await page.locator('.plx-canvas').boundingBox();
  await page.mouse.move(box.x + lay.x0[spec.model] + (spec.j + 0.5) * lay.cw,
                        box.y + lay.top + (spec.i + 0.5) * lay.ch);
  await page.waitForSelector('.plx-tip', {state: 'visible', timeout: 5000});
  return page.evaluate(() => {
    const t = document.querySelector('.plx-tip');
    return {...t.dataset, text: t.textContent};
  });
}

async function explorer(ctx) {
  const log = {consoleErrors: [], pageErrors: []};
  const {page, readyMs} = await open(ctx, cfg.base + cfg.explorer, log);
  const opened = await page.evaluate(() => {
    const d = document.querySelector('.plx-root').dataset;
    return {openMs: Number(d.openMs), recomputeMs: Number(d.recomputeMs)};
  });
  await page.waitForSelector('table.plx-grid', {timeout: cfg.timeoutMs});
  const readings = [], shots = [];
  for (const id of cfg.cases) {
    await setCase(page, id);
    for (const [b, p] of cfg.settings) {
      await setP(page, p);
      const ms = await setB(page, b);
      readings.push({case: id, b, p, ms, ...(await page.evaluate(readValues, '.plx-root'))});
      const shot = cfg.screenshots.find((s) => s.case === id && s.b === b && s.p === p);
      if (shot) {
        await page.locator('.plx-root').screenshot({path: shot.path});
        shots.push(shot.path);
      }
    }
  }
  const sweep = [];
  for (const b of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 7]) sweep.push({b, ...(await setB(page, b))});
  await setCase(page, cfg.hover.case);
  const tip = await hover(page, cfg.hover);
  await page.screenshot({path: cfg.fullShot, fullPage: true});
  await page.close();
  return {readyMs, opened, readings, sweep, tip, shots, ...log};
}

async function fromFile(ctx) {
  // the same page from file://, one setting
  const log = {consoleErrors: [], pageErrors: []};
  const {page, readyMs} = await open(ctx, cfg.fileBase + cfg.explorer, log);
  const [b, p] = cfg.settings[0];
  await setCase(page, cfg.cases[0]);
  await setP(page, p);
  await setB(page, b);
  const out = {readyMs, case: cfg.cases[0], b, p, ...(await page.evaluate(readValues, '.plx-root')), ...log};
  await page.close();
  return out;
}

async function browser(ctx, spec) {
  // a Finding 2/3 browser: read it, pick the last layer (and a head), read again
  const log = {consoleErrors: [], pageErrors: []};
  const {page, readyMs} = await open(ctx, cfg.base + spec.path, log);
  const first = await page.evaluate(readValues, '.plx-root');
  const layers = await page.$$eval('.plx-root select[aria-label="layer"] option', (o) => o.map((x) => x.value));
  await page.selectOption('.plx-root select[aria-label="layer"]', layers[layers.length - 1]);
  if (spec.head !== undefined) await page.selectOption('.plx-root select[aria-label="head"]', String(spec.head));
  const root = await page.evaluate(() => ({...document.querySelector('.plx-root').dataset}));
  const last = await page.evaluate(readValues, '.plx-root');
  await page.locator('.plx-root').screenshot({path: spec.shot});
  await page.close();
  return {readyMs, first, last, root, ...log};
}

async function weight(browserObj, path) {
  // a fresh context (empty cache): bytes on the wire and decoded, per request
  const ctx = await browserObj.newContext({viewport: {width: 1280, height: 900}});
  const pending = [];
  ctx.on('requestfinished', (r) => pending.push((async () => {
    const sizes = await r.sizes();
    const resp = await r.response();
    const body = resp ? await resp.body().catch(() => Buffer.alloc(0)) : Buffer.alloc(0);
    return {url: r.url(), transferred: sizes.responseBodySize, raw: body.length};
  })()));
  const page = await ctx.newPage();
  await page.goto(cfg.base + path, {waitUntil: 'load', timeout: cfg.timeoutMs});
  await page.waitForLoadState('networkidle', {timeout: cfg.timeoutMs}).catch(() => {});
  await page.waitForTimeout(500);
  const rows = await Promise.all(pending);
  await ctx.close();
  return {path, rows};
}

(async () => {
  const ctx = await chromium.launchPersistentContext(cfg.userDataDir, {
    executablePath: cfg.chromium, headless: true, args: cfg.flags, viewport: {width: 1280, height: 900}});
  const net = {requests: [], failures: []};
  ctx.on('request', (r) => net.requests.push(r.url()));
  ctx.on('requestfailed', (r) => net.failures.push(`${r.url()} ${(r.failure() || {}).errorText}`));
  ctx.on('response', (r) => { if (r.status() >= 400) net.failures.push(`${r.url()} HTTP ${r.status()}`); });
  const result = {net};
  result.explorer = await explorer(ctx);
  result.file = await fromFile(ctx);
  result.browsers = [];
  for (const spec of cfg.browsers) result.browsers.push({path: spec.path, ...(await browser(ctx, spec))});
  await ctx.close();
  const other = await chromium.launch({executablePath: cfg.chromium, headless: true, args: cfg.flags});
  result.weights = [];
  for (const path of cfg.weights) result.weights.push(await weight(other, path));
  await other.close();
  console.log(JSON.stringify(result));
})().catch((e) => { console.log(JSON.stringify({fatal: String((e && e.stack) || e)})); process.exit(2); });
