import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeError } from '../errors';
import { BusinessQueries, type LocationGrouping } from './business';
import { loadLogSummary, loadedKeys, type AwsHealth } from './pipeline-health';
import type { WarehouseReader } from './warehouse-reader';

/**
 * The dashboard's HTTP server: a static page plus a JSON API. Only GET is served, every query
 * parameter is validated before it reaches SQL (where it is a bind parameter anyway), and an
 * error becomes a JSON `{ error }` with a status instead of a crash.
 */

export interface DashboardServerOptions {
  readonly reader: WarehouseReader;
  /** Reads the AWS half of pipeline health; must not throw (gatherAwsHealth never does). */
  readonly awsHealth: () => Promise<AwsHealth>;
  /** Loads within this many hours count as "recent" (default 24). */
  readonly recentHours?: number;
  readonly now?: () => Date;
}

export interface RunningDashboard {
  readonly server: Server;
  readonly url: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const staticFiles: Readonly<Record<string, { readonly file: string; readonly type: string }>> = {
  '/': { file: fileURLToPath(new URL('./static/index.html', import.meta.url)), type: 'text/html; charset=utf-8' },
  '/app.js': { file: fileURLToPath(new URL('./static/app.js', import.meta.url)), type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: fileURLToPath(new URL('./static/app.css', import.meta.url)), type: 'text/css; charset=utf-8' },
  // Served from node_modules: the browser may have no internet, so no CDN. The package exports
  // no UMD subpath, so it is found next to the CommonJS entry point in dist/.
  '/vendor/chart.umd.min.js': { file: join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js'), type: 'text/javascript; charset=utf-8' },
};

const MAX_ORDER_ID = 2_147_483_647;

function orderId(raw: string | null): number {
  if (raw === null || !/^\d{1,10}$/.test(raw.trim())) throw new HttpError(400, 'id must be a sales order id (a whole number)');
  const id = Number(raw.trim());
  if (id < 1 || id > MAX_ORDER_ID) throw new HttpError(400, `id must be between 1 and ${MAX_ORDER_ID}`);
  return id;
}

function currencyCode(raw: string | null): string {
  if (raw === null || !/^[A-Za-z]{3}$/.test(raw)) throw new HttpError(400, 'currency must be a three-letter ISO 4217 code, e.g. GBP');
  return raw.toUpperCase();
}

function grouping(raw: string | null): LocationGrouping {
  if (raw === null || raw === 'country') return 'country';
  if (raw === 'city') return 'city';
  throw new HttpError(400, 'by must be country or city');
}

/** Builds the request handler; exported so tests can also drive it without a socket. */
export function dashboardHandler(options: DashboardServerOptions) {
  const business = new BusinessQueries(options.reader);
  const now = options.now ?? (() => new Date());
  const recentHours = options.recentHours ?? 24;

  const api: Record<string, (params: URLSearchParams) => Promise<unknown>> = {
    '/api/health': async () => {
      const checkedAt = now().toISOString();
      const [loads, aws] = await Promise.all([
        loadLogSummary(options.reader, recentHours).then(
          (tables) => ({ available: true as const, recentHours, tables }),
          (error: unknown) => ({ available: false as const, reason: describeError(error) }),
        ),
        options.awsHealth().then(withLoadedSince),
      ]);
      return { checkedAt, loads, aws };
    },
    '/api/summary': () => business.summary(),
    '/api/revenue-by-month': () => business.revenueByMonth(),
    '/api/top-designs': () => business.topDesigns(10),
    '/api/sales-by-location': (params) => business.salesByLocation(grouping(params.get('by'))),
    '/api/top-staff': (params) => business.topStaff(currencyCode(params.get('currency')), 10),
    '/api/order-history': (params) => business.orderHistory(orderId(params.get('id'))),
  };

  /** A journal entry outlives a successful retry; the load log tells whether the object got in after all. */
  async function withLoadedSince(aws: AwsHealth): Promise<AwsHealth> {
    if (!aws.available || aws.recentErrors.length === 0) return aws;
    const loaded = new Set(await loadedKeys(options.reader, aws.recentErrors.map((error) => error.subject)).catch(() => []));
    return { ...aws, recentErrors: aws.recentErrors.map((error) => ({ ...error, loadedSince: loaded.has(error.subject) })) };
  }

  return async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://dashboard.invalid');
    try {
      if (request.method !== 'GET' && request.method !== 'HEAD') throw new HttpError(405, 'the dashboard only reads: use GET');
      const endpoint = api[url.pathname];
      if (endpoint) {
        send(response, 200, 'application/json; charset=utf-8', JSON.stringify(await endpoint(url.searchParams)));
        return;
      }
      const asset = staticFiles[url.pathname];
      if (!asset) throw new HttpError(404, `no such page: ${url.pathname}`);
      send(response, 200, asset.type, await readFile(asset.file));
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      send(response, status, 'application/json; charset=utf-8', JSON.stringify({ error: error instanceof HttpError ? error.message : describeError(error) }));
    }
  };
}

function send(response: ServerResponse, status: number, type: string, body: string | Buffer): void {
  response.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    // Everything the page needs comes from this server.
    'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
  });
  response.end(body);
}

/** Starts the dashboard on `host:port` (port 0 picks a free one) and resolves once it listens. */
export async function startDashboardServer(options: DashboardServerOptions & { readonly port: number; readonly host?: string }): Promise<RunningDashboard> {
  const handler = dashboardHandler(options);
  const server = createServer((request, response) => void handler(request, response));
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    server,
    url: `http://${host}:${address.port}/`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
