/**
 * The only module that calls `fetch`.
 *
 * - Sends cookies (`credentials: 'include'`), so the SPA also works from another origin listed in
 *   the server's `FRONTEND_ORIGIN`.
 * - Copies the `csrf_access_token` cookie into `X-CSRF-TOKEN` on unsafe methods (or
 *   `__Host-csrf_access_token`: see {@link readAuthCookie}).
 * - On a 401 from a protected call it refreshes the access token once
 *   (`POST {base}/auth/refresh` with `csrf_refresh_token`) and retries the call once. Concurrent
 *   401s share one refresh. Without a `csrf_refresh_token` cookie (never logged in, or logged
 *   out) there is nothing to refresh and no refresh request is made. When that fails it throws {@link SessionExpiredError} and tells the
 *   app (see {@link setSessionExpiredHandler}) so that it can send the user to the login page.
 */
import type { ErrorBody } from './models'

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/** What went wrong, in terms the UI can map to a message. */
export type ApiErrorCode =
  | 'network' // no response at all: server down, offline, CORS
  | 'session_expired' // 401 on a protected call and the refresh did not help
  | 'unauthorized' // 401 on an unprotected call (e.g. wrong password)
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'validation' // 400 / 422
  | 'too_large'
  | 'rate_limited'
  | 'server'
  | 'unknown'

export class ApiError extends Error {
  override readonly name: string = 'ApiError'

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    /** HTTP status, 0 when there was no response. */
    readonly status: number = 0,
    /** Per-field validation messages, when the server sent them. */
    readonly fields: Record<string, string> = {},
    /** Seconds to wait before trying again (a 429's `Retry-After`), when the server said. */
    readonly retryAfter?: number,
  ) {
    super(message)
  }
}

/** Thrown when a protected call got a 401 and refreshing the session did not help. */
export class SessionExpiredError extends ApiError {
  override readonly name = 'SessionExpiredError'

  constructor(message = 'Your session has expired. Please log in again.') {
    super('session_expired', message, 401)
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError
}

const UNSAFE_METHODS: ReadonlySet<HttpMethod> = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export const ACCESS_CSRF_COOKIE = 'csrf_access_token'
export const REFRESH_CSRF_COOKIE = 'csrf_refresh_token'

/** Reads a (non-HttpOnly) cookie visible to this page: exactly `name`, not a name ending in it. */
export function readCookie(name: string, cookieString: string = globalThis.document?.cookie ?? ''): string | undefined {
  for (const part of cookieString.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim()
      try {
        return decodeURIComponent(value)
      } catch {
        return value
      }
    }
  }
  return undefined
}

/** What the server puts before every auth cookie name when run with `MEMO_COOKIE_HOST_PREFIX=on`. */
export const HOST_COOKIE_PREFIX = '__Host-'

/**
 * Reads one of the server's auth cookies (e.g. `csrf_access_token`) under either name it may
 * have: `__Host-csrf_access_token` when the server runs with `MEMO_COOKIE_HOST_PREFIX=on`, plain
 * `csrf_access_token` otherwise. So the SPA needs no setting of its own to match the server. When
 * both are present (a plain cookie left over from before the server switched) the prefixed one
 * wins: it is the one the server sets now.
 */
export function readAuthCookie(name: string, cookieString: string = globalThis.document?.cookie ?? ''): string | undefined {
  return readCookie(HOST_COOKIE_PREFIX + name, cookieString) ?? readCookie(name, cookieString)
}

export interface RequestOptions {
  method?: HttpMethod
  /** Serialized as JSON. */
  body?: unknown
  query?: Record<string, string | number | boolean | undefined>
  /**
   * A protected call: a 401 triggers one refresh and one retry. Defaults to `true`; the
   * login/register/refresh calls pass `false`.
   */
  auth?: boolean
  /**
   * Whether a failed session makes the app go to the login page (via the session-expired
   * handler). Defaults to `true`; the initial session check passes `false` because the route
   * guard decides what to do.
   */
  notifySessionExpired?: boolean
  /**
   * The body carries the user's password (change password, delete account): a 401 whose
   * message is not about the token means a wrong password. It is thrown as `unauthorized`
   * at once, without a refresh and a retry that would count a second wrong attempt.
   */
  passwordInBody?: boolean
}

