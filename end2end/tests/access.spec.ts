// Signing in with tokens: the sign-in page, the link the dashboard prints, what each
// role is offered, and signing out.
import { test, expect, waitLive, shot } from './fixtures';

// Asking who is signed in before anyone is, and a refused token, are 401s the console reports.
test.use({ serverArgs: ['--auth', 'tokens'], expectedConsoleErrors: /status of 401/ });

test('a viewer signs in with a token and is offered no actions', async ({ page, dashboard }) => {
  dashboard.useToken(dashboard.createToken('admin', 'e2e-admin'));
  const viewer = dashboard.createToken('viewer', 'vera');
  const running = await dashboard.run('watched', { status: 'running' });

  await page.goto(`${dashboard.url}/workflows`);
  const form = page.getByTestId('sign-in');
  await expect(form).toBeVisible();
  await form.getByTestId('token').fill('cat_not-a-token');
  await form.getByRole('button', { name: 'Sign in' }).click();
  await expect(form.getByRole('alert')).toHaveText('unknown or revoked token');
  await page.screenshot({ path: shot('sign-in') });

  await form.getByTestId('token').fill(viewer);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await waitLive(page);
  await expect(page.getByTestId('who')).toHaveText('veraviewer');
  const row = page.locator(`tr[data-run-id="${running}"]`);
  await expect(row.locator('.badge')).toHaveText(/running/);
  await expect(row.getByRole('button')).toHaveCount(0);
  await expect(page.getByTestId('start-run')).toHaveCount(0);
  // Live updates reach the viewer's page through the session cookie.
  await dashboard.api('POST', `/api/workflows/${running}/complete`, {});
  await expect(row.locator('.badge')).toHaveText(/completed/);
  await expect(row.getByRole('button')).toHaveCount(0);
});

test.describe('with a cancel to confirm', () => {
  // Signing out of a live page cuts its event stream, which the console reports.
  test.use({ expectedConsoleErrors: /EventSource|ERR_|status of 401/ });

  test('an operator signs in by link, cancels a run, and signing out ends the live stream', async ({ page, dashboard }) => {
    dashboard.useToken(dashboard.createToken('admin', 'e2e-admin'));
    const operator = dashboard.createToken('operator', 'otto');
    const running = await dashboard.run('to_cancel', { status: 'running' });

    await page.goto(`${dashboard.url}/login#token=${operator}`);
    await waitLive(page);
    await expect(page).toHaveURL(`${dashboard.url}/`);
    await expect(page.getByTestId('who')).toHaveText('ottooperator');
    await expect(page.getByTestId('start-run')).toBeVisible();

    await page.goto(`${dashboard.url}/workflows/${running}`);
    await waitLive(page);
    page.once('dialog', (dialog) => dialog.accept());
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect(page.getByText('Run cancelled from the dashboard by otto')).toBeVisible();

    await page.getByTestId('sign-out').click();
    await expect(page.getByTestId('sign-in')).toBeVisible();
    await expect(page.getByTestId('connection')).toHaveCount(0);
    const status = await page.evaluate(async () => (await fetch('/api/summary')).status);
    expect(status).toBe(401);
    // A change after signing out reaches no one on this page.
    await dashboard.run('after', { status: 'running' });
    await expect(page.getByText('after')).toHaveCount(0);
  });
});
