import { createServer } from 'node:http';
import { test, expect, waitLive, shot } from './fixtures';
import type { Dashboard } from './fixtures';

/** Runs over the last days as the original runtime writes them (straight into the
 * SQLite file), with node reports naming models. */
function history(dashboard: Dashboard) {
  const now = Date.now();
  const values: string[] = [];
  const states: string[] = [];
  for (let i = 0; i < 40; i++) {
    const id = `30000000-0000-4000-8000-0000000000${String(i).padStart(2, '0')}`;
    const at = new Date(now - (i * 4 + 1) * 3600_000).toISOString().replace('T', ' ').replace('Z', '000');
    const workflow = ['article_writer', 'support_triage', 'code_review'][i % 3];
    const status = i % 7 === 0 ? 'failed' : 'completed';
    values.push(`('${id}', '${workflow}', '${status}', '${at}', ${2 + (i % 5) * 3}, ${1000 + i * 10}, ${(0.01 * (i + 1)).toFixed(2)})`);
    states.push(`('${id}', 'draft', '{"model": "${i % 2 ? 'gpt-4o' : 'gpt-4o-mini'}", "cost_usd": ${(0.01 * (i + 1)).toFixed(2)}, "total_tokens": ${1000 + i * 10}, "duration_seconds": 1.5}', '${at}')`);
  }
  dashboard.sql(`INSERT INTO workflow_runs (id, workflow_name, status, started_at, duration_seconds, total_tokens, total_cost_usd) VALUES ${values.join(', ')}`);
  dashboard.sql(`INSERT INTO execution_states (run_id, node_id, state_data, created_at) VALUES ${states.join(', ')}`);
}

