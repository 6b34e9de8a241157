'use strict';

/**
 * `ownSourceMapsOnly`, an esbuild plugin (infra/esbuild-plugins.cjs): each bundle's source map
 * keeps the mappings of the project's own code and drops those of node_modules. Node parses the whole map the first time anything reads an error's
 * stack (with --enable-source-maps), and a stream that is destroyed with an error reads it: the
 * load meets that on every initial load, when a dimension's one-pass COPY meets a known id and
 * takes its merge path. The full map of the load bundle (186,000 mappings, 94% of them in the AWS
 * SDK, pg and the Parquet codec) then took 25–30 MB of heap for the rest of the process's life,
 * in some load processes and not others. Stack frames in our code still point at the TypeScript;
 * frames inside a library point at the bundle.
 */

const { readFileSync, writeFileSync } = require('node:fs');
const { resolve } = require('node:path');

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUES = new Map([...BASE64].map((character, value) => [character, value]));

/** The numbers of one Base64 VLQ segment (source map v3), each a delta. */
function decodeSegment(text) {
  const numbers = [];
  let value = 0;
  let shift = 0;
  for (const character of text) {
    const digit = BASE64_VALUES.get(character);
    if (digit === undefined) throw new Error(`not a source map segment: ${JSON.stringify(text)}`);
    value += (digit & 31) * 2 ** shift;
    if (digit & 32) {
      shift += 5;
    } else {
      numbers.push(value % 2 === 1 ? -(value - 1) / 2 : value / 2);
      value = 0;
      shift = 0;
    }
  }
  return numbers;
}

function encodeNumber(number) {
  let value = number < 0 ? -number * 2 + 1 : number * 2;
  let text = '';
  do {
    let digit = value % 32;
    value = Math.floor(value / 32);
    if (value > 0) digit |= 32;
    text += BASE64[digit];
  } while (value > 0);
  return text;
}

/**
 * Every segment of a map's `mappings`, with absolute values: one array per generated line, each
 * segment `[column]` or `[column, source, line, column]` or with a fifth number, the name.
 */
function decodeMappings(mappings) {
  const state = [0, 0, 0, 0];
  return mappings.split(';').map((line) => {
    let column = 0;
    return line
      .split(',')
      .filter((segment) => segment !== '')
      .map((segment) => {
        const deltas = decodeSegment(segment);
        column += deltas[0];
        if (deltas.length === 1) return [column];
        for (let index = 1; index < deltas.length; index += 1) state[index - 1] += deltas[index];
        return deltas.length === 4 ? [column, state[0], state[1], state[2]] : [column, state[0], state[1], state[2], state[3]];
      });
  });
}

/** The inverse of decodeMappings. */
function encodeMappings(lines) {
  const previous = [0, 0, 0, 0];
  return lines
    .map((segments) => {
      let previousColumn = 0;
      return segments
        .map((segment) => {
          let text = encodeNumber(segment[0] - previousColumn);
          previousColumn = segment[0];
          for (let index = 1; index < segment.length; index += 1) {
            text += encodeNumber(segment[index] - previous[index - 1]);
            previous[index - 1] = segment[index];
          }
          return text;
        })
        .join(',');
    })
    .join(';');
}

/** The map with only the mappings whose source `keepSource` accepts (sources and names stay as they are). */
function keepMappingsOf(map, keepSource) {
  const kept = map.sources.map((source) => keepSource(source));
  const lines = decodeMappings(map.mappings).map((segments) => segments.filter((segment) => segment.length > 1 && kept[segment[1]]));
  return { ...map, mappings: encodeMappings(lines) };
}

const isOwnCode = (source) => !/(^|\/)node_modules\//.test(source);

function ownSourceMapsOnly() {
  return {
    name: 'totes-own-source-maps-only',
    setup(build) {
      // The metafile names what was written, wherever serverless-esbuild or the bench put it.
      build.initialOptions.metafile = true;
      const workingDirectory = build.initialOptions.absWorkingDir ?? process.cwd();
      build.onEnd((result) => {
        if (result.errors.length > 0 || !result.metafile) return;
        for (const output of Object.keys(result.metafile.outputs).filter((path) => path.endsWith('.map'))) {
          const file = resolve(workingDirectory, output);
          writeFileSync(file, JSON.stringify(keepMappingsOf(JSON.parse(readFileSync(file, 'utf8')), isOwnCode)));
        }
      });
    },
  };
}

module.exports = { ownSourceMapsOnly, keepMappingsOf, decodeMappings, encodeMappings, isOwnCode };
