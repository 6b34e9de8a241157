import { DeleteBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoWatermarkStore } from '../../src/aws/dynamo-watermark-store';
import { runUp } from '../../src/cli/commands/up';
import { runWatermarkReset } from '../../src/cli/commands/watermark';
import { main } from '../../src/cli/main';
import { credentialsFromUrl } from '../../src/db/credentials';
import { createTotesysTablesSql } from '../../src/db/totesys-ddl';
import { openLocalEnvironment, type LocalEnvironment } from '../../src/local/environment';
import { LocalPipeline } from '../../src/local/pipeline';
import { provisionLocalStack } from '../../src/local/provision';
import { testAwsSettings, uniqueName } from '../support/aws';
import { createTestDatabase, type TestDatabase } from '../support/pg';

/**
 * The operator's commands through `main`, as a person runs them, against a stack provisioned in
 * the test moto, with real handlers failing and recovering through the local pipeline.
 */
let totesys: TestDatabase;
let warehouse: TestDatabase;
let environment: LocalEnvironment;
let pipeline: LocalPipeline;
const stage = uniqueName('ops');

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function cli(...args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: await main(['node', 'totes', ...args]), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

const currencyCsv = (rows: string[]) => `currency_id,currency_code,created_at,last_updated\n${rows.join('\n')}\n`;
const currencyKey = (runId: string) => `currency/2030/01/01/currency__initial__20300101T000000.000000__${runId}__00001.csv`;

async function putIngestion(key: string, body: string): Promise<void> {
  await environment.clients.s3.send(new PutObjectCommand({ Bucket: environment.outputs.ingestionBucket, Key: key, Body: body }));
}

beforeAll(async () => {
  totesys = await createTestDatabase('totes_ops_src');
  warehouse = await createTestDatabase('totes_ops_wh');
  const client = new pg.Client({ connectionString: totesys.url });
  await client.connect();
  for (const sql of createTotesysTablesSql()) await client.query(sql);
  await client.end();
  const endpoint = testAwsSettings().endpoint ?? '';
  environment = await openLocalEnvironment({
    env: { totesysDbUrl: totesys.url, warehouseDbUrl: warehouse.url, awsEndpoint: endpoint, region: 'eu-west-2', stage },
    visibilityTimeoutSeconds: 1,
  });
  pipeline = new LocalPipeline(environment);
  vi.stubEnv('AWS_ENDPOINT_URL', endpoint);
  vi.stubEnv('AWS_REGION', 'eu-west-2');
  vi.stubEnv('TOTES_STAGE', stage);
  vi.stubEnv('TOTESYS_DB_URL', totesys.url);
  vi.stubEnv('WAREHOUSE_DB_URL', warehouse.url);
}, 120_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await environment?.close();
  await totesys?.drop();
  await warehouse?.drop();
});

describe('totes watermark', () => {
  it('refuses a reset without --yes when stdin is not a terminal, and rejects unknown tables and bad timestamps with exit 2', async () => {
    const unconfirmed = await cli('watermark', 'reset', 'currency');
    const unknown = await cli('watermark', 'reset', 'currencies', '--yes');
    const badDate = await cli('watermark', 'reset', 'currency', '--to', '2024-02-30 00:00:00', '--yes');
    const notATimestamp = await cli('watermark', 'reset', 'currency', '--to', 'yesterday', '--yes');

    expect(unconfirmed).toMatchObject({ code: 2, stderr: expect.stringMatching(/without confirmation[\s\S]*--yes/) });
    expect(unknown).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown table "currencies"[\s\S]*sales_order/) });
    expect(badDate).toMatchObject({ code: 2, stderr: expect.stringContaining('is not a timestamp') });
    expect(notATimestamp.code).toBe(2);
    expect(await new DynamoWatermarkStore(environment.clients.dynamo, environment.outputs.watermarkTable).list()).toEqual([]);
  });

  it('resets with --yes, says why re-extraction is safe, and lists the new watermark', async () => {
    const reset = await cli('watermark', 'reset', 'currency', '--to', '2024-11-20 15:22:10', '--yes');
    const listed = await cli('watermark', 'list', '--json');

    expect(reset).toMatchObject({ code: 0, stdout: expect.stringMatching(/currency: watermark set to 2024-11-20 15:22:10\.000000; re-extraction is safe: loads are idempotent/) });
    expect(JSON.parse(listed.stdout)).toContainEqual(expect.objectContaining({ table: 'currency', watermark: '2024-11-20 15:22:10.000000', age: expect.stringMatching(/^\d+d \d+h$/) }));
  });

  it('asks on a terminal and changes nothing unless the answer is yes', async () => {
    const questions: string[] = [];
    const store = new DynamoWatermarkStore(environment.clients.dynamo, environment.outputs.watermarkTable);

    await runWatermarkReset('staff', { to: '2024-01-01 00:00:00' }, { isInteractive: true, confirm: async (question) => (questions.push(question), false) });
    const afterNo = (await store.list()).find((state) => state.table === 'staff');
    await runWatermarkReset('staff', { to: '2024-01-01 00:00:00' }, { isInteractive: true, confirm: async () => true });
    const afterYes = (await store.list()).find((state) => state.table === 'staff');

    expect(questions).toEqual([expect.stringMatching(/set the watermark of staff to 2024-01-01 00:00:00\.000000.*loads are idempotent.*Continue\?/)]);
    expect(afterNo?.watermark ?? null).toBeNull();
    expect(afterYes?.watermark).toBe('2024-01-01 00:00:00.000000');
  });
});

