import { createRequire } from 'node:module';

/**
 * Typed access to infra/stack.cjs, the one definition of the deployed resources. serverless.yml
 * renders it as CloudFormation; local provisioning reads the same model, so the two cannot drift.
 */

export type QueueId = 'transform' | 'load';
export type BucketId = 'ingestion' | 'processed';
export type TableId = 'watermark' | 'state' | 'failures';
export type FunctionId = 'extract' | 'transform' | 'load';

export interface BucketModel {
  readonly id: BucketId;
  readonly logicalId: string;
  /** The local name; on AWS `-<account>-<region>` is appended. */
  readonly name: string;
  readonly notification: {
    readonly queue: QueueId;
    readonly events: readonly string[];
    readonly prefixes: readonly string[];
    readonly suffix: string;
  };
}

export interface QueueModel {
  readonly id: QueueId;
  readonly logicalId: string;
  readonly name: string;
  readonly consumer: FunctionId;
  readonly visibilityTimeout: number;
  readonly messageRetentionPeriod: number;
  readonly maxReceiveCount: number;
  readonly oldestMessageAlarmSeconds: number;
  readonly dlq: { readonly logicalId: string; readonly name: string; readonly messageRetentionPeriod: number };
}

export interface TableModel {
  readonly id: TableId;
  readonly logicalId: string;
  readonly name: string;
  readonly keys: readonly { readonly name: string; readonly type: 'S' | 'N'; readonly keyType: 'HASH' | 'RANGE' }[];
  /** DynamoDB TTL: the attribute holding an item's expiry (epoch seconds), and how long items live. */
  readonly ttlAttribute?: string;
  readonly ttlSeconds?: number;
}

export interface FunctionModel {
  readonly name: string;
  readonly timeout: number;
  readonly memorySize: number;
}

export interface StackModel {
  readonly service: string;
  readonly stage: string;
  readonly buckets: readonly BucketModel[];
  readonly queues: readonly QueueModel[];
  readonly tables: readonly TableModel[];
  readonly secrets: { readonly totesys: string; readonly warehouse: string };
  readonly functions: Readonly<Record<FunctionId, FunctionModel>>;
  readonly alarmTopic: { readonly logicalId: string; readonly name: string };
  readonly metrics: { readonly namespace: string; readonly extractSucceeded: string; readonly stageDimension: string };
}

export interface StackModelOptions {
  readonly stage: string;
  readonly totesysSecretName?: string;
  readonly warehouseSecretName?: string;
}

/** A CloudFormation fragment: plain JSON with intrinsic functions. */
export type CloudFormationValue = unknown;

export interface FunctionSettings {
  readonly timeout: number;
  readonly memorySize: number;
  /** The V8 old-space budget the deployed function runs with (in its NODE_OPTIONS). */
  readonly heapMb: number;
  /** The cap on V8's young generation, per semi-space (in its NODE_OPTIONS), where one is set. */
  readonly semiSpaceMb?: number;
  /** V8's background threads for the collector and the compiler (--v8-pool-size, in its NODE_OPTIONS). */
  readonly v8PoolSize: number;
  readonly nodeOptions: string;
  readonly batchSize?: number;
}

/** serverless-esbuild's settings (serverless.yml `custom.esbuild`): esbuild's own, plus the plugin's three. */
export interface EsbuildSettings {
  readonly bundle: boolean;
  readonly minify: boolean;
  readonly mainFields: readonly string[];
  readonly sourcemap: boolean;
  readonly sourcesContent: boolean;
  readonly target: string;
  readonly platform: 'node';
  readonly format: 'esm';
  readonly banner: Readonly<Record<string, string>>;
  /** serverless-esbuild: packages left out of the bundle (esbuild's `external`). */
  readonly exclude: readonly string[];
  /** serverless-esbuild: the bundle's file extension. */
  readonly outputFileExtension: string;
  /** serverless-esbuild: what installs the excluded packages. */
  readonly packager: string;
  /** serverless-esbuild: the file (from the project root) whose export is the esbuild plugins' array. */
  readonly plugins: string;
}

export interface StackDefinition {
  stackModel(options: StackModelOptions): StackModel;
  renderCloudFormation(model: StackModel, parameterDefaults: Record<string, string>): Record<string, CloudFormationValue>;
  renderEnvironment(model: StackModel, settings: Record<string, string>): Record<string, CloudFormationValue>;
  readonly functionSettings: Readonly<Record<FunctionId, FunctionSettings>>;
  readonly esbuild: EsbuildSettings;
  readonly metrics: StackModel['metrics'];
  readonly VISIBILITY_TIMEOUT_FACTOR: number;
  readonly SQS_CONSUME_ACTIONS: readonly string[];
}

export interface InfraTables {
  readonly sourceTableNames: readonly string[];
  readonly warehouseTableNames: readonly string[];
}

const requireInfra = createRequire(import.meta.url);

export const stackDefinition = requireInfra('../../infra/stack.cjs') as StackDefinition;
export const infraTables = requireInfra('../../infra/tables.cjs') as InfraTables;

/** The SQS batch size Lambda gives a queue consumer, as deployed. */
export function consumerBatchSize(consumer: 'transform' | 'load'): number {
  const batchSize = stackDefinition.functionSettings[consumer].batchSize;
  if (batchSize === undefined) throw new Error(`infra/stack.cjs sets no batch size for ${consumer}`);
  return batchSize;
}

export function loadStackModel(options: StackModelOptions): StackModel {
  return stackDefinition.stackModel(options);
}

export function bucketModel(model: StackModel, id: BucketId): BucketModel {
  const bucket = model.buckets.find((candidate) => candidate.id === id);
  if (!bucket) throw new Error(`infra/stack.cjs defines no ${id} bucket`);
  return bucket;
}

export function queueModel(model: StackModel, id: QueueId): QueueModel {
  const queue = model.queues.find((candidate) => candidate.id === id);
  if (!queue) throw new Error(`infra/stack.cjs defines no ${id} queue`);
  return queue;
}

export function tableModel(model: StackModel, id: TableId): TableModel {
  const table = model.tables.find((candidate) => candidate.id === id);
  if (!table) throw new Error(`infra/stack.cjs defines no ${id} table`);
  return table;
}
