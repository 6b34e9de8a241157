import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { awsClientConfig } from '../../../src/aws/config';
import { DynamoWatermarkStore } from '../../../src/aws/dynamo-watermark-store';
import { S3ObjectStore } from '../../../src/aws/s3-object-store';
import { createCachedSecretReader } from '../../../src/aws/secrets';
import { createLazyPool, pgPoolConfig } from '../../../src/db/credentials';
import { createPgSourceReader } from '../../../src/db/source-reader';
import { parseIngestionKey } from '../../../src/schemas/keys';
import { sourceTableNames, type SourceTableName } from '../../../src/schemas/source';
import { extractTables, type ExtractDeps, type SourceReader, type WatermarkStore } from '../../../src/stages/extract';
import type { LogFields, Logger } from '../../../src/stages/ports';
import { testAwsSettings, uniqueName } from '../../support/aws';
import {
  createAwsFixture,
  createSourceDatabase,
  insertAddress,
  insertCurrency,
  manualClock,
  readCsvObjects,
  type AwsFixture,
  type SourceDatabase,
} from './fixtures';

interface LogLine {
  level: string;
  message: string;
  fields: LogFields;
}

function recordingLogger(lines: LogLine[] = [], base: LogFields = {}): Logger & { lines: LogLine[] } {
  const log = (level: string) => (message: string, fields: LogFields = {}) => {
    lines.push({ level, message, fields: { ...base, ...fields } });
  };
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: (fields) => recordingLogger(lines, { ...base, ...fields }) };
}

const settings = { lateCommitWindowSeconds: 15 * 60, maxRowsPerObject: 1000, leaseSeconds: 20 * 60 };

let source: SourceDatabase;
let aws: AwsFixture;
let clock: ReturnType<typeof manualClock>;

beforeAll(async () => {
  source = await createSourceDatabase();
});

afterAll(async () => {
  await source.close();
});

beforeEach(async () => {
  await source.pool.query(`TRUNCATE ${sourceTableNames.map((name) => `"${name}"`).join(', ')}`);
  aws = await createAwsFixture();
  clock = manualClock();
});

function deps(overrides: Partial<ExtractDeps> = {}): ExtractDeps {
  return {
    source: createPgSourceReader(source.pool),
    objectStore: aws.objectStore,
    watermarks: aws.watermarks,
    clock,
    logger: recordingLogger(),
    settings,
    ...overrides,
  };
}

async function watermarkOf(table: SourceTableName, store: WatermarkStore = aws.watermarks): Promise<string | null> {
  return (await store.list()).find((state) => state.table === table)?.watermark ?? null;
}

function tableReport(report: Awaited<ReturnType<typeof extractTables>>, table: SourceTableName) {
  const found = report.tables.find((entry) => entry.table === table);
  if (!found) throw new Error(`no report for ${table}`);
  return found;
}

