// Picking runs on the runs page: bulk cancel with a dry run first and live progress,
// every run a filter selects, compare two picked runs, the page size in the URL and
// the column chooser.
import { test, expect, waitLive, shot } from './fixtures';

test('picked runs are cancelled as a bulk job, after a dry run, with progress', async ({ page, dashboard }) => {
  const running = [];
  for (let i = 0; i < 3; i++) running.push(await dashboard.run('nightly_report', { status: 'running', cost: 0.02 }));
  const done = await dashboard.run('nightly_report', { status: 'completed', cost: 0.03 });
  await page.goto(`${dashboard.url}/workflows`);
  await waitLive(page);
  for (const id of [running[0], running[1], done]) {
    await page.locator(`tr[data-run-id="${id}"] .col-pick input`).check();
  }
  const bar = page.getByTestId('bulk-bar');
  await expect(bar).toContainText('3 picked');
  await bar.getByTestId('bulk-cancel').click();
  const preview = page.getByTestId('bulk-preview');
  await expect(preview).toContainText('Cancel 2 of 3 runs');
  await expect(preview).toContainText('1 run will be skipped');
  await expect(preview).toContainText('2 running, 1 completed');
  await page.screenshot({ path: shot('bulk-preview') });
  await preview.getByTestId('bulk-confirm').click();

  const job = page.getByTestId('bulk-job');
  await expect(job).toHaveAttribute('data-status', 'completed');
  await expect(job.getByTestId('bulk-counts')).toHaveText('2 done, 1 skipped, 0 failed of 3 runs');
  await expect(job).toContainText('Skipped: 1 already completed');
  await expect(bar).toHaveCount(0);
  for (const id of [running[0], running[1]]) {
    await expect(page.locator(`tr[data-run-id="${id}"] .badge`)).toHaveText(/cancelled/);
  }
  await expect(page.locator(`tr[data-run-id="${running[2]}"] .badge`)).toHaveText(/running/);
  await page.screenshot({ path: shot('bulk-job') });
  await page.goto(`${dashboard.url}/workflows/${running[0]}`);
  await expect(page.getByText(/Run cancelled by local in bulk job/)).toBeVisible();
});

test('every run a filter selects, beyond the page, is deleted', async ({ page, dashboard }) => {
  for (let i = 0; i < 30; i++) await dashboard.run('cleanup', { status: 'failed' });
  await dashboard.run('keep_me', { status: 'failed' });
  await page.goto(`${dashboard.url}/workflows?workflow=cleanup&limit=25`);
  await waitLive(page);
  await expect(page.getByTestId('page-size')).toHaveValue('25');
  await expect(page.locator('tbody tr')).toHaveCount(25);
  await page.getByTestId('pick-page').check();
  await expect(page.getByTestId('bulk-bar')).toContainText('25 picked');
  await page.getByTestId('pick-all-matching').click();
  await expect(page.getByTestId('bulk-bar')).toContainText('Every run matching these filters');
  // Leaving a run out leaves out "every run matching".
  const first = page.locator('tbody tr').first().locator('.col-pick input');
  await first.uncheck();
  await expect(page.getByTestId('bulk-bar')).toContainText('24 picked');
  await first.check();
  await page.getByTestId('pick-all-matching').click();
  await expect(page.getByTestId('bulk-bar')).toContainText('Every run matching these filters');
  await page.getByTestId('bulk-delete').click();
  await expect(page.getByTestId('bulk-preview')).toContainText('Delete 30 runs');
  await page.getByTestId('bulk-confirm').click();
  await expect(page.getByTestId('bulk-job').getByTestId('bulk-counts')).toHaveText('30 done, 0 skipped, 0 failed of 30 runs');
  await expect(page.getByText('No runs match these filters.')).toBeVisible();
  await page.goto(`${dashboard.url}/workflows`);
  await expect(page.locator('tbody tr')).toHaveCount(1);
  await expect(page.locator('tbody tr')).toContainText('keep_me');
});

test('two picked runs open side by side', async ({ page, dashboard }) => {
  const a = await dashboard.run('article_writer', { status: 'completed', cost: 0.02 });
  const b = await dashboard.run('article_writer', { status: 'failed', cost: 0.05 });
  await page.goto(`${dashboard.url}/workflows`);
  await waitLive(page);
  await page.locator(`tr[data-run-id="${a}"] .col-pick input`).check();
  await expect(page.getByTestId('compare-picked')).toHaveCount(0);
  await page.locator(`tr[data-run-id="${b}"] .col-pick input`).check();
  await page.getByTestId('compare-picked').click();
  await expect(page).toHaveURL(new RegExp(`/workflows/compare\\?a=(${a}|${b})&b=(${a}|${b})`));
});

test('page size and shown columns are kept', async ({ page, dashboard }) => {
  for (let i = 0; i < 30; i++) await dashboard.run(`r${i}`, { status: 'completed', tokens: 10 });
  await page.goto(`${dashboard.url}/workflows`);
  await expect(page.locator('tbody tr')).toHaveCount(30);
  await page.getByTestId('page-size').selectOption('25');
  await expect(page).toHaveURL(/limit=25/);
  await expect(page.locator('tbody tr')).toHaveCount(25);
  await page.getByTestId('next-page').click();
  await expect(page.locator('tbody tr')).toHaveCount(5);
  await expect(page).toHaveURL(/limit=25/);

  const tokens = page.locator('thead th.col-total_tokens');
  await expect(tokens).toBeVisible();
  await page.getByTestId('columns-menu').locator('summary').click();
  await page.getByTestId('column-total_tokens').uncheck();
  await expect(tokens).toBeHidden();
  await expect(page.locator('tbody td.col-total_tokens').first()).toBeHidden();
  await page.reload();
  await expect(page.locator('tbody tr').first()).toBeVisible();
  await expect(tokens).toBeHidden();
  await expect(page.locator('thead th.col-total_cost_usd')).toBeVisible();
});
