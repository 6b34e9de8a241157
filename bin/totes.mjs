#!/usr/bin/env node
// The CLI is TypeScript; tsx compiles it on the fly so `npx totes` works without a build step.
import { register } from 'tsx/esm/api';

// The SDK warns that its 2027 releases need Node 22; Lambda runs 22, and the CLI pins its SDK.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