/** A successful answer with its headers (for `Link`) and the URL it came from. */
export interface ApiResponse<T> {
  data: T
  headers: Headers
  /** The absolute URL that was requested, to resolve relative links against. */
  url: string
}

export interface ApiClientOptions {
  /** Defaults to `import.meta.env.VITE_API_BASE_URL ?? '/api'`. */
  baseUrl?: string
  /** Defaults to the global `fetch`, looked up at call time. */
  fetch?: typeof fetch
  /** Defaults to `document.cookie`. */
  cookies?: () => string
}

export type SessionExpiredHandler = (error: SessionExpiredError) => void

export interface ApiClient {
  /** `path` is relative to the base URL, or an absolute URL (a `Link` the server sent). */
  request<T>(path: string, options?: RequestOptions): Promise<T>
  /** Like `request`, with the response's headers. */
  requestWithHeaders<T>(path: string, options?: RequestOptions): Promise<ApiResponse<T>>
  /** Refreshes the access token; concurrent callers share one request. Resolves to success. */
  refresh(): Promise<boolean>
  readonly baseUrl: string
}

let sessionExpiredHandler: SessionExpiredHandler | undefined

/** The app registers what to do when the session is gone (go to the login page). */
export function setSessionExpiredHandler(handler: SessionExpiredHandler | undefined): void {
  sessionExpiredHandler = handler
}

function defaultBaseUrl(): string {
  return import.meta.env.VITE_API_BASE_URL ?? '/api'
}

function statusToCode(status: number): ApiErrorCode {
  if (status === 400 || status === 422) return 'validation'
  if (status === 401) return 'unauthorized'
  if (status === 403) return 'forbidden'
  if (status === 404) return 'not_found'
  if (status === 409) return 'conflict'
  if (status === 413) return 'too_large'
  if (status === 429) return 'rate_limited'
  if (status >= 500) return 'server'
  return 'unknown'
}

/** `Retry-After` in seconds (RFC 9110: a number of seconds or an HTTP date), if usable. */
export function retryAfterSeconds(value: string | null, now: number = Date.now()): number | undefined {
  if (!value) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed)
  const date = Date.parse(trimmed)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, Math.ceil((date - now) / 1000))
}

/**
 * Whether a 401's message is one of the token checks' (Flask-JWT-Extended's wording: a missing
 * cookie or CSRF value, an expired, revoked or stale token, an unknown user), as opposed to a
 * wrong password.
 */
export function isTokenProblem(msg: string | undefined): boolean {
  return !msg || /token|cookie|csrf|authorization|error loading the user/i.test(msg)
}

async function errorFromResponse(response: Response): Promise<ApiError> {
  let body: ErrorBody = {}
  try {
    const parsed: unknown = await response.json()
    if (parsed && typeof parsed === 'object') body = parsed as ErrorBody
  } catch {
    // not JSON: keep the generic message
  }
  const msg = typeof body.msg === 'string' && body.msg ? body.msg : `Request failed (HTTP ${response.status}).`
  const fields = body.fields && typeof body.fields === 'object' ? body.fields : {}
  const retryAfter = retryAfterSeconds(response.headers.get('Retry-After'))
  return new ApiError(statusToCode(response.status), msg, response.status, fields, retryAfter)
}

async function peekMessage(response: Response): Promise<string | undefined> {
  try {
    const body: unknown = await response.clone().json()
    if (body && typeof body === 'object' && typeof (body as ErrorBody).msg === 'string') return (body as ErrorBody).msg
  } catch {
    // not JSON
  }
  return undefined
}

const NETWORK_MESSAGE = "Can't reach the server. Check your connection and try again."

