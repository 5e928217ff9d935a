import { readFileSync } from 'node:fs';
import { test, expect, waitLive } from './fixtures';

test('new runs and status changes appear live in the table', async ({ page, dashboard }) => {
  await dashboard.run('first', { status: 'completed' });
  await page.goto(`${dashboard.url}/workflows`);
  await waitLive(page);
  const table = page.getByTestId('runs-table');
  await expect(table.locator('tbody tr')).toHaveCount(1);

  const id = await dashboard.run('live_one', { status: 'running' });
  const row = table.locator(`tr[data-run-id="${id}"]`);
  await expect(row).toBeVisible({ timeout: 1000 });
  await expect(row.locator('.badge')).toHaveText(/running/);

  await dashboard.api('POST', `/api/workflows/${id}/states`, { node_id: 'n', total_tokens: 1234, cost_usd: 0.5 });
  await expect(row.locator('td.col-total_tokens')).toHaveText('1,234');
  await dashboard.api('POST', `/api/workflows/${id}/complete`, {});
  await expect(row.locator('.badge')).toHaveText(/completed/);
  await expect(table.locator('tbody tr')).toHaveCount(2);
});

test('cancel and restart from the table show their result', async ({ page, dashboard }) => {
  const running = await dashboard.run('to_cancel', { status: 'running' });
  const failed = await dashboard.run('article_writer', { status: 'failed' });
  await dashboard.agent('article_writer');
  await page.goto(`${dashboard.url}/workflows`);
  await waitLive(page);

  page.once('dialog', (dialog) => dialog.accept());
  await page.locator(`tr[data-run-id="${running}"]`).getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByRole('status').getByText(/cancelled/)).toBeVisible();
  await expect(page.locator(`tr[data-run-id="${running}"] .badge`)).toHaveText(/cancelled/);

  await page.locator(`tr[data-run-id="${failed}"]`).getByRole('button', { name: 'Restart' }).click();
  await expect(page.getByRole('status').getByText(/Restarted as run/)).toBeVisible();
  // The new run waits while the pointer is on the table, and comes in when it leaves.
  await expect(page.getByTestId('new-runs')).toHaveText('↑ 1 new run · show');
  await page.mouse.move(0, 0);
  await expect(page.locator('tbody tr').filter({ hasText: 'article_writer' })).toHaveCount(2);
});

test.describe('conflicts', () => {
  // Live updates are cut below, and the refused cancel is a 409: both reach the console.
  test.use({ expectedConsoleErrors: /status of 409|ERR_FAILED|EventSource|Failed to load resource/ });

  test('a conflict is shown as a message, not swallowed', async ({ page, dashboard }) => {
    const id = await dashboard.run('racing', { status: 'running' });
    // Without live updates the table still offers Cancel after the run has finished.
    await page.route('**/api/events*', (route) => route.abort());
    await page.goto(`${dashboard.url}/workflows`);
    await expect(page.locator(`tr[data-run-id="${id}"] .badge`)).toHaveText(/running/);
    await dashboard.api('POST', `/api/workflows/${id}/complete`, {});
    page.once('dialog', (dialog) => dialog.accept());
    await page.locator(`tr[data-run-id="${id}"]`).getByRole('button', { name: 'Cancel' }).click();
    await expect(page.getByRole('status').getByText(/Could not cancel: .*completed/)).toBeVisible();
  });
});

test('filters live in the URL and survive reload and back/forward', async ({ page, dashboard }) => {
  await dashboard.run('alpha', { status: 'completed' });
  await dashboard.run('beta', { status: 'failed' });
  await page.goto(`${dashboard.url}/workflows`);
  await expect(page.locator('tbody tr')).toHaveCount(2);

  await page.getByTestId('filter-status').selectOption('failed');
  await expect(page).toHaveURL(/status=failed/);
  await expect(page.locator('tbody tr')).toHaveCount(1);
  await page.reload();
  await expect(page.getByTestId('filter-status')).toHaveValue('failed');
  await expect(page.locator('tbody tr')).toHaveCount(1);
  await expect(page.locator('tbody tr')).toContainText('beta');

  await page.getByTestId('filter-q').fill('alp');
  await page.getByTestId('filter-q').press('Enter');
  await expect(page).toHaveURL(/q=alp/);
  await expect(page.getByText('No runs match these filters.')).toBeVisible();
  await page.goBack();
  await expect(page.locator('tbody tr')).toHaveCount(1);
  await expect(page.locator('tbody tr')).toContainText('beta');
});

