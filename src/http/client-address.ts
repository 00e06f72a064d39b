import { isIP } from 'node:net';

/**
 * The client's address: the one fastify's `trustProxy` found, if it is an address. A trusted
 * `X-Forwarded-For` entry is whatever was written there (by any client with `TRUST_PROXY=true`,
 * or passed on by a proxy): `06 12 34 56 78` named the client in every log line of its request
 * and in its rate-limit key. The peer's own address (the proxy's) is taken instead.
 */
export function clientAddress(req: { ip: string; socket?: { remoteAddress?: string } }): string {
  // An IPv6 zone (`fe80::1%0612345678`) is any text to isIP, and means nothing forwarded.
  return isIP(req.ip) && !req.ip.includes('%') ? req.ip : (req.socket?.remoteAddress ?? 'unknown');
}
