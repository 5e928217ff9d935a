import { test, expect, waitLive, shot } from './fixtures';

test('run detail shows the node timeline and tails logs live', async ({ page, dashboard }) => {
  const id = await dashboard.run('article_writer', { status: 'running', tokens: 500, cost: 0.02 });
  await dashboard.api('POST', `/api/workflows/${id}/logs`, { message: 'research started', node_id: 'research' });
  await page.goto(`${dashboard.url}/workflows/${id}`);
  await waitLive(page);
  await expect(page.getByRole('heading', { name: /article_writer/ })).toBeVisible();
  await expect(page.getByTestId('timeline')).toContainText('research');
  await expect(page.getByTestId('timeline')).toContainText('gpt-4o-mini');
  await expect(page.getByTestId('logs')).toContainText('research started');

  await dashboard.api('POST', `/api/workflows/${id}/logs`, { lines: [{ message: 'writing now', node_id: 'write' }] });
  await expect(page.getByTestId('logs')).toContainText('writing now', { timeout: 1000 });
  await dashboard.api('POST', `/api/workflows/${id}/states`, { node_id: 'write', status: 'failed', duration_seconds: 2, error: 'model refused' });
  await expect(page.locator('.node.failed')).toContainText('model refused');
  await dashboard.api('POST', `/api/workflows/${id}/fail`, { error_message: 'node write failed' });
  await expect(page.getByRole('alert')).toContainText('node write failed');
  await expect(page.locator('h1 .badge')).toHaveText(/failed/);
});

test('a run that ends while its page is open shows its outputs', async ({ page, dashboard }) => {
  const id = await dashboard.run('article_writer', { status: 'running', tokens: 500, cost: 0.02 });
  await page.goto(`${dashboard.url}/workflows/${id}`);
  await waitLive(page);
  const outputs = page.locator('section.panel').filter({ has: page.getByRole('heading', { name: 'Outputs' }) });
  await expect(outputs).toContainText('None recorded.');
  await dashboard.api('POST', `/api/workflows/${id}/complete`, { outputs: { article: 'Tides, explained' } });
  await expect(outputs).toContainText('Tides, explained');
});

test('restart runs again on an agent and links the new run both ways', async ({ page, dashboard }) => {
  const id = await dashboard.run('article_writer', { status: 'failed' });
  const agent = await dashboard.agent('article_writer');
  await page.goto(`${dashboard.url}/workflows/${id}`);
  await waitLive(page);
  await page.getByRole('button', { name: 'Restart' }).click();
  const lineage = page.getByTestId('lineage');
  await expect(lineage).toContainText('Restarted into');
  await lineage.getByRole('link').click();
  await expect(page.getByTestId('lineage')).toContainText('Restarted from');
  await expect(page.getByTestId('run-agent')).toContainText(agent);
  await expect(page.locator('h1 .badge')).toHaveText(/completed/, { timeout: 15_000 });
  await expect(page.getByTestId('timeline')).toContainText('write');
});

test.describe('unknown run', () => {
  test.use({ expectedConsoleErrors: /status of 404/ });
  test('an unknown run says so', async ({ page, dashboard }) => {
  await page.goto(`${dashboard.url}/workflows/00000000-0000-4000-8000-000000000000`);
  await expect(page.getByTestId('missing-run')).toContainText('There is no run 00000000-0000-4000-8000-000000000000');
  await expect(page.getByRole('button', { name: 'Try again' })).toHaveCount(0);
  await page.getByTestId('missing-run').getByRole('link', { name: 'All runs' }).click();
  await expect(page).toHaveURL(/\/workflows$/);
});
});

test('a run compares with the previous run of its workflow', async ({ page, dashboard }) => {
  const a = await dashboard.run('article_writer', { status: 'completed', tokens: 500, cost: 0.02 });
  const b = await dashboard.run('article_writer', { status: 'running', tokens: 800, cost: 0.05 });
  await dashboard.api('POST', `/api/workflows/${b}/states`, { node_id: 'write', status: 'completed', duration_seconds: 2,
    total_tokens: 300, model: 'gpt-4o', cost_usd: 0.01 });
  await page.goto(`${dashboard.url}/workflows/${b}`);
  await waitLive(page);
  await page.getByTestId('compare-previous').click();
  await expect(page).toHaveURL(new RegExp(`/workflows/compare\\?a=${a}&b=${b}`));
  const totals = page.getByTestId('compare-totals');
  await expect(totals).toContainText('+$0.0400');
  await expect(totals).toContainText('+600');
  const nodes = page.getByTestId('compare-nodes');
  await expect(nodes.locator('tr.differs')).toContainText('write');
  await expect(nodes.locator('tbody tr').first()).toContainText('research');
  await expect(page.getByTestId('compare-inputs')).toContainText('topic');
  await expect(page.getByRole('heading', { name: /Inputs/ })).toContainText('0 differ');
  await page.screenshot({ path: shot('compare'), fullPage: true });
});

