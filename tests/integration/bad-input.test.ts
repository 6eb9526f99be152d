import http from 'node:http';
import { brotliCompressSync, gzipSync, zstdCompressSync } from 'node:zlib';
import express from 'express';
import { describe, expect, it } from 'vitest';
import type { Problem } from '../../src/contracts/api/problem.js';
import { INPUT_MESSAGES, MAX_INPUT_DEPTH } from '../../src/contracts/api/input-safety.js';
import { answerClientError, errorHandler } from '../../src/server/middleware/problems.js';
import { apiRequest } from '../support/api-client.js';
import { parseRawAnswer, rawRequest, rawSocket, type RawResponse } from '../support/raw-http.js';
import { silentLogger } from '../support/silent-logger.js';
import { useTenantHub } from '../support/tenant-hub.js';

/** Asserts a problem+json answer with this status (its body's `status` equal to it) and returns the problem. */
function expectProblem(response: RawResponse, status: number): Problem {
  expect(response.status, response.text).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = JSON.parse(response.text) as Problem;
  expect(problem.status).toBe(status);
  expect(typeof problem.code).toBe('string');
  return problem;
}

/** `{"a":{"a":...1...}}`, built as text: JSON.stringify would recurse. */
const deepJson = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('bad input gets a clear 4xx problem, never a 500', () => {
  const fixture = useTenantHub('bad-input', { role: 'hub' });

  const send = (method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) =>
    rawRequest(fixture.hub.url, {
      method,
      path,
      body,
      headers: { authorization: `Bearer ${fixture.tenant.apiKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    });
  const eventCount = async () => (await fixture.sql`select count(*)::int as n from events`)[0]?.n as number;

  describe('a path parameter that is not valid percent-encoding', () => {
    it('GET /api/v1/campaigns/%ZZ without credentials is a 400 problem naming the segment', async () => {
      const problem = expectProblem(await rawRequest(fixture.hub.url, { path: '/api/v1/campaigns/%ZZ' }), 400);
      expect(problem.code).toBe('invalid_path');
      expect(problem.detail).toContain('%ZZ');
    });

    it('percent-encoded invalid UTF-8 (an encoded lone surrogate) is a 400 on any route', async () => {
      expectProblem(await send('GET', '/api/v1/users/%ED%A0%80/state'), 400);
      expectProblem(await send('POST', '/api/v1/streams/%C3/messages', '{"data":{}}'), 400);
    });

    it("the error handler keeps the router's own 400 for a param that does not decode (the root fix, without the guard in front)", async () => {
      const app = express();
      app.get('/things/:id', (_req, res) => void res.send('unreachable'));
      app.use(errorHandler(silentLogger()));
      const server = app.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      try {
        const { port } = server.address() as { port: number };
        const problem = expectProblem(await rawRequest(`http://127.0.0.1:${port}`, { path: '/things/%ZZ' }), 400);
        expect(problem.code).toBe('bad_request');
      } finally {
        server.close();
      }
    });
  });

  describe('a body whose Content-Encoding does not decode', () => {
    for (const encoding of ['gzip', 'deflate', 'br', 'zstd']) {
      it(`${encoding}: garbage is a 400 problem, before any credentials are checked`, async () => {
        const response = await rawRequest(fixture.hub.url, {
          method: 'POST',
          path: '/api/v1/events',
          body: Buffer.from('this is not compressed at all'),
          headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        });
        expect(expectProblem(response, 400).code).toBe('malformed_content_encoding');
      });
    }

    it('a body that does decode is accepted under each encoding (the encodings themselves still work)', async () => {
      const body = (key: string) => Buffer.from(JSON.stringify({ type: 'zip.sent', userId: 'zipper', idempotencyKey: key }));
      const encoded: [string, Buffer][] = [
        ['gzip', gzipSync(body('gz'))],
        ['br', brotliCompressSync(body('br'))],
        ['zstd', zstdCompressSync(body('zstd'))],
      ];
      for (const [encoding, bytes] of encoded) {
        const response = await send('POST', '/api/v1/events', bytes, { 'content-encoding': encoding });
        expect(response.status, `${encoding}: ${response.text}`).toBe(202);
      }
    });

    it('an unknown encoding is a 415 problem', async () => {
      expect(expectProblem(await send('POST', '/api/v1/events', '{}', { 'content-encoding': 'rot13' }), 415).code).toBe('unsupported_encoding');
    });
  });

  describe('lone UTF-16 surrogates and NUL', () => {
    // JSON.stringify writes a lone surrogate as the escape `\ud800`: exactly what a client sends.
    const event = (fields: Record<string, unknown>) => JSON.stringify({ type: 'odd.key', userId: 'surrogate-user', ...fields });

    it('a \\ud800 idempotency key is a 400 naming the field, on the first try and on every retry, and nothing is stored', async () => {
      const before = await eventCount();
      for (let attempt = 0; attempt < 3; attempt++) {
        const problem = expectProblem(await send('POST', '/api/v1/events', event({ idempotencyKey: '\ud800' })), 400);
        expect(problem.errors).toEqual([{ path: 'idempotencyKey', message: INPUT_MESSAGES.illFormed }]);
      }
      expect(await eventCount()).toBe(before);
    });

    it('\\ud800 and \\udfff are not confused with each other or with U+FFFD, which a client may really mean', async () => {
      expectProblem(await send('POST', '/api/v1/events', event({ idempotencyKey: '\ud800' })), 400);
      expectProblem(await send('POST', '/api/v1/events', event({ idempotencyKey: '\udfff' })), 400);
      const real = await send('POST', '/api/v1/events', event({ idempotencyKey: '\ufffd' }));
      expect(real.status).toBe(202);
      expect((JSON.parse(real.text) as { accepted: { duplicate: boolean }[] }).accepted[0]?.duplicate).toBe(false);
      // Still refused, not answered as a duplicate of the stored U+FFFD key.
      expectProblem(await send('POST', '/api/v1/events', event({ idempotencyKey: '\ud800' })), 400);
      const stored = await fixture.sql`select idempotency_key from events where idempotency_key like ${'%\ufffd%'}`;
      expect(stored.map((row) => row.idempotency_key as string)).toEqual(['\ufffd']);
    });

    it('a whole surrogate pair (an emoji) is one well-formed character and is accepted', async () => {
      expect((await send('POST', '/api/v1/events', event({ idempotencyKey: 'run-😀' }))).status).toBe(202);
    });

    it('in a userId, in data (value or key: the field is named), and deep in a batch: a 400 naming the path', async () => {
      const cases: [string, string][] = [
        [JSON.stringify({ type: 'a', userId: 'x\udc00' }), 'userId'],
        [event({ data: { note: 'half \ud83d' } }), 'data'],
        [event({ data: { nested: { '\ud800': 1 } } }), 'data'],
        [JSON.stringify({ events: [{ type: 'a', userId: 'u' }, { type: 'a', userId: 'u' }, { type: 'a', userId: 'u' }, { type: 'a', userId: 'u', idempotencyKey: '\udfff' }] }), 'events.3.idempotencyKey'],
      ];
      for (const [body, path] of cases) {
        const problem = expectProblem(await send('POST', '/api/v1/events', body), 400);
        expect(problem.errors?.[0]?.path).toBe(path);
      }
    });

    it('in a streak repair reason: a 400 naming `reason`', async () => {
      const problem = expectProblem(await send('POST', '/api/v1/users/someone/streaks/daily/repair', JSON.stringify({ days: ['2026-11-20'], reason: 'outage \ud800' })), 400);
      expect(problem.errors).toEqual([{ path: 'reason', message: INPUT_MESSAGES.illFormed }]);
    });

    it('NUL in a campaign name is a 400 naming `name`, and no campaign is created', async () => {
      const campaign = { key: 'nul-test', name: 'Winter\u0000', startsAt: '2026-12-01T00:00:00Z', endsAt: '2027-01-01T00:00:00Z', pointRules: { '*': 1 } };
      const problem = expectProblem(await send('POST', '/api/v1/admin/campaigns', JSON.stringify(campaign)), 400);
      expect(problem.errors).toEqual([{ path: 'name', message: INPUT_MESSAGES.nul }]);
      expectProblem(await send('GET', '/api/v1/campaigns/nul-test'), 404);
    });

    it('NUL in a path parameter or a query value is a 400', async () => {
      expect(expectProblem(await send('GET', '/api/v1/users/a%00b/state'), 400).code).toBe('invalid_path');
      expect(expectProblem(await send('GET', '/api/v1/events?userId=a%00b'), 400).errors).toEqual([{ path: 'userId', message: INPUT_MESSAGES.nul }]);
    });
  });

  describe('deep nesting', () => {
    it('data nested 4,500 levels deep is a 400 (not a 500, not a crash), and the hub keeps serving', async () => {
      const body = `{"type":"deep.event","userId":"u","data":${deepJson(4_500)}}`;
      const problem = expectProblem(await send('POST', '/api/v1/events', body), 400);
      expect(problem.errors?.[0]?.message).toBe(INPUT_MESSAGES.tooDeep(MAX_INPUT_DEPTH));
      expect(problem.errors?.[0]?.path.startsWith('data.a.a')).toBe(true);
      expect((await apiRequest(fixture.hub.url, 'GET', '/healthz')).status).toBe(200);
    });

    it(`a body is allowed ${MAX_INPUT_DEPTH} levels and refused at ${MAX_INPUT_DEPTH + 1}, on any JSON route`, async () => {
      // The body is level 1, data level 2: data may hold 30 more levels.
      const ok = await send('POST', '/api/v1/events', `{"type":"deep.event","userId":"u","data":${deepJson(MAX_INPUT_DEPTH - 1)}}`);
      expect(ok.status, ok.text).toBe(202);
      expectProblem(await send('POST', '/api/v1/events', `{"type":"deep.event","userId":"u","data":${deepJson(MAX_INPUT_DEPTH)}}`), 400);
      expectProblem(await send('PUT', '/api/v1/admin/rules', deepJson(100_000)), 400);
      expectProblem(await send('POST', '/api/v1/tokens/refresh', `[${'['.repeat(50_000)}${']'.repeat(50_000)}]`), 400);
    });
  });

  describe('query strings, media types, methods, sizes, headers', () => {
    it('bad limits and cursors are 400 problems', async () => {
      for (const query of ['limit=abc', 'limit=0', 'limit=1e400', 'limit=-1', 'limit=1&limit=2', 'after=garbage', 'after=', 'type=Not%20A%20Type', 'surprise=1']) {
        expectProblem(await send('GET', `/api/v1/events?${query}`), 400);
      }
      expectProblem(await send('GET', '/api/v1/campaigns/any/leaderboard?limit=abc'), 400);
    });

    it('a body in another media type is a 415; an unknown charset a 415; malformed JSON a 400', async () => {
      expectProblem(await send('POST', '/api/v1/events', '{}', { 'content-type': 'text/plain' }), 415);
      expectProblem(await send('POST', '/api/v1/events', '{}', { 'content-type': 'application/json; charset=klingon' }), 415);
      expectProblem(await send('POST', '/api/v1/events', '{}', { 'content-type': ';;;==' }), 415);
      expect(expectProblem(await send('POST', '/api/v1/events', '{"type":'), 400).code).toBe('malformed_json');
    });

    it('over 1 MiB is a 413 problem', async () => {
      expect(expectProblem(await send('POST', '/api/v1/events', JSON.stringify({ type: 'a', data: { blob: 'x'.repeat(1_100_000) } })), 413).code).toBe('payload_too_large');
    });

    it('unknown routes and wrong methods are 404 problems', async () => {
      expectProblem(await send('GET', '/api/v1/nothing-here'), 404);
      expectProblem(await send('PATCH', '/api/v1/events', '{}'), 404);
      expectProblem(await send('DELETE', '/api/v1/events'), 404);
      expectProblem(await send('GET', '/api/v1/../../etc/passwd'), 404);
      expectProblem(await send('GET', '/api/v1/campaigns/..%2F..%2Fetc%2Fpasswd'), 400);
    });

    it('a huge header the parser still takes gets a problem (here 401); one over Node\'s 16 KiB limit a 431', async () => {
      expectProblem(await rawRequest(fixture.hub.url, { path: '/api/v1/events', headers: { authorization: `Bearer ${'x'.repeat(12_000)}` } }), 401);
      const answer = parseRawAnswer(await rawSocket(fixture.hub.url, `GET /api/v1/events HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(20_000)}\r\n\r\n`));
      expect(answer.status).toBe(431);
      expect((await apiRequest(fixture.hub.url, 'GET', '/healthz')).status).toBe(200);
    });

    it('answerClientError, as a server\'s clientError listener, answers what the parser refuses as problem+json', async () => {
      const server = http.createServer((_req, res) => res.end('ok'));
      server.on('clientError', answerClientError);
      server.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      try {
        const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
        const cases: [string, number, string][] = [
          [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(20_000)}\r\n\r\n`, 431, 'request_header_fields_too_large'],
          ['FOO / HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'bad_request'],
        ];
        for (const [bytes, status, code] of cases) {
          const answer = parseRawAnswer(await rawSocket(url, bytes, { end: true }));
          expect(answer.status).toBe(status);
          expect(answer.contentType).toBe('application/problem+json');
          expect(JSON.parse(answer.body)).toMatchObject({ status, code });
        }
      } finally {
        server.close();
      }
    });
  });
});
