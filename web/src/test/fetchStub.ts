import { vi } from 'vitest'

/** A request as the stub saw it. */
export interface SeenRequest {
  method: string
  url: string
  path: string
  headers: Record<string, string>
  credentials: RequestCredentials | undefined
  body: unknown
}

export type Handler = (req: SeenRequest) => Response | Promise<Response>

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

export function empty(status = 204): Response {
  return new Response(null, { status })
}

/** A deferred value, to hold a response back while other requests run. */
export function deferred<T>() {
  let resolve!: (v: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

/**
 * A hand-written `fetch` stub: every call is recorded in `calls` and answered by `handler`.
 * Assign it with `vi.stubGlobal('fetch', stub.fetch)` or pass `stub.fetch` to the client.
 */
export function stubFetch(handler: Handler) {
  const calls: SeenRequest[] = []
  const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    const headers: Record<string, string> = {}
    new Headers(init.headers).forEach((v, k) => (headers[k] = v))
    const req: SeenRequest = {
      method: (init.method ?? 'GET').toUpperCase(),
      url,
      path: url.split('?')[0] ?? url,
      headers,
      credentials: init.credentials,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    }
    calls.push(req)
    return handler(req)
  })
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls, mock: fetch }
}

/** Sets cookies visible to `document.cookie` (jsdom). */
export function setCookies(cookies: Record<string, string>): void {
  for (const [k, v] of Object.entries(cookies)) document.cookie = `${k}=${encodeURIComponent(v)}; path=/`
}

export function clearCookies(): void {
  for (const part of document.cookie.split(';')) {
    const name = part.split('=')[0]?.trim()
    if (name) document.cookie = `${name}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/`
  }
}