test('analytics chart what runs did and cost, break it down, and follow new runs live', async ({ page, dashboard }) => {
  history(dashboard);
  const expected = await dashboard.api('GET', '/api/analytics/breakdown?range=7d');
  await page.goto(`${dashboard.url}/analytics`);
  await waitLive(page);
  const charts = page.getByTestId('charts');
  await expect(charts.locator('figure')).toHaveCount(5);
  await expect(charts.locator('figure').first().locator('rect:not(.column)')).not.toHaveCount(0);

  // The breakdown agrees with the API, and sorts.
  const table = page.getByTestId('breakdown');
  await expect(table.locator('tbody tr')).toHaveCount(3);
  const top = expected.rows[0];
  await expect(table.locator('tbody tr').first()).toContainText(top.key);
  await expect(table.locator('tbody tr').first()).toContainText(String(top.runs));
  await table.getByRole('button', { name: 'Workflow' }).click();
  await expect(table.locator('tbody tr').first()).toContainText('support_triage');
  await table.getByRole('button', { name: 'Workflow' }).click();
  await expect(table.locator('tbody tr').first()).toContainText('article_writer');

  // Hover shows a bucket's exact values; the legend hides a line.
  const cost = charts.locator('figure').nth(2);
  await cost.locator('rect.column').last().hover();
  await expect(cost.locator('figcaption')).toContainText('article_writer: $');
  await cost.getByRole('button', { name: 'code_review' }).click();
  await expect(cost.getByRole('button', { name: 'code_review' })).toHaveAttribute('aria-pressed', 'false');

  // A row leads to its runs.
  await table.getByRole('link', { name: 'code_review' }).click();
  await expect(page).toHaveURL(/\/workflows\?workflow=code_review/);
  await page.goBack();

  // By model: cost and tokens from node reports.
  await page.getByTestId('group-by').selectOption('model');
  await expect(page).toHaveURL(/group_by=model/);
  await expect(page.getByTestId('breakdown').locator('tbody tr')).toHaveCount(2);
  await expect(page.getByTestId('breakdown')).toContainText('gpt-4o-mini');

  // The nodes of one workflow.
  await page.getByTestId('group-by').selectOption('workflow');
  await expect(page.getByTestId('nodes')).toContainText('draft');

  // A run finishing shows up without a reload.
  const runsChart = charts.locator('figure').first();
  await expect(runsChart.locator('figcaption')).toContainText('40 in all');
  await dashboard.run('article_writer', { status: 'completed', tokens: 100, cost: 0.5 });
  await expect(runsChart.locator('figcaption')).toContainText('41 in all', { timeout: 8000 });
  await page.screenshot({ path: shot('analytics'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(charts.locator('figure')).toHaveCount(5);
  await page.screenshot({ path: shot('analytics-phone-dark'), fullPage: true });

  // Outcomes stack completed, failed and cancelled runs; a window of whole UTC days.
  await expect(charts.locator('figure').nth(1).getByRole('button', { name: 'cancelled' })).toBeVisible();
  const today = new Date().toISOString().slice(0, 10);
  await page.getByTestId('from').fill(today);
  await page.getByTestId('to').fill(today);
  await page.getByRole('button', { name: 'Show' }).click();
  await expect(page).toHaveURL(new RegExp(`from=${today}&to=${today}`));
  const started = await dashboard.api('GET', `/api/analytics/series?since=${today}T00:00:00Z&until=${today}T23:59:59Z`);
  await expect(runsChart.locator('figcaption')).toContainText(`${started.lines[0].total} in all`);
});

test('a series keeps its colour across charts, statuses have theirs, and each chart draws what it says', async ({ page, dashboard }) => {
  history(dashboard);
  await page.goto(`${dashboard.url}/analytics`);
  await waitLive(page);
  const charts = page.getByTestId('charts').locator('figure');
  const swatch = (chart: number, name: string) => charts.nth(chart).getByRole('button', { name }).locator('.swatch');
  const workflows = ['article_writer', 'support_triage', 'code_review'];
  const colours = [];
  for (const workflow of workflows) {
    const colour = await swatch(0, workflow).getAttribute('class');
    colours.push(colour);
    for (const chart of [2, 3]) expect(await swatch(chart, workflow).getAttribute('class'), workflow).toBe(colour);
  }
  expect(new Set(colours).size).toBe(3);
  for (const status of ['completed', 'failed', 'cancelled']) await expect(swatch(1, status)).toHaveClass(new RegExp(`st-${status}`));
  // The hovered bucket is lit behind its bars, which stay in sight.
  const runs = charts.nth(0);
  await runs.locator('rect.column').last().hover();
  const order = await runs.locator('svg').evaluate((svg) => [...svg.children].map((c) => c.getAttribute('class') ?? ''));
  expect(order.indexOf('hover')).toBeGreaterThan(-1);
  expect(order.indexOf('hover')).toBeLessThan(order.findIndex((c) => /^s\d$/.test(c)));
  // Durations are drawn: a dot for every value, joined where there are several.
  await expect(charts.nth(4).locator('polyline.dot')).not.toHaveCount(0);
});

test('an operator sets a budget; a run over it is cancelled and the workflow warns', async ({ page, dashboard }) => {
  history(dashboard);
  await page.goto(`${dashboard.url}/analytics`);
  await waitLive(page);
  const form = page.getByTestId('budget-form');
  await form.getByLabel('Workflow').fill('article_writer');
  await form.getByLabel('Per run ($)').fill('0.05');
  await form.getByRole('button', { name: 'Save budget' }).click();
  await expect(page.getByTestId('budgets')).toContainText('article_writer');
  await expect(page.getByTestId('budgets')).toContainText('$0.0500');

  const id = await dashboard.run('article_writer', { status: 'running', tokens: 500, cost: 0.06 });
  await page.goto(`${dashboard.url}/workflows/${id}`);
  await expect(page.locator('h1 .badge')).toHaveText(/cancelled/);
  await expect(page.getByRole('alert')).toContainText('budget exceeded: $0.0600 > $0.0500 per run');
  await expect(page.getByTestId('waterfall')).toContainText('research');

  // A daily cap nearly used: the analytics page warns.
  await dashboard.api('PUT', '/api/budgets/invoice_extractor', { daily_usd: 0.001 });
  await dashboard.run('invoice_extractor', { status: 'completed', tokens: 100, cost: 0.0009 });
  await page.goto(`${dashboard.url}/analytics`);
  await expect(page.getByTestId('budget-warning')).toContainText('invoice_extractor has used 80 %');
  await page.goto(`${dashboard.url}/workflows?workflow=invoice_extractor`);
  await expect(page.getByTestId('runs-table').locator('tbody tr').first()).toContainText('budget ≥ 80 %');
});

test('the run page draws its nodes as a waterfall', async ({ page, dashboard }) => {
  const id = await dashboard.run('article_writer', { status: 'running', tokens: 500, cost: 0.02 });
  await page.goto(`${dashboard.url}/workflows/${id}`);
  await waitLive(page);
  const waterfall = page.getByTestId('waterfall');
  await expect(waterfall.locator('.span')).toHaveCount(1);
  await dashboard.api('POST', `/api/workflows/${id}/states`, { node_id: 'write', status: 'completed', duration_seconds: 0.5,
    total_tokens: 300, model: 'gpt-4o', cost_usd: 0.01 });
  await expect(waterfall.locator('.span')).toHaveCount(2);
  await expect(waterfall).toContainText('300 tokens');
});

test.describe('webhooks to this machine', () => {
  // Webhooks reach loopback receivers only where the outbound policy allows them.
  test.use({ serverArgs: ['--webhook-networks', '127.0.0.0/8'] });

  test('an admin adds a webhook, tests it and removes it', async ({ page, dashboard }) => {
    const received: string[] = [];
    const server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => { body += chunk; });
      request.on('end', () => { received.push(body); response.writeHead(204).end(); });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
    try {
      await page.goto(`${dashboard.url}/analytics`);
      await waitLive(page);
      const form = page.getByTestId('webhook-form');
      await form.getByLabel('URL').fill(url);
      await form.getByLabel('agent.expired').uncheck();
      await form.getByRole('button', { name: 'Add webhook' }).click();
      await expect(page.getByTestId('webhook-secret')).toContainText('Signing secret');
      const row = page.getByTestId('webhooks').locator('tbody tr');
      await expect(row).toContainText(url);
      await expect(row).not.toContainText('agent.expired');
      await row.getByRole('button', { name: 'Test' }).click();
      await expect(page.getByText('Test alert delivered')).toBeVisible();
      await expect(row).toContainText('204');
      expect(JSON.parse(received[0]).event).toBe('test');
      page.once('dialog', (dialog) => dialog.accept());
      await row.getByRole('button', { name: 'Remove' }).click();
      await expect(page.getByText('No webhooks yet.')).toBeVisible();
    } finally {
      server.close();
    }
  });
});
