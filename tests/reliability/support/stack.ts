import type { S3Client } from '@aws-sdk/client-s3';
import { expect } from 'vitest';
import { openLocalEnvironment, type LocalEnvironment } from '../../../src/local/environment';
import type { SqsHandler } from '../../../src/local/event-source';
import { LocalPipeline, type PipelineFaults, type TickSummary } from '../../../src/local/pipeline';
import { seedTotesys } from '../../../src/seed/seed';
import type { ExtractDeps } from '../../../src/stages/extract';
import { testAwsSettings, uniqueName } from '../../support/aws';
import { createTestDatabase, queryRows, type TestDatabase } from '../../support/pg';
import { WarehouseModel, type Verdict } from '../model';
import { TallyFile } from './tally';

/**
 * One reliability test file's world: its own totesys and warehouse databases, its own stack in
 * the shared moto, the real handlers run by the local event-source runtime, and the model that
 * says what the warehouse must hold. Faults are switched on and off per test through `faults`,
 * which the pipeline consults on every call (its deps are built once, as in a warm container).
 */
export interface FaultPlan {
  /** Called before every S3 request of the transform and load functions; throw to fail it. */
  s3?: (command: { readonly name: string; readonly input: Record<string, unknown> }, fn: 'transform' | 'load') => void | Promise<void>;
  /** Replaces the extract's deps for the next extracts. */
  extractDeps?: (deps: ExtractDeps) => ExtractDeps;
  /** Replaces a handler as the event source invokes it. */
  handler?: (handler: SqsHandler, queue: 'transform' | 'load') => SqsHandler;
}

export interface ReliabilityStack {
  readonly totesys: TestDatabase;
  readonly warehouse: TestDatabase;
  readonly environment: LocalEnvironment;
  readonly pipeline: LocalPipeline;
  readonly model: WarehouseModel;
  readonly tally: TallyFile;
  /** Every JSON log line the handlers wrote. */
  readonly logLines: string[];
  /** The fault plan now in force; assign to it, and clear it in a `finally`. */
  readonly faults: FaultPlan;
  /** A pipeline of its own over the same stack, for a second extract running at the same time. */
  secondPipeline(): LocalPipeline;
  /** The model observes the source, then one full tick runs. */
  tick(): Promise<TickSummary>;
  /** Checks the warehouse against the model, counts the verdict, and fails the test on any difference. */
  expectWarehouseMatchesModel(): Promise<Verdict>;
  close(): Promise<void>;
}

function faultySeams(plan: FaultPlan): PipelineFaults {
  return {
    runtime: (runtime, fn) => {
      if (fn === 'extract') return runtime;
      const s3 = withS3Fault(runtime.clients.s3, (command) => plan.s3?.(command, fn));
      return { ...runtime, clients: { ...runtime.clients, s3 } };
    },
    extractDeps: (deps) => {
      // The extract builds its deps once; which reader answers is decided per call.
      const source: ExtractDeps['source'] = {
        withChanges: (table, query, work) => (plan.extractDeps?.(deps) ?? deps).source.withChanges(table, query, work),
      };
      return { ...deps, source };
    },
    handler: (handler, queue) => (event, context) => (plan.handler?.(handler, queue) ?? handler)(event, context),
  };
}

/** The same S3 client, with a hook that sees each command before it is sent and may fail it. */
function withS3Fault(client: S3Client, before: (command: { name: string; input: Record<string, unknown> }) => void | Promise<void>): S3Client {
  return new Proxy(client, {
    get(target, property) {
      if (property === 'send') {
        return async (command: { constructor: { name: string }; input: Record<string, unknown> }, ...rest: unknown[]) => {
          await before({ name: command.constructor.name, input: command.input });
          return (target.send as (...args: unknown[]) => Promise<unknown>)(command, ...rest);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export interface StackOptions {
  /** Sales orders seeded (the rest scales with it). Small keeps ticks fast. */
  readonly scale?: number;
}

export async function openReliabilityStack(name: string, options: StackOptions = {}): Promise<ReliabilityStack> {
  const totesys = await createTestDatabase(`totes_rel_${name}_src`);
  const warehouse = await createTestDatabase(`totes_rel_${name}_wh`);
  await seedTotesys({ url: totesys.url, scale: options.scale ?? 40 });
  const environment = await openLocalEnvironment({
    env: { totesysDbUrl: totesys.url, warehouseDbUrl: warehouse.url, awsEndpoint: testAwsSettings().endpoint, region: 'eu-west-2', stage: uniqueName(`rel-${name}`).slice(0, 20) },
    visibilityTimeoutSeconds: 1,
  });
  const faults: FaultPlan = {};
  const logLines: string[] = [];
  const pipeline = new LocalPipeline(environment, { faults: faultySeams(faults), drainTimeoutMs: 120_000, logLine: (line) => logLines.push(line) });
  const model = new WarehouseModel(totesys.url);
  const tally = new TallyFile();
  return {
    totesys,
    warehouse,
    environment,
    pipeline,
    model,
    tally,
    logLines,
    faults,
    secondPipeline: () => new LocalPipeline(environment, { drainTimeoutMs: 120_000 }),
    tick: async () => {
      await model.observe();
      return pipeline.tick();
    },
    expectWarehouseMatchesModel: async () => {
      const verdict = await model.check(warehouse.url);
      tally.verdict(verdict);
      expect({ lost: verdict.lost, duplicated: verdict.duplicated, mismatched: verdict.mismatched }).toEqual({ lost: [], duplicated: [], mismatched: [] });
      expect(verdict.rowsChecked).toBeGreaterThan(0);
      return verdict;
    },
    close: async () => {
      await environment.close();
      await totesys.drop();
      await warehouse.drop();
    },
  };
}

/** Runs one statement on a database with its own connection. */
export const sql = queryRows;
