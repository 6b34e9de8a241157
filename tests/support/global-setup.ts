import type { TestProject } from 'vitest/node';
import { startMoto, type RunningMoto } from '../../src/local/moto';

/**
 * One moto_server for the whole test run, unless AWS_ENDPOINT_URL already points at one. Tests
 * isolate themselves by giving every bucket, queue and table a unique name.
 */
let moto: RunningMoto | undefined;

export async function setup(project: TestProject): Promise<void> {
  let endpoint = process.env.AWS_ENDPOINT_URL;
  if (!endpoint) {
    moto = await startMoto();
    endpoint = moto.endpoint;
  }
  process.env.AWS_ENDPOINT_URL = endpoint;
  project.provide('awsEndpoint', endpoint);
}

export async function teardown(): Promise<void> {
  await moto?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    awsEndpoint: string;
  }
}
