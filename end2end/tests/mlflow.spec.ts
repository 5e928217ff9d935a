import { test, expect, Dashboard, startMlflow, shot } from './fixtures';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('without --mlflow-uri the page explains how to connect MLflow', async ({ page, dashboard }) => {
  await page.goto(`${dashboard.url}/observability`);
  await expect(page.getByTestId('mlflow-setup')).toContainText('--mlflow-uri');
});

test.describe('with MLflow', () => {
  // Starting MLflow and loading its 4 MB UI twice, while another worker runs tests on
  // the same two cores, can take minutes.
  test.setTimeout(300_000);

  test('the MLflow UI runs inside the dashboard, and a run links into it', async ({ page }) => {
    const mlflow = await startMlflow();
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-e2e-'));
    const port = await new Promise<number>((done) => {
      const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => done(p)); });
    });
    const dashboard = new Dashboard(port, dir, ['--mlflow-uri', mlflow.url]);
    await dashboard.start();
    try {
      // Through the proxy, as the MLflow UI itself would.
      const { experiment_id } = await dashboard.api('POST', '/mlflow/ajax-api/2.0/mlflow/experiments/create', { name: 'article_writer' });
      const { run } = await dashboard.api('POST', '/mlflow/ajax-api/2.0/mlflow/runs/create', { experiment_id, run_name: 'e2e-traced-run' });

      await page.goto(`${dashboard.url}/observability?view=/experiments/${experiment_id}/runs`);
      const frame = page.frameLocator('[data-testid="mlflow-frame"]');
      await expect(frame.getByText('e2e-traced-run').first()).toBeVisible({ timeout: 90_000 });
      await page.screenshot({ path: shot('mlflow') });

      // A run that reported its MLflow ids links to its MLflow run.
      const created = await dashboard.api('POST', '/api/workflows', {
        workflow_name: 'article_writer', status: 'running', mlflow: { experiment_id, run_id: run.info.run_id },
      });
      await page.goto(`${dashboard.url}/workflows/${created.id}`);
      await page.getByTestId('mlflow-link').click();
      await expect(page).toHaveURL(/observability\?view=/);
      await expect(frame.getByText('e2e-traced-run').first()).toBeVisible({ timeout: 90_000 });
    } finally {
      // Leave the app before its server goes, or its reconnect attempts are logged.
      await page.goto('about:blank').catch(() => { /* the page may already be gone */ });
      await dashboard.stop();
      await mlflow.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test.describe('MLflow down', () => {
  test.use({ serverArgs: ['--mlflow-uri', 'http://127.0.0.1:9'] });

  test('an unreachable MLflow is explained, not shown as a broken frame', async ({ page, dashboard }) => {
    await page.goto(`${dashboard.url}/observability`);
    await expect(page.getByTestId('mlflow-unreachable')).toContainText('unreachable');
    await expect(page.getByTestId('mlflow-frame')).toHaveCount(0);
    await page.getByRole('link', { name: 'Workflows' }).click();
    await expect(page.getByText('No runs match these filters.')).toBeVisible();
  });
});
