// The first answers are asked for by index.html while the app's code downloads and
// compiles, and the app takes them instead of asking again (frontend/src/early.rs).
import { test, expect, waitLive } from './fixtures';

test('a cold /workflows asks for the session and first runs while the app loads, once each', async ({ page, dashboard }) => {
  await dashboard.run('early_bird', { status: 'completed' });
  const events: string[] = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith('/api/') && url.pathname !== '/api/events') events.push(`asked ${url.pathname}${url.search}`);
  });
  page.on('requestfinished', (request) => {
    if (new URL(request.url()).pathname.endsWith('.wasm')) events.push('wasm received');
  });
  await page.goto(`${dashboard.url}/workflows`);
  await expect(page.getByTestId('runs-table').locator('tbody tr')).toHaveCount(1);
  await waitLive(page);
  await page.waitForLoadState('networkidle');
  const asked = (what: string) => events.filter((e) => e === `asked ${what}`).length;
  expect(asked('/api/session'), events.join('\n')).toBe(1);
  // The app's `/api/workflows?` is reported without its empty query.
  expect(asked('/api/workflows'), events.join('\n')).toBe(1);
  expect(events.indexOf('asked /api/session'), events.join('\n')).toBeLessThan(events.indexOf('wasm received'));
});