test('sorting and paging', async ({ page, dashboard }) => {
  for (const [name, cost] of [['cheap', 0.01], ['dear', 0.9], ['mid', 0.3]] as const) {
    await dashboard.run(name, { status: 'completed', tokens: 100, cost });
  }
  await page.goto(`${dashboard.url}/workflows`);
  await page.getByRole('button', { name: /Cost/ }).click();
  await expect(page).toHaveURL(/sort=-total_cost_usd/);
  await expect(page.locator('tbody tr').first()).toContainText('dear');
  await page.getByRole('button', { name: /Cost/ }).click();
  await expect(page.locator('tbody tr').first()).toContainText('cheap');

  // 50 runs a page: 52 more make a second page, reached by "Older".
  for (let i = 0; i < 52; i++) await dashboard.run(`bulk_${i}`);
  await page.goto(`${dashboard.url}/workflows`);
  await expect(page.locator('tbody tr')).toHaveCount(50);
  await expect(page.locator('tbody tr').first()).toContainText('bulk_51');
  await expect(page.getByTestId('pager-position')).toHaveText('Newest first · first 50');
  await page.getByTestId('next-page').click();
  await expect(page).toHaveURL(/cursor=/);
  await expect(page.locator('tbody tr')).toHaveCount(5);
  await expect(page.getByTestId('pager-position')).toHaveText('Newest first · rows 51–55');
  // Back and Forward keep the position.
  await page.goBack();
  await expect(page.getByTestId('pager-position')).toHaveText('Newest first · first 50');
  await page.goForward();
  await expect(page.getByTestId('pager-position')).toHaveText('Newest first · rows 51–55');
  await expect(page.locator('tbody tr').first()).toContainText('bulk_1');
  await expect(page.getByTestId('next-page')).toHaveCount(0);
  await page.getByRole('button', { name: /Newest/ }).click();
  await expect(page.locator('tbody tr')).toHaveCount(50);
});

test('a run the original runtime writes into the database appears without a reload', async ({ page, dashboard }) => {
  await page.goto(`${dashboard.url}/workflows`);
  await waitLive(page);
  // The original runtime writes the file directly (SQLAlchemy's layout and datetime text).
  const id = '4c1e9a7b-2d3f-4e5a-8b6c-7d8e9f0a1b2c';
  const started = new Date().toISOString().replace('T', ' ').replace('Z', '000');
  dashboard.sql(
    `INSERT INTO workflow_runs (id, workflow_name, status, inputs, started_at) `
    + `VALUES ('${id}', 'from_python', 'running', '{"topic": "AI"}', '${started}')`,
  );
  const row = page.locator(`tr[data-run-id="${id}"]`);
  await expect(row).toBeVisible({ timeout: 2000 });
  await expect(row.locator('.badge')).toHaveText(/running/);
  dashboard.sql(`UPDATE workflow_runs SET status = 'completed', completed_at = '${started}', duration_seconds = 3.5 WHERE id = '${id}'`);
  await expect(row.locator('.badge')).toHaveText(/completed/);
});

test('the runs page exports what its filters select', async ({ page, dashboard }) => {
  await dashboard.run('article_writer', { status: 'completed', tokens: 100, cost: 0.5 });
  await dashboard.run('support_triage', { status: 'failed' });
  await dashboard.run('article_writer', { status: 'failed' });
  await page.goto(`${dashboard.url}/workflows?status=failed`);
  await expect(page.getByTestId('runs-table').locator('tbody tr')).toHaveCount(2);
  const download = page.waitForEvent('download');
  await page.getByTestId('export-csv').click();
  const file = await (await download).path();
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  expect(lines[0]).toContain('id,workflow_name,status');
  expect(lines.length).toBe(3);
  expect(lines.slice(1).every((line) => line.includes(',failed,'))).toBe(true);
});

