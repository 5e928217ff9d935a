import { test, expect, waitLive } from './fixtures';

test('overview shows live totals and the latest runs', async ({ page, dashboard }) => {
  await dashboard.run('article_writer', { status: 'completed', tokens: 1200, cost: 0.25 });
  await dashboard.run('support_triage', { status: 'failed' });
  await page.goto(dashboard.url);
  await waitLive(page);
  await expect(page.getByTestId('total-workflows')).toHaveText('2');
  await expect(page.getByTestId('total-cost')).toHaveText('$0.2500');
  await expect(page.getByTestId('latest-runs').getByRole('link', { name: 'article_writer' })).toBeVisible();

  // A run created through the API appears, and the totals follow, without a reload.
  const started = Date.now();
  await dashboard.run('code_review', { status: 'running' });
  await expect(page.getByTestId('latest-runs').getByRole('link', { name: 'code_review' })).toBeVisible({ timeout: 1000 });
  expect(Date.now() - started).toBeLessThan(1500);
  await expect(page.getByTestId('total-workflows')).toHaveText('3');
  await expect(page.getByTestId('running')).toHaveText('1');
});

test('empty states explain what to expect', async ({ page, dashboard }) => {
  await page.goto(dashboard.url);
  await expect(page.getByText('No runs yet')).toBeVisible();
  await expect(page.getByText('No agents registered.')).toBeVisible();
});

test('the app arrives compressed as built, and its theme choice is remembered', async ({ page, dashboard }) => {
  const wasm = page.waitForResponse((response) => response.url().endsWith('.wasm'));
  await page.goto(dashboard.url);
  expect((await wasm).headers()['content-encoding']).toBe('br');
  await waitLive(page);

  const html = page.locator('html');
  const toggle = page.getByRole('button', { name: /Dark|Light/ });
  const before = await toggle.textContent();
  await toggle.click();
  await expect(toggle).not.toHaveText(before ?? '');
  const chosen = (await toggle.textContent())?.includes('Dark') ? 'dark' : 'light';
  await expect(html).toHaveClass(chosen);
  await page.reload();
  await expect(html).toHaveClass(chosen);
  await expect(toggle).toHaveText(new RegExp(chosen, 'i'));
});