describe('a failed object, from the DLQ back to the warehouse', () => {
  const failedKey = currencyKey('failrun1');

  it('lists the object in the DLQ with the error its transform recorded; status exits 1 and names the DLQ', async () => {
    // prepare: the processed bucket is gone, so every transform attempt fails until the DLQ takes it
    await environment.clients.s3.send(new DeleteBucketCommand({ Bucket: environment.outputs.processedBucket }));
    await putIngestion(failedKey, currencyCsv(['1,GBP,2022-11-03 14:20:49.962,2022-11-03 14:20:49.962', '2,USD,2022-11-03 14:20:49.962,2022-11-03 14:20:49.962']));
    const tick = await pipeline.tick();

    // act
    const listed = await cli('dlq', 'list', 'transform');
    const listedJson = await cli('dlq', 'list', 'transform', '--json');
    const status = await cli('status');
    const statusJson = await cli('status', '--json');

    // assert
    expect(tick.deadLetters).toEqual([{ queue: 'transform', key: failedKey, reason: expect.stringContaining(`cannot write s3://${environment.outputs.processedBucket}/`) }]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`key\\s+messageId\\s+failedAt\\s+attempts\\s+retryable\\s+error\\n-+`));
    expect(listed.stdout).toContain(failedKey);
    expect(JSON.parse(listedJson.stdout)).toEqual([
      expect.objectContaining({ key: failedKey, attempts: 5, retryable: true, error: expect.stringContaining('cannot write s3://') }),
    ]);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/currency\s+2024-11-20 15:22:10\.000000\s+\d+d \d+h/);
    expect(status.stdout).toMatch(new RegExp(`totes-${stage}-transform-dlq\\s+1\\s+0\\s+0`));
    expect(status.stdout).toMatch(/last extract: \S+ ok/);
    expect(status.stderr).toContain(`totes-${stage}-transform-dlq holds 1 messages: totes dlq list transform`);
    const json = JSON.parse(statusJson.stdout) as { queues: { queue: string; visible: number }[]; lastRun: { ok: boolean } };
    expect(json.queues.find((queue) => queue.queue === `totes-${stage}-transform-dlq`)?.visible).toBe(1);
    expect(json.lastRun.ok).toBe(true);
    expect(statusJson.code).toBe(1);
  }, 60_000);

  it('redrives the DLQ and, with the cause fixed, the pipeline loads the object; status is all clear', async () => {
    // prepare: fix the cause (the processed bucket is provisioned again)
    await provisionLocalStack(environment.clients, {
      stage,
      totesysCredentials: credentialsFromUrl(totesys.url),
      warehouseCredentials: credentialsFromUrl(warehouse.url),
      visibilityTimeoutSeconds: 1,
    });

    // act
    const redrive = await cli('dlq', 'redrive', 'transform');
    const tick = await pipeline.tick();
    const status = await cli('status');

    // assert
    expect(redrive).toMatchObject({ code: 0, stdout: expect.stringContaining('moved 1 messages from the transform DLQ back to the transform queue') });
    expect(tick.deadLetters).toEqual([]);
    expect(tick.warehouseRows.dim_currency).toBe(2);
    expect(status).toMatchObject({ code: 0, stdout: expect.stringContaining('all clear') });
  }, 60_000);
});

describe('totes replay', () => {
  it('sends a lost notification again, and the transform consumes it', async () => {
    // prepare: an object whose notification is lost
    const key = currencyKey('lostrun1');
    await putIngestion(key, currencyCsv(['3,EUR,2022-11-03 14:20:49.962,2022-11-03 14:20:49.962']));
    for (;;) {
      const { Messages = [] } = await environment.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: environment.outputs.transformQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      if (Messages.length === 0) break;
      for (const message of Messages) await environment.clients.sqs.send(new DeleteMessageCommand({ QueueUrl: environment.outputs.transformQueueUrl, ReceiptHandle: message.ReceiptHandle }));
    }

    // act
    const replay = await cli('replay', key);
    const tick = await pipeline.tick();

    // assert
    expect(replay).toMatchObject({ code: 0, stdout: expect.stringContaining(`to the transform queue`) });
    expect(tick.transformed).toBe(1);
    expect(tick.warehouseRows.dim_currency).toBe(3);
  }, 60_000);

  it('refuses a key no queue consumes (exit 2) and a missing object (exit 1)', async () => {
    const notConsumed = await cli('replay', 'currency/notes.txt');
    const missing = await cli('replay', currencyKey('missing1'));

    expect(notConsumed).toMatchObject({ code: 2, stderr: expect.stringContaining('no queue consumes currency/notes.txt') });
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining(`s3://${environment.outputs.ingestionBucket}/${currencyKey('missing1')} does not exist`) });
  });
});

describe('totes up and --help', () => {
  it('reuses a running stack (nothing started when the URLs are set) and prints its variables', async () => {
    let printed = '';

    const variables = await runUp({ json: true }, async () => undefined, (text) => {
      printed += text;
    });

    expect(variables).toEqual({ AWS_ENDPOINT_URL: testAwsSettings().endpoint, AWS_REGION: 'eu-west-2', TOTES_STAGE: stage, TOTESYS_DB_URL: totesys.url, WAREHOUSE_DB_URL: warehouse.url });
    expect(JSON.parse(printed)).toEqual(variables);
  });

  it('prints examples for every operator command', async () => {
    for (const command of [['status'], ['dlq', 'list'], ['dlq', 'redrive'], ['watermark', 'list'], ['watermark', 'reset'], ['replay'], ['up']]) {
      const help = await cli(...command, '--help');

      expect([command.join(' '), help.code, help.stdout]).toEqual([command.join(' '), 0, expect.stringContaining('Examples:')]);
    }
  });

  it('rejects a queue other than transform or load with exit 2', async () => {
    const result = await cli('dlq', 'list', 'extract');

    expect(result).toMatchObject({ code: 2, stderr: expect.stringContaining('expected transform or load') });
  });
});
