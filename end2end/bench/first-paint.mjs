// `node end2end/bench/first-paint.mjs [runs]`: how soon a cold browser shows the first
// row of /workflows. Seeds a fresh SQLite file (default 1,000 runs; DATABASE_URL: one
// seeded before, used as it is), starts the release binary on it, and opens the page in five new browser contexts (an empty cache each)
// in Debian's Chromium; prints the medians, in milliseconds from the navigation's
// start, of: index.html received (the ceiling: one small static answer), the app's
// WASM received, the session and runs list answered, and the first row on screen.
import { chromium } from '@playwright/test';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const runs = process.argv[2] ?? '1000';
const binary = process.env.DASHBOARD_BIN ?? resolve(import.meta.dirname, '../../target/release/configurable-agents');
const dir = mkdtempSync(join(tmpdir(), 'first-paint-'));
const database = process.env.DATABASE_URL ?? `sqlite://${join(dir, 'bench.db')}`;
const port = await freePort();
const url = `http://127.0.0.1:${port}`;

if (!process.env.DATABASE_URL) execFileSync(binary, ['seed', '--runs', runs, '--database-url', database], { stdio: 'ignore' });
const server = spawn(binary, ['dashboard', '--port', String(port), '--database-url', database], { stdio: 'ignore' });
try {
  await up();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  const samples = [];
  for (let i = 0; i < 5; i++) {
    const context = await browser.newContext();
    // Notes the moment the first row is added, from inside the page.
    await context.addInitScript(() => {
      const seen = new MutationObserver(() => {
        if (document.querySelector('[data-testid=runs-table] tbody tr')) {
          window.__firstRow = performance.now();
          seen.disconnect();
        }
      });
      seen.observe(document, { childList: true, subtree: true });
    });
    const page = await context.newPage();
    await page.goto(`${url}/workflows`);
    await page.locator('[data-testid=runs-table] tbody tr').first().waitFor();
    samples.push(await page.evaluate(() => {
      const entries = performance.getEntriesByType('resource');
      const end = (test) => entries.find((e) => test(new URL(e.name).pathname))?.responseEnd ?? NaN;
      return {
        'index.html': performance.getEntriesByType('navigation')[0].responseEnd,
        'WASM': end((p) => p.endsWith('.wasm')),
        '/api/session': end((p) => p === '/api/session'),
        '/api/workflows': end((p) => p === '/api/workflows'),
        'first row': window.__firstRow,
      };
    }));
    await context.close();
  }
  await browser.close();
  console.log(`\n/workflows over ${process.env.DATABASE_URL ?? `${runs} runs`}, 5 cold contexts, ms from navigation start (median; all)\n`);
  console.log('| | median | all |\n| --- | --- | --- |');
  for (const key of Object.keys(samples[0])) {
    const values = samples.map((s) => s[key]).sort((a, b) => a - b);
    console.log(`| ${key} | ${values[2].toFixed(0)} | ${values.map((v) => v.toFixed(0)).join(', ')} |`);
  }
} finally {
  server.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}

/** A port nothing listens on now, from the system (a guess could meet another server). */
function freePort() {
  return new Promise((done, fail) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
    probe.on('error', fail);
  });
}

async function up() {
  for (let i = 0; i < 400; i++) {
    try {
      if ((await fetch(`${url}/api/health`)).ok) return;
    } catch { /* starting */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the dashboard did not start');
}
