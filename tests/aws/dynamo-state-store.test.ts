import { CreateTableCommand, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../src/aws/clients';
import { DynamoStateStore } from '../../src/aws/dynamo-state-store';
import { TotesError } from '../../src/errors';
import { decodeParquet } from '../../src/parquet/decode';
import type { Row } from '../../src/schemas/rows';
import { transformObject } from '../../src/stages/transform';
import { testAwsSettings, uniqueName } from '../support/aws';
import { createTransformFixture, realRows } from '../stages/transform/fixtures';

const clients = createAwsClients(testAwsSettings());
const tables: string[] = [];

async function createStateTable(): Promise<DynamoStateStore> {
  const name = uniqueName('state');
  await clients.dynamo.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: 'table', KeyType: 'HASH' }, { AttributeName: 'id', KeyType: 'RANGE' }],
      AttributeDefinitions: [{ AttributeName: 'table', AttributeType: 'S' }, { AttributeName: 'id', AttributeType: 'N' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  tables.push(name);
  return new DynamoStateStore(clients.dynamo, name);
}

afterAll(async () => {
  for (const name of tables) await clients.dynamo.send(new DeleteTableCommand({ TableName: name }));
  clients.dynamo.destroy();
});

const department = (lastUpdated: string, location: string | null): Row => ({
  department_id: 6, department_name: 'Facilities', location, manager: 'Shelley Levene',
  created_at: '2022-11-03 14:20:49.962000', last_updated: lastUpdated,
});

describe('DynamoStateStore', () => {
  let store: DynamoStateStore;
  beforeAll(async () => {
    store = await createStateTable();
  });

  it('keeps the newest version whatever order versions are written in, and accepts the same version again', async () => {
    const older = department('2022-11-03 14:20:49.962000', 'Manchester');
    const newer = department('2024-11-20 16:25:45.036000', 'Liverpool');

    await store.putLatest('department', 'department_id', [newer]);
    await store.putLatest('department', 'department_id', [older]);
    const afterOlder = await store.readAll('department');
    await store.putLatest('department', 'department_id', [{ ...newer, manager: 'Redelivered' }]);
    const afterSame = await store.readAll('department');

    expect(afterOlder).toEqual([newer]);
    expect(afterSame).toEqual([{ ...newer, manager: 'Redelivered' }]);
  });

  it('round-trips a row exactly: NULL, empty string, emoji and right-to-left text, numbers', async () => {
    const address: Row = {
      address_id: 42, address_line_1: 'Tote 👜 "Café", line\nbreak', address_line_2: '', district: null, city: 'القاهرة',
      postal_code: '00000', country: 'ישראל', phone: '1803 637401', created_at: '2022-11-03 14:20:49.962000', last_updated: '2022-11-03 14:20:49.962000',
    };

    await store.putLatest('address', 'address_id', [address]);

    expect(await store.readAll('address')).toEqual([address]);
  });

  it('keeps tables apart and writes many rows at once', async () => {
    const staff = realRows('totesys-snapshot-2024-05/staff.json');

    await store.putLatest('staff', 'staff_id', staff);

    const stored = await store.readAll('staff');
    expect(stored.map((row) => row.staff_id).sort((a, b) => Number(a) - Number(b))).toEqual(staff.map((row) => row.staff_id).sort((a, b) => Number(a) - Number(b)));
    expect(await store.readAll('counterparty')).toEqual([]);
  });

  it('fails with a retryable TotesError when the table does not exist', async () => {
    const missing = new DynamoStateStore(clients.dynamo, uniqueName('no-such-table'));

    const writeError = await missing.putLatest('department', 'department_id', [department('2024-01-01 00:00:00.000000', null)]).catch((caught: unknown) => caught);
    const readError = await missing.readAll('staff').catch((caught: unknown) => caught);

    expect(writeError).toBeInstanceOf(TotesError);
    expect((writeError as TotesError).retryable).toBe(true);
    expect(readError).toBeInstanceOf(TotesError);
    expect((readError as TotesError).retryable).toBe(true);
  });
});

describe('transformObject with DynamoDB state', () => {
  it('emits every staff member of a department when the staff and department objects are transformed concurrently', async () => {
    const fixture = createTransformFixture({ state: await createStateTable() });
    const departments = realRows('totesys-snapshot-2024-05/department.json');
    const staff = realRows('totesys-snapshot-2024-05/staff.json');
    const staffKey = await fixture.putCsv('staff', staff);
    const departmentKey = await fixture.putCsv('department', departments);

    const reports = await Promise.all([transformObject({ key: staffKey }, fixture.deps), transformObject({ key: departmentKey }, fixture.deps)]);

    // Whichever wrote second saw the other: together they cover every staff member.
    const emitted = new Set<number>();
    for (const output of reports.flatMap((report) => report.outputs)) {
      for (const row of (await decodeParquet(await fixture.processed.getBytes(output.key))).rows) emitted.add(row.staff_id as number);
    }
    expect(emitted.size).toBe(staff.length);
  });
});
