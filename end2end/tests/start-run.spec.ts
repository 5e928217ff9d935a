import { test, expect, waitLive, shot } from './fixtures';

test('a run started from the UI is dispatched to an agent and followed live to the end', async ({ page, dashboard }) => {
  await page.goto(`${dashboard.url}/workflows`);
  await waitLive(page);

  // Without agents the form says what to do instead of offering nothing.
  await page.getByTestId('start-run').click();
  await expect(page.getByTestId('no-agents')).toContainText('configurable-agents demo-agent');
  await page.getByRole('button', { name: 'Close' }).click();

  await dashboard.agent('support_triage');
  const agent = await dashboard.agent('article_writer');
  await page.getByTestId('start-run').click();
  const dialog = page.getByRole('dialog', { name: 'Start a run' });
  await dialog.getByTestId('start-workflow').selectOption({ label: 'article_writer' });
  await expect(dialog).toContainText('Research a topic');

  // The inputs are checked against the agent's schema as they are typed.
  const inputs = dialog.getByTestId('start-inputs');
  await expect(inputs).toHaveValue(/"topic": ""/);
  await expect(dialog.getByTestId('start-check')).toHaveText('Required: topic.');
  await expect(dialog.getByTestId('start-submit')).toBeDisabled();
  await inputs.fill('{"topic": ');
  await expect(dialog.getByTestId('start-check')).toContainText('Not valid JSON');
  await inputs.fill('{"topic": "tidal power"}');
  await expect(dialog.getByTestId('start-check')).toContainText('Inputs look right');
  await dialog.getByTestId('start-agent').selectOption(agent);
  await page.screenshot({ path: shot('start-run') });
  await dialog.getByTestId('start-submit').click();

  // The new run's page follows it: nodes appear as the agent reports them.
  await expect(page).toHaveURL(/\/workflows\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId('run-agent')).toContainText(agent);
  await expect(page.getByTestId('timeline')).toContainText('research', { timeout: 10_000 });
  await expect(page.locator('h1 .badge')).toHaveText(/completed/, { timeout: 15_000 });
  await expect(page.getByTestId('timeline')).toContainText('write');
  await expect(page.getByTestId('logs')).toContainText('Starting article_writer on "tidal power"');
  await expect(page.getByTestId('run-tokens')).not.toHaveText('—');
});
