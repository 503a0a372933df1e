// The coordinator layer's public face. The server builds a Coordinator here and codes against
// types.ts only; which implementation runs (single node, or cluster) is the composition root's
// choice.
export * from './types';
export { createLocalCoordinator } from './local_coordinator';
export type { LocalCoordinator, LocalCoordinatorOptions } from './local_coordinator';
export { toGetResult } from './get_result';
export { loadOrCreateNodeId } from './identity_files';