test('the keyboard moves through runs and opens one', async ({ page, dashboard }) => {
  for (const name of ['first', 'second', 'third']) await dashboard.run(name, { status: 'completed' });
  await page.goto(`${dashboard.url}/workflows`);
  await waitLive(page);
  const rows = page.getByTestId('runs-table').locator('tbody tr');
  await expect(rows).toHaveCount(3);
  await page.keyboard.press('/');
  await expect(page.getByTestId('filter-q')).toBeFocused();
  await page.getByTestId('filter-q').blur();
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  await expect(rows.nth(1)).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('k');
  await expect(rows.nth(0)).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: /third/ })).toBeVisible();

  // Back on the list, `?` lists the keys of every page and of this one, in a dialog
  // Escape closes.
  await page.goBack();
  await expect(rows).toHaveCount(3);
  await page.keyboard.press('?');
  const keys = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await expect(keys).toContainText('open the selected run');
  await expect(keys).toContainText('go to the agents');
  await page.keyboard.press('Escape');
  await expect(page.locator('dialog[open]')).toHaveCount(0);
});

test('a saved view comes back from the menu, and the default opens on arrival', async ({ page, dashboard }) => {
  await dashboard.run('article_writer', { status: 'failed' });
  await dashboard.run('support_triage', { status: 'completed' });
  await page.goto(`${dashboard.url}/workflows?status=failed`);
  await waitLive(page);
  const rows = page.getByTestId('runs-table').locator('tbody tr');
  await expect(rows).toHaveCount(1);
  // The view keeps the columns shown, too.
  await page.getByTestId('columns-menu').locator('summary').click();
  await page.getByTestId('column-total_tokens').uncheck();
  await page.getByTestId('columns-menu').locator('summary').click();
  // Named in a dialog, kept to oneself; Escape would have closed it.
  await page.getByTestId('save-view').click();
  const dialog = page.getByRole('dialog', { name: 'Save this view' });
  await expect(dialog.getByTestId('view-name')).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await page.getByTestId('save-view').click();
  await dialog.getByTestId('view-name').fill('Failures');
  await dialog.getByRole('button', { name: 'Save view' }).click();
  await expect(dialog).toBeHidden();
  const menu = page.getByTestId('view-menu');
  await expect(menu).toContainText('Failures');
  await page.getByRole('button', { name: 'Make default' }).click();
  await expect(menu).toContainText('Failures ★');

  // Another browser (no columns of its own) arrives at the default view, as it was saved.
  const other = await page.context().browser()!.newPage();
  await other.goto(`${dashboard.url}/workflows`);
  await expect(other).toHaveURL(/status=failed/);
  await expect(other.getByTestId('runs-table').locator('tbody tr')).toHaveCount(1);
  await expect(other.locator('thead th.col-total_tokens')).toBeHidden();
  await expect(other.locator('thead th.col-total_cost_usd')).toBeVisible();
  await other.close();
  const saved = await dashboard.api('GET', '/api/views');
  expect(saved.map((v: { name: string; default: boolean; shared: boolean; hidden_columns: string[] }) =>
    [v.name, v.default, v.shared, v.hidden_columns])).toEqual([['Failures', true, false, ['total_tokens']]]);
});

test('a view restores every filter into the controls', async ({ page, dashboard }) => {
  await dashboard.run('alpha', { status: 'running' });
  await page.goto(`${dashboard.url}/workflows?q=alp&workflow=alpha&status=running`);
  await waitLive(page);
  await page.getByTestId('save-view').click();
  const dialog = page.getByRole('dialog', { name: 'Save this view' });
  await dialog.getByTestId('view-name').fill('Alphas');
  await dialog.getByTestId('view-shared').check();
  await dialog.getByRole('button', { name: 'Save view' }).click();
  await page.getByRole('link', { name: 'Clear' }).click();
  await expect(page.getByTestId('filter-q')).toHaveValue('');
  await expect(page.getByTestId('filter-workflow')).toHaveValue('');
  const menu = page.getByTestId('view-menu');
  await menu.selectOption({ label: 'Alphas' });
  await expect(page.getByTestId('filter-q')).toHaveValue('alp');
  await expect(page.getByTestId('filter-workflow')).toHaveValue('alpha');
  await expect(page.getByTestId('filter-status')).toHaveValue('running');
  expect((await dashboard.api('GET', '/api/views'))[0].shared).toBe(true);
});
