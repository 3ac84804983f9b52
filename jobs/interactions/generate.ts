import { UsageError, storageFor } from 'shardflow/kernel';

/** Options of {@link generateInteractions}. */
export interface GenerateInteractionsOptions {
  /** Number of non-empty data rows to write (required); the sprinkled empty lines come on top. */
  rows: number;
  /** Output CSV file (required): a path, whose folder is created when missing, or an s3:// URL. */
  out: string;
  /** PRNG seed: the same seed (and options) gives a byte-identical file. Default 1. */
  seed?: number;
  /** Fraction of rows made bad, spread evenly over the six reject reasons, 0..1. Default 0.01. */
  badFraction?: number;
  /** Distinct user ids, Zipf-skewed. Default: the shape's (narrow: max(100, rows / 100)). */
  users?: number;
  /** Distinct product ids, Zipf-skewed. Default: the shape's (narrow: max(50, rows / 1000)). */
  products?: number;
  /** Data shape, see {@link INTERACTIONS_SHAPES}. Default `narrow`. */
  shape?: InteractionsShape;
}

/** What {@link generateInteractions} wrote. */
export interface GenerateSummary {
  /** Non-empty data rows written (equals options.rows). */
  rows: number;
  /** Bytes in the file, header included. */
  bytes: number;
  /** Wall time of the whole generation. */
  seconds: number;
}

/** Defaults and fixed shape of the generated data. */
export const GENERATE_INTERACTIONS_DEFAULTS = Object.freeze({
  seed: 1,
  badFraction: 0.01,
  /** Zipf exponent of user and product popularity. */
  zipfExponent: 1.1,
  firstUserId: 1000,
  firstProductId: 200,
  /** Valid rows with a harmless quirk (empty line before, padded fields, quoted action), per bad row. */
  quirksPerBadRow: 0.5,
  chunkBytes: 1 << 20,
});

const HEADER = 'interaction_id,user_id,product_id,action,timestamp\n';
const ACTIONS = ['view', 'click', 'add_to_cart', 'remove_from_cart', 'purchase'] as const;
/** Rough e-commerce funnel: most events are views, few end in a purchase. */
const ACTION_WEIGHTS = [0.55, 0.25, 0.1, 0.04, 0.06];
const SECONDS_IN_2023 = 365 * 86_400;
/** Longest row any code path writes (bad rows with 20-digit ids stay far below this). */
const MAX_ROW_BYTES = 512;
const RECENT_VALID_IDS = 4096;

/** Bad-row variants per reject reason; each reason is picked with the same probability. */
const BAD_INTEGERS = ['12a', '-5', '1.5', '99999999999999999999', '9223372036854775808', '+5', '1 2'];
const MISSING_VALUES = ['', 'null', 'NULL', '   '];
const BAD_TIMESTAMPS = [
  '2023-02-30 10:00:00',
  '2023-13-01 00:00:00',
  '2023-01-01T10:00:00',
  '2023-01-01',
  '2023-02-29 12:00:00',
  '2023-04-31 08:15:00',
  '2023-00-10 10:00:00',
  '2023-06-00 10:00:00',
  '2023-06-15 24:00:00',
  '2023-06-15 10:60:00',
  '2023-06-15 10:00:60',
  '2023-6-15 10:00:00',
  '2023-06-15 10:00:00.5',
];

/**
 * Writes a synthetic user-interactions CSV: sequential interaction ids, Zipf-skewed users and
 * products, a funnel of actions, timestamps uniform over 2023, and a `badFraction` of rows that
 * each trip exactly one reject reason (the `narrow` shape; `wide` changes ids, key counts and
 * days, see {@link WIDE_SHAPE}). Peak memory: one 1 MiB chunk plus the stream's buffer
 * (writes wait for `drain`), plus the alias tables (16 bytes per user and per product).
 */