describe('extractTables', () => {
  it('loads every changed table in full on the first run, and never _prisma_migrations', async () => {
    // prepare
    await insertAddress(source.pool, 1, '2024-11-20 16:20:00.100000');
    await insertAddress(source.pool, 2, '2024-11-20 16:25:45.036123');
    await insertCurrency(source.pool, 1, 'GBP', '2022-11-03 14:20:49.962');
    await source.pool.query("INSERT INTO _prisma_migrations VALUES ('m1', 'abc')");

    // act
    const report = await extractTables({ runId: 'run00001' }, deps());

    // assert
    expect(report.ok).toBe(true);
    expect(report.tables.map((table) => table.table)).toEqual(sourceTableNames);
    const address = tableReport(report, 'address');
    expect(address).toMatchObject({ status: 'extracted', rows: 2, from: null, to: '2024-11-20 16:25:45.036123' });
    expect(address.objects).toEqual(['address/2024/11/20/address__initial__20241120T162545.036123__run00001__00001.csv']);
    const rows = await readCsvObjects(aws.objectStore, address.objects);
    expect(rows.map((row) => row.address_id)).toEqual(['1', '2']);
    expect(rows[1]?.last_updated).toBe('2024-11-20 16:25:45.036123');
    expect(tableReport(report, 'currency')).toMatchObject({ status: 'extracted', rows: 1, to: '2022-11-03 14:20:49.962000' });
    expect(tableReport(report, 'payment')).toMatchObject({ status: 'unchanged', objects: [] });
    expect(await watermarkOf('address')).toBe('2024-11-20 16:25:45.036123');
    const keys = await aws.objectStore.list('');
    expect(keys).toHaveLength(2);
    expect(keys.some((key) => key.includes('prisma'))).toBe(false);
  });

  it('reads only new and updated rows on the next tick', async () => {
    // prepare
    await insertAddress(source.pool, 1, '2024-11-20 16:20:00.000000');
    await insertAddress(source.pool, 2, '2024-11-20 16:21:00.000000');
    await extractTables({ tables: ['address'], runId: 'run00001' }, deps());
    await insertAddress(source.pool, 3, '2024-11-20 16:35:00.000000');
    await source.pool.query("UPDATE address SET city = 'Liverpool', last_updated = '2024-11-20 16:36:00.5' WHERE address_id = 1");
    clock.advance(10 * 60 * 1000);

    // act
    const report = await extractTables({ tables: ['address'], runId: 'run00002' }, deps());

    // assert
    const address = tableReport(report, 'address');
    expect(address).toMatchObject({ status: 'extracted', rows: 2, from: '2024-11-20 16:21:00.000000', to: '2024-11-20 16:36:00.500000' });
    const rows = await readCsvObjects(aws.objectStore, address.objects);
    expect(rows.map((row) => [row.address_id, row.city])).toEqual([
      ['3', 'Leeds'],
      ['1', 'Liverpool'],
    ]);
    expect(parseIngestionKey(address.objects[0] ?? '')?.window).toEqual({ from: '2024-11-20 16:21:00.000000', to: '2024-11-20 16:36:00.500000' });
    expect(await watermarkOf('address')).toBe('2024-11-20 16:36:00.500000');
  });

  it('writes nothing and leaves the watermark item alone when nothing changed', async () => {
    // prepare
    await insertAddress(source.pool, 1, '2024-11-20 16:20:00.000000');
    await extractTables({ tables: ['address'], runId: 'run00001' }, deps());
    const before = (await aws.watermarks.list()).find((state) => state.table === 'address');
    clock.advance(60_000);

    // act
    const report = await extractTables({ tables: ['address'], runId: 'run00002' }, deps());

    // assert
    expect(tableReport(report, 'address')).toMatchObject({ status: 'unchanged', rows: 0, objects: [], from: '2024-11-20 16:20:00.000000' });
    expect(await aws.objectStore.list('')).toHaveLength(1);
    const after = (await aws.watermarks.list()).find((state) => state.table === 'address');
    expect(after).toEqual({ ...before, leaseOwner: null, leaseUntil: null });
  });

  it('captures a late commit inside the window without re-reading anything, and misses one older than the window', async () => {
    // prepare: the first tick sets the watermark at 16:30:00; then two transactions commit late
    await insertAddress(source.pool, 1, '2024-11-20 16:29:00.000000');
    await insertAddress(source.pool, 2, '2024-11-20 16:30:00.000000');
    await extractTables({ tables: ['address'], runId: 'run00001' }, deps());
    await insertAddress(source.pool, 3, '2024-11-20 16:20:00.123456'); // 10 min behind: inside the 15 min window
    await insertAddress(source.pool, 4, '2024-11-20 16:10:00.000000'); // 20 min behind: outside it

    // act
    const report = await extractTables({ tables: ['address'], runId: 'run00002' }, deps());
    const again = await extractTables({ tables: ['address'], runId: 'run00003' }, deps());

    // assert: only the late row, not rows 1 and 2 again; the watermark does not move back
    const address = tableReport(report, 'address');
    expect(address).toMatchObject({ status: 'extracted', rows: 1, to: '2024-11-20 16:30:00.000000' });
    expect((await readCsvObjects(aws.objectStore, address.objects)).map((row) => row.address_id)).toEqual(['3']);
    expect(await watermarkOf('address')).toBe('2024-11-20 16:30:00.000000');
    // The documented bound: a commit more than lateCommitWindowSeconds behind the watermark is not seen.
    expect(tableReport(again, 'address').status).toBe('unchanged');
    const everything = await readCsvObjects(aws.objectStore, await aws.objectStore.list('address/'));
    expect(everything.map((row) => row.address_id).sort()).toEqual(['1', '2', '3']);
  });

  it('splits a large window into objects of at most maxRowsPerObject rows, each row in exactly one', async () => {
    // prepare: ties on last_updated, which a cut by (last_updated, id) ranges would have to split
    for (const [id, at] of [[5, '16:00:01'], [4, '16:00:01'], [3, '16:00:01'], [2, '16:00:02'], [1, '16:00:03']] as const) {
      await insertAddress(source.pool, id, `2024-11-20 ${at}`);
    }

    // act
    const report = await extractTables({ tables: ['address'], runId: 'run00001' }, deps({ settings: { ...settings, maxRowsPerObject: 2 } }));

    // assert
    const address = tableReport(report, 'address');
    expect(address.rows).toBe(5);
    expect(address.objects.map((key) => parseIngestionKey(key)?.part)).toEqual([1, 2, 3]);
    const perObject = await Promise.all(address.objects.map(async (key) => (await readCsvObjects(aws.objectStore, [key])).map((row) => row.address_id)));
    expect(perObject.map((ids) => ids.length)).toEqual([2, 2, 1]);
    expect(perObject.flat().sort()).toEqual(['1', '2', '3', '4', '5']);
    expect(address.to).toBe('2024-11-20 16:00:03.000000');
  });

  it('loses nothing when it crashes between writing the objects and advancing the watermark', async () => {
    // prepare
    await insertAddress(source.pool, 1, '2024-11-20 16:20:00.000000');
    await insertAddress(source.pool, 2, '2024-11-20 16:21:00.000000');
    const crashing = new (class extends DynamoWatermarkStore {
      override async advance(): Promise<void> {
        throw new Error('connection reset before the watermark write');
      }
    })(aws.clients.dynamo, aws.watermarkTable);
    const lines: LogLine[] = [];
    const crashed = await extractTables({ tables: ['address'], runId: 'run00001' }, deps({ watermarks: crashing, logger: recordingLogger(lines) }));
    await insertAddress(source.pool, 3, '2024-11-20 16:22:00.000000');

    // act
    const rerun = await extractTables({ tables: ['address'], runId: 'run00002' }, deps());

    // assert: the crashed run wrote its object but kept the watermark; the rerun reads the same
    // versions again (identical, so load absorbs them) plus the new row
    expect(crashed.ok).toBe(false);
    expect(tableReport(crashed, 'address')).toMatchObject({ status: 'failed', error: expect.stringContaining('address') });
    expect(lines.find((line) => line.level === 'error')?.fields).toMatchObject({ event: 'extract_table_failed', table: 'address' });
    expect(tableReport(rerun, 'address')).toMatchObject({ status: 'extracted', rows: 3, from: null });
    const first = await readCsvObjects(aws.objectStore, (await aws.objectStore.list('address/')).filter((key) => parseIngestionKey(key)?.runId === 'run00001'));
    const second = await readCsvObjects(aws.objectStore, tableReport(rerun, 'address').objects);
    expect(first).toHaveLength(2);
    expect(second.slice(0, 2)).toEqual(first);
    expect(await watermarkOf('address')).toBe('2024-11-20 16:22:00.000000');
  });

  it('extracts each window into exactly one object when two invocations overlap', async () => {
    // prepare
    for (let id = 1; id <= 40; id += 1) await insertAddress(source.pool, id, `2024-11-20 16:${String(id % 60).padStart(2, '0')}:00.000001`);
    for (let id = 1; id <= 3; id += 1) await insertCurrency(source.pool, id, ['GBP', 'USD', 'EUR'][id - 1] ?? 'XXX', `2024-11-20 16:0${id}:00`);

    // act
    const [one, two] = await Promise.all([extractTables({ runId: 'runaaaa1' }, deps()), extractTables({ runId: 'runbbbb2' }, deps())]);
    const third = await extractTables({ runId: 'runcccc3' }, deps());

    // assert
    expect(one.ok && two.ok && third.ok).toBe(true);
    for (const table of ['address', 'currency'] as const) {
      const statuses = [tableReport(one, table).status, tableReport(two, table).status].sort();
      expect(statuses[0]).toBe('extracted');
      expect(['skipped', 'unchanged']).toContain(statuses[1]);
      expect(tableReport(third, table).status).toBe('unchanged');
    }
    const rows = await readCsvObjects(aws.objectStore, await aws.objectStore.list('address/'));
    expect(rows.map((row) => Number(row.address_id)).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, index) => index + 1));
    expect(await watermarkOf('address')).toBe('2024-11-20 16:40:00.000001');
  });

  it('skips a table whose lease another running invocation holds, and never moves its watermark back', async () => {
    // prepare: the first run's upload stalls until the second run has finished
    await insertAddress(source.pool, 1, '2024-11-20 16:20:00.000000');
    let releaseUpload: () => void = () => undefined;
    const uploadReleased = new Promise<void>((resolve) => {
      releaseUpload = resolve;
    });
    let uploadStarted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => {
      uploadStarted = resolve;
    });
    const stalling = new (class extends S3ObjectStore {
      override async putNew(...args: Parameters<S3ObjectStore['putNew']>) {
        uploadStarted();
        await uploadReleased;
        return super.putNew(...args);
      }
    })(aws.clients.s3, aws.bucket);

    // act
    const first = extractTables({ tables: ['address'], runId: 'runfirst1' }, deps({ objectStore: stalling }));
    await started;
    const second = await extractTables({ tables: ['address'], runId: 'runsecond' }, deps());
    releaseUpload();
    const firstReport = await first;

    // assert
    expect(tableReport(second, 'address')).toMatchObject({ status: 'skipped', objects: [] });
    expect(second.ok).toBe(true);
    expect(tableReport(firstReport, 'address')).toMatchObject({ status: 'extracted', rows: 1 });
    expect(await aws.objectStore.list('address/')).toHaveLength(1);
    expect(await watermarkOf('address')).toBe('2024-11-20 16:20:00.000000');
  });

  it('fails every table, naming it, when the source is unreachable, and keeps the watermarks', async () => {
    // prepare
    await insertAddress(source.pool, 1, '2024-11-20 16:20:00.000000');
    await extractTables({ tables: ['address'], runId: 'run00001' }, deps());
    const unreachable = new pg.Pool({ host: '127.0.0.1', port: 1, user: 'nobody', database: 'none', connectionTimeoutMillis: 2000 });
    const lines: LogLine[] = [];

    // act
    const report = await extractTables({ tables: ['address', 'currency'], runId: 'run00002' }, deps({ source: createPgSourceReader(unreachable), logger: recordingLogger(lines) }));
    await unreachable.end();

    // assert
    expect(report.ok).toBe(false);
    expect(tableReport(report, 'address')).toMatchObject({ status: 'failed', from: '2024-11-20 16:20:00.000000', to: null });
    expect(tableReport(report, 'address').error).toMatch(/^address: cannot connect to the source database to read address/);
    expect(tableReport(report, 'currency').error).toMatch(/currency/);
    // Two tables are read at once, so their failures are logged in either order.
    expect(lines.filter((line) => line.fields.event === 'extract_table_failed').map((line) => line.fields.table).sort()).toEqual(['address', 'currency']);
    expect(await watermarkOf('address')).toBe('2024-11-20 16:20:00.000000');
    // the lease was given back, so the next healthy run is not blocked
    expect(tableReport(await extractTables({ tables: ['address'], runId: 'run00003' }, deps()), 'address').status).toBe('unchanged');
  });

  it('fails each table, naming it, when the source secret is missing', async () => {
    // prepare
    const secrets = createCachedSecretReader(aws.clients.secrets);
    const missingSecret = uniqueName('totesys');
    const lazy = createLazyPool(async () => pgPoolConfig(await secrets.readDbCredentials(missingSecret)));
    await insertAddress(source.pool, 1, '2024-11-20 16:20:00.000000');

    // act
    const report = await extractTables({ tables: ['address', 'currency'], runId: 'run00001' }, deps({ source: createPgSourceReader(() => lazy.get()) }));

    // assert
    expect(report.tables.map((table) => table.status)).toEqual(['failed', 'failed']);
    expect(tableReport(report, 'address').error).toContain(`address: cannot connect to the source database to read address: caused by: secret ${missingSecret} does not exist`);
    expect(await watermarkOf('address')).toBeNull();
    await lazy.end();
  });

  it('reads the source through a secret once it exists', async () => {
    // prepare
    const secretId = uniqueName('totesys');
    const url = new URL(source.db.url);
    await aws.clients.secrets.send(
      new CreateSecretCommand({ Name: secretId, SecretString: JSON.stringify({ host: url.hostname, port: Number(url.port), username: 'postgres', password: '', dbname: source.db.name }) }),
    );
    const secrets = createCachedSecretReader(aws.clients.secrets);
    const lazy = createLazyPool(async () => pgPoolConfig(await secrets.readDbCredentials(secretId)));
    await insertAddress(source.pool, 1, '2024-11-20 16:20:00.000000');

    // act
    const report = await extractTables({ tables: ['address'], runId: 'run00001' }, deps({ source: createPgSourceReader(() => lazy.get()) }));

    // assert
    expect(tableReport(report, 'address')).toMatchObject({ status: 'extracted', rows: 1 });
    await lazy.end();
  });

  it('fails only the table whose object S3 refuses, keeping its watermark, and extracts the others', async () => {
    // prepare: a second client whose PutObject refuses address keys and passes the rest to moto
    const real = new S3Client({ ...awsClientConfig(testAwsSettings()) });
    const refusing = new S3Client({ ...awsClientConfig(testAwsSettings()) });
    const s3Mock = mockClient(refusing);
    s3Mock.on(PutObjectCommand).callsFake(async (input: ConstructorParameters<typeof PutObjectCommand>[0]) => {
      if (input.Key?.startsWith('address/')) {
        throw new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'Access Denied' });
      }
      return real.send(new PutObjectCommand(input));
    });
    await insertAddress(source.pool, 1, '2024-11-20 16:20:00.000000');
    await insertCurrency(source.pool, 1, 'GBP', '2024-11-20 16:20:00.000000');

    // act
    const report = await extractTables({ tables: ['address', 'currency'], runId: 'run00001' }, deps({ objectStore: new S3ObjectStore(refusing, aws.bucket) }));

    // assert
    expect(report.ok).toBe(false);
    expect(tableReport(report, 'address')).toMatchObject({ status: 'failed', error: expect.stringMatching(/^address: cannot write s3:\/\/.*address\//) });
    expect(tableReport(report, 'currency')).toMatchObject({ status: 'extracted', rows: 1 });
    expect(await watermarkOf('address')).toBeNull();
    expect(await watermarkOf('currency')).toBe('2024-11-20 16:20:00.000000');
    s3Mock.restore();
    real.destroy();
  });

  it('fails the table when one part\'s upload fails while later parts are read, and keeps its watermark', async () => {
    // prepare: four one-row parts; S3 refuses part 2 (slowly, so parts 3 and 4 are read meanwhile)
    const real = new S3Client({ ...awsClientConfig(testAwsSettings()) });
    const refusing = new S3Client({ ...awsClientConfig(testAwsSettings()) });
    const s3Mock = mockClient(refusing);
    s3Mock.on(PutObjectCommand).callsFake(async (input: ConstructorParameters<typeof PutObjectCommand>[0]) => {
      if (parseIngestionKey(input.Key ?? '')?.part === 2) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        throw new S3ServiceException({ name: 'InternalError', $fault: 'server', $metadata: { httpStatusCode: 500 }, message: 'We encountered an internal error' });
      }
      return real.send(new PutObjectCommand(input));
    });
    for (const id of [1, 2, 3, 4]) await insertAddress(source.pool, id, `2024-11-20 16:2${id}:00.000000`);

    // act
    const report = await extractTables(
      { tables: ['address'], runId: 'run00001' },
      deps({ objectStore: new S3ObjectStore(refusing, aws.bucket), settings: { ...settings, maxRowsPerObject: 1 } }),
    );

    // assert
    expect(tableReport(report, 'address')).toMatchObject({ status: 'failed', error: expect.stringMatching(/^address: cannot write s3:\/\/.*__00002\.csv/) });
    expect(await watermarkOf('address')).toBeNull();
    s3Mock.restore();
    real.destroy();
  });

  it('hands each chunk\'s memory back once, after its upload has settled, a failed one and one never uploaded too', async () => {
    // prepare: four one-row parts; the store refuses part 2, so part 3 is read but never uploaded
    const events: string[] = [];
    const real = createPgSourceReader(source.pool);
    const watching: SourceReader = {
      withChanges: (table, query, work) =>
        real.withChanges(table, query, (changes) =>
          work({
            maxLastUpdated: changes.maxLastUpdated,
            versionsAfter: (after, limit) => changes.versionsAfter(after, limit),
            async *chunks() {
              let part = 0;
              for await (const chunk of changes.chunks()) {
                const number = ++part;
                yield { ...chunk, release: () => { events.push(`release ${number}`); chunk.release(); } };
              }
            },
          }),
        ),
    };
    const refusing = new (class extends S3ObjectStore {
      override async putNew(...args: Parameters<S3ObjectStore['putNew']>) {
        const part = parseIngestionKey(args[0])?.part;
        try {
          if (part === 2) throw new Error('refused');
          return await super.putNew(...args);
        } finally {
          events.push(`settled ${part}`);
        }
      }
    })(aws.clients.s3, aws.bucket);
    for (const id of [1, 2, 3, 4]) await insertAddress(source.pool, id, `2024-11-20 16:2${id}:00.000000`);

    // act
    const report = await extractTables({ tables: ['address'], runId: 'run00001' }, deps({ source: watching, objectStore: refusing, settings: { ...settings, maxRowsPerObject: 1 } }));

    // assert
    expect(tableReport(report, 'address').status).toBe('failed');
    expect(events).toEqual(['settled 1', 'release 1', 'settled 2', 'release 2', 'release 3']);
  });

  it.each([1, 2])('reads at most tablesAtOnce = %i tables at once', async (tablesAtOnce) => {
    // prepare: four tables with rows; a reader that notes how many snapshots are open at once
    await insertAddress(source.pool, 1, '2024-11-20 16:20:00.000000');
    await insertCurrency(source.pool, 1, 'GBP', '2024-11-20 16:20:00.000000');
    const real = createPgSourceReader(source.pool);
    let open = 0;
    let mostOpen = 0;
    const counting: ExtractDeps['source'] = {
      withChanges: (table, query, work) =>
        real.withChanges(table, query, async (changes) => {
          open += 1;
          mostOpen = Math.max(mostOpen, open);
          try {
            await new Promise((resolve) => setTimeout(resolve, 50));
            return await work(changes);
          } finally {
            open -= 1;
          }
        }),
    };

    // act
    const report = await extractTables({ tables: ['address', 'currency', 'design', 'staff'], runId: 'run00001' }, deps({ source: counting, settings: { ...settings, tablesAtOnce } }));

    // assert: every table reported, in the order asked
    expect(report.ok).toBe(true);
    expect(report.tables.map((table) => table.table)).toEqual(['address', 'currency', 'design', 'staff']);
    expect(mostOpen).toBe(tablesAtOnce);
  });

  it('records the last run for totes status', async () => {
    // prepare
    await insertAddress(source.pool, 1, '2024-11-20 16:20:00.000000');

    // act
    await extractTables({ tables: ['address', 'currency'], runId: 'run00001' }, deps());

    // assert
    expect(await aws.watermarks.lastRun()).toEqual({
      runId: 'run00001',
      startedAt: '2024-11-20T16:30:00.000Z',
      finishedAt: '2024-11-20T16:30:00.000Z',
      ok: true,
      tables: [
        { table: 'address', status: 'extracted', rows: 1, objects: 1, from: null, to: '2024-11-20 16:20:00.000000' },
        { table: 'currency', status: 'unchanged', rows: 0, objects: 0, from: null, to: null },
      ],
    });
  });
});
