// The runs list tells the truth while runs change, and holds still under the
// operator's hand: rows leave and enter filters live, and while the table is in use
// new runs wait behind a bar, so picks never slide.
import { test, expect, waitLive } from './fixtures';

test('a filtered list keeps exactly the runs that match, as they change', async ({ page, dashboard }) => {
  const first = await dashboard.run('alpha', { status: 'running' });
  const second = await dashboard.run('alpha', { status: 'running' });
  const done = await dashboard.run('alpha', { status: 'completed' });
  await page.goto(`${dashboard.url}/workflows?status=pending,running`);
  await waitLive(page);
  await page.mouse.move(0, 0);
  const row = (id: string) => page.locator(`tr[data-run-id="${id}"]`);
  await expect(row(first)).toBeVisible();
  await expect(row(second)).toBeVisible();
  await expect(row(done)).toHaveCount(0);

  // A run that stops matching is marked, then leaves.
  await dashboard.api('POST', `/api/workflows/${first}/complete`, {});
  await expect(row(first)).toHaveClass(/leaving/);
  await expect(row(first)).toHaveCount(0);
  await dashboard.api('POST', `/api/workflows/${second}/cancel`);
  await expect(row(second)).toHaveCount(0);
  // Runs that start to match enter: new ones, and ones another filter kept out.
  const entering = await dashboard.run('beta', { status: 'running' });
  await expect(row(entering)).toBeVisible();
  const pending = await dashboard.run('gamma');
  await expect(row(pending)).toBeVisible();
  await expect(page.locator('tbody tr')).toHaveCount(2);

  // The same for a workflow and a search.
  await page.goto(`${dashboard.url}/workflows?workflow=alpha`);
  await waitLive(page);
  await page.mouse.move(0, 0);
  await expect(page.locator('tbody tr')).toHaveCount(3);
  const other = await dashboard.run('beta', { status: 'running' });
  const mine = await dashboard.run('alpha', { status: 'running' });
  await expect(row(mine)).toBeVisible();
  await expect(row(other)).toHaveCount(0);
  await page.goto(`${dashboard.url}/workflows?q=needle`);
  await waitLive(page);
  await page.mouse.move(0, 0);
  await expect(page.getByText('No runs match these filters.')).toBeVisible();
  const found = await dashboard.run('haystack_needle', { status: 'running' });
  await expect(row(found)).toBeVisible();
  await expect(page.getByTestId('filter-q')).toHaveValue('needle');
});

test('picks hold still while twenty runs arrive', async ({ page, dashboard }) => {
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push(await dashboard.run('steady', { status: 'running' }));
  await page.goto(`${dashboard.url}/workflows`);
  await waitLive(page);
  const picks = [ids[5], ids[3], ids[1]];
  for (const id of picks) await page.locator(`tr[data-run-id="${id}"] .col-pick input`).check();
  await expect(page.getByTestId('bulk-bar')).toContainText('3 picked');
  const tops = async () => Promise.all(picks.map(async (id) => (await page.locator(`tr[data-run-id="${id}"]`).boundingBox())!.y));
  const before = await tops();

  const arrived: string[] = [];
  for (let i = 0; i < 20; i++) arrived.push(await dashboard.run('arriving', { status: 'running' }));
  await expect(page.getByTestId('new-runs')).toHaveText('↑ 20 new runs · show');
  expect(await tops()).toEqual(before);
  for (const id of picks) await expect(page.locator(`tr[data-run-id="${id}"] .col-pick input`)).toBeChecked();
  await expect(page.getByTestId('bulk-bar')).toContainText('3 picked');
  await expect(page.locator(`tr[data-run-id="${arrived[0]}"]`)).toHaveCount(0);

  // Shown on request, above, with the picks as they were.
  await page.getByTestId('new-runs').click();
  await expect(page.locator('tbody tr')).toHaveCount(26);
  await expect(page.locator('tbody tr').first()).toHaveAttribute('data-run-id', arrived[19]);
  await expect(page.getByTestId('bulk-bar')).toContainText('3 picked');
  for (const id of picks) await expect(page.locator(`tr[data-run-id="${id}"] .col-pick input`)).toBeChecked();

  // Let go, the page takes new runs as they come.
  await page.getByTestId('bulk-bar').getByRole('button', { name: 'Clear' }).click();
  await page.mouse.move(0, 0);
  const later = await dashboard.run('later', { status: 'running' });
  await expect(page.locator('tbody tr').first()).toHaveAttribute('data-run-id', later);
  await expect(page.getByTestId('new-runs')).toHaveCount(0);
});

test('in another order a run that starts to match is counted, and a reload places it', async ({ page, dashboard }) => {
  await dashboard.run('costly', { status: 'completed', tokens: 500, cost: 0.5 });
  await page.goto(`${dashboard.url}/workflows?sort=-total_cost_usd`);
  await waitLive(page);
  await page.mouse.move(0, 0);
  const cheap = await dashboard.run('cheap', { status: 'running' });
  await expect(page.getByTestId('changed-runs')).toHaveText('1 run now matches · reload to see it in order');
  await page.getByTestId('changed-runs').click();
  await expect(page.locator(`tr[data-run-id="${cheap}"]`)).toBeVisible();
  await expect(page.getByTestId('changed-runs')).toHaveCount(0);
});
