import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parse } from 'csv-parse/sync';
import pg from 'pg';
import { createAwsClients, type AwsClients } from '../../../src/aws/clients';
import { awsClientConfig } from '../../../src/aws/config';
import { DynamoWatermarkStore } from '../../../src/aws/dynamo-watermark-store';
import { S3ObjectStore } from '../../../src/aws/s3-object-store';
import { pgPoolConfig, credentialsFromUrl } from '../../../src/db/credentials';
import { createSourceTableSql } from '../../../src/db/totesys-ddl';
import { sourceTables } from '../../../src/schemas/source';
import type { Clock, ObjectStore } from '../../../src/stages/ports';
import { testAwsSettings, uniqueName } from '../../support/aws';
import { createTestDatabase, type TestDatabase } from '../../support/pg';

/** The totesys tables, as the seed creates them, without foreign keys so tests insert freely. */
export function sourceDdl(): string[] {
  const ddl = sourceTables.map(createSourceTableSql);
  // Present in the real source and must never be extracted.
  ddl.push('CREATE TABLE "_prisma_migrations" (id varchar PRIMARY KEY, checksum varchar NOT NULL)');
  return ddl;
}

export interface SourceDatabase {
  readonly db: TestDatabase;
  readonly pool: pg.Pool;
  close(): Promise<void>;
}

export async function createSourceDatabase(): Promise<SourceDatabase> {
  const db = await createTestDatabase('totes_extract');
  const pool = new pg.Pool(pgPoolConfig(credentialsFromUrl(db.url), { max: 4 }));
  for (const statement of sourceDdl()) await pool.query(statement);
  return {
    db,
    pool,
    close: async () => {
      await pool.end();
      await db.drop();
    },
  };
}

export async function insertAddress(pool: pg.Pool, id: number, lastUpdated: string, overrides: Record<string, string | null> = {}): Promise<void> {
  const row = {
    address_line_1: `${id} High Street`,
    address_line_2: null,
    district: null,
    city: 'Leeds',
    postal_code: 'LS1 1AA',
    country: 'United Kingdom',
    phone: '0113 000000',
    ...overrides,
  };
  await pool.query(
    `INSERT INTO address (address_id, address_line_1, address_line_2, district, city, postal_code, country, phone, created_at, last_updated)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`,
    [id, row.address_line_1, row.address_line_2, row.district, row.city, row.postal_code, row.country, row.phone, lastUpdated],
  );
}

export async function insertCurrency(pool: pg.Pool, id: number, code: string, lastUpdated: string): Promise<void> {
  await pool.query('INSERT INTO currency (currency_id, currency_code, created_at, last_updated) VALUES ($1, $2, $3, $3)', [id, code, lastUpdated]);
}

export interface AwsFixture {
  readonly clients: AwsClients;
  readonly bucket: string;
  readonly watermarkTable: string;
  readonly objectStore: S3ObjectStore;
  readonly watermarks: DynamoWatermarkStore;
}

export async function createWatermarkTable(name: string): Promise<void> {
  const dynamo = new DynamoDBClient(awsClientConfig(testAwsSettings()));
  await dynamo.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: 'table', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'table', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  dynamo.destroy();
}

export async function createAwsFixture(): Promise<AwsFixture> {
  const clients = createAwsClients(testAwsSettings());
  const bucket = uniqueName('ingestion');
  const watermarkTable = uniqueName('watermarks');
  await clients.s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-west-2' } }));
  await createWatermarkTable(watermarkTable);
  return { clients, bucket, watermarkTable, objectStore: new S3ObjectStore(clients.s3, bucket), watermarks: new DynamoWatermarkStore(clients.dynamo, watermarkTable) };
}

/** A clock the test moves by hand. */
export function manualClock(start = '2024-11-20T16:30:00.000Z'): Clock & { set(iso: string): void; advance(ms: number): void } {
  let now = new Date(start);
  return {
    now: () => new Date(now),
    set: (iso) => {
      now = new Date(iso);
    },
    advance: (ms) => {
      now = new Date(now.getTime() + ms);
    },
  };
}

export type CsvRecord = Record<string, string | null>;

/**
 * Parses PostgreSQL CSV keeping NULL (an unquoted empty field) apart from the empty string (`""`):
 * csv-parse's `cast` sees whether a field was quoted.
 */
export function parseSourceCsv(text: string): CsvRecord[] {
  return parse(text, {
    columns: true,
    cast: (value, context) => (value === '' && !context.quoting ? null : value),
  }) as CsvRecord[];
}

export async function readCsvObjects(store: ObjectStore, keys: readonly string[]): Promise<CsvRecord[]> {
  const records: CsvRecord[] = [];
  for (const key of keys) records.push(...parseSourceCsv(Buffer.from(await store.getBytes(key)).toString('utf8')));
  return records;
}
