/**
 * A minimal file of named typed-array columns plus JSON metadata, for spills between the stages of
 * one run: written with one `writev` straight from the arrays (no serialisation copy) and read
 * back as views over one buffer. Layout: `SFCOL001`, u32 header length, header JSON
 * `{ meta, columns: [{ name, type, length }] }`, then each column's bytes, 8-byte aligned.
 */

import { closeSync, openSync, writevSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { isMainThread } from 'node:worker_threads';

export type Column = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;

const MAGIC = Buffer.from('SFCOL001');
const TYPES = { Uint8Array, Uint16Array, Uint32Array, Int32Array, Float64Array } as const;
type TypeName = keyof typeof TYPES;

const pad8 = (n: number): number => (n + 7) & ~7;

/** Writes `columns` and `meta` to `path` (replacing it). */
export async function writeColumnFile(
  path: string,
  meta: unknown,
  columns: Record<string, Column>,
): Promise<void> {
  const entries = Object.entries(columns);
  const header = Buffer.from(
    JSON.stringify({
      meta,
      columns: entries.map(([name, c]) => ({ name, type: c.constructor.name as TypeName, length: c.length })),
    }),
  );
  const head = Buffer.alloc(pad8(MAGIC.length + 4 + header.length));
  MAGIC.copy(head, 0);
  head.writeUInt32LE(header.length, MAGIC.length);
  header.copy(head, MAGIC.length + 4);
  const parts: Uint8Array[] = [head];
  const zeros = new Uint8Array(8);
  for (const [, c] of entries) {
    parts.push(new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
    const pad = pad8(c.byteLength) - c.byteLength;
    if (pad > 0) parts.push(zeros.subarray(0, pad));
  }
  // writev takes at most IOV_MAX buffers a call; a spill has a dozen.
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  if (!isMainThread) {
    // A worker has nothing else to do meanwhile: writing on its own thread spares a thread-pool
    // round trip and a third busy thread on the pool's cores.
    const fd = openSync(path, 'w');
    try {
      for (let written = 0; written < total;) written += writevSync(fd, skip(parts, written));
    } finally {
      closeSync(fd);
    }
    return;
  }
  const handle = await open(path, 'w');
  try {
    for (let written = 0; written < total;) {
      const { bytesWritten } = await handle.writev(skip(parts, written));
      written += bytesWritten;
    }
  } finally {
    await handle.close();
  }
}

function skip(parts: Uint8Array[], bytes: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const p of parts) {
    if (bytes >= p.byteLength) bytes -= p.byteLength;
    else {
      out.push(bytes > 0 ? p.subarray(bytes) : p);
      bytes = 0;
    }
  }
  return out;
}

/** Reads what {@link writeColumnFile} wrote; columns are views over one buffer. */
export async function readColumnFile(
  path: string,
): Promise<{ meta: unknown; columns: Record<string, Column> }> {
  let buf: Buffer = await readFile(path);
  if (buf.byteOffset % 8 !== 0) buf = Buffer.from(new Uint8Array(buf)); // views need 8-byte alignment
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error(`${path}: not a shardflow column file`);
  const headerLength = buf.readUInt32LE(MAGIC.length);
  const header = JSON.parse(buf.toString('utf8', MAGIC.length + 4, MAGIC.length + 4 + headerLength)) as {
    meta: unknown;
    columns: { name: string; type: TypeName; length: number }[];
  };
  let offset = pad8(MAGIC.length + 4 + headerLength);
  const columns: Record<string, Column> = {};
  for (const { name, type, length } of header.columns) {
    const Ctor = TYPES[type];
    columns[name] = new Ctor(buf.buffer as ArrayBuffer, buf.byteOffset + offset, length);
    offset += pad8(length * Ctor.BYTES_PER_ELEMENT);
  }
  return { meta: header.meta, columns };
}

/**
 * Reads rows [from, to) of a column file whose columns all hold a whole number of elements per row
 * (`meta.count` rows): one positioned read per column, so a task that needs a slice of a spill
 * reads only that slice. Returns the metadata and the columns' slices.
 */
export async function readColumnRows(
  path: string,
  from: number,
  to: number,
): Promise<{ meta: unknown; columns: Record<string, Column> }> {
  const handle = await open(path, 'r');
  try {
    const fixed = Buffer.alloc(MAGIC.length + 4);
    await handle.read(fixed, 0, fixed.length, 0);
    if (!fixed.subarray(0, MAGIC.length).equals(MAGIC))
      throw new Error(`${path}: not a shardflow column file`);
    const headerLength = fixed.readUInt32LE(MAGIC.length);
    const headerBytes = Buffer.alloc(headerLength);
    await handle.read(headerBytes, 0, headerLength, MAGIC.length + 4);
    const header = JSON.parse(headerBytes.toString('utf8')) as {
      meta: { count: number };
      columns: { name: string; type: TypeName; length: number }[];
    };
    const rows = header.meta.count;
    let offset = pad8(MAGIC.length + 4 + headerLength);
    const columns: Record<string, Column> = {};
    for (const { name, type, length } of header.columns) {
      const Ctor = TYPES[type];
      const perRow = rows === 0 ? 0 : length / rows;
      const n = (to - from) * perRow;
      const column = new Ctor(n);
      if (n > 0) {
        const bytes = new Uint8Array(column.buffer);
        await handle.read(bytes, 0, bytes.length, offset + from * perRow * Ctor.BYTES_PER_ELEMENT);
      }
      columns[name] = column;
      offset += pad8(length * Ctor.BYTES_PER_ELEMENT);
    }
    return { meta: header.meta, columns };
  } finally {
    await handle.close();
  }
}