export async function generateInteractions(options: GenerateInteractionsOptions): Promise<GenerateSummary> {
  const o = validateOptions(options);
  const started = performance.now();
  const rng = new Sfc32(o.seed);
  const shape = shapeParameters(o.shape, o.rows);
  const users = new ZipfSampler(o.users, shape.userId, shape.userExponent, rng);
  const products = new ZipfSampler(o.products, shape.productId, shape.productExponent, rng);
  const actionThresholds = cumulativeThresholds(ACTION_WEIGHTS);
  const quirkFraction = Math.min(
    1 - o.badFraction,
    o.badFraction * GENERATE_INTERACTIONS_DEFAULTS.quirksPerBadRow,
  );
  const badThreshold = o.badFraction * 2 ** 32;
  const quirkThreshold = badThreshold + quirkFraction * 2 ** 32;
  // Ids of recent valid rows, the pool duplicate_id rows copy from.
  const recent = new Float64Array(RECENT_VALID_IDS);
  let recentCount = 0;

  // Through the storage interface: a local file or an s3:// object, visible only once complete.
  const writer = (await storageFor(o.out)).create(o.out);
  const chunkBytes = GENERATE_INTERACTIONS_DEFAULTS.chunkBytes;
  const chunk = Buffer.allocUnsafe(chunkBytes); // reused: a writer is done with a chunk when write resolves
  let pos = chunk.write(HEADER, 0, 'latin1');
  let bytes = 0;
  let id = 0;
  try {
    for (let row = 1; row <= o.rows; row++) {
      id = shape.idGap === 0 ? row : id + 1 + Math.floor((rng.next() / 2 ** 32) * shape.idGap);
      if (pos > chunkBytes - MAX_ROW_BYTES) {
        bytes += pos;
        await writer.write(chunk.subarray(0, pos));
        pos = 0;
      }
      const user = users.sample();
      const product = products.sample();
      const action = pickIndex(actionThresholds, rng.next());
      const second = shape.firstSecond + Math.floor((rng.next() / 2 ** 32) * shape.seconds);
      const dice = rng.next();
      if (dice >= quirkThreshold) {
        pos = writeValidRow(chunk, pos, id, user, product, action, second);
        recent[recentCount++ % RECENT_VALID_IDS] = id;
        continue;
      }
      const fields = [
        String(id),
        String(user),
        String(product),
        ACTIONS[action] as string,
        formatTime(second),
      ];
      if (dice >= badThreshold) {
        applyQuirk(fields, rng);
        recent[recentCount++ % RECENT_VALID_IDS] = id;
      } else {
        const earlier = recentCount === 0 ? -1 : recent[rng.next() % Math.min(recentCount, RECENT_VALID_IDS)];
        applyBadness(fields, rng, earlier);
      }
      pos += chunk.write(fields.join(',') + '\n', pos, 'latin1');
    }
    bytes += pos;
    await writer.write(chunk.subarray(0, pos));
    await writer.commit();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  return { rows: o.rows, bytes, seconds: (performance.now() - started) / 1000 };
}

type ResolvedOptions = Required<GenerateInteractionsOptions>;

function validateOptions(options: GenerateInteractionsOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new UsageError('options must be an object');
  const { rows, out } = options;
  if (!Number.isSafeInteger(rows) || rows < 0)
    throw new UsageError('options.rows must be a non-negative integer');
  if (typeof out !== 'string' || out === '')
    throw new UsageError('options.out must be a non-empty file path');
  const seed = options.seed ?? GENERATE_INTERACTIONS_DEFAULTS.seed;
  if (!Number.isSafeInteger(seed)) throw new UsageError('options.seed must be an integer');
  const badFraction = options.badFraction ?? GENERATE_INTERACTIONS_DEFAULTS.badFraction;
  if (typeof badFraction !== 'number' || !(badFraction >= 0 && badFraction <= 1)) {
    throw new UsageError('options.badFraction must be a number from 0 to 1');
  }
  const shape = options.shape ?? 'narrow';
  if (!INTERACTIONS_SHAPES.includes(shape))
    throw new UsageError(`options.shape must be one of ${INTERACTIONS_SHAPES.join(', ')}`);
  const wide = shape === 'wide';
  const users =
    options.users ??
    (wide
      ? Math.min(WIDE_SHAPE.users, Math.max(100, Math.floor(rows / 10)))
      : Math.max(100, Math.floor(rows / 100)));
  if (!Number.isSafeInteger(users) || users < 1 || users > 2 ** 26) {
    throw new UsageError('options.users must be an integer from 1 to 67108864');
  }
  const products =
    options.products ??
    (wide
      ? Math.min(WIDE_SHAPE.products, Math.max(50, Math.floor(rows / 100)))
      : Math.max(50, Math.floor(rows / 1000)));
  if (!Number.isSafeInteger(products) || products < 1 || products > 2 ** 26) {
    throw new UsageError('options.products must be an integer from 1 to 67108864');
  }
  if (wide && products >= WIDE_SHAPE.productIdPrime) {
    throw new UsageError(`options.products must be below ${WIDE_SHAPE.productIdPrime} in the wide shape`);
  }
  return Object.freeze({ rows, out, seed, badFraction, users, products, shape });
}

/** The data shapes of `generate interactions --shape` (issue #10, section 7). */
export const INTERACTIONS_SHAPES = Object.freeze(['narrow', 'wide'] as const);
/** A data shape of {@link generateInteractions}. */
export type InteractionsShape = (typeof INTERACTIONS_SHAPES)[number];

/**
 * The wide shape: about 1M users and 100k products (fewer below 10M and 10M rows: rows / 10 and
 * rows / 100), their ids scattered over [1, 2^32) and [1, 2^24); interaction ids rising by a random
 * gap of 1..floor(2^40 / rows), so at most 2^40; timestamps over the 90 days 2023-10-03..12-31.
 */
export const WIDE_SHAPE = Object.freeze({
  users: 1_000_000,
  products: 100_000,
  /** A flatter Zipf than narrow's, so that ~96 % of the 1M users occur at 10M rows. */
  userExponent: 0.8,
  productExponent: 1.1,
  /** Primes just under 2^32 and 2^24: id = k · multiplier mod prime is distinct for every rank k. */
  userIdPrime: 4_294_967_291,
  userIdMultiplier: 96_280_217,
  productIdPrime: 16_777_213,
  productIdMultiplier: 9_999_991,
  maxInteractionId: 2 ** 40,
  firstDay: 275,
  days: 90,
});

interface ShapeParameters {
  userId: (rank: number) => number;
  productId: (rank: number) => number;
  userExponent: number;
  productExponent: number;
  /** 0: interaction ids are the row numbers; else each id is the last plus 1..idGap. */
  idGap: number;
  firstSecond: number;
  seconds: number;
}

function shapeParameters(shape: InteractionsShape, rows: number): ShapeParameters {
  const { zipfExponent, firstUserId, firstProductId } = GENERATE_INTERACTIONS_DEFAULTS;
  if (shape === 'narrow') {
    return {
      userId: (k) => firstUserId + k,
      productId: (k) => firstProductId + k,
      userExponent: zipfExponent,
      productExponent: zipfExponent,
      idGap: 0,
      firstSecond: 0,
      seconds: SECONDS_IN_2023,
    };
  }
  const w = WIDE_SHAPE;
  return {
    // Ranks stay below 2^26 and the multipliers below 2^27, so the products are exact doubles.
    userId: (k) => ((k + 1) * w.userIdMultiplier) % w.userIdPrime,
    productId: (k) => ((k + 1) * w.productIdMultiplier) % w.productIdPrime,
    userExponent: w.userExponent,
    productExponent: w.productExponent,
    idGap: Math.max(1, Math.floor(w.maxInteractionId / Math.max(1, rows))),
    firstSecond: w.firstDay * 86_400,
    seconds: w.days * 86_400,
  };
}

/** sfc32 (Chris Doty-Humphrey's Small Fast Counting PRNG): 32-bit outputs, period ≥ 2^32, fast in JS. */
class Sfc32 {
  #a: number;
  #b: number;
  #c: number;
  #d = 1;

  constructor(seed: number) {
    // splitmix32 spreads any integer seed over the 96 bits of state.
    let s = (seed | 0) ^ Math.floor(seed / 2 ** 32);
    const mix = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = mix();
    this.#b = mix();
    this.#c = mix();
    for (let i = 0; i < 15; i++) this.next();
  }

  /** Next uniform integer in [0, 2^32). */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (((this.#c << 21) | (this.#c >>> 11)) + t) | 0;
    return t >>> 0;
  }
}

/**
 * Zipf(s) over n ranks via Vose's alias method (O(1) per draw), with ranks shuffled onto ids so
 * the hot keys are not simply the smallest ids.
 */
class ZipfSampler {
  readonly #n: number;
  readonly #prob: Float64Array;
  readonly #alias: Int32Array;
  readonly #ids: Float64Array;
  readonly #rng: Sfc32;

  constructor(n: number, idOf: (rank: number) => number, exponent: number, rng: Sfc32) {
    this.#n = n;
    this.#rng = rng;
    const scaled = new Float64Array(n);
    let total = 0;
    for (let k = 0; k < n; k++) total += scaled[k] = (k + 1) ** -exponent;
    for (let k = 0; k < n; k++) scaled[k] = (scaled[k] * n) / total;
    this.#prob = new Float64Array(n).fill(1);
    this.#alias = new Int32Array(n);
    const small: number[] = [];
    const large: number[] = [];
    for (let k = 0; k < n; k++) (scaled[k] < 1 ? small : large).push(k);
    while (small.length > 0 && large.length > 0) {
      const s = small.pop() as number;
      const l = large[large.length - 1];
      this.#prob[s] = scaled[s];
      this.#alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      if (scaled[l] < 1) small.push(large.pop() as number);
    }
    this.#ids = new Float64Array(n);
    for (let k = 0; k < n; k++) this.#ids[k] = idOf(k);
    for (let k = n - 1; k > 0; k--) {
      const j = rng.next() % (k + 1);
      const t = this.#ids[k];
      this.#ids[k] = this.#ids[j];
      this.#ids[j] = t;
    }
  }

  /** One id drawn with probability proportional to rank^-s. */
  sample(): number {
    const column = Math.floor((this.#rng.next() / 2 ** 32) * this.#n);
    const rank = this.#rng.next() / 2 ** 32 < this.#prob[column] ? column : this.#alias[column];
    return this.#ids[rank];
  }
}

function cumulativeThresholds(weights: number[]): Float64Array {
  const total = weights.reduce((a, b) => a + b, 0);
  const out = new Float64Array(weights.length);
  let acc = 0;
  weights.forEach((w, i) => (out[i] = (acc += w) / total));
  out[out.length - 1] = 1; // rounding must not leave a gap at the top
  return out.map((t) => t * 2 ** 32);
}

function pickIndex(thresholds: Float64Array, u32: number): number {
  let i = 0;
  while (u32 >= thresholds[i]) i++;
  return i;
}

/** One valid row, written byte by byte: the hot path, kept free of string building. */
function writeValidRow(
  buf: Buffer,
  pos: number,
  id: number,
  user: number,
  product: number,
  action: number,
  second: number,
): number {
  pos = writeUint(buf, pos, id);
  buf[pos++] = 44;
  pos = writeUint(buf, pos, user);
  buf[pos++] = 44;
  pos = writeUint(buf, pos, product);
  buf[pos++] = 44;
  const name = ACTION_BYTES[action];
  for (let i = 0; i < name.length; i++) buf[pos++] = name[i];
  buf[pos++] = 44;
  const day = Math.floor(second / 86_400);
  const prefix = day * 11;
  for (let i = 0; i < 11; i++) buf[pos++] = DAY_PREFIXES[prefix + i];
  const inDay = second - day * 86_400;
  const hour = Math.floor(inDay / 3600);
  const minute = Math.floor((inDay - hour * 3600) / 60);
  pos = writeTwoDigits(buf, pos, hour);
  buf[pos++] = 58;
  pos = writeTwoDigits(buf, pos, minute);
  buf[pos++] = 58;
  pos = writeTwoDigits(buf, pos, inDay - hour * 3600 - minute * 60);
  buf[pos++] = 10;
  return pos;
}

const ACTION_BYTES = ACTIONS.map((a) => Buffer.from(a, 'latin1'));
/** "2023-MM-DD " for each day of 2023, 11 bytes each. */
const DAY_PREFIXES = Buffer.from(
  Array.from(
    { length: 365 },
    (_, d) => new Date(Date.UTC(2023, 0, 1 + d)).toISOString().slice(0, 10) + ' ',
  ).join(''),
  'latin1',
);

function writeUint(buf: Buffer, pos: number, n: number): number {
  let digits = 1;
  for (let limit = 10; n >= limit && digits < 16; limit *= 10) digits++;
  const end = pos + digits;
  for (let p = end - 1; p > pos; p--) {
    const q = Math.floor(n / 10);
    buf[p] = 48 + n - q * 10;
    n = q;
  }
  buf[pos] = 48 + n;
  return end;
}

function writeTwoDigits(buf: Buffer, pos: number, n: number): number {
  const tens = Math.floor(n / 10);
  buf[pos] = 48 + tens;
  buf[pos + 1] = 48 + n - tens * 10;
  return pos + 2;
}

function formatTime(second: number): string {
  return new Date(Date.UTC(2023, 0, 1) + second * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/** A valid row that exercises trimming, quoting and empty-line skipping. */
function applyQuirk(fields: string[], rng: Sfc32): void {
  switch (rng.next() % 3) {
    case 0:
      fields[0] = '\n' + fields[0]; // an empty line before the row
      break;
    case 1:
      fields[1] = ` ${fields[1]} `;
      fields[4] = `  ${fields[4]} `;
      break;
    default:
      fields[3] = `"${fields[3]}"`;
  }
}

/** Turns a valid row into one whose first reject reason is picked uniformly. */
function applyBadness(fields: string[], rng: Sfc32, earlierValidId: number): void {
  const pick = <T>(list: readonly T[]): T => list[rng.next() % list.length];
  let reason = rng.next() % 6;
  if (reason === 5 && earlierValidId < 0) reason = 3; // nothing valid to duplicate yet
  switch (reason) {
    case 0: // malformed_row: too few or too many fields
      if (rng.next() % 2 === 0) fields.splice(pick([1, 2, 4]), 1);
      // A blank extra field is ' ', not '': DuckDB (the bench peer) silently drops trailing empty fields.
      else fields.push(pick(['extra', ' ', 'view']));
      break;
    case 1: // missing_field
      fields[rng.next() % 5] = pick(MISSING_VALUES);
      break;
    case 2: // bad_integer
      fields[rng.next() % 3] = pick(BAD_INTEGERS);
      break;
    case 3: // zero_id
      fields[rng.next() % 2] = '0';
      break;
    case 4: // bad_timestamp
      fields[4] = pick(BAD_TIMESTAMPS);
      break;
    default: // duplicate_id: an earlier valid row's id, every other field valid
      fields[0] = String(earlierValidId);
  }
}
