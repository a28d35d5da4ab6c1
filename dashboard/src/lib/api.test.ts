import { afterEach, describe, expect, test, vi } from 'vitest';
import { ApiError, sendJson, WRITE_DENIED } from './api';

function answering(status: number, body: unknown) {
  const f = vi.fn(async () => new Response(JSON.stringify(body), { status }));
  vi.stubGlobal('fetch', f);
  return f;
}

afterEach(() => vi.unstubAllGlobals());

describe('sendJson', () => {
  test('posts JSON with the cookie and returns the answer', async () => {
    const f = answering(200, { alert_id: 'a1', by: 'alice', at_ms: 5, comment: '' });
    await expect(sendJson('POST', '/alerts/a1/ack', { by: 'alice' })).resolves.toEqual({ alert_id: 'a1', by: 'alice', at_ms: 5, comment: '' });
    const [path, init] = f.mock.calls[0] as unknown as [string, RequestInit];
    expect(path).toBe('/alerts/a1/ack');
    expect(init).toMatchObject({ method: 'POST', credentials: 'same-origin', body: '{"by":"alice"}' });
  });

  test.each([401, 403])('a %i says an admin token is needed', async (status) => {
    answering(status, { status, error: 'unauthorized', message: 'no token' });
    await expect(sendJson('POST', '/silences', {})).rejects.toEqual(new ApiError(WRITE_DENIED, status));
  });

  test('a 400 carries the server\'s message naming the field', async () => {
    answering(400, { status: 400, error: 'bad_request', message: '`by`: empty', field: 'by' });
    await expect(sendJson('POST', '/alerts/a1/ack', { by: '' })).rejects.toThrow('/alerts/a1/ack: `by`: empty');
  });
});
