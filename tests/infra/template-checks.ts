/**
 * The deployed template's invariants, as a function returning every violation, so a test can
 * run it on the packaged template (expect none) and on mutated copies (expect the one planted).
 */

export interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
  Condition?: string;
  DependsOn?: string | string[];
}

export interface Template {
  Resources: Record<string, Resource>;
  Parameters?: Record<string, unknown>;
  Conditions?: Record<string, unknown>;
}

type Json = unknown;

const GUARDED_SERVICES = ['s3', 'sqs', 'dynamodb', 'secretsmanager'];

/** The text of a resource ARN: a plain string, or the template of an Fn::Sub. */
function arnText(value: Json): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'Fn::Sub' in value) {
    const sub = (value as { 'Fn::Sub': Json })['Fn::Sub'];
    return typeof sub === 'string' ? sub : Array.isArray(sub) && typeof sub[0] === 'string' ? sub[0] : undefined;
  }
  return undefined;
}

/** `*`, or an ARN whose resource part starts with a wildcard (every bucket, every queue, …). */
export function isWildcardResource(value: Json): boolean {
  // `${AWS::Region}` and friends hold colons; a placeholder keeps the ARN's fields apart.
  const text = arnText(value)?.replace(/\$\{[^}]*\}/g, 'sub');
  if (text === undefined) return false;
  if (text.trim() === '*') return true;
  const arn = text.match(/^arn:[^:]*:([^:]*):([^:]*):([^:]*):(.*)$/);
  if (!arn) return false;
  const [, service = '', region = '', account = '', resource = ''] = arn;
  return region === '*' || account === '*' || resource.startsWith('*') || /^(table|secret)[:/]\*/.test(resource) || (service === 's3' && resource === '*');
}

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource?: Json | Json[];
  Condition?: Record<string, unknown>;
}

