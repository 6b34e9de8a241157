import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsClients } from '../aws/clients';
import { awsClientConfig, type AwsSettings } from '../aws/config';

/**
 * Clients for reading pipeline state from a page that refreshes: one attempt and short timeouts,
 * so an emulator that has gone away shows as "unavailable" in seconds instead of hanging the
 * request through the SDK's retries. Otherwise configured exactly as src/aws/clients.ts does.
 */
export function dashboardAwsClients(settings: AwsSettings): AwsClients {
  const { forcePathStyle, ...common } = awsClientConfig(settings);
  const patient = { ...common, maxAttempts: 1, requestHandler: { connectionTimeout: 2_000, requestTimeout: 4_000 } };
  return {
    s3: new S3Client({ ...patient, forcePathStyle }),
    sqs: new SQSClient(patient),
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient(patient)),
    secrets: new SecretsManagerClient(patient),
  };
}
