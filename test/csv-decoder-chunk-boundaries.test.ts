import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CsvDecoder, FIELD_ESCAPED, FIELD_QUOTED, fieldText, rawRecordText } from '../io/csv-decoder.js';

/** A decoded record copied out of the decoder's reused one. */
interface Decoded {
  fields: string[];
  flags: number[];
  raw: string;
  offset: number;
  line: number;
  malformed: boolean;
}

interface DecodeResult {
  records: Decoded[];
  sawQuotedNewline: boolean;
  linesConsumed: number;
  count: number;
}

function copyRecords(into: Decoded[]) {
  return (rec: Parameters<typeof fieldText>[0]): void => {
    const fields: string[] = [];
    const flags: number[] = [];
    for (let i = 0; i < rec.fieldCount; i++) {
      fields.push(fieldText(rec, i));
      flags.push(rec.flags[i]);
    }
    into.push({
      fields,
      flags,
      raw: rawRecordText(rec),
      offset: rec.offset,
      line: rec.line,
      malformed: rec.malformed,
    });
  };
}

function finish(decoder: CsvDecoder, records: Decoded[]): DecodeResult {
  decoder.end();
  return {
    records,
    sawQuotedNewline: decoder.sawQuotedNewline,
    linesConsumed: decoder.linesConsumed,
    count: decoder.records,
  };
}

/**
 * Decodes `bytes` pushed as the pieces between `cuts`. Each piece is pushed as a Buffer copy (the
 * split reader pushes Buffers too) that is overwritten right after the push: the contract lets the
 * caller reuse its chunk, so a decoder that kept a view of it instead of a copy decodes garbage.
 */
function decode(bytes: Uint8Array, cuts: readonly number[] = [], endOffset?: number): DecodeResult {
  const records: Decoded[] = [];
  const decoder = new CsvDecoder({ onRecord: copyRecords(records), endOffset });
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    const scratch = Buffer.from(bytes.subarray(from, to));
    decoder.push(scratch, from);
    scratch.fill(0x21); // '!'
    from = to;
  }
  return finish(decoder, records);
}

/** Decodes `bytes` one byte at a time through a single reused 1-byte Buffer. */
function decodeByteByByte(bytes: Uint8Array): DecodeResult {
  const records: Decoded[] = [];
  const decoder = new CsvDecoder({ onRecord: copyRecords(records) });
  const one = Buffer.alloc(1);
  for (let i = 0; i < bytes.length; i++) {
    one[0] = bytes[i];
    decoder.push(one, i);
  }
  return finish(decoder, records);
}

// The tricky file, one physical piece per entry (terminators included).
const PIECES = [
  'id,name,note\r\n', // line 1, CRLF
  '1, "Smith, John" ,plain\n', // line 2: spaces around a quoted field with a comma, LF
  '2,"say ""hi""",  spaced  \r\n', // line 3: "" escapes, spaces around an unquoted field
  '\n', // line 4: empty
  '3,"multi\nline",é€😀\n', // lines 5–6: a quoted newline; 2-, 3- and 4-byte UTF-8
  '\r\n', // line 7: empty, CRLF
  '4,"",x\n', // line 8: a quoted empty field
  '5,"a""",b\r\n', // line 9: an escape right before the closing quote
  '6,last,"no newline"', // line 10: no trailing newline
];
const TRICKY = Buffer.from(PIECES.join(''), 'utf8');
const offsetOf = (piece: number): number => Buffer.byteLength(PIECES.slice(0, piece).join(''), 'utf8');
const Q = FIELD_QUOTED;
const QE = FIELD_QUOTED | FIELD_ESCAPED;

const EXPECTED: Decoded[] = [
  {
    fields: ['id', 'name', 'note'],
    flags: [0, 0, 0],
    raw: 'id,name,note',
    offset: 0,
    line: 0,
    malformed: false,
  },
  {
    fields: ['1', 'Smith, John', 'plain'],
    flags: [0, Q, 0],
    raw: '1, "Smith, John" ,plain',
    offset: offsetOf(1),
    line: 1,
    malformed: false,
  },
  {
    fields: ['2', 'say "hi"', 'spaced'],
    flags: [0, QE, 0],
    raw: '2,"say ""hi""",  spaced  ',
    offset: offsetOf(2),
    line: 2,
    malformed: false,
  },
  {
    fields: ['3', 'multi\nline', 'é€😀'],
    flags: [0, Q, 0],
    raw: '3,"multi\nline",é€😀',
    offset: offsetOf(4),
    line: 4,
    malformed: false,
  },
  { fields: ['4', '', 'x'], flags: [0, Q, 0], raw: '4,"",x', offset: offsetOf(6), line: 7, malformed: false },
  {
    fields: ['5', 'a"', 'b'],
    flags: [0, QE, 0],
    raw: '5,"a""",b',
    offset: offsetOf(7),
    line: 8,
    malformed: false,
  },
  {
    fields: ['6', 'last', 'no newline'],
    flags: [0, 0, Q],
    raw: '6,last,"no newline"',
    offset: offsetOf(8),
    line: 9,
    malformed: false,
  },
];

test('the tricky file decodes to the hand-written records', () => {
  const whole = decode(TRICKY);
  assert.deepEqual(whole.records, EXPECTED);
  assert.equal(whole.count, 7, 'empty lines are not records');
  assert.equal(
    whole.linesConsumed,
    10,
    'every physical line is consumed, empty ones and the quoted newline included',
  );
  assert.equal(whole.sawQuotedNewline, true);
});

