// Anti-entropy (design.md §7.4): Merkle trees over token ranges, and the validate → diff → sync
// pipeline that makes two replicas of a range hold the same data. This folder is pure logic over
// the RangeReplica interface; the coordinator picks the ranges and peers and wires the network.
export { MerkleTree, depthFor, entryDigest, leafOf, leafRange, vnodeRanges, type TokenRange, type TreeEntry } from './merkle_tree';
export {
  applyEach,
  joinLeaves,
  localRangeReplica,
  localScanPage,
  pullRange,
  scanPages,
  syncRange,
  type RangeCursor,
  type RangeEntry,
  type RangePage,
  type RangeReplica,
  type RangeStore,
  type SyncOptions,
  type SyncResult,
} from './range_sync';
