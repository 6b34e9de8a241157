import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { TotesError } from '../errors';

export interface RunningMoto {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** Asks the OS for a free port by binding port 0, then releases it for moto to take. */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilServing(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new TotesError(`moto_server exited with code ${child.exitCode} before serving`, { context: { stage: 'local' } });
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      if (response.ok || response.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new TotesError(`moto_server did not start serving ${endpoint} within ${timeoutMs} ms`, { context: { stage: 'local' } });
}

/**
 * Starts moto's server on a free loopback port for the lifetime of the calling process. The
 * emulator keeps everything in memory, so each start is a clean AWS account.
 */
export async function startMoto(options: { timeoutMs?: number } = {}): Promise<RunningMoto> {
  const port = await findFreePort();
  const endpoint = `http://127.0.0.1:${port}`;
  // moto's own server, wrapped so conditional writes are atomic as on AWS (see the script).
  const launcher = fileURLToPath(new URL('./atomic_moto_server.py', import.meta.url));
  const child = spawn('python3', [launcher, '-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (cause) =>
      reject(new TotesError('cannot start moto_server; install it with: pip install "moto[server]"', { context: { stage: 'local' }, cause })),
    );
  });
  await spawned;
  // Do not keep the parent alive only for the emulator, and never leave it orphaned.
  const stopOnExit = () => child.kill('SIGTERM');
  process.once('exit', stopOnExit);
  try {
    await waitUntilServing(endpoint, child, options.timeoutMs ?? 20_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new TotesError(`${(error as Error).message}\n${stderr}`, { context: { stage: 'local' }, cause: error });
  }
  return {
    endpoint,
    stop: async () => {
      process.removeListener('exit', stopOnExit);
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * Makes sure `moto_server` can be started, installing it with pip on a machine that only has
 * Python (the README promises that a laptop with Node and Python needs nothing else).
 */
export async function ensureMotoInstalled(log: (line: string) => void = () => undefined): Promise<void> {
  const { spawnSync } = await import('node:child_process');
  const probe = spawnSync('python3', ['-c', 'import moto.server, werkzeug'], { stdio: 'ignore' });
  if (!probe.error && probe.status === 0) return;
  log('moto_server not found: installing it with pip install "moto[server]"');
  const install = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', 'moto[server]'], { stdio: 'inherit' });
  if (install.status !== 0) {
    throw new TotesError('cannot install moto_server; install it yourself with: pip install "moto[server]"', { context: { stage: 'local' } });
  }
}
