import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire, SourceMap, type SourceMapPayload } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const projectRoot = resolve(import.meta.dirname, '../..');
const { keepMappingsOf, decodeMappings, encodeMappings, isOwnCode } = createRequire(import.meta.url)('../../infra/source-maps.cjs') as {
  keepMappingsOf(map: SourceMapPayload, keep: (source: string) => boolean): SourceMapPayload;
  decodeMappings(mappings: string): number[][][];
  encodeMappings(lines: number[][][]): string;
  isOwnCode(source: string): boolean;
};

let outdir: string;
/** The full map of a bundle of our code and two libraries, as esbuild writes it. */
let full: SourceMapPayload;

beforeAll(async () => {
  outdir = await mkdtemp(join(tmpdir(), 'totes-source-maps-'));
  await build({
    entryPoints: [join(projectRoot, 'src/db/source-reader.ts')],
    bundle: true,
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    platform: 'node',
    format: 'esm',
    external: ['pg-native'],
    outfile: join(outdir, 'bundle.mjs'),
    logLevel: 'silent',
  });
  full = JSON.parse(await readFile(join(outdir, 'bundle.mjs.map'), 'utf8')) as SourceMapPayload;
}, 60_000);

afterAll(async () => {
  await rm(outdir, { recursive: true, force: true });
});

/** Every generated position the map has a segment for, with the source it maps to. */
function positions(map: SourceMapPayload): { line: number; column: number; source: string }[] {
  return decodeMappings(map.mappings).flatMap((segments, line) =>
    segments.filter((segment) => segment.length > 1).map((segment) => ({ line, column: segment[0] as number, source: map.sources[segment[1] as number] ?? '' })),
  );
}

describe('keepMappingsOf', () => {
  it('decodes and encodes a real map without changing it', () => {
    expect(encodeMappings(decodeMappings(full.mappings))).toBe(full.mappings);
  });

  it('keeps every mapping of our code as Node reads it, and none of node_modules', () => {
    // prepare
    const all = positions(full);
    const ours = all.filter((position) => isOwnCode(position.source));
    const theirs = all.filter((position) => !isOwnCode(position.source));

    // act
    const kept = keepMappingsOf(full, isOwnCode);

    // assert: read back by Node's own parser, not ours
    const before = new SourceMap(full);
    const after = new SourceMap(kept);
    expect(ours.length).toBeGreaterThan(100);
    expect(theirs.length).toBeGreaterThan(ours.length);
    for (const { line, column } of ours) expect(after.findEntry(line, column)).toEqual(before.findEntry(line, column));
    for (const { line, column } of theirs) {
      const entry = after.findEntry(line, column) as { originalSource?: string };
      expect(entry.originalSource === undefined || !entry.originalSource.includes('node_modules')).toBe(true);
    }
    expect(positions(kept)).toHaveLength(ours.length);
    expect(kept.mappings.length).toBeLessThan(full.mappings.length / 3);
  });

  it('tells our code from a library by a node_modules folder anywhere in its path', () => {
    expect(isOwnCode('../../src/db/source-reader.ts')).toBe(true);
    expect(isOwnCode('../../node_modules/pg/lib/client.js')).toBe(false);
    expect(isOwnCode('node_modules/@aws-sdk/client-s3/dist-es/index.js')).toBe(false);
  });
});
