import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { AwsSettings } from './config';
import { awsClientConfig } from './config';

/** What the extract reports after a run; the staleness alarm watches `ExtractSucceeded`. */
export interface PipelineMetrics {
  extractRun(result: { ok: boolean; rows: number; failedTables: number }): Promise<void>;
}

export interface MetricNames {
  readonly namespace: string;
  readonly stage: string;
}

/** CloudWatch metrics under the stack's namespace, with the stage as the one dimension. */
export function createCloudWatchMetrics(settings: AwsSettings, names: MetricNames): PipelineMetrics {
  const client = new CloudWatchClient(awsClientConfig(settings));
  const dimensions = [{ Name: 'Stage', Value: names.stage }];
  return {
    async extractRun({ ok, rows, failedTables }) {
      await client.send(
        new PutMetricDataCommand({
          Namespace: names.namespace,
          MetricData: [
            { MetricName: 'ExtractSucceeded', Dimensions: dimensions, Value: ok ? 1 : 0, Unit: 'Count' },
            { MetricName: 'ExtractedRows', Dimensions: dimensions, Value: rows, Unit: 'Count' },
            { MetricName: 'ExtractFailedTables', Dimensions: dimensions, Value: failedTables, Unit: 'Count' },
          ],
        }),
      );
    },
  };
}
