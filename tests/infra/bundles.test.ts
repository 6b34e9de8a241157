import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalEnvironment, type LocalEnvironment } from '../../src/local/environment';
import { lambdaContext } from '../../src/local/lambda-context';
import { LocalPipeline } from '../../src/local/pipeline';
import { handlerEnvironment } from '../../src/local/provision';
import { seedTotesys } from '../../src/seed/seed';
import { testAwsSettings, uniqueName } from '../support/aws';
import { createTestDatabase, queryRows, type TestDatabase } from '../support/pg';

const run = promisify(execFile);
const projectRoot = resolve(import.meta.dirname, '../..');
const requireFromTest = createRequire(import.meta.url);
const { decodeMappings } = requireFromTest('../../infra/source-maps.cjs') as { decodeMappings(mappings: string): number[][][] };
const functions = ['extract', 'transform', 'load'] as const;
type FunctionName = (typeof functions)[number];

/** serverless-esbuild's own keys; everything else in `custom.esbuild` goes to esbuild as is. */
const pluginOnlyKeys = ['exclude', 'packager', 'outputFileExtension', 'concurrency', 'zipConcurrency', 'nativeZip', 'keepOutputDirectory', 'packagerOptions'];

/**
 * The esbuild options a deploy bundles with, as serverless resolves them. Built here with esbuild
 * itself rather than `serverless package`, whose work folder in the project root another test
 * file may be packaging into at the same time, and because only esbuild reports what went in.
 */
