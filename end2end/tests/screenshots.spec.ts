// Screenshots of the main pages, from the real app with sample data, for the README.
// They are written to docs/screenshots only with UPDATE_SCREENSHOTS=1, so a test run
// leaves the checkout as it was.
import { test, expect, waitLive, shot } from './fixtures';

test('screenshots of each main page', async ({ page, dashboard }) => {
  for (const [name, status, tokens, cost] of [
    ['article_writer', 'completed', 5200, 0.012], ['support_triage', 'failed', 900, 0.002],
    ['code_review', 'running', 3100, 0.041], ['market_research', 'completed', 12800, 0.18],
    ['invoice_extractor', 'completed', 2200, 0.004],
  ] as const) {
    await dashboard.run(name, { status, tokens, cost });
  }
  for (const [id, ttl] of [['writer-1', 3600], ['triage-1', 3600], ['reviewer-1', 1]] as const) {
    await dashboard.api('POST', '/api/agents/register', {
      agent_id: id, agent_name: id.replace('-1', ' agent'), host: '10.0.0.5', port: 8001, ttl_seconds: ttl,
      metadata: JSON.stringify({ capabilities: [id.split('-')[0], 'summarize'] }),
    });
  }
  const detail = await dashboard.run('article_writer', { status: 'running', tokens: 1800, cost: 0.006 });
  await dashboard.api('POST', `/api/workflows/${detail}/logs`, { lines: [
    { message: 'starting article_writer on "browsers"', node_id: 'research' },
    { message: 'prompt sent to gpt-4o-mini', node_id: 'research' },
    { level: 'warning', message: 'retrying after a 429', node_id: 'write' },
  ] });
  await dashboard.api('POST', `/api/workflows/${detail}/states`, { node_id: 'write', status: 'completed', duration_seconds: 4.8,
    input_tokens: 2100, output_tokens: 900, total_tokens: 3000, model: 'gpt-4o', cost_usd: 0.0143, outputs: { article: 'Browsers…' } });

  await page.goto(dashboard.url);
  await waitLive(page);
  await expect(page.getByTestId('total-workflows')).toHaveText('6');
  await page.screenshot({ path: shot('dashboard'), fullPage: true });
  await page.goto(`${dashboard.url}/workflows`);
  await expect(page.locator('tbody tr')).toHaveCount(6);
  await page.screenshot({ path: shot('workflows'), fullPage: true });
  await page.goto(`${dashboard.url}/workflows/${detail}`);
  await expect(page.getByTestId('timeline')).toContainText('write');
  await page.screenshot({ path: shot('workflow-detail'), fullPage: true });
  await page.goto(`${dashboard.url}/agents?expired=1`);
  await expect(page.locator('tr[data-agent-id="reviewer-1"]')).toContainText('expired', { timeout: 4000 });
  await page.screenshot({ path: shot('agents'), fullPage: true });
  const agent = await dashboard.agent('article_writer', ['--ttl-seconds', '3']);
  await dashboard.api('POST', '/api/workflows/run', { workflow_name: 'article_writer', inputs: { topic: 'tides' }, agent_id: agent });
  await page.goto(`${dashboard.url}/agents/${agent}`);
  await expect(page.getByTestId('agent-inputs')).toContainText('topic');
  await expect(page.getByTestId('heartbeats').locator('li')).not.toHaveCount(0, { timeout: 5000 });
  await expect(page.getByTestId('agent-run-list').locator('li')).toHaveCount(1);
  await page.screenshot({ path: shot('agent'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${dashboard.url}/workflows`);
  await expect(page.locator('tbody tr')).toHaveCount(7);
  // Cards at phone width: nothing scrolls sideways, and every run's actions show.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await expect(page.locator('tbody tr').first().getByRole('link', { name: 'View' })).toBeInViewport();
  await page.screenshot({ path: shot('workflows-phone') });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(dashboard.url);
  await expect(page.getByTestId('total-workflows')).toHaveText('7');
  await page.screenshot({ path: shot('dashboard-dark'), fullPage: true });
});
