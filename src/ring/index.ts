// The ring's public surface: tokens and the immutable Ring (pure math, no I/O).
export { keyToken, vnodeToken, nodeTokens, tokenToString, tokenFromString, tokenSpace } from './token';
export { Ring, isValidZone, ringDigestText, ringMemberOf } from './ring';
export { takeTurns } from './take_turns';
export type { RingMember } from './ring';
