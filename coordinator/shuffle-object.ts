/**
 * The bytes of one shuffle object: a task's whole result, with the data of each partition in a
 * section of its own and an index of where each section lies, so a shard reads only the
 * partitions it reduces (one ranged read each) instead of the whole object.
 *
 * Layout: `SFS1`, a uint32 (LE) header length, the header (JSON: where the common part and each
 * partition's section lie), the common part (v8-serialized: everything that is not partitioned),
 * then one section per partition.
 *
 * "Partitioned" is a shape: an object with `offsets`, a Uint32Array of P + 1 ascending row
 * offsets, beside typed arrays that hold a whole number of elements per row (the job's
 * `PartitionedCounts` and `DedupBuckets`); partition p is rows offsets[p] … offsets[p+1]. A
 * reader that skips a partition gets those rows as zeros: full-size arrays in shared memory whose
 * untouched pages cost no memory.
 */

import { deserialize, serialize } from 'node:v8';
import { ShardflowError } from '../errors.js';

const MAGIC = 'SFS1';
/** Marks a bare (Shared)ArrayBuffer, which v8's serializer refuses when shared, as its bytes. */
const RAW_BUFFER = '__shardflowRawBuffer';
/** Marks a partitioned object in the common part: its arrays are in the sections. */
const PARTITIONED = '__shardflowPartitioned';

type Typed = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array | BigInt64Array;
const CTORS: Record<string, new (b: SharedArrayBuffer) => Typed> = {
  Uint8Array,
  Uint16Array,
  Uint32Array,
  Int32Array,
  Float64Array,
  BigInt64Array,
};

interface Partitioned {
  offsets: Uint32Array;
  arrays: { key: string; ctor: string; width: number; view: Typed }[];
}

interface Header {
  common: [number, number];
  sections: [number, number][];
}

function partitionedShape(value: Record<string, unknown>): Partitioned | null {
  const offsets = value.offsets;
  if (!(offsets instanceof Uint32Array) || offsets.length < 2) return null;
  const rows = offsets[offsets.length - 1];
  if (rows === 0) return null;
  for (let p = 1; p < offsets.length; p++) if (offsets[p] < offsets[p - 1]) return null;
  const arrays: Partitioned['arrays'] = [];
  for (const [key, v] of Object.entries(value)) {
    if (key === 'offsets' || !ArrayBuffer.isView(v) || v instanceof DataView) continue;
    const view = v as Typed;
    if (!(view.constructor.name in CTORS) || view.length % rows !== 0) return null;
    arrays.push({ key, ctor: view.constructor.name, width: view.length / rows, view });
  }
  return arrays.length === 0 ? null : { offsets, arrays };
}

/** Encodes `value` as a shuffle object (chunks to write in order). */
export function encodeShuffleObject(value: unknown): Uint8Array[] {
  const found: Partitioned[] = [];
  const pack = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (v instanceof ArrayBuffer || v instanceof SharedArrayBuffer)
      return { [RAW_BUFFER]: new Uint8Array(v) };
    if (ArrayBuffer.isView(v)) return v;
    if (Array.isArray(v)) return v.map(pack);
    const record = v as Record<string, unknown>;
    const shape = partitionedShape(record);
    const out: Record<string, unknown> = {};
    for (const [key, x] of Object.entries(record)) {
      if (shape?.arrays.some((a) => a.key === key)) continue;
      out[key] = pack(x);
    }
    if (shape !== null) {
      out[PARTITIONED] = {
        id: found.length,
        arrays: shape.arrays.map(({ key, ctor, width }) => ({ key, ctor, width })),
      };
      found.push(shape);
    }
    return out;
  };
  const common = serialize(pack(value));
  const partitions = found.reduce((n, f) => Math.max(n, f.offsets.length - 1), 0);
  const sections: Uint8Array[][] = Array.from({ length: partitions }, () => []);
  for (const f of found) {
    for (let p = 0; p < f.offsets.length - 1; p++) {
      for (const a of f.arrays) {
        const bytes = a.view.BYTES_PER_ELEMENT * a.width;
        const from = a.view.byteOffset + f.offsets[p] * bytes;
        sections[p].push(new Uint8Array(a.view.buffer, from, (f.offsets[p + 1] - f.offsets[p]) * bytes));
      }
    }
  }
  const sectionLengths = sections.map((s) => s.reduce((n, c) => n + c.length, 0));
  // The header's own length moves everything after it: size it with placeholder numbers first.
  const headerFor = (start: number): Header => {
    let at = start + common.length;
    return {
      common: [start, common.length],
      sections: sectionLengths.map((n) => {
        const s: [number, number] = [at, n];
        at += n;
        return s;
      }),
    };
  };
  let headerBytes = Buffer.from(JSON.stringify(headerFor(0)));
  for (;;) {
    const next = Buffer.from(JSON.stringify(headerFor(8 + headerBytes.length)));
    if (next.length === headerBytes.length) {
      headerBytes = next;
      break;
    }
    headerBytes = next;
  }
  const prefix = Buffer.alloc(8);
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(headerBytes.length, 4);
  return [prefix, headerBytes, common, ...sections.flat()];
}

