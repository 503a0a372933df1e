// The mapping between ringkv's TypeScript names and the stable wire codes of client.fbs. The
// numbers themselves live in the schema (and its generated enums); this file only translates, so
// a code is never written twice.
import type { ConsistencyLevel } from '../coordinator/types';
import { Consistency } from './generated/client/ringkv/client/consistency';
import { Op } from './generated/client/ringkv/client/op';
import { Status } from './generated/client/ringkv/client/status';
import { ErrorCode as WireErrorCode } from './generated/client/ringkv/client/error-code';

export { Consistency, Op, Status, WireErrorCode };

export type OpName = 'get' | 'put' | 'delete';
export type StatusName = 'ok' | 'not_found' | 'error';

const opNames: Record<number, OpName> = { [Op.Get]: 'get', [Op.Put]: 'put', [Op.Delete]: 'delete' };
const opCodes: Record<OpName, Op> = { get: Op.Get, put: Op.Put, delete: Op.Delete };

export function opFromWire(code: number): OpName | undefined {
  return opNames[code];
}
export function opToWire(op: OpName): Op {
  return opCodes[op];
}

const levelNames: Record<number, ConsistencyLevel | undefined> = {
  [Consistency.Default]: undefined,
  [Consistency.One]: 'ONE',
  [Consistency.Quorum]: 'QUORUM',
  [Consistency.All]: 'ALL',
  [Consistency.LocalOne]: 'LOCAL_ONE',
  [Consistency.LocalQuorum]: 'LOCAL_QUORUM',
  [Consistency.EachQuorum]: 'EACH_QUORUM',
};
const levelCodes: Record<ConsistencyLevel, Consistency> = {
  ONE: Consistency.One,
  QUORUM: Consistency.Quorum,
  ALL: Consistency.All,
  LOCAL_ONE: Consistency.LocalOne,
  LOCAL_QUORUM: Consistency.LocalQuorum,
  EACH_QUORUM: Consistency.EachQuorum,
};

/** `undefined` for Default (the node applies QUORUM); `null` for a code the schema does not define. */
export function consistencyFromWire(code: number): ConsistencyLevel | undefined | null {
  return code in levelNames ? levelNames[code] : null;
}
export function consistencyToWire(level: ConsistencyLevel | undefined): Consistency {
  return level === undefined ? Consistency.Default : levelCodes[level];
}

const statusNames: Record<number, StatusName> = { [Status.Ok]: 'ok', [Status.NotFound]: 'not_found', [Status.Error]: 'error' };
const statusCodes: Record<StatusName, Status> = { ok: Status.Ok, not_found: Status.NotFound, error: Status.Error };

export function statusFromWire(code: number): StatusName | undefined {
  return statusNames[code];
}
export function statusToWire(status: StatusName): Status {
  return statusCodes[status];
}

/** The wire error code's name as the schema spells it (for messages and logs). */
export function wireErrorName(code: WireErrorCode): string {
  return WireErrorCode[code] ?? `Unknown(${code})`;
}
