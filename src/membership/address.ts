// A node's address as operators write it, for --seeds and POST /api/v1/cluster/nodes alike:
// host:port (its HTTP port; the peer port is port + peerPortOffset) or host:port:peerport.
import { peerPortOffset } from '../constants';

export interface NodeAddress {
  host: string;
  httpPort: number;
  peerPort: number;
}

/** The address, or why `text` is not one. */
export function parseNodeAddress(text: string): NodeAddress | string {
  const m = /^([^:\s]{1,253}):([0-9]{1,5})(?::([0-9]{1,5}))?$/.exec(text);
  if (m === null) return `"${text}" is not host:port or host:port:peerport`;
  const httpPort = Number(m[2]);
  const peerPort = m[3] === undefined ? httpPort + peerPortOffset : Number(m[3]);
  if (!(httpPort >= 1 && httpPort <= 65535) || !(peerPort >= 1)) return `the ports of "${text}" must be 1..65535`;
  if (peerPort > 65535) return `"${text}" implies peer port ${peerPort}, over 65535; write host:port:peerport`;
  return { host: m[1]!, httpPort, peerPort };
}
