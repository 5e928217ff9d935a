// What every page owes the operator whatever the screen: nothing wider than a phone,
// each thing asked for once per page load, the keys listed, words a person uses.
import { test, expect, waitLive, Dashboard } from './fixtures';
import type { Page } from '@playwright/test';

// The webhook in the data points at this machine.
test.use({ serverArgs: ['--webhook-networks', '127.0.0.0/8'] });

/** Data with the long names and texts that push layouts wide. */
async function awkwardData(dashboard: Dashboard) {
  const failed = await dashboard.run('a_workflow_with_a_rather_long_name_for_phones', { status: 'running', tokens: 1200, cost: 0.0123 });
  await dashboard.api('POST', `/api/workflows/${failed}/fail`, {
    error_message: 'LLM call failed: rate limit exceeded for gpt-4o-mini (429), retried 5 times over 2 minutes\nTraceback: …',
  });
  const done = await dashboard.run('article_writer', { status: 'completed', tokens: 800, cost: 0.0031 });
  await dashboard.api('POST', '/api/agents/register', {
    agent_id: 'an-agent-with-a-long-identifier-0123456789', agent_name: 'summariser of very long documents',
    host: '10.200.30.4', port: 8001, ttl_seconds: 3600,
    metadata: JSON.stringify({ capabilities: ['summarize', 'translate', 'classify_support_tickets'] }),
  });
  await dashboard.api('PUT', '/api/budgets/article_writer', { daily_usd: 5, monthly_usd: 100, run_max_usd: 0.5 });
  await dashboard.api('POST', '/api/webhooks', { url: 'http://127.0.0.1:9/a/very/long/path/for/alerts/about/budgets', events: ['budget.warning', 'run.failed'] });
  return { failed, done };
}

/** Requests to the API a page makes, but its event streams. */
function apiRequests(page: Page): string[] {
  const seen: string[] = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith('/api/') && url.pathname !== '/api/events') seen.push(url.pathname + url.search);
  });
  return seen;
}

test('every page fits a phone, and asks for each thing once', async ({ page, dashboard }) => {
  const { failed, done } = await awkwardData(dashboard);
  await page.setViewportSize({ width: 390, height: 844 });
  const requests = apiRequests(page);
  for (const [path, ready] of [
    ['/', 'total-workflows'],
    ['/workflows', 'runs-table'],
    [`/workflows/${failed}`, 'timeline'],
    [`/workflows/compare?a=${failed}&b=${done}`, 'compare-nodes'],
    ['/agents', 'agents-table'],
    ['/agents/an-agent-with-a-long-identifier-0123456789', 'agent-facts'],
    ['/analytics', 'breakdown'],
    ['/analytics', 'budgets'],
    ['/analytics', 'webhooks'],
  ]) {
    requests.length = 0;
    await page.goto(dashboard.url + path);
    await waitLive(page);
    await expect(page.getByTestId(ready)).toBeVisible();
    await page.waitForLoadState('networkidle');
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      // A table may not scroll sideways either: cut at the edge is hidden too.
      cut: [...document.querySelectorAll('.table-wrap')].filter((w) => w.scrollWidth > w.clientWidth + 1).length,
      // What sticks out, to say where.
      wide: [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > 391)
        .slice(0, 3).map((e) => `${e.tagName.toLowerCase()}.${e.className}`),
    }));
    expect({ page: widths.page, cut: widths.cut }, `${path}: ${widths.wide.join(', ')}`).toEqual({ page: 390, cut: 0 });
    const twice = requests.filter((r, i) => requests.indexOf(r) !== i);
    expect(twice, `${path} asked twice for`).toEqual([]);
  }
});

test.describe('words and keys', () => {
  test.use({ expectedConsoleErrors: /status of 400/ });

  test('failed rows say why, a bad address is reset with a notice, filters wait behind a button on phones', async ({ page, dashboard }) => {
    await awkwardData(dashboard);
    await page.goto(`${dashboard.url}/workflows?status=exploded&limit=7&colour=red&cursor=a%2Bb&workflow=article_writer`);
    await waitLive(page);
    await expect(page.getByRole('status').filter({ hasText: 'Ignored in the address' }))
      .toContainText('status=exploded, cursor=a+b, limit=7, colour=red');
    await expect(page).toHaveURL(/\/workflows\?workflow=article_writer$/);
    await expect(page.getByTestId('runs-table').locator('tbody tr')).toHaveCount(1);

    await page.goto(`${dashboard.url}/workflows?status=failed`);
    const why = page.getByTestId('row-error');
    await expect(why).toHaveText('LLM call failed: rate limit exceeded for gpt-4o-mini (429), retried 5 times over 2 minutes');
    await expect(page.getByTestId('pager-position')).toHaveText('Newest first · all 1');

    await page.setViewportSize({ width: 390, height: 844 });
    await expect(page.getByTestId('filter-status')).toBeHidden();
    await page.getByTestId('filters-toggle').click();
    await expect(page.getByTestId('filters-toggle')).toHaveText('Filters (1)');
    await expect(page.getByTestId('filter-status')).toBeVisible();

    // Half a laptop screen: cost and actions stay in view, nothing scrolls sideways.
    await page.setViewportSize({ width: 800, height: 900 });
    const row = page.getByTestId('runs-table').locator('tbody tr').first();
    await expect(row.locator('td.col-total_cost_usd')).toBeInViewport();
    await expect(row.getByRole('link', { name: 'View' })).toBeInViewport();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBe(800);
  });

  test('a menu closes on Escape and on a click outside; `?` works on every page', async ({ page, dashboard }) => {
    await dashboard.run('article_writer', { status: 'completed' });
    await page.goto(`${dashboard.url}/workflows`);
    await waitLive(page);
    const menu = page.getByTestId('columns-menu');
    await menu.locator('summary').click();
    await expect(menu).toHaveAttribute('open', '');
    await page.keyboard.press('Escape');
    await expect(menu).not.toHaveAttribute('open', '');
    await menu.locator('summary').click();
    await page.getByRole('heading', { name: 'Workflow runs' }).click();
    await expect(menu).not.toHaveAttribute('open', '');

    // `g a` goes to the agents, where `?` lists the keys of every page.
    await page.keyboard.press('g');
    await page.keyboard.press('a');
    await expect(page).toHaveURL(/\/agents$/);
    await page.keyboard.press('?');
    const keys = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await expect(keys).toContainText('go to the runs');
    await expect(keys).not.toContainText('open the selected run');
    // `?` again closes it, from inside too.
    await page.keyboard.press('?');
    await expect(page.locator('dialog[open]')).toHaveCount(0);
    // `g` waits a moment for its letter, not for ever.
    await page.keyboard.press('g');
    await page.waitForTimeout(1700);
    await page.keyboard.press('w');
    await expect(page).toHaveURL(/\/agents$/);
  });

  test('the budget form says what is wrong in words', async ({ page, dashboard }) => {
    await page.goto(`${dashboard.url}/analytics`);
    await waitLive(page);
    const form = page.getByTestId('budget-form');
    await form.getByLabel('Workflow').fill('article_writer');
    await form.getByLabel('Per day').fill('-3');
    await form.getByRole('button', { name: 'Save budget' }).click();
    const notices = page.locator('.notices');
    await expect(notices).toContainText('Daily budget must be a positive amount in dollars');
    await form.getByLabel('Per day').fill('');
    await form.getByRole('button', { name: 'Save budget' }).click();
    await expect(notices).toContainText('Set at least one cap');
  });
});
