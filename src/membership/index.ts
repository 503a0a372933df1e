// Membership: gossip, the failure detector, and the ring derived from the member table.
export { Membership } from './membership';
export type { GossipAnswer, GossipNetwork, MembershipOptions, MembershipStats } from './membership';
export type { ClockOffset } from './clock_offsets';
export { MembershipTable, validateMemberInfo } from './table';
export type { TombstoneGraceHolder } from './table';
export { classify } from './failure_detector';
export type { FailureDetectorOptions } from './failure_detector';
export type { MemberInfo, MemberLoad, MemberStatus, PeerAddress, RebuildKind, StatusChange, StorageTrouble } from './types';
export { memberStatuses } from './types';
export { parseNodeAddress, type NodeAddress } from './address';
