import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const projectRoot = resolve(import.meta.dirname, '..');

export interface BundleFigure {
  readonly function: string;
  /** Size of the deployment zip, MB. */
  readonly zip_mb: number;
  /** Size of the unzipped handler module, MB. */
  readonly unzipped_mb: number;
  /** Median wall time of `await import(handler)` in a fresh node process, ms. */
  readonly cold_import_ms: number;
}

/** Median of three cold imports of one handler module, each in a new node process. */
async function coldImportMs(modulePath: string): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(modulePath).href)}); process.stdout.write(String(performance.now() - t));`;
  const env = { ...process.env, AWS_REGION: 'eu-west-2', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  const times: number[] = [];
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env, timeout: 30_000 });
    times.push(Number(stdout));
  }
  return times.sort((a, b) => a - b)[1] ?? Number.NaN;
}

async function firstFile(dir: string, name: (file: string) => boolean): Promise<string | undefined> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && name(entry.name)) return join(entry.parentPath, entry.name);
  }
  return undefined;
}

/**
 * Packages the stack the way a deploy does (`serverless package`: serverless-esbuild bundles each
 * function into its own zip), then reports each zip's size and how long its handler takes to
 * import cold — the part of a Lambda cold start the code controls.
 */
export async function measureBundles(): Promise<BundleFigure[]> {
  const outputDir = await mkdtemp(join(tmpdir(), 'totes-bench-package-'));
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', SLS_INTERACTIVE_SETUP_DISABLE: '1' };
    for (const name of ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE']) delete env[name];
    await run(join(projectRoot, 'node_modules/.bin/serverless'), ['package', '--stage', 'bench', '--package', outputDir], {
      cwd: projectRoot, env, timeout: 300_000, maxBuffer: 16 * 1024 * 1024,
    });
    const figures: BundleFigure[] = [];
    for (const zip of (await readdir(outputDir)).filter((file) => file.endsWith('.zip')).sort()) {
      const unzipped = join(outputDir, zip.replace(/\.zip$/, ''));
      await run('unzip', ['-q', '-o', join(outputDir, zip), '-d', unzipped]);
      const handler = await firstFile(unzipped, (file) => /\.(m?js)$/.test(file) && !file.endsWith('.map'));
      if (!handler) throw new Error(`no handler module in ${zip}`);
      figures.push({
        function: zip.replace(/\.zip$/, ''),
        zip_mb: (await stat(join(outputDir, zip))).size / 1024 / 1024,
        unzipped_mb: (await stat(handler)).size / 1024 / 1024,
        cold_import_ms: await coldImportMs(handler),
      });
    }
    return figures;
  } finally {
    await rm(outputDir, { recursive: true, force: true });
  }
}
