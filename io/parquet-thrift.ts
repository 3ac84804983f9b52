/**
 * The Thrift compact protocol, just what the Parquet writer's metadata needs (page headers and
 * the footer's FileMetaData): https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md
 */

import { ByteWriter } from './parquet-byte-writer.js';

/** Zigzag of an integer below 2^52 in magnitude, as Thrift's i16/i32/i64 want it. */
export function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

/** A Thrift compact protocol writer: fields by id, nested structs, lists of structs. */
export class ThriftWriter extends ByteWriter {
  #last: number[] = [0];

  constructor() {
    super(256);
  }

  #field(id: number, type: number): void {
    const delta = id - this.#last[this.#last.length - 1];
    if (delta > 0 && delta <= 15) this.byte((delta << 4) | type);
    else {
      this.byte(type);
      this.varint(zigzag(id));
    }
    this.#last[this.#last.length - 1] = id;
  }

  /** Starts the fields of a struct that is a list element or the top level. */
  fieldsBegin(): void {
    this.#last.push(0);
  }

  fieldsEnd(): void {
    this.byte(0);
    this.#last.pop();
  }

  structBegin(id: number): void {
    this.#field(id, 12);
    this.fieldsBegin();
  }

  structEnd(): void {
    this.fieldsEnd();
  }

  bool(id: number, v: boolean): void {
    this.#field(id, v ? 1 : 2);
  }

  i8(id: number, v: number): void {
    this.#field(id, 3);
    this.byte(v & 255);
  }

  i16(id: number, v: number): void {
    this.#field(id, 4);
    this.varint(zigzag(v));
  }

  i32(id: number, v: number): void {
    this.#field(id, 5);
    this.varint(zigzag(v));
  }

  i64(id: number, v: number): void {
    this.#field(id, 6);
    this.varint(zigzag(v));
  }

  binary(b: Uint8Array): void {
    this.varint(b.length);
    this.bytes(b);
  }

  binaryField(id: number, b: Uint8Array): void {
    this.#field(id, 8);
    this.binary(b);
  }

  string(id: number, s: string): void {
    this.binaryField(id, Buffer.from(s, 'utf8'));
  }

  /** A list field's header; its elements follow (structs with fieldsBegin / fieldsEnd). */
  listBegin(id: number, elementType: number, size: number): void {
    this.#field(id, 9);
    if (size < 15) this.byte((size << 4) | elementType);
    else {
      this.byte(0xf0 | elementType);
      this.varint(size);
    }
  }
}