/**
 * Decodes a shuffle object through `readRange(start, length)`, reading the sections of the
 * partitions `wanted` accepts; typed arrays come back in shared memory (posting them to workers
 * copies nothing). Resolves to the value and the bytes read.
 */
export async function decodeShuffleObject(
  readRange: (start: number, length: number) => Promise<Uint8Array>,
  wanted: (partition: number) => boolean,
): Promise<{ value: unknown; bytes: number }> {
  let head = Buffer.from(await readRange(0, 64 * 1024));
  let bytes = head.length;
  if (head.length < 8 || head.toString('latin1', 0, 4) !== MAGIC)
    throw new ShardflowError(
      'E_SHUFFLE_CORRUPT',
      "a shuffle object does not start with SFS1: the shuffle holds a file shardflow did not write, or a truncated one; remove the run's shuffle prefix and rerun",
    );
  const headerLength = head.readUInt32LE(4);
  if (head.length < 8 + headerLength) {
    const rest = await readRange(head.length, 8 + headerLength - head.length);
    bytes += rest.length;
    head = Buffer.concat([head, rest]);
  }
  const header = JSON.parse(head.toString('utf8', 8, 8 + headerLength)) as Header;
  const [cs, cl] = header.common;
  if (cs + cl > head.length) {
    // The rest of the common part, after what the first read brought.
    const rest = await readRange(head.length, cs + cl - head.length);
    bytes += rest.length;
    head = Buffer.concat([head, rest]);
  }
  const common = head.subarray(cs, cs + cl);
  const found: { offsets: Uint32Array; arrays: { width: number; view: Typed }[] }[] = [];
  const unpack = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return toShared(v as Typed);
    if (Array.isArray(v)) return v.map(unpack);
    const record = v as Record<string, unknown>;
    const raw = record[RAW_BUFFER];
    if (raw instanceof Uint8Array) {
      const sab = new SharedArrayBuffer(raw.byteLength);
      new Uint8Array(sab).set(raw);
      return sab;
    }
    const out: Record<string, unknown> = {};
    for (const [key, x] of Object.entries(record)) if (key !== PARTITIONED) out[key] = unpack(x);
    const marker = record[PARTITIONED] as
      { id: number; arrays: { key: string; ctor: string; width: number }[] } | undefined;
    if (marker !== undefined) {
      const offsets = out.offsets as Uint32Array;
      const rows = offsets[offsets.length - 1];
      const arrays = marker.arrays.map(({ key, ctor, width }) => {
        const Ctor = CTORS[ctor];
        const view = new Ctor(new SharedArrayBuffer(rows * width * elementBytes(ctor)));
        out[key] = view;
        return { width, view };
      });
      found[marker.id] = { offsets, arrays };
    }
    return out;
  };
  const value = unpack(deserialize(common));
  for (let p = 0; p < header.sections.length; p++) {
    const [start, length] = header.sections[p];
    if (length === 0 || !wanted(p)) continue;
    // A small object came whole with the first read.
    let section: Uint8Array;
    if (start + length <= head.length) section = head.subarray(start, start + length);
    else {
      section = await readRange(start, length);
      bytes += section.length;
    }
    let at = 0;
    for (const f of found) {
      if (p >= f.offsets.length - 1) continue;
      for (const a of f.arrays) {
        const n = (f.offsets[p + 1] - f.offsets[p]) * a.width * a.view.BYTES_PER_ELEMENT;
        new Uint8Array(a.view.buffer, f.offsets[p] * a.width * a.view.BYTES_PER_ELEMENT, n).set(
          section.subarray(at, at + n),
        );
        at += n;
      }
    }
  }
  return { value, bytes };
}

function elementBytes(ctor: string): number {
  return (CTORS[ctor] as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
}

function toShared(view: Typed): Typed {
  if (view.buffer instanceof SharedArrayBuffer) return view;
  const sab = new SharedArrayBuffer(view.byteLength);
  new Uint8Array(sab).set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  return new CTORS[view.constructor.name](sab);
}
