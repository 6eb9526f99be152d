import { beforeAll, describe, expect, it } from 'vitest';
import { useTestHub, type TestHub } from '../support/test-env.js';

describe('operations endpoints', () => {
  let hub: TestHub;

  const fixture = useTestHub({ role: 'hub', env: { CORS_ORIGINS: 'https://app.example, https://admin.example' } });
  beforeAll(() => {
    hub = fixture.hub;
  });

  it('GET /healthz answers 200 while the process is alive', async () => {
    const response = await fetch(`${hub.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok' });
  });

  it('GET /readyz reports each dependency', async () => {
    const response = await fetch(`${hub.url}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: 'ok',
      failing: [],
      checks: { postgres: { status: 'ok' }, redis: { status: 'ok' } },
    });
  });

  it('GET /metrics exposes Node, HTTP, socket and queue metrics', async () => {
    await fetch(`${hub.url}/healthz`);
    await hub.context.queues.get('maintenance').add('db.backup', { reason: 'manual' }, { delay: 60_000 });
    const response = await fetch(`${hub.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} \d+/);
    expect(text).toContain('socketio_connected_sockets 0');
    expect(text).toContain('bullmq_queue_jobs{queue="maintenance",state="delayed"} 1');
    expect(text).toMatch(/^pulse_outbox_backlog\{stage="unrelayed"\} 0$/m);
    expect(text).toMatch(/^pulse_pending_pushes 0$/m);
    expect(text).toMatch(/^pulse_outbox_requeued_total 0$/m);
  });

  it('echoes a sane X-Request-Id and replaces an unsafe one', async () => {
    const kept = await fetch(`${hub.url}/healthz`, { headers: { 'X-Request-Id': 'abc-123' } });
    expect(kept.headers.get('x-request-id')).toBe('abc-123');
    const replaced = await fetch(`${hub.url}/healthz`, { headers: { 'X-Request-Id': 'bad id <script>' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sends helmet security headers, and CORS headers only to allowed origins', async () => {
    const allowed = await fetch(`${hub.url}/healthz`, { headers: { origin: 'https://admin.example' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://admin.example');
    expect(allowed.headers.get('x-content-type-options')).toBe('nosniff');
    expect(allowed.headers.get('content-security-policy')).toContain("default-src 'self'");
    const preflight = await fetch(`${hub.url}/api/v1/events`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const foreign = await fetch(`${hub.url}/healthz`, { headers: { origin: 'https://evil.example' } });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers unknown routes with a problem+json 404', async () => {
    const response = await fetch(`${hub.url}/nope`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(await response.json()).toMatchObject({ status: 404, code: 'not_found' });
  });
});
