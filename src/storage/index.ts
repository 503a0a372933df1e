// The storage engine's public surface: open an engine, the contract types, and the key→token
// function the rest of the system shares (ring placement and scans must agree on it).
export { openStorage } from './db';
export { keyToken } from './sort-key';
export type { PeekOptions, RecoveryReport, ScanOptions, StorageEngine, StorageEntry, StorageOptions, StorageStats, SyncMode } from './types';
