import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import type { AwsSettings } from '../../src/aws/config';

/** The moto endpoint started by the global setup. */
export function testAwsSettings(): AwsSettings {
  return { region: 'eu-west-2', endpoint: inject('awsEndpoint') };
}

/** A name no other test uses, valid for buckets, queues and tables alike. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`.toLowerCase();
}
