import type { Command } from 'commander';
import { cliEnvironment } from '../../config';
import { dashboardAwsClients } from '../../dashboard/aws';
import { gatherAwsHealth } from '../../dashboard/pipeline-health';
import { startDashboardServer } from '../../dashboard/server';
import { WarehouseReader, describeUrl } from '../../dashboard/warehouse-reader';
import { DEFAULT_STATE_DIR, openDatabases } from '../../local/environment';
import { createOutput } from '../output';
import { wholeNumber } from './options';

export interface DashboardCommandOptions {
  readonly port: number;
  readonly host: string;
}

/**
 * `totes dashboard`: serves pipeline health and the business view until Ctrl-C. It only reads:
 * the warehouse through a read-only connection, AWS (or the emulator) through describe/list calls.
 */
export function registerDashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description('Serve a local web dashboard: pipeline health (watermarks, queues, DLQs, errors) and the business view of the warehouse')
    .option('--port <port>', 'port to listen on (0 picks a free one)', wholeNumber('--port'), 8080)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .addHelpText('after', '\nUses WAREHOUSE_DB_URL (the embedded PostgreSQL in .totes/pg when unset), AWS_ENDPOINT_URL (for a local emulator), AWS_REGION and TOTES_STAGE.')
    .action(async (options: DashboardCommandOptions) => {
      const output = createOutput(false);
      const env = cliEnvironment();
      // Only the warehouse is read; with WAREHOUSE_DB_URL set, no embedded database is started.
      const databases = env.warehouseDbUrl
        ? { warehouseUrl: env.warehouseDbUrl, embedded: undefined }
        : await openDatabases(env, DEFAULT_STATE_DIR, output.line);
      const reader = new WarehouseReader({ url: databases.warehouseUrl });
      const clients = dashboardAwsClients({ region: env.region, endpoint: env.awsEndpoint });
      try {
        const dashboard = await startDashboardServer({
          port: options.port,
          host: options.host,
          reader,
          awsHealth: () => gatherAwsHealth({ clients, stage: env.stage, endpoint: env.awsEndpoint }),
        });
        output.line(`warehouse: ${describeUrl(databases.warehouseUrl)}`);
        output.line(`pipeline state: ${env.awsEndpoint ? `emulator at ${env.awsEndpoint}` : 'AWS'} (stage ${env.stage})`);
        output.line(`dashboard at ${dashboard.url} (Ctrl-C to stop)`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await dashboard.close();
      } finally {
        await reader.close();
        await databases.embedded?.stop();
      }
    });
}
