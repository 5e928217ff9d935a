import { test, expect, waitLive } from './fixtures';

const agent = (id: string, ttl: number) => ({
  agent_id: id, agent_name: `${id} agent`, host: '127.0.0.1', port: 9100, ttl_seconds: ttl,
  metadata: JSON.stringify({ capabilities: ['article_writer', 'summarize'] }),
});

test('an agent shows alive, then expired when its TTL runs out, then deregisters', async ({ page, dashboard }) => {
  await page.goto(`${dashboard.url}/agents?expired=1`);
  await waitLive(page);
  await dashboard.api('POST', '/api/agents/register', agent('short-lived', 5));
  const row = page.locator('tr[data-agent-id="short-lived"]');
  await expect(row).toContainText('alive');
  await expect(row.locator('.chip')).toHaveText(['article_writer', 'summarize']);
  await expect(row.getByRole('link', { name: /API docs/ })).toHaveAttribute('href', '/api/agents/short-lived/docs');
  await expect(row.getByRole('link', { name: /API docs/ })).toHaveAttribute('target', '_blank');

  // No request is made from here: the server announces the expiry by itself.
  await expect(row).toContainText('expired', { timeout: 8000 });

  page.once('dialog', (dialog) => dialog.accept());
  await row.getByRole('button', { name: 'Deregister' }).click();
  await expect(row).toHaveCount(0);
  await expect(page.getByRole('status').getByText(/deregistered/)).toBeVisible();
});

test('expired agents are hidden unless asked for', async ({ page, dashboard }) => {
  await dashboard.api('POST', '/api/agents/register', agent('steady', 3600));
  await dashboard.api('POST', '/api/agents/register', agent('gone', 1));
  await page.goto(`${dashboard.url}/agents`);
  await expect(page.locator('tr[data-agent-id="steady"]')).toBeVisible();
  await expect(page.locator('tr[data-agent-id="gone"]')).toHaveCount(0, { timeout: 3000 });
  await page.getByTestId('include-expired').check();
  await expect(page).toHaveURL(/expired=1/);
  await expect(page.locator('tr[data-agent-id="gone"]')).toContainText('expired');
  await page.reload();
  await expect(page.getByTestId('include-expired')).toBeChecked();
});

test('an agent has a page: health, heartbeats as they come, what it serves, its runs, and a start on it', async ({ page, dashboard }) => {
  const id = await dashboard.agent('article_writer', ['--ttl-seconds', '3']);
  const other = await dashboard.agent('article_writer');
  const elsewhere = await dashboard.api('POST', '/api/workflows/run', { workflow_name: 'article_writer', inputs: { topic: 'tides' }, agent_id: other });
  await page.goto(`${dashboard.url}/agents`);
  await waitLive(page);
  await page.locator(`tr[data-agent-id="${id}"]`).getByRole('link', { name: /article_writer/ }).click();
  await expect(page).toHaveURL(new RegExp(`/agents/${id}$`));
  await expect(page.getByTestId('agent-facts')).toContainText(id);
  await expect(page.getByTestId('agent-expiry')).toContainText('expires in');
  // Heartbeats go out every second at a TTL of 3 s: they arrive while the page is open.
  await expect(page.getByTestId('heartbeats').locator('li')).not.toHaveCount(0, { timeout: 5000 });
  // Its workflow's input fields, from its /schema, inside the dashboard.
  await expect(page.getByTestId('agent-inputs')).toContainText('topic');
  await expect(page.getByTestId('agent-runs')).toContainText('No run has been sent');

  // Started from here, the run goes to this agent, and appears in its list.
  await page.getByTestId('start-run').click();
  await expect(page.getByTestId('start-agent')).toHaveValue(id);
  await page.getByTestId('start-inputs').fill('{"topic": "browsers"}');
  await page.getByTestId('start-submit').click();
  await expect(page.getByTestId('run-agent')).toContainText(id);
  await page.goBack();
  const runs = page.getByTestId('agent-run-list').locator('li');
  await expect(runs).toHaveCount(1);
  await expect(runs.first()).not.toContainText(elsewhere.id.slice(0, 8));
});

test.describe('a missing agent', () => {
  test.use({ expectedConsoleErrors: /status of 404/ });
  test('says so and leads back', async ({ page, dashboard }) => {
    await page.goto(`${dashboard.url}/agents/nobody-here`);
    await expect(page.getByTestId('missing-agent')).toContainText('There is no agent nobody-here');
    await page.getByTestId('missing-agent').getByRole('link', { name: 'All agents' }).click();
    await expect(page).toHaveURL(/\/agents$/);
  });
});
