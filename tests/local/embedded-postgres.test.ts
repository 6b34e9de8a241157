import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type RunningEmbeddedPostgres } from '../../src/local/embedded-postgres';
import type { LogFields, Logger } from '../../src/stages/ports';
import { queryRows } from '../support/pg';

function recordingLogger(lines: { message: string; fields: LogFields }[]): Logger {
  const record = (message: string, fields: LogFields = {}) => lines.push({ message, fields });
  const logger: Logger = { debug: () => undefined, info: record, warn: record, error: record, child: () => logger };
  return logger;
}

describe('startEmbeddedPostgres', () => {
  let workDir: string;
  let running: RunningEmbeddedPostgres | undefined;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'totes-embedded-pg-'));
    // Under root the cluster runs as the postgres OS user, which must be able to reach the directory.
    await chmod(workDir, 0o755);
  });
  afterAll(async () => {
    await running?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  it('initialises a cluster with reachable totesys and warehouse databases, then reuses it on the next start', async () => {
    const dataDir = join(workDir, 'pg');
    const firstLog: { message: string; fields: LogFields }[] = [];
    running = await startEmbeddedPostgres({ dataDir, logger: recordingLogger(firstLog) });
    const [totesys] = await queryRows(running.totesysUrl, 'SELECT current_database() AS name, 1 AS one');
    const [warehouse] = await queryRows(running.warehouseUrl, 'SELECT current_database() AS name, 1 AS one');
    await queryRows(running.totesysUrl, `CREATE TABLE kept (id int); INSERT INTO kept VALUES (42)`);
    await running.stop();
    running = undefined;

    const secondLog: { message: string; fields: LogFields }[] = [];
    running = await startEmbeddedPostgres({ dataDir, logger: recordingLogger(secondLog) });
    const kept = await queryRows(running.totesysUrl, 'SELECT id FROM kept');

    expect(totesys).toEqual({ name: 'totesys', one: 1 });
    expect(warehouse).toEqual({ name: 'warehouse', one: 1 });
    expect(firstLog.find((line) => line.message === 'embedded PostgreSQL ready')?.fields).toMatchObject({ reused: false, createdDatabases: ['totesys', 'warehouse'] });
    expect(secondLog.map((line) => line.message)).not.toContain('initialising a new PostgreSQL cluster');
    expect(secondLog.find((line) => line.message === 'embedded PostgreSQL ready')?.fields).toMatchObject({ reused: true, createdDatabases: [] });
    expect(kept).toEqual([{ id: 42 }]);
  });

  it('refuses a directory that holds something other than a cluster', async () => {
    const dataDir = join(workDir, 'not-a-cluster');
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'notes.txt'), 'mine');

    await expect(startEmbeddedPostgres({ dataDir })).rejects.toThrow(/neither empty nor a PostgreSQL data directory/);
  });
});
