/**
 * How every AWS client is configured. Against AWS the standard credential chain applies; against
 * a local emulator (AWS_ENDPOINT_URL set) dummy credentials are used when none are configured,
 * because moto accepts any.
 */
export interface AwsSettings {
  readonly region: string;
  readonly endpoint?: string;
}

export interface AwsClientConfig {
  region: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export function awsSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): AwsSettings {
  const endpoint = env.AWS_ENDPOINT_URL?.trim();
  return { region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'eu-west-2', ...(endpoint ? { endpoint } : {}) };
}

export function awsClientConfig(settings: AwsSettings, env: NodeJS.ProcessEnv = process.env): AwsClientConfig {
  if (!settings.endpoint) return { region: settings.region };
  const hasCredentials = Boolean(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) || Boolean(env.AWS_PROFILE);
  return {
    region: settings.region,
    endpoint: settings.endpoint,
    // Emulators serve every bucket on one host, so virtual-hosted addressing cannot work.
    forcePathStyle: true,
    ...(hasCredentials ? {} : { credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } }),
  };
}