async function deployedBuildOptions(): Promise<BuildOptions> {
  const env: NodeJS.ProcessEnv = { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', SLS_INTERACTIVE_SETUP_DISABLE: '1' };
  delete env.AWS_ENDPOINT_URL;
  const { stdout } = await run(join(projectRoot, 'node_modules/.bin/serverless'), ['print', '--stage', 'test', '--format', 'json', '--path', 'custom.esbuild'], { cwd: projectRoot, env, timeout: 60_000 });
  const custom = JSON.parse(stdout) as Record<string, unknown> & { exclude?: string[]; external?: string[]; outputFileExtension?: string; plugins?: unknown };
  const options: Record<string, unknown> = { ...custom };
  for (const key of pluginOnlyKeys) delete options[key];
  // serverless-esbuild requires `plugins`, a path from the service directory, for the plugins.
  const plugins = typeof custom.plugins === 'string' ? (requireFromTest(join(projectRoot, custom.plugins)) as Plugin[]) : [];
  return { ...options, plugins, external: [...(custom.external ?? []), ...(custom.exclude ?? [])], outExtension: { '.js': custom.outputFileExtension ?? '.js' } };
}

interface Bundle {
  readonly file: string;
  readonly bytes: number;
  /** Every npm package with code in the bundle. */
  readonly packages: Set<string>;
  readonly inputs: string[];
}

function bundleOf(metafile: Metafile): Omit<Bundle, 'file'> {
  const output = Object.entries(metafile.outputs).find(([path]) => !path.endsWith('.map'))?.[1];
  if (!output) throw new Error('esbuild wrote no bundle');
  const inputs = Object.entries(output.inputs).filter(([, input]) => input.bytesInOutput > 0).map(([path]) => path);
  const packages = new Set(inputs.flatMap((path) => {
    const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
    return match?.[1] ? [match[1]] : [];
  }));
  return { bytes: output.bytes, packages, inputs };
}

/** What a bundle exports, typed loosely: it is the module under test, not a source import. */
type BundledHandler = (event: unknown, context: Context) => Promise<unknown>;

const bundles = {} as Record<FunctionName, Bundle>;
let outdir: string;

beforeAll(async () => {
  outdir = await mkdtemp(join(tmpdir(), 'totes-bundles-'));
  const options = await deployedBuildOptions();
  for (const fn of functions) {
    const result = await build({ ...options, entryPoints: [join(projectRoot, `src/handlers/${fn}.ts`)], outdir: join(outdir, fn), metafile: true, logLevel: 'silent' });
    bundles[fn] = { ...bundleOf(result.metafile), file: join(outdir, fn, `${fn}${options.outExtension?.['.js'] ?? '.js'}`) };
  }
}, 120_000);

afterAll(async () => {
  await rm(outdir, { recursive: true, force: true });
});

describe('the Lambda bundles', () => {
  it('hold only the SDK clients and libraries their function calls', () => {
    const unused: Record<FunctionName, string[]> = {
      extract: ['@aws-sdk/client-sqs', 'csv-parse', 'hyparquet', 'hyparquet-writer', '@middy/sqs-partial-batch-failure'],
      transform: ['pg', 'pg-copy-streams', '@aws-sdk/client-sqs', '@aws-sdk/client-secrets-manager', '@aws-sdk/client-cloudwatch'],
      load: ['csv-parse', 'hyparquet-writer', '@aws-sdk/client-cloudwatch'],
    };
    const used: Record<FunctionName, string[]> = {
      extract: ['@aws-sdk/client-s3', '@aws-sdk/client-dynamodb', '@aws-sdk/client-secrets-manager', '@aws-sdk/client-cloudwatch', 'pg', 'pg-copy-streams'],
      transform: ['@aws-sdk/client-s3', '@aws-sdk/client-dynamodb', 'hyparquet-writer'],
      load: ['@aws-sdk/client-s3', '@aws-sdk/client-dynamodb', '@aws-sdk/client-sqs', '@aws-sdk/client-secrets-manager', 'pg', 'hyparquet'],
    };
    for (const fn of functions) {
      const packages = [...bundles[fn].packages];
      expect(packages, fn).toEqual(expect.arrayContaining(used[fn]));
      expect(packages.filter((name) => unused[fn].includes(name)), fn).toEqual([]);
    }
  });

  it('leave out what no function runs: zod locales other than English, the SDK browser detector', () => {
    for (const fn of functions) {
      expect(bundles[fn].inputs.filter((path) => /zod\/v4\/locales\/(?!en\.js)/.test(path)), fn).toEqual([]);
      expect(bundles[fn].packages.has('bowser'), fn).toBe(false);
    }
  });

  it('stay under 1 MB each, because a cold import is mostly V8 compiling the bundle', () => {
    for (const fn of functions) expect(bundles[fn].bytes, fn).toBeLessThan(1024 * 1024);
  });

  it('ship source maps of our own code only, down to the handler itself', async () => {
    for (const fn of functions) {
      const map = JSON.parse(await readFile(`${bundles[fn].file}.map`, 'utf8')) as { sources: string[]; mappings: string };
      const mapped = new Set(decodeMappings(map.mappings).flatMap((segments) => segments.map((segment) => map.sources[segment[1] as number] ?? '')));
      expect([...mapped].filter((source) => source.includes('node_modules')), fn).toEqual([]);
      expect([...mapped].some((source) => source.endsWith(`src/handlers/${fn}.ts`)), fn).toBe(true);
    }
  });
});

describe('the bundled handlers', () => {
  let totesys: TestDatabase;
  let warehouse: TestDatabase;
  let environment: LocalEnvironment;
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    totesys = await createTestDatabase('totes_bundle_src');
    warehouse = await createTestDatabase('totes_bundle_wh');
    await seedTotesys({ url: totesys.url, scale: 50 });
    environment = await openLocalEnvironment({
      env: { totesysDbUrl: totesys.url, warehouseDbUrl: warehouse.url, awsEndpoint: testAwsSettings().endpoint, region: 'eu-west-2', stage: uniqueName('bundle') },
      visibilityTimeoutSeconds: 1,
    });
  }, 120_000);

  afterAll(async () => {
    for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
    Object.assign(process.env, savedEnv);
    await environment?.close();
    await totesys?.drop();
    await warehouse?.drop();
  });

  it('run the pipeline as deployed: extract, then transform and load from their queues', async () => {
    // prepare: the environment serverless.yml would set, read by each bundle at import and first use
    Object.assign(process.env, handlerEnvironment(environment.outputs, { logLevel: 'ERROR' }), {
      AWS_ENDPOINT_URL: environment.aws.endpoint,
      AWS_REGION: environment.aws.region,
      LOAD_RETRY_BASE_SECONDS: '1',
    });
    const bundled = async (fn: FunctionName) => ((await import(/* @vite-ignore */ pathToFileURL(bundles[fn].file).href)) as { handler: BundledHandler }).handler;
    const [extract, transform, load] = [await bundled('extract'), await bundled('transform'), await bundled('load')];
    // The pipeline's own (source) handlers are never built: every delivery goes to a bundle.
    const pipeline = new LocalPipeline(environment, { faults: { handler: (_source, queue) => (queue === 'transform' ? transform : load) } });
    const context: Context = lambdaContext({ functionName: 'extract', timeoutMs: 600_000 });
    const scheduled: ScheduledEvent = { version: '0', id: 'bundle-test', 'detail-type': 'Scheduled Event', source: 'aws.events', account: '123456789012', time: new Date().toISOString(), region: 'eu-west-2', resources: [], detail: {} };

    // act
    const report = (await extract(scheduled, context)) as { ok: boolean };
    await pipeline.deliver();

    // assert
    expect(report.ok).toBe(true);
    expect(await pipeline.deadLetters()).toEqual([]);
    const count = async (url: string, table: string) => Number((await queryRows<{ n: string }>(url, `SELECT count(*) AS n FROM ${table}`))[0]?.n);
    expect(await count(totesys.url, 'sales_order')).toBe(50);
    expect(await count(warehouse.url, 'fact_sales_order')).toBe(50);
    expect(await count(warehouse.url, 'fact_payment')).toBe(await count(totesys.url, 'payment'));
  }, 120_000);
});
