import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { awsClientConfig, type AwsSettings } from './config';

/**
 * One place that builds SDK clients, so every client honours the same endpoint and region. Each
 * client has its own factory so a Lambda bundle holds only the SDK clients its function calls:
 * the SDK packages are side-effect free, and esbuild drops an import nothing uses
 * (tests/infra/bundles.test.ts checks that it does).
 */
export interface AwsClients {
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly dynamo: DynamoDBDocumentClient;
  readonly secrets: SecretsManagerClient;
}

export function createS3Client(settings: AwsSettings): S3Client {
  return new S3Client(awsClientConfig(settings));
}

/** Path-style addressing is an S3 setting; the other clients are given everything else. */
function nonS3Config(settings: AwsSettings) {
  const { forcePathStyle: _s3Only, ...common } = awsClientConfig(settings);
  return common;
}

export function createSqsClient(settings: AwsSettings): SQSClient {
  return new SQSClient(nonS3Config(settings));
}

export function createDynamoClient(settings: AwsSettings): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(nonS3Config(settings)), { marshallOptions: { removeUndefinedValues: true } });
}

export function createSecretsClient(settings: AwsSettings): SecretsManagerClient {
  return new SecretsManagerClient(nonS3Config(settings));
}

/** Every client, for the CLI, the local runtime and tests; a handler builds only its own. */
export function createAwsClients(settings: AwsSettings): AwsClients {
  return {
    s3: createS3Client(settings),
    sqs: createSqsClient(settings),
    dynamo: createDynamoClient(settings),
    secrets: createSecretsClient(settings),
  };
}
