// The API's docs page: Swagger UI over the generated OpenAPI document, served from
// the binary, and a call made from it.
import { test, expect, shot } from './fixtures';

test('the API docs list every resource and run a call', async ({ page, dashboard }) => {
  await dashboard.run('article_writer', { status: 'completed', cost: 0.5 });
  await page.goto(`${dashboard.url}/api/docs`);
  await expect(page.getByText('configurable-agents dashboard').first()).toBeVisible();
  for (const tag of ['runs', 'ingest', 'bulk', 'events', 'agents', 'analytics', 'budgets', 'webhooks', 'views', 'access']) {
    await expect(page.locator(`h3#operations-tag-${tag}`)).toBeVisible();
  }
  await page.screenshot({ path: shot('api-docs') });
  const summary = page.locator('#operations-runs-summary');
  await summary.locator('.opblock-summary').click();
  await summary.getByRole('button', { name: 'Try it out' }).click();
  await summary.getByRole('button', { name: 'Execute', exact: true }).click();
  await expect(summary.locator('.live-responses-table tbody .response-col_status')).toHaveText('200');
  await expect(summary.locator('.live-responses-table')).toContainText('"total_workflows": 1');
});
