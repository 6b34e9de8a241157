import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { awsClientConfig, type AwsSettings } from './config';

/** One place that builds SDK clients, so every client honours the same endpoint and region. */
export interface AwsClients {
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly dynamo: DynamoDBDocumentClient;
  readonly secrets: SecretsManagerClient;
}

export function createAwsClients(settings: AwsSettings): AwsClients {
  const config = awsClientConfig(settings);
  const { forcePathStyle, ...common } = config;
  return {
    s3: new S3Client({ ...common, forcePathStyle }),
    sqs: new SQSClient(common),
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient(common), { marshallOptions: { removeUndefinedValues: true } }),
    secrets: new SecretsManagerClient(common),
  };
}