export function roleStatements(resource: Resource): Statement[] {
  const policies = (resource.Properties?.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[];
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

function getAttTarget(value: Json): string | undefined {
  if (value && typeof value === 'object' && 'Fn::GetAtt' in value) {
    const target = (value as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
    return target[0];
  }
  return undefined;
}

function refTarget(value: Json): string | undefined {
  if (value && typeof value === 'object' && 'Ref' in value) return (value as { Ref: string }).Ref;
  return undefined;
}

export function resourcesOfType(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

/** Every invariant the brief asks of the deployed stack; an empty list means the template is sound. */
export function templateProblems(template: Template): string[] {
  const problems: string[] = [];
  const resources = template.Resources;
  const functions = resourcesOfType(template, 'AWS::Lambda::Function');

  // Functions: runtime and one role of their own each.
  const rolesUsed = new Map<string, string>();
  for (const [id, fn] of functions) {
    const props = fn.Properties ?? {};
    if (props.Runtime !== 'nodejs22.x') problems.push(`${id}: runtime ${String(props.Runtime)}, expected nodejs22.x`);
    const role = getAttTarget(props.Role);
    if (!role || resources[role]?.Type !== 'AWS::IAM::Role') problems.push(`${id}: no role of its own in the stack`);
    else if (rolesUsed.has(role)) problems.push(`${id}: shares role ${role} with ${rolesUsed.get(role)}`);
    else rolesUsed.set(role, id);
  }

  // Roles: no wildcard resource, no wildcard action, for the data services.
  for (const [id, role] of resourcesOfType(template, 'AWS::IAM::Role')) {
    for (const statement of roleStatements(role)) {
      if (statement.Effect !== 'Allow') continue;
      const actions = asArray(statement.Action);
      for (const action of actions) {
        if (action === '*' || GUARDED_SERVICES.some((service) => action === `${service}:*`)) problems.push(`${id}: wildcard action ${action}`);
      }
      const guarded = actions.filter((action) => GUARDED_SERVICES.includes(action.split(':')[0] ?? ''));
      if (guarded.length === 0) continue;
      for (const resource of asArray(statement.Resource)) {
        if (isWildcardResource(resource)) problems.push(`${id}: ${guarded.join(',')} on wildcard resource ${JSON.stringify(resource)}`);
      }
      if (asArray(statement.Resource).length === 0) problems.push(`${id}: ${guarded.join(',')} without a resource`);
    }
  }

  // Queues: every source queue has a DLQ; SSE everywhere; visibility at least 6x its consumer's timeout.
  const queues = resourcesOfType(template, 'AWS::SQS::Queue');
  const dlqIds = new Set<string>();
  for (const [, queue] of queues) {
    const redrive = queue.Properties?.RedrivePolicy as { deadLetterTargetArn?: Json } | undefined;
    const target = getAttTarget(redrive?.deadLetterTargetArn);
    if (target) dlqIds.add(target);
  }
  for (const [id, queue] of queues) {
    const props = queue.Properties ?? {};
    if (props.SqsManagedSseEnabled !== true && !props.KmsMasterKeyId) problems.push(`${id}: not encrypted`);
    if (dlqIds.has(id)) {
      if (props.MessageRetentionPeriod !== 1209600) problems.push(`${id}: DLQ retention ${String(props.MessageRetentionPeriod)}, expected 14 days`);
      continue;
    }
    const redrive = props.RedrivePolicy as { deadLetterTargetArn?: Json; maxReceiveCount?: number } | undefined;
    const target = getAttTarget(redrive?.deadLetterTargetArn);
    if (!target || resources[target]?.Type !== 'AWS::SQS::Queue') problems.push(`${id}: no DLQ (RedrivePolicy)`);
    if (!redrive?.maxReceiveCount || redrive.maxReceiveCount < 1) problems.push(`${id}: no maxReceiveCount`);
  }
  for (const [id, mapping] of resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')) {
    const props = mapping.Properties ?? {};
    const queueId = getAttTarget(props.EventSourceArn);
    const fnId = getAttTarget(props.FunctionName);
    if (!asArray(props.FunctionResponseTypes as string[] | undefined).includes('ReportBatchItemFailures')) problems.push(`${id}: no ReportBatchItemFailures`);
    if (!queueId || !fnId) continue;
    const visibility = Number(resources[queueId]?.Properties?.VisibilityTimeout ?? 30);
    const timeout = Number(resources[fnId]?.Properties?.Timeout ?? 6);
    if (visibility < 6 * timeout) problems.push(`${queueId}: visibility ${visibility} s < 6 x ${fnId} timeout ${timeout} s`);
  }

  // Buckets (serverless's own deployment bucket aside).
  const bucketPolicies = resourcesOfType(template, 'AWS::S3::BucketPolicy');
  for (const [id, bucket] of resourcesOfType(template, 'AWS::S3::Bucket')) {
    if (id === 'ServerlessDeploymentBucket') continue;
    const props = bucket.Properties ?? {};
    const encryption = props.BucketEncryption as { ServerSideEncryptionConfiguration?: { ServerSideEncryptionByDefault?: { SSEAlgorithm?: string } }[] } | undefined;
    const algorithm = encryption?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault?.SSEAlgorithm;
    if (algorithm !== 'AES256' && algorithm !== 'aws:kms') problems.push(`${id}: no default encryption`);
    const block = (props.PublicAccessBlockConfiguration ?? {}) as Record<string, unknown>;
    for (const flag of ['BlockPublicAcls', 'BlockPublicPolicy', 'IgnorePublicAcls', 'RestrictPublicBuckets']) {
      if (block[flag] !== true) problems.push(`${id}: ${flag} not set`);
    }
    if ((props.VersioningConfiguration as { Status?: string } | undefined)?.Status !== 'Enabled') problems.push(`${id}: versioning off`);
    const tlsOnly = bucketPolicies.some(([, policy]) => {
      if (refTarget(policy.Properties?.Bucket) !== id) return false;
      const statements = (policy.Properties?.PolicyDocument as { Statement: Statement[] }).Statement;
      return statements.some((s) => s.Effect === 'Deny' && JSON.stringify(s.Condition) === JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }));
    });
    if (!tlsOnly) problems.push(`${id}: no TLS-only bucket policy`);
    const notifications = ((props.NotificationConfiguration as { QueueConfigurations?: unknown[] } | undefined)?.QueueConfigurations ?? []) as {
      Queue: Json;
      Filter?: { S3Key?: { Rules?: { Name: string; Value: string }[] } };
    }[];
    if (notifications.length === 0) problems.push(`${id}: no notifications`);
    for (const notification of notifications) {
      const names = (notification.Filter?.S3Key?.Rules ?? []).map((rule) => rule.Name.toLowerCase()).sort();
      if (JSON.stringify(names) !== JSON.stringify(['prefix', 'suffix'])) problems.push(`${id}: a notification without a prefix and suffix filter`);
    }
  }

  // Queue policies: only the queue's own bucket may send.
  for (const [id, policy] of resourcesOfType(template, 'AWS::SQS::QueuePolicy')) {
    const statements = (policy.Properties?.PolicyDocument as { Statement: (Statement & { Principal?: unknown })[] }).Statement;
    for (const statement of statements.filter((s) => s.Effect === 'Allow')) {
      const sourceArn = (statement.Condition?.ArnEquals as Record<string, unknown> | undefined)?.['aws:SourceArn'];
      if (!sourceArn || isWildcardResource(sourceArn)) problems.push(`${id}: allows sending without an aws:SourceArn condition`);
    }
  }

  // Tables.
  for (const [id, table] of resourcesOfType(template, 'AWS::DynamoDB::Table')) {
    const props = table.Properties ?? {};
    if (props.BillingMode !== 'PAY_PER_REQUEST') problems.push(`${id}: not PAY_PER_REQUEST`);
    if ((props.PointInTimeRecoverySpecification as { PointInTimeRecoveryEnabled?: boolean } | undefined)?.PointInTimeRecoveryEnabled !== true) {
      problems.push(`${id}: point-in-time recovery off`);
    }
  }

  // Alarms all notify a topic of this stack; the topic has an email subscription.
  const topics = new Set(resourcesOfType(template, 'AWS::SNS::Topic').map(([id]) => id));
  const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm');
  if (alarms.length === 0) problems.push('no alarms');
  for (const [id, alarm] of alarms) {
    const actions = asArray(alarm.Properties?.AlarmActions as Json[] | undefined).map(refTarget);
    if (actions.length === 0 || !actions.every((action) => action && topics.has(action))) problems.push(`${id}: does not notify the alarm topic`);
  }
  const emailSubscriptions = resourcesOfType(template, 'AWS::SNS::Subscription').filter(([, s]) => s.Properties?.Protocol === 'email');
  if (emailSubscriptions.length === 0) problems.push('no email subscription to the alarm topic');

  // Log retention.
  for (const [id, group] of resourcesOfType(template, 'AWS::Logs::LogGroup')) {
    if (!group.Properties?.RetentionInDays) problems.push(`${id}: logs kept forever`);
  }
  return problems;
}