export function createApiClient(options: ApiClientOptions = {}): ApiClient {
  const baseUrl = (options.baseUrl ?? defaultBaseUrl()).replace(/\/+$/, '')
  const doFetch: typeof fetch = (input, init) => (options.fetch ?? globalThis.fetch)(input, init)
  const cookies = options.cookies ?? (() => globalThis.document?.cookie ?? '')

  /** Completed successful refreshes: a 401 for a request sent before the latest one just retries. */
  let generation = 0
  let inFlightRefresh: Promise<boolean> | null = null

  function url(path: string, query?: RequestOptions['query']): string {
    let u = /^https?:\/\//.test(path) ? path : baseUrl + (path.startsWith('/') ? path : `/${path}`)
    if (query) {
      const params = new URLSearchParams()
      for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v))
      const qs = params.toString()
      if (qs) u += `?${qs}`
    }
    return u
  }

  async function send(method: HttpMethod, target: string, body: unknown, csrfCookie: string): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json' }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    if (UNSAFE_METHODS.has(method)) {
      const csrf = readAuthCookie(csrfCookie, cookies())
      if (csrf) headers['X-CSRF-TOKEN'] = csrf
    }
    try {
      return await doFetch(target, {
        method,
        headers,
        credentials: 'include',
        cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') throw e
      throw new ApiError('network', NETWORK_MESSAGE)
    }
  }

  function refresh(): Promise<boolean> {
    // Without the CSRF half of a refresh token there is no session to refresh: the server would
    // only answer 401 "Missing CSRF token", so do not ask.
    if (readAuthCookie(REFRESH_CSRF_COOKIE, cookies()) === undefined) return Promise.resolve(false)
    if (!inFlightRefresh) {
      inFlightRefresh = (async () => {
        try {
          const response = await send('POST', url('/auth/refresh'), undefined, REFRESH_CSRF_COOKIE)
          if (response.ok) generation += 1
          return response.ok
        } catch (e) {
          if (isApiError(e) && e.code === 'network') throw e
          return false
        }
      })().finally(() => {
        inFlightRefresh = null
      })
    }
    return inFlightRefresh
  }

  async function parse<T>(response: Response): Promise<T> {
    if (response.status === 204) return undefined as T
    const text = await response.text()
    if (!text) return undefined as T
    try {
      return JSON.parse(text) as T
    } catch {
      throw new ApiError('unknown', 'The server sent a response the app does not understand.', response.status)
    }
  }

  async function requestWithHeaders<T>(path: string, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
    const method = opts.method ?? 'GET'
    const target = url(path, opts.query)
    const protectedCall = opts.auth ?? true

    const sentAt = generation
    let response = await send(method, target, opts.body, ACCESS_CSRF_COOKIE)

    /** A 401 that means "wrong password", not "no session": reported as it is. */
    const wrongPassword = async (r: Response) =>
      r.status === 401 && !!opts.passwordInBody && !isTokenProblem(await peekMessage(r))

    if (await wrongPassword(response)) throw await errorFromResponse(response)
    if (response.status === 401 && protectedCall) {
      // Another request already refreshed since this one was sent: just retry.
      const refreshed = generation !== sentAt || (await refresh())
      if (refreshed) response = await send(method, target, opts.body, ACCESS_CSRF_COOKIE)
      if (refreshed && (await wrongPassword(response))) throw await errorFromResponse(response)
      if (!refreshed || response.status === 401) {
        const error = new SessionExpiredError()
        if (opts.notifySessionExpired ?? true) sessionExpiredHandler?.(error)
        throw error
      }
    }

    if (!response.ok) throw await errorFromResponse(response)
    const absolute = new URL(target, globalThis.location?.href ?? 'http://localhost/').href
    return { data: await parse<T>(response), headers: response.headers, url: absolute }
  }

  async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    return (await requestWithHeaders<T>(path, opts)).data
  }

  return { request, requestWithHeaders, refresh, baseUrl }
}

/** The app's client. */
export const api: ApiClient = createApiClient()
