// The public surface of `ringkv/client`.
export { RingkvClient, type ClientOptions } from './client';
export type {
  BatchEntry,
  BatchOp,
  BatchOpResult,
  ClientStats,
  ConsistencyLevel,
  DeleteOptions,
  DeleteResult,
  GetResult,
  KeyInput,
  OpOptions,
  PutOptions,
  PutResult,
  Sibling,
  ValueInput,
} from './types';
export { RingkvError, ErrorCode, isRingkvError } from '../errors';
