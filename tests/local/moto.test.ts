import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createAwsClients } from '../../src/aws/clients';
import { testAwsSettings, uniqueName } from '../support/aws';

describe('the local AWS emulator', () => {
  it('applies overlapping conditional writes atomically, as DynamoDB does', async () => {
    // prepare
    const { dynamo } = createAwsClients(testAwsSettings());
    const tableName = uniqueName('atomic');
    await dynamo.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'table', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'table', AttributeType: 'S' }],
      }),
    );

    // act: 100 runs race for the same lease, the way the extract takes it
    const attempts = await Promise.allSettled(
      Array.from({ length: 100 }, (_, index) =>
        dynamo.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { table: 'address' },
            UpdateExpression: 'SET leaseOwner = :owner',
            ConditionExpression: 'attribute_not_exists(leaseOwner)',
            ExpressionAttributeValues: { ':owner': `run${index}` },
            ReturnValues: 'ALL_NEW',
          }),
        ),
      ),
    );

    // assert
    expect(attempts.filter((attempt) => attempt.status === 'fulfilled')).toHaveLength(1);
    expect(attempts.filter((attempt) => attempt.status === 'rejected').every((attempt) => /ConditionalCheckFailed|conditional request failed/i.test(String((attempt as PromiseRejectedResult).reason)))).toBe(true);
  });
});
