import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PgCsvError, PgCsvReader, type PgCsvEnd, type PgCsvFields } from '../../../src/stages/transform/pg-csv';

interface Read {
  records: Array<{ fields: PgCsvFields; line: number }>;
  end: PgCsvEnd;
}

function readChunks(chunks: readonly Buffer[]): Read {
  const records: Read['records'] = [];
  const reader = new PgCsvReader((fields, line) => records.push({ fields, line }));
  for (const chunk of chunks) reader.push(chunk);
  return { records, end: reader.end() };
}

/** The bytes cut at each of `cuts` (ascending offsets), as a stream would hand them over. */
function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const edges = [0, ...cuts, bytes.length];
  return edges.slice(1).map((edge, index) => bytes.subarray(edges[index], edge));
}

function failure(text: string): PgCsvError {
  const error = (() => {
    try {
      readChunks([Buffer.from(text)]);
    } catch (caught) {
      return caught;
    }
    return undefined;
  })();
  expect(error).toBeInstanceOf(PgCsvError);
  return error as PgCsvError;
}

/** A field as PostgreSQL's COPY … CSV writes it: NULL unquoted and empty, `""` the empty string. */
function pgField(value: string | null): string {
  if (value === null) return '';
  return value === '' || /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function pgCsv(records: readonly PgCsvFields[]): string {
  return records.map((record) => `${record.map(pgField).join(',')}\n`).join('');
}

// Quotes, delimiters, CRLF and LF inside quotes, 2-, 3- and 4-byte UTF-8, NULL next to "".
const trickyText = [
  'id,text,note\n',
  '1,"He said ""hi"", then left",\n',
  '2,"",é\n',
  '3,"line one\r\nline two\nline three",日本\n',
  '4,👜 emoji,"a,b"\n',
  ',"""",x\n',
].join('');
const trickyRecords = [
  { fields: ['id', 'text', 'note'], line: 1 },
  { fields: ['1', 'He said "hi", then left', null], line: 2 },
  { fields: ['2', '', 'é'], line: 3 },
  { fields: ['3', 'line one\r\nline two\nline three', '日本'], line: 4 },
  // The record before spans lines 4 to 6 (its CRLF and its LF are one line break each).
  { fields: ['4', '👜 emoji', 'a,b'], line: 7 },
  { fields: [null, '"', 'x'], line: 8 },
];

describe('PgCsvReader', () => {
  it('reads quotes, delimiters, line breaks and multi-byte text in quotes, and NULL apart from ""', () => {
    const { records, end } = readChunks([Buffer.from(trickyText)]);

    expect(records).toEqual(trickyRecords);
    expect(end).toEqual({ terminated: true, lastLine: 9 });
  });

  it('reads the same records whichever byte offsets the chunks are cut at', () => {
    const bytes = Buffer.from(trickyText);

    for (let first = 0; first <= bytes.length; first += 1) {
      expect(readChunks(splitAt(bytes, [first])).records, `cut at ${first}`).toEqual(trickyRecords);
      for (let second = first; second <= bytes.length; second += 1) {
        expect(readChunks(splitAt(bytes, [first, second])).records, `cut at ${first} and ${second}`).toEqual(trickyRecords);
      }
    }
    expect(readChunks([...bytes].map((byte) => Buffer.from([byte]))).records).toEqual(trickyRecords);
  });

  it('does not depend on a chunk keeping its bytes after push returns', () => {
    const bytes = Buffer.from(trickyText);
    const records: PgCsvFields[] = [];
    const reader = new PgCsvReader((fields) => records.push(fields));
    const reused = Buffer.alloc(7);

    for (let at = 0; at < bytes.length; at += reused.length) {
      const length = bytes.copy(reused, 0, at, at + reused.length);
      reader.push(reused.subarray(0, length));
      reused.fill(0x41);
    }
    reader.end();

    expect(records).toEqual(trickyRecords.map(({ fields }) => fields));
  });

  it('tells NULL from the empty string in every position of a record', () => {
    const { records } = readChunks([Buffer.from(',,\n"","",""\n,"",\n"",,""\n')]);

    expect(records.map(({ fields }) => fields)).toEqual([
      [null, null, null],
      ['', '', ''],
      [null, '', null],
      ['', null, ''],
    ]);
  });

  it('reports a last record without its line ending, and hands it over first', () => {
    const unquoted = readChunks([Buffer.from('a,b\n1,2')]);
    const quoted = readChunks([Buffer.from('a,b\n1,"x\ny"')]);
    const trailingComma = readChunks([Buffer.from('a,b\n1,')]);
    const empty = readChunks([]);

    expect(unquoted.records.at(-1)).toEqual({ fields: ['1', '2'], line: 2 });
    expect(unquoted.end).toEqual({ terminated: false, lastLine: 2 });
    expect(quoted.records.at(-1)).toEqual({ fields: ['1', 'x\ny'], line: 2 });
    expect(quoted.end).toEqual({ terminated: false, lastLine: 3 });
    expect(trailingComma.records.at(-1)?.fields).toEqual(['1', null]);
    expect(trailingComma.end.terminated).toBe(false);
    expect(empty).toEqual({ records: [], end: { terminated: true, lastLine: 1 } });
  });

  it('rejects input that is not PostgreSQL CSV, naming the record line and the field', () => {
    const notClosed = failure('a,b\n1,"x\ny');
    const quoteInside = failure('a,b\n1,2\n3,x"y\n');
    const afterClosing = failure('a,b\n"1"2,3\n');
    const carriageReturn = failure('a,b\r\n1,2\r\n');

    expect(notClosed).toMatchObject({ problem: 'quote-not-closed', line: 2, field: 1 });
    expect(quoteInside).toMatchObject({ problem: 'quote-in-unquoted-field', line: 3, field: 1 });
    expect(afterClosing).toMatchObject({ problem: 'text-after-closing-quote', line: 2, field: 0 });
    expect(carriageReturn).toMatchObject({ problem: 'carriage-return-outside-quotes', line: 1, field: 1 });
  });

  it('keeps a byte order mark as part of the first field, as PostgreSQL never writes one', () => {
    const { records } = readChunks([Buffer.from('\ufeffid,text\n')]);

    expect(records[0]?.fields).toEqual(['\ufeffid', 'text']);
  });

  // A character of any plane, or one of the bytes that mean something in CSV.
  const character = fc.oneof(
    fc.constantFrom('"', ',', '\r', '\n', '\r\n', '""', 'é', '日本', '👜'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  );
  const field = fc.option(fc.string({ unit: character, maxLength: 12 }), { nil: null, freq: 4 });
  const records = fc.integer({ min: 1, max: 5 }).chain((width) => fc.array(fc.array(field, { minLength: width, maxLength: width }), { minLength: 1, maxLength: 8 }));

  it('agrees with csv-parse on random records, wherever the chunks are cut', () => {
    fc.assert(
      fc.property(records, fc.array(fc.nat(), { maxLength: 6 }), (written, cutSeeds) => {
        const text = pgCsv(written);
        const bytes = Buffer.from(text);
        const cuts = cutSeeds.map((seed) => seed % (bytes.length + 1)).sort((a, b) => a - b);
        // csv-parse as the oracle: its cast hook sees whether a field was quoted.
        const oracle = parse(bytes, {
          bom: false,
          relax_quotes: false,
          cast: (value, context) => (value === '' && !context.quoting ? null : value),
        }) as PgCsvFields[];
        // A record starts one line below the previous one plus the line feeds in its fields.
        let line = 1;
        const lines = written.map((record) => {
          const start = line;
          line += pgCsv([record]).split('\n').length - 1;
          return start;
        });

        const read = readChunks(splitAt(bytes, cuts));

        expect(read.records.map(({ fields }) => fields)).toEqual(oracle);
        expect(read.records.map(({ fields }) => fields)).toEqual(written);
        expect(read.records.map(({ line: start }) => start)).toEqual(lines);
        expect(read.end).toEqual({ terminated: true, lastLine: line });
      }),
      { numRuns: 500 },
    );
  });

  it('never takes a cut-off object for a complete one', () => {
    fc.assert(
      fc.property(records, fc.nat(), (written, cutSeed) => {
        const bytes = Buffer.from(pgCsv(written));
        const cut = cutSeed % bytes.length;

        let outcome: string;
        try {
          outcome = readChunks([bytes.subarray(0, cut)]).end.terminated ? 'complete' : 'unterminated';
        } catch (error) {
          outcome = error instanceof PgCsvError ? error.problem : 'other';
        }

        // Only a cut right after a record's line feed leaves a well-formed (shorter) object.
        const expected = cut === 0 || (bytes[cut - 1] === 0x0a && readsWhole(bytes.subarray(0, cut))) ? 'complete' : ['unterminated', 'quote-not-closed'];
        if (expected === 'complete') expect(outcome).toBe('complete');
        else expect(expected).toContain(outcome);
      }),
      { numRuns: 500 },
    );
  });
});

/** Whether a prefix ends between records rather than on a line feed inside quotes. */
function readsWhole(prefix: Buffer): boolean {
  let quotes = 0;
  for (const byte of prefix) if (byte === 0x22) quotes += 1;
  return quotes % 2 === 0;
}
