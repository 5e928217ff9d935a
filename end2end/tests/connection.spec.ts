import { test, expect, waitLive } from './fixtures';

test.describe('connection', () => {
  // While the server is down the browser logs its failed reconnects.
  test.use({ expectedConsoleErrors: [/ERR_CONNECTION_REFUSED|Failed to load resource|EventSource/] });

  test('the indicator recovers after a server restart and nothing is missed', async ({ page, dashboard }) => {
    await page.goto(`${dashboard.url}/workflows`);
    await waitLive(page);
    await dashboard.stop();
    await expect(page.getByTestId('connection')).not.toHaveText('live');
    await dashboard.start();
    await waitLive(page);
    const id = await dashboard.run('after_restart', { status: 'running' });
    await expect(page.locator(`tr[data-run-id="${id}"]`)).toBeVisible({ timeout: 2000 });
  });
});
