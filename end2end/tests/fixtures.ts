// A fresh dashboard for every test: the real release binary (with the built app
// embedded) on a free loopback port over its own SQLite file, plus helpers to talk
// to its API and a check that the page logged no errors.
import { test as base, expect, Page } from '@playwright/test';
import { execFileSync, spawn, ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// The release binary that scripts/build.sh makes (honouring CARGO_TARGET_DIR), or DASHBOARD_BIN.
const targetDir = process.env.CARGO_TARGET_DIR ? resolve(__dirname, '../..', process.env.CARGO_TARGET_DIR) : resolve(__dirname, '../../target');
const binary = process.env.DASHBOARD_BIN ?? join(targetDir, 'release/configurable-agents');

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => done(port));
    });
    server.on('error', fail);
  });
}

export class Dashboard {
  private process?: ChildProcess;
  private agents: ChildProcess[] = [];
  /** Sent as a Bearer token by `api` (for a dashboard with --auth tokens). */
  private token?: string;
  constructor(readonly port: number, readonly dir: string, private extraArgs: string[]) {}

  get url() { return `http://127.0.0.1:${this.port}`; }

  get databaseUrl() { return `sqlite://${join(this.dir, 'e2e.db')}`; }

  /** Makes a token with `configurable-agents token create`; returns its secret. */
  createToken(role: string, name: string): string {
    const printed = execFileSync(binary, ['token', 'create', '--role', role, '--name', name, '--database-url', this.databaseUrl]);
    const secret = printed.toString().split('\n').find((line) => line.startsWith('cat_'));
    if (!secret) throw new Error(`no secret in: ${printed}`);
    return secret;
  }

  /** Runs SQL on the dashboard's SQLite file from another process, as the original
   * Python runtime does (Python's sqlite3 module). */
  sql(statement: string) {
    execFileSync('python3', ['-c', 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute(sys.argv[2]); db.commit()',
      join(this.dir, 'e2e.db'), statement]);
  }

  /** From now on `api` calls carry this token. */
  useToken(secret: string) { this.token = secret; }

  async start() {
    this.process = spawn(binary, [
      'dashboard', '--port', String(this.port), '--database-url', this.databaseUrl, ...this.extraArgs,
    ], { stdio: ['ignore', 'ignore', 'inherit'] });
    for (let i = 0; i < 200; i++) {
      try {
        if ((await fetch(`${this.url}/api/health`)).ok) return;
      } catch { /* not up yet */ }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('dashboard did not start');
  }

  async stop() {
    for (const agent of this.agents.splice(0)) await stopProcess(agent);
    if (this.process) await stopProcess(this.process);
  }

  /** A demo agent process serving `workflow`, registered with this dashboard. */
  async agent(workflow: string, args: string[] = []): Promise<string> {
    const id = `e2e-${workflow}-${this.agents.length + 1}`;
    this.agents.push(spawn(binary, [
      'demo-agent', '--dashboard-url', this.url, '--workflow', workflow, '--agent-id', id,
      '--node-seconds', '0.4', '--failure-rate', '0', ...args,
    ], { stdio: ['ignore', 'ignore', 'inherit'] }));
    for (let i = 0; i < 200; i++) {
      if ((await fetch(`${this.url}/api/agents/${id}`)).ok) return id;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`demo agent ${id} did not register`);
  }

  async api(method: string, path: string, body?: unknown): Promise<any> {
    const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  /** A run through the ingest API, optionally with node states and a final status. */
  async run(name: string, opts: { status?: 'running' | 'completed' | 'failed'; cost?: number; tokens?: number; config?: boolean } = {}) {
    const run = await this.api('POST', '/api/workflows', {
      workflow_name: name,
      status: opts.status ? 'running' : 'pending',
      inputs: { topic: 'browsers' },
      config_snapshot: opts.config === false ? undefined : { flow: { name } },
    });
    if (opts.tokens !== undefined) {
      await this.api('POST', `/api/workflows/${run.id}/states`, {
        node_id: 'research', status: 'completed', duration_seconds: 1.2, input_tokens: opts.tokens - 10,
        output_tokens: 10, total_tokens: opts.tokens, model: 'gpt-4o-mini', cost_usd: opts.cost ?? 0.001,
      });
    }
    if (opts.status === 'completed') await this.api('POST', `/api/workflows/${run.id}/complete`, { outputs: { article: 'done' } });
    if (opts.status === 'failed') await this.api('POST', `/api/workflows/${run.id}/fail`, { error_message: 'rate limited' });
    return run.id as string;
  }
}

async function stopProcess(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

type Fixtures = {
  dashboard: Dashboard;
  serverArgs: string[];
  /** Console errors matching this are expected (say, in a test that stops the server). */
  expectedConsoleErrors: RegExp | null;
};

export const test = base.extend<Fixtures>({
  expectedConsoleErrors: [null, { option: true }],
  serverArgs: [[], { option: true }],
  dashboard: async ({ serverArgs }, use) => {
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-e2e-'));
    const dashboard = new Dashboard(await freePort(), dir, serverArgs);
    await dashboard.start();
    await use(dashboard);
    await dashboard.stop();
    rmSync(dir, { recursive: true, force: true });
  },
  // Depends on the dashboard so the console is checked before the server stops: a
  // stream reconnecting to a stopped server would log errors of the teardown's making.
  page: async ({ page, dashboard: _running, expectedConsoleErrors }, use) => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      const text = message.text();
      // The framed MLflow UI is not ours; its console is its own business.
      const fromMlflow = message.location().url.includes('/mlflow/');
      if (message.type() === 'error' && !fromMlflow && !expectedConsoleErrors?.test(text)) {
        errors.push(`console: ${text}`);
      }
    });
    await use(page);
    expect(errors, 'the page logged errors').toEqual([]);
  },
});

export { expect };

/** Where a README screenshot goes, or nowhere unless UPDATE_SCREENSHOTS is set. */
export function shot(name: string): string | undefined {
  return process.env.UPDATE_SCREENSHOTS ? resolve(__dirname, `../../docs/screenshots/${name}.png`) : undefined;
}

/** A real MLflow tracking server on a free port (from the virtualenv .ci/run makes). */
export async function startMlflow(): Promise<{ url: string; stop: () => Promise<void> }> {
  const binary = process.env.MLFLOW_BIN ?? resolve(__dirname, '../../.venv-mlflow/bin/mlflow');
  const dir = mkdtempSync(join(tmpdir(), 'mlflow-e2e-'));
  const port = await freePort();
  const child = spawn(binary, [
    'server', '--host', '127.0.0.1', '--port', String(port), '--workers', '1',
    '--backend-store-uri', `sqlite:///${join(dir, 'mlflow.db')}`, '--artifacts-destination', join(dir, 'artifacts'),
  ], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  let up = false;
  for (let i = 0; i < 600 && !up; i++) {
    try {
      up = (await fetch(`${url}/health`)).ok;
    } catch { /* starting */ }
    if (!up) await new Promise((r) => setTimeout(r, 250));
  }
  if (!up) {
    child.kill('SIGKILL');
    throw new Error(`MLflow (${binary}) did not start within 150 s`);
  }
  return {
    url,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function waitLive(page: Page) {
  await expect(page.getByTestId('connection')).toHaveText('live');
}
