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