test('a running run shows the node at work, live, and where a cancel stopped it', async ({ page, dashboard }) => {
  const id = await dashboard.run('article_writer', { status: 'running' });
  await dashboard.api('POST', `/api/workflows/${id}/logs`, { message: 'Prompt sent to gpt-4o', node_id: 'research' });
  await page.goto(`${dashboard.url}/workflows/${id}`);
  await waitLive(page);
  const working = page.getByTestId('node-at-work');
  await expect(working).toHaveCount(1);
  await expect(working).toContainText('research');
  await expect(working).toContainText('▶ at work');
  await expect(page.getByTestId('span-at-work')).toHaveCount(1);
  await expect(page.getByTestId('run-duration')).toContainText('so far');
  const first = await working.locator('.node-facts dd').first().textContent();
  await expect(working.locator('.node-facts dd').first()).not.toHaveText(first!, { timeout: 3000 });

  // Its report ends its work; the next node's first line starts the next.
  await dashboard.api('POST', `/api/workflows/${id}/states`, { node_id: 'research', status: 'completed', duration_seconds: 1, total_tokens: 10 });
  await expect(working).toHaveCount(0);
  await expect(page.getByTestId('timeline').locator('li.node')).toHaveCount(1);
  await dashboard.api('POST', `/api/workflows/${id}/logs`, { message: 'Prompt sent to gpt-4o', node_id: 'write' });
  await expect(working).toContainText('write');

  // Cancelled while the node worked: it says so, with how long it worked.
  await dashboard.api('POST', `/api/workflows/${id}/cancel`);
  await expect(working).toContainText('stopped (cancelled)');
  await expect(page.getByTestId('run-duration')).not.toContainText('so far');
});

test('a run cancelled in its first node shows that node, not "nothing reported"', async ({ page, dashboard }) => {
  const id = await dashboard.run('support_triage', { status: 'running' });
  await dashboard.api('POST', `/api/workflows/${id}/logs`, { message: 'Classifying', node_id: 'classify' });
  await dashboard.api('POST', `/api/workflows/${id}/cancel`);
  await page.goto(`${dashboard.url}/workflows/${id}`);
  await waitLive(page);
  await expect(page.getByTestId('node-at-work')).toContainText('classify');
  await expect(page.getByText('No node has reported')).toHaveCount(0);
});

test.describe('compare', () => {
  // The unknown run's 404 is logged by the browser.
  test.use({ expectedConsoleErrors: /status of 404/ });

  test('compare without runs offers a picker; nodes line up in run order', async ({ page, dashboard }) => {
    const runs: string[] = [];
    for (const cost of [0.01, 0.02]) {
      const id = await dashboard.run('article_writer', { status: 'running' });
      for (const node of ['research', 'write', 'edit']) {
        await dashboard.api('POST', `/api/workflows/${id}/states`, { node_id: node, status: 'completed', duration_seconds: 1, cost_usd: cost });
      }
      runs.push(id);
    }
    await page.goto(`${dashboard.url}/workflows/compare`);
    await waitLive(page);
    await expect(page.getByText('no route')).toHaveCount(0);
    const recent = page.getByTestId('compare-recent');
    await recent.locator(`tr[data-run-id="${runs[0]}"]`).getByRole('button', { name: 'As A' }).click();
    await recent.locator(`tr[data-run-id="${runs[1]}"]`).getByRole('button', { name: 'As B' }).click();
    await page.getByTestId('compare-pick').getByRole('button', { name: 'Compare' }).click();
    await expect(page).toHaveURL(new RegExp(`a=${runs[0]}&b=${runs[1]}`));
    const nodes = page.getByTestId('compare-nodes').locator('tbody tr td:first-child');
    await expect(nodes).toHaveText(['research', 'write', 'edit']);
    // A run still going is followed: its next node appears.
    await dashboard.api('POST', `/api/workflows/${runs[1]}/states`, { node_id: 'publish', status: 'completed', duration_seconds: 1, cost_usd: 0.01 });
    await expect(nodes).toHaveText(['research', 'write', 'edit', 'publish']);
    await expect(page.getByTestId('compare-totals').locator('thead')).toContainText(runs[0].slice(0, 8));

    // An id that names no run says which, and offers the picker again, filled in.
    await page.goto(`${dashboard.url}/workflows/compare?a=${runs[0]}&b=00000000-0000-4000-8000-000000000000`);
    await expect(page.getByTestId('compare-error')).toContainText('Run B');
    await expect(page.getByTestId('compare-a')).toHaveValue(runs[0]);
  });
});
