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
