// Same-origin REST client. Errors carry the API's message (docs/API.md).
export class ApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { headers: { Accept: 'application/json' }, signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(`${path}: server unreachable`, 0);
  }
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(`${path}: not JSON (HTTP ${res.status})`, res.status);
  }
  if (!res.ok && !(res.status === 503 && path.startsWith('/health'))) {
    const msg = (body as { message?: string } | null)?.message ?? `HTTP ${res.status}`;
    throw new ApiError(`${path}: ${msg}`, res.status);
  }
  return body as T;
}

export const isAbort = (e: unknown): boolean => (e as Error | null)?.name === 'AbortError';

/**
 * A write (`POST`, `DELETE`) with a JSON body, same-origin with the
 * dashboard's cookie; its JSON answer, or an `ApiError` with the server's
 * message (401 when the dashboard has no admin token).
 */
export async function sendJson<T>(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(`${path}: server unreachable`, 0);
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(`${path}: not JSON (HTTP ${res.status})`, res.status);
  }
  if (!res.ok) {
    if (res.status === 401) {
      throw new ApiError('Acknowledging and silencing need an admin token: open this dashboard once as /?token=<admin token>', 401);
    }
    const msg = (parsed as { message?: string } | null)?.message ?? `HTTP ${res.status}`;
    throw new ApiError(msg, res.status);
  }
  return parsed as T;
}
