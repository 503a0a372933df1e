// The YCSB core workloads A-F (Cooper et al., "Benchmarking Cloud Serving Systems with YCSB",
// SoCC 2010, and YCSB's workloads/workload[a-f] files): their operation mixes and request
// distributions, and the per-run state that turns them into a stream of operations over
// "user<hash>" keys with 1 KiB values. Workload E is 95% short range scans; ringkv partitions by
// hash and range queries are out of scope (design.md §2), so E is listed but never run.
import { assert } from '../../src/errors';
import { fnvHash64 } from './fnv';
import { Prng } from './prng';
import {
  InsertCounter,
  type LongGenerator,
  ScrambledZipfianGenerator,
  SkewedLatestGenerator,
  UniformGenerator,
} from './zipfian';

export type OpKind = 'read' | 'update' | 'insert' | 'rmw';
export const opKinds: readonly OpKind[] = ['read', 'update', 'insert', 'rmw'];
export type RequestDistribution = 'zipfian' | 'latest' | 'uniform';
export type WorkloadName = 'A' | 'B' | 'C' | 'D' | 'E' | 'F';
export const workloadNames: readonly WorkloadName[] = ['A', 'B', 'C', 'D', 'E', 'F'];

export interface WorkloadSpec {
  name: WorkloadName;
  description: string;
  read: number;
  update: number;
  insert: number;
  scan: number;
  rmw: number;
  distribution: RequestDistribution;
}

export const ycsbWorkloads: Readonly<Record<WorkloadName, WorkloadSpec>> = {
  A: { name: 'A', description: 'update heavy', read: 0.5, update: 0.5, insert: 0, scan: 0, rmw: 0, distribution: 'zipfian' },
  B: { name: 'B', description: 'read mostly', read: 0.95, update: 0.05, insert: 0, scan: 0, rmw: 0, distribution: 'zipfian' },
  C: { name: 'C', description: 'read only', read: 1, update: 0, insert: 0, scan: 0, rmw: 0, distribution: 'zipfian' },
  D: { name: 'D', description: 'read latest', read: 0.95, update: 0, insert: 0.05, scan: 0, rmw: 0, distribution: 'latest' },
  E: { name: 'E', description: 'short ranges', read: 0, update: 0, insert: 0.05, scan: 0.95, rmw: 0, distribution: 'zipfian' },
  F: { name: 'F', description: 'read-modify-write', read: 0.5, update: 0, insert: 0, scan: 0, rmw: 0.5, distribution: 'zipfian' },
};

/** Why a workload cannot run here, or null when it can. */
export function workloadSkipReason(spec: WorkloadSpec): string | null {
  if (spec.scan > 0) return 'scans skipped: range queries are out of scope (hash partitioning, design.md §2)';
  return null;
}

export const valueBytesDefault = 1024;
/** Values are drawn from a pool of random buffers: fresh random bytes per op would cost more than the op. */
const valuePoolSize = 64;

export interface Operation {
  kind: OpKind;
  key: string;
  /** Present for update, insert and rmw. */
  value?: Uint8Array;
  /** For inserts: the record number to acknowledge once the insert succeeded. */
  insertedRecord?: number;
}

export function keyName(record: number): string {
  // YCSB's default (hashed inserts): the record number is scattered so inserts do not go in order.
  return `user${fnvHash64(record).toString()}`;
}

/** One run's operation stream: deterministic for a given seed, spec and record count. */
export class WorkloadState {
  readonly spec: WorkloadSpec;
  readonly recordCount: number;
  private readonly prng: Prng;
  private readonly keyChooser: LongGenerator;
  private readonly inserts: InsertCounter;
  private readonly values: Uint8Array[];
  private readonly cumulative: [number, OpKind][];

  constructor(spec: WorkloadSpec, recordCount: number, opCountHint: number, seed: number, valueBytes = valueBytesDefault) {
    assert(workloadSkipReason(spec) === null, `workload ${spec.name} cannot run: ${workloadSkipReason(spec)}`);
    assert(Number.isSafeInteger(recordCount) && recordCount >= 1, 'recordCount must be a positive integer');
    const total = spec.read + spec.update + spec.insert + spec.scan + spec.rmw;
    assert(Math.abs(total - 1) < 1e-9, `workload ${spec.name} proportions must sum to 1`);
    this.spec = spec;
    this.recordCount = recordCount;
    this.prng = new Prng(seed);
    this.inserts = new InsertCounter(recordCount);
    const valuePrng = new Prng((seed ^ 0x5bd1e995) >>> 0);
    this.values = Array.from({ length: valuePoolSize }, () => {
      const v = new Uint8Array(valueBytes);
      for (let i = 0; i < valueBytes; i++) v[i] = valuePrng.nextUint32() & 0xff;
      return v;
    });
    this.cumulative = [];
    let acc = 0;
    for (const kind of opKinds) {
      const p = kind === 'rmw' ? spec.rmw : spec[kind];
      if (p > 0) this.cumulative.push([(acc += p), kind]);
    }
    // Zipfian spans the keys inserts will add too (YCSB sizes it for 2x the expected inserts), so
    // the hot set does not shift as the run inserts; draws above the acknowledged range are redrawn.
    const expectedNewKeys = Math.ceil(opCountHint * spec.insert * 2);
    switch (spec.distribution) {
      case 'zipfian':
        this.keyChooser = new ScrambledZipfianGenerator(this.prng, 0, recordCount + expectedNewKeys - 1);
        break;
      case 'uniform':
        this.keyChooser = new UniformGenerator(this.prng, 0, recordCount - 1);
        break;
      case 'latest':
        this.keyChooser = new SkewedLatestGenerator(this.prng, this.inserts);
        break;
    }
  }

  /** The value written for record i during the load phase. */
  loadValue(record: number): Uint8Array {
    return this.values[record % this.values.length]!;
  }

  nextOperation(): Operation {
    const u = this.prng.nextDouble();
    let kind: OpKind = this.cumulative[this.cumulative.length - 1]![1];
    for (const [edge, k] of this.cumulative) {
      if (u < edge) {
        kind = k;
        break;
      }
    }
    if (kind === 'insert') {
      const record = this.inserts.next();
      return { kind, key: keyName(record), value: this.randomValue(), insertedRecord: record };
    }
    const key = keyName(this.nextExistingRecord());
    return kind === 'read' ? { kind, key } : { kind, key, value: this.randomValue() };
  }

  /** Tell the stream an insert finished, so reads may pick that record. */
  acknowledgeInsert(record: number): void {
    this.inserts.acknowledge(record);
  }

  private nextExistingRecord(): number {
    const last = this.inserts.lastValue();
    // Bounded redraw: the zipfian range is at most 2x+ the acknowledged range, so this ends fast.
    for (let attempt = 0; attempt < 1000; attempt++) {
      const r = this.keyChooser.next();
      if (r <= last) return r;
    }
    return this.prng.nextIntInclusive(0, last);
  }

  private randomValue(): Uint8Array {
    return this.values[this.prng.nextUint32() % this.values.length]!;
  }
}