test('two chunks cut at every byte offset decode exactly like the whole buffer', () => {
  const whole = decode(TRICKY);
  for (let cut = 0; cut <= TRICKY.length; cut++) {
    assert.deepEqual(decode(TRICKY, [cut]), whole, `cut at byte ${cut}`);
  }
});

test('three chunks cut at every pair of offsets decode exactly like the whole buffer', () => {
  const whole = decode(TRICKY);
  for (let a = 1; a < TRICKY.length; a++) {
    for (let b = a; b < TRICKY.length; b++)
      assert.deepEqual(decode(TRICKY, [a, b]), whole, `cuts at ${a} and ${b}`);
  }
});

test('1-byte chunks through one reused buffer decode exactly like the whole buffer', () => {
  assert.deepEqual(decodeByteByByte(TRICKY), decode(TRICKY));
});

test('a wide record grows the field arrays and survives every cut', () => {
  const fields = Array.from({ length: 100 }, (_, i) => (i % 3 === 0 ? `"f,${i}"` : ` v${i} `));
  const bytes = Buffer.from(`${fields.join(',')}\r\nlast,row\n`);
  const whole = decode(bytes);
  assert.equal(whole.records.length, 2);
  assert.equal(whole.records[0].fields.length, 100);
  assert.equal(whole.records[0].fields[99], 'f,99');
  assert.equal(whole.records[0].fields[98], 'v98');
  for (let cut = 0; cut <= bytes.length; cut += 7)
    assert.deepEqual(decode(bytes, [cut]), whole, `cut at ${cut}`);
});

test('endOffset: only records that start before it are emitted, and done is set', () => {
  const whole = decode(TRICKY).records;
  for (let end = 0; end <= TRICKY.length; end++) {
    const records: Decoded[] = [];
    const decoder = new CsvDecoder({ onRecord: copyRecords(records), endOffset: end });
    decoder.push(TRICKY, 0);
    decoder.end();
    assert.deepEqual(
      records,
      whole.filter((r) => r.offset < end),
      `endOffset ${end}`,
    );
    const lastStarts = end <= offsetOf(8);
    assert.equal(decoder.done, lastStarts, `done at endOffset ${end}`);
  }
});

test('an unterminated quote at the end is one malformed record, emitted by end()', () => {
  const bytes = Buffer.from('a,b\n1,"abc, def');
  for (let cut = 0; cut <= bytes.length; cut++) {
    const records: Decoded[] = [];
    const decoder = new CsvDecoder({ onRecord: copyRecords(records) });
    decoder.push(bytes.subarray(0, cut), 0);
    decoder.push(bytes.subarray(cut), cut);
    assert.equal(records.length, 1, `cut ${cut}: the open quote waits for more input`);
    decoder.end();
    assert.deepEqual(records[1], {
      fields: ['1', 'abc, def'],
      flags: [0, Q],
      raw: '1,"abc, def',
      offset: 4,
      line: 1,
      malformed: true,
    });
    assert.equal(records.length, 2);
    assert.equal(decoder.sawQuotedNewline, false);
  }
});

test('text after a closing quote makes the record malformed, and the next record is intact', () => {
  const { records } = decode(Buffer.from('a,b\n"x" y,z\nc,d\n'));
  assert.deepEqual(
    records.map((r) => [r.raw, r.malformed]),
    [
      ['a,b', false],
      ['"x" y,z', true],
      ['c,d', false],
    ],
  );
});

test('sawQuotedNewline is set only when a quoted field holds a line break', () => {
  const cases: [string, boolean][] = [
    ['a,b\n"x\ny",z\n', true],
    ['a,b\n"x\r\ny",z\n', true],
    ['a,b\n"x,y","say ""hi"""\r\n"p",q\n', false],
    ['a,b\n"x"\r\n"y"\n', false],
    ['a,b\nplain,row\n', false],
    ['a,b\n1,"open', false],
  ];
  for (const [text, expected] of cases) {
    const bytes = Buffer.from(text);
    assert.equal(decode(bytes).sawQuotedNewline, expected, JSON.stringify(text));
    assert.equal(
      decodeByteByByte(bytes).sawQuotedNewline,
      expected,
      `${JSON.stringify(text)}, 1-byte chunks`,
    );
  }
});

test('a lone CR inside an unquoted field is data, a CR at the very end is a terminator', () => {
  const { records } = decode(Buffer.from('a,b\nx\ry,z\nc,d\r'));
  assert.deepEqual(
    records.map((r) => r.fields),
    [
      ['a', 'b'],
      ['x\ry', 'z'],
      ['c', 'd'],
    ],
  );
});

test('an unterminated quote on the last line does not swallow the final line break', () => {
  for (const eol of ['\n', '\r\n']) {
    const result = decode(Buffer.from(`a,b\n1,"abc${eol}`));
    assert.equal(result.records[1].malformed, true);
    assert.equal(result.records[1].raw, '1,"abc', `raw with ${JSON.stringify(eol)}`);
    assert.equal(result.sawQuotedNewline, false, 'no quoted field holds a line break');
    assert.equal(result.linesConsumed, 2);
  }
});

test('a lone CR after a closing quote loses no byte', () => {
  const { records } = decode(Buffer.from('a,b\n"x"\ry,z\nc,d\n'));
  assert.deepEqual(
    records.map((r) => [r.raw, r.line, r.malformed]),
    [
      ['a,b', 0, false],
      ['"x"\ry,z', 1, true],
      ['c,d', 2, false],
    ],
  );
});
