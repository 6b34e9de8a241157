import middy from '@middy/core';
import type { ScheduledEvent } from 'aws-lambda';
import { awsSettingsFromEnv } from '../aws/config';
import { handlerConfig } from '../config';
import { TotesError } from '../errors';
import { extractTables, type ExtractReport } from '../stages/extract';
import { extractClients, extractRuntime, type ExtractRuntime } from './deps/extract';
import { onFirstUse } from './runtime/cold-start';

/** Scheduled by EventBridge: extract every table, then report the run to CloudWatch. */
export function createExtractHandler(getRuntime: () => Promise<ExtractRuntime>) {
  return middy(async (_event: ScheduledEvent): Promise<ExtractReport> => {
    const { deps, metrics } = await getRuntime();
    const report = await extractTables({}, deps);
    const failed = report.tables.filter((table) => table.status === 'failed');
    const rows = report.tables.reduce((sum, table) => sum + table.rows, 0);
    await metrics.extractRun({ ok: report.ok, rows, failedTables: failed.length }).catch((error: unknown) => deps.logger.warn('cannot emit metrics', { error }));
    if (!report.ok) {
      // Every table was attempted; failing the invocation makes the Errors alarm fire.
      throw new TotesError(`extract failed for ${failed.map((table) => `${table.table} (${table.error ?? 'unknown error'})`).join(', ')}`, {
        context: { stage: 'extract', runId: report.runId, table: failed.map((table) => table.table).join(',') },
        retryable: true,
      });
    }
    return report;
  });
}

const aws = awsSettingsFromEnv();
export const handler = createExtractHandler(onFirstUse(async () => extractRuntime({ config: handlerConfig(), aws, clients: extractClients(aws) })));
