import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const base = { NODE_ENV: 'test' };

/** The message a refused setting gives at start (main.ts prints it and exits with 2). */
function refusal(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(env)}`);
}

describe('settings refused at start with a message naming them', () => {
  it('SHUTDOWN_DRAIN_MS: 1 s by default (a quarter of a shorter stop), 0 allowed, less than SHUTDOWN_TIMEOUT_MS', () => {
    expect(loadConfig(base).shutdownDrainMs).toBe(1_000);
    expect(loadConfig({ ...base, SHUTDOWN_DRAIN_MS: '0' }).shutdownDrainMs).toBe(0);
    expect(loadConfig({ ...base, SHUTDOWN_TIMEOUT_MS: '1000' }).shutdownDrainMs).toBe(250);
    expect(refusal({ SHUTDOWN_DRAIN_MS: '5000', SHUTDOWN_TIMEOUT_MS: '5000' })).toMatch(
      /SHUTDOWN_DRAIN_MS.*less than SHUTDOWN_TIMEOUT_MS \(5000\), got 5000/,
    );
    expect(refusal({ SHUTDOWN_DRAIN_MS: '-1' })).toMatch(/SHUTDOWN_DRAIN_MS/);
    // A worker does not drain: the setting shared with an API does not stop it.
    const worker = { APP_ROLE: 'worker', SHUTDOWN_DRAIN_MS: '5000', SHUTDOWN_TIMEOUT_MS: '5000' };
    expect(loadConfig({ ...base, ...worker }).shutdownDrainMs).toBe(5000);
  });

  it('OPS_API_TOKEN: 16 to 512 printable ASCII characters, as a bearer header carries it', () => {
    expect(loadConfig({ ...base, OPS_API_TOKEN: ' ops-token-0123456789-~!\n' }).opsApiToken).toBe(
      'ops-token-0123456789-~!',
    );
    expect(loadConfig({ ...base, OPS_API_TOKEN: 'x'.repeat(512) }).opsApiToken).toHaveLength(512);
    expect(refusal({ OPS_API_TOKEN: 'short' })).toMatch(/OPS_API_TOKEN.*at least 16/);
    for (const token of ['x'.repeat(513), 'ops token with spaces 123', 'jeton-d-exploitation-é-0123'])
      expect(refusal({ OPS_API_TOKEN: token })).toMatch(/OPS_API_TOKEN.*printable ASCII/);
  });

  it('TRUST_PROXY: true, false, or addresses, ranges and named ranges', () => {
    expect(loadConfig({ ...base, TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ ...base, TRUST_PROXY: 'no' }).trustProxy).toBe(false);
    expect(
      loadConfig({ ...base, TRUST_PROXY: '10.0.0.0/8, loopback,::1, 2001:db8::/32' }).trustProxy,
    ).toEqual(['10.0.0.0/8', 'loopback', '::1', '2001:db8::/32']);
    expect(
      loadConfig({ ...base, TRUST_PROXY: '10.0.0.0/255.0.0.0,10.1.2.3/255.255.255.255' }).trustProxy,
    ).toEqual(['10.0.0.0/255.0.0.0', '10.1.2.3/255.255.255.255']);
    for (const wrong of [
      'maybe',
      '10.0.0.0/33',
      '10.0.0/8',
      '192.168.1.1/24/1',
      'proxy.example.fr',
      '::1/255.0.0.0',
      '10.0.0.0/255.0.255.0',
      '10.0.0.0/0.0.0.0',
      '10.0.0.0/0',
    ])
      expect(refusal({ TRUST_PROXY: `127.0.0.1,${wrong}` })).toMatch(/TRUST_PROXY.*got "/);
  });

  it('TRUST_PROXY: what the check accepts, fastify (proxy-addr) accepts too', async () => {
    const accepted = loadConfig({
      ...base,
      TRUST_PROXY:
        '10.0.0.0/8,10.0.0.0/255.0.0.0,10.1.2.3/255.255.255.255,10.0.0.0/1,loopback,linklocal,uniquelocal,::1,2001:db8::/32,::ffff:10.0.0.1',
    }).trustProxy;
    expect(accepted).toHaveLength(10);
    for (const entry of accepted as string[]) {
      const app = Fastify({ trustProxy: [entry] });
      await expect(app.ready(), entry).resolves.toBeDefined();
      await app.close();
    }
  });

  it('CORS_ORIGINS: origins as browsers send them, or *', () => {
    expect(
      loadConfig({ ...base, CORS_ORIGINS: 'https://www.service-public.gouv.fr, http://localhost:8080' })
        .corsOrigins,
    ).toEqual(['https://www.service-public.gouv.fr', 'http://localhost:8080']);
    expect(loadConfig({ ...base, CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
    expect(refusal({ CORS_ORIGINS: ' , ' })).toMatch(/CORS_ORIGINS.*at least one/);
    for (const wrong of [
      'notaurl',
      'https://www.service-public.gouv.fr/',
      'https://a.fr/page',
      'ftp://a.fr',
      'www.a.fr',
    ])
      expect(refusal({ CORS_ORIGINS: wrong })).toMatch(/CORS_ORIGINS.*got "/);
  });
});
