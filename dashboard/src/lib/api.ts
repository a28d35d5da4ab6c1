// Same-origin REST client. Errors carry the API's message (docs/API.md).
export class ApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

/** What a 401 or 403 to a write means for the operator. */
export const WRITE_DENIED = 'Acknowledging and silencing need an admin token: open this dashboard once as /?token=<admin token>';

/** The JSON body of `res`, or an `ApiError` with the server's message (`{status, error, message, field}`). */
async function answer<T>(path: string, res: Response, accept: (status: number) => boolean): Promise<T> {
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(`${path}: not JSON (HTTP ${res.status})`, res.status);
  }
  if (!res.ok && !accept(res.status)) {
    const msg = (body as { message?: string } | null)?.message ?? `HTTP ${res.status}`;
    throw new ApiError(`${path}: ${msg}`, res.status);
  }
  return body as T;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { headers: { Accept: 'application/json' }, signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(`${path}: server unreachable`, 0);
  }
  return answer<T>(path, res, (status) => status === 503 && path.startsWith('/health'));
}

export const isAbort = (e: unknown): boolean => (e as Error | null)?.name === 'AbortError';

/**
 * A write (`POST`, `DELETE`) with a JSON body, same-origin with the
 * dashboard's `streammon_token` cookie; its JSON answer, or an `ApiError`
 * with the server's message (`WRITE_DENIED` on 401 and 403).
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
  if (res.status === 401 || res.status === 403) throw new ApiError(WRITE_DENIED, res.status);
  return answer<T>(path, res, () => false);
}
