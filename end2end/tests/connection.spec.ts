import { test, expect, waitLive } from './fixtures';

test.describe('connection', () => {
  // While the server is down the browser logs its failed reconnects.
  test.use({ expectedConsoleErrors: /ERR_CONNECTION_REFUSED|Failed to load resource|EventSource/ });

  test('the indicator recovers after a server restart and changes made meanwhile are replayed', async ({ page, dashboard }) => {
    await page.goto(`${dashboard.url}/workflows`);
    await waitLive(page);
    await dashboard.stop();
    await expect(page.getByTestId('connection')).not.toHaveText('live');
    await dashboard.start();
    // Written before the browser is back: it arrives through the replay after the
    // last event id the page had seen.
    const id = await dashboard.run('while_away', { status: 'running' });
    await waitLive(page);
    await expect(page.locator(`tr[data-run-id="${id}"]`)).toBeVisible();
    await dashboard.api('POST', `/api/workflows/${id}/complete`, {});
    await expect(page.locator(`tr[data-run-id="${id}"] .badge`)).toHaveText(/completed/);
  });
});
