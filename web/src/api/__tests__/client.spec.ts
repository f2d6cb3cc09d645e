import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { authApi } from '@/api/auth'
import {
  ApiError,
  createApiClient,
  readAuthCookie,
  readCookie,
  SessionExpiredError,
  setSessionExpiredHandler,
  type HttpMethod,
} from '@/api/client'
import { memosApi } from '@/api/memos'
import { clearCookies, deferred, empty, json, setCookies, stubFetch } from '@/test/fetchStub'

const memo = { id: 1, title: 't', content: 'c', archived: false, created_at: '2024-01-01T00:00:00Z', updated_at: '2024-01-01T00:00:00Z' }

beforeEach(() => {
  setCookies({ csrf_access_token: 'access-csrf', csrf_refresh_token: 'refresh-csrf' })
})

afterEach(() => {
  clearCookies()
  setSessionExpiredHandler(undefined)
  vi.unstubAllGlobals()
})

describe('readCookie', () => {
  it('finds a cookie among others and decodes it', () => {
    expect(readCookie('b', 'a=1; b=x%20y; c=3')).toBe('x y')
    expect(readCookie('missing', 'a=1')).toBeUndefined()
  })
})

describe('readAuthCookie (server with or without MEMO_COOKIE_HOST_PREFIX)', () => {
  it('reads the __Host- cookie when only that one is present', () => {
    expect(readAuthCookie('csrf_access_token', 'a=1; __Host-csrf_access_token=prefixed')).toBe('prefixed')
  })

  it('reads the plain cookie when only that one is present', () => {
    expect(readAuthCookie('csrf_access_token', 'a=1; csrf_access_token=plain')).toBe('plain')
  })

  it('prefers the __Host- cookie when both are present, in either order', () => {
    expect(readAuthCookie('csrf_refresh_token', 'csrf_refresh_token=plain; __Host-csrf_refresh_token=prefixed')).toBe('prefixed')
    expect(readAuthCookie('csrf_refresh_token', '__Host-csrf_refresh_token=prefixed; csrf_refresh_token=plain')).toBe('prefixed')
  })

  it('does not take a cookie whose name merely ends with the name', () => {
    expect(readAuthCookie('csrf_access_token', 'xcsrf_access_token=x; x__Host-csrf_access_token=y')).toBeUndefined()
    expect(readAuthCookie('csrf_access_token', 'xcsrf_access_token=x; csrf_access_token=plain')).toBe('plain')
    expect(readAuthCookie('csrf_access_token', '__Host-csrf_refresh_token=r; csrf_refresh_token=r')).toBeUndefined()
  })

  it('reads document.cookie by default', () => {
    expect(readAuthCookie('csrf_access_token')).toBe('access-csrf')
  })
})

describe('__Host- prefixed CSRF cookies', () => {
  const prefixed = () => '__Host-csrf_access_token=host-access; __Host-csrf_refresh_token=host-refresh'

  it('sends X-CSRF-TOKEN from __Host-csrf_access_token', async () => {
    const stub = stubFetch(() => json(memo, 201))
    const api = createApiClient({ fetch: stub.fetch, cookies: prefixed })

    await memosApi(api).create({ title: 't', content: 'c' })

    expect(stub.calls[0]?.headers['x-csrf-token']).toBe('host-access')
  })

  it('refreshes with __Host-csrf_refresh_token when only prefixed cookies exist', async () => {
    let expired = true
    const stub = stubFetch((req) => {
      if (req.path === '/api/auth/refresh') {
        expired = false
        return json({ refresh: true })
      }
      return expired ? json({ msg: 'Token has expired' }, 401) : json([memo])
    })
    const api = createApiClient({ fetch: stub.fetch, cookies: prefixed })

    await expect(memosApi(api).firstPage()).resolves.toEqual({ items: [memo], next: null })

    expect(stub.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /api/memos', 'POST /api/auth/refresh', 'GET /api/memos'])
    expect(stub.calls[1]?.headers['x-csrf-token']).toBe('host-refresh')
  })

  it('prefers the prefixed cookie over a leftover plain one', async () => {
    const stub = stubFetch(() => json({}))
    const api = createApiClient({ fetch: stub.fetch, cookies: () => `csrf_access_token=stale; ${prefixed()}` })

    await api.request('/memos/1', { method: 'DELETE' })

    expect(stub.calls[0]?.headers['x-csrf-token']).toBe('host-access')
  })
})

describe('requests', () => {
  it('sends cookies and uses /api as the default base URL', async () => {
    const stub = stubFetch(() => json([memo]))
    vi.stubGlobal('fetch', stub.fetch)
    const api = createApiClient()

    await expect(memosApi(api).firstPage()).resolves.toEqual({ items: [memo], next: null })

    expect(stub.calls[0]).toMatchObject({ method: 'GET', url: '/api/memos', credentials: 'include' })
  })

  it('uses a configured base URL and query string', async () => {
    const stub = stubFetch(() => json([]))
    const api = createApiClient({ baseUrl: 'https://api.example.com/api/', fetch: stub.fetch })

    await memosApi(api).firstPage({ archived: true })

    expect(stub.calls[0]?.url).toBe('https://api.example.com/api/memos?archived=true')
  })

  it('does not send X-CSRF-TOKEN on GET', async () => {
    const stub = stubFetch(() => json({ id: 1, user_name: 'a', department: null, manager_role_attached: false }))
    const api = createApiClient({ fetch: stub.fetch })

    await authApi(api).me()

    expect(stub.calls[0]?.headers['x-csrf-token']).toBeUndefined()
  })

  it.each<HttpMethod>(['POST', 'PUT', 'PATCH', 'DELETE'])('sends X-CSRF-TOKEN from csrf_access_token on %s', async (method) => {
    const stub = stubFetch(() => json({}))
    const api = createApiClient({ fetch: stub.fetch })

    await api.request('/memos/1', { method, body: method === 'DELETE' ? undefined : { title: 'x' } })

    expect(stub.calls[0]?.headers['x-csrf-token']).toBe('access-csrf')
    expect(stub.calls[0]?.credentials).toBe('include')
  })

  it('sends JSON bodies with a JSON content type', async () => {
    const stub = stubFetch(() => json(memo, 201))
    const api = createApiClient({ fetch: stub.fetch })

    await memosApi(api).create({ title: 'Hello', content: 'World' })

    expect(stub.calls[0]).toMatchObject({ method: 'POST', url: '/api/memos', body: { title: 'Hello', content: 'World' } })
    expect(stub.calls[0]?.headers['content-type']).toBe('application/json')
  })

  it('returns undefined for 204', async () => {
    const stub = stubFetch(() => empty(204))
    const api = createApiClient({ fetch: stub.fetch })

    await expect(memosApi(api).remove(3)).resolves.toBeUndefined()
    expect(stub.calls[0]).toMatchObject({ method: 'DELETE', url: '/api/memos/3' })
  })
})

describe('errors', () => {
  it('turns {"msg"} bodies into typed errors', async () => {
    const stub = stubFetch(() => json({ msg: 'title must not be empty', fields: { title: 'required' } }, 422))
    const api = createApiClient({ fetch: stub.fetch })

    const error = await memosApi(api).create({ title: '', content: '' }).catch((e: unknown) => e)

    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({ code: 'validation', status: 422, message: 'title must not be empty', fields: { title: 'required' } })
  })

  it('reports a wrong password without trying to refresh', async () => {
    const stub = stubFetch(() => json({ msg: 'Wrong login id or password.' }, 401))
    const api = createApiClient({ fetch: stub.fetch })
    const handler = vi.fn()
    setSessionExpiredHandler(handler)

    const error = await authApi(api).login({ user_name: 'a', password: 'bad' }).catch((e: unknown) => e)

    expect(error).toMatchObject({ code: 'unauthorized', status: 401, message: 'Wrong login id or password.' })
    expect(error).not.toBeInstanceOf(SessionExpiredError)
    expect(stub.calls.map((c) => c.path)).toEqual(['/api/auth/login'])
    expect(handler).not.toHaveBeenCalled()
  })

  it('reports a taken name on register as a conflict, without refresh', async () => {
    const stub = stubFetch(() => json({ msg: 'user name already taken' }, 409))
    const api = createApiClient({ fetch: stub.fetch })

    await expect(authApi(api).register({ user_name: 'a', password: 'password1' })).rejects.toMatchObject({
      code: 'conflict',
      status: 409,
    })
    expect(stub.calls).toHaveLength(1)
  })

  it('reports an unreachable server as a network error', async () => {
    const stub = stubFetch(() => Promise.reject(new TypeError('Failed to fetch')))
    const api = createApiClient({ fetch: stub.fetch })

    await expect(memosApi(api).firstPage()).rejects.toMatchObject({ code: 'network', status: 0 })
  })

  it('survives a non-JSON error body', async () => {
    const stub = stubFetch(() => new Response('<html>bad gateway</html>', { status: 502 }))
    const api = createApiClient({ fetch: stub.fetch })

    await expect(memosApi(api).firstPage()).rejects.toMatchObject({ code: 'server', status: 502 })
  })
})

describe('refresh on 401', () => {
  it('refreshes once with csrf_refresh_token and retries the call', async () => {
    let expired = true
    const stub = stubFetch((req) => {
      if (req.path === '/api/auth/refresh') {
        expired = false
        return json({ refresh: true })
      }
      return expired ? json({ msg: 'Token has expired' }, 401) : json(memo, 201)
    })
    const api = createApiClient({ fetch: stub.fetch })

    await expect(memosApi(api).create({ title: 't', content: 'c' })).resolves.toEqual(memo)

    expect(stub.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['POST /api/memos', 'POST /api/auth/refresh', 'POST /api/memos'])
    expect(stub.calls[1]?.headers['x-csrf-token']).toBe('refresh-csrf')
    expect(stub.calls[1]?.credentials).toBe('include')
    expect(stub.calls[2]?.body).toEqual({ title: 't', content: 'c' })
  })

  it('re-reads the CSRF cookie for the retry (the refresh set a new one)', async () => {
    let expired = true
    const stub = stubFetch((req) => {
      if (req.path === '/api/auth/refresh') {
        expired = false
        setCookies({ csrf_access_token: 'new-access-csrf' })
        return json({})
      }
      return expired ? json({ msg: 'Token has expired' }, 401) : json(memo)
    })
    const api = createApiClient({ fetch: stub.fetch })

    await memosApi(api).update(1, { title: 'x' })

    expect(stub.calls[0]?.headers['x-csrf-token']).toBe('access-csrf')
    expect(stub.calls[2]?.headers['x-csrf-token']).toBe('new-access-csrf')
  })

  it('shares one refresh between concurrent 401s', async () => {
    const refreshGate = deferred<Response>()
    let expired = true
    const stub = stubFetch(async (req) => {
      if (req.path === '/api/auth/refresh') {
        const response = await refreshGate.promise
        expired = false
        return response
      }
      if (expired) return json({ msg: 'Token has expired' }, 401)
      return req.path === '/api/auth/me' ? json({ id: 1, user_name: 'a' }) : json([memo])
    })
    const api = createApiClient({ fetch: stub.fetch })
    const memos = memosApi(api)

    const all = Promise.all([memos.firstPage(), memos.firstPage({ archived: true }), authApi(api).me(), memos.firstPage()])
    await vi.waitFor(() => expect(stub.calls.filter((c) => c.path === '/api/auth/refresh')).toHaveLength(1))
    // Let every 401 arrive before the refresh answers.
    await vi.waitFor(() => expect(stub.calls).toHaveLength(5))
    refreshGate.resolve(json({}))
    const [a, b, me, d] = await all

    expect(a.items).toEqual([memo])
    expect(b.items).toEqual([memo])
    expect(me).toEqual({ id: 1, user_name: 'a' })
    expect(d.items).toEqual([memo])
    expect(stub.calls.filter((c) => c.path === '/api/auth/refresh')).toHaveLength(1)
    expect(stub.calls).toHaveLength(4 + 1 + 4)
  })

  it('does not refresh again for a 401 to a request sent before the last refresh', async () => {
    const slowOld = deferred<Response>()
    let expired = true
    let n = 0
    const stub = stubFetch(async (req) => {
      if (req.path === '/api/auth/refresh') {
        expired = false
        return json({})
      }
      n += 1
      if (n === 1) return slowOld.promise // sent with the old token; answers late
      return expired ? json({ msg: 'Token has expired' }, 401) : json([memo])
    })
    const api = createApiClient({ fetch: stub.fetch })
    const memos = memosApi(api)

    const old = memos.firstPage()
    await memos.firstPage() // 401, refresh, retry
    slowOld.resolve(json({ msg: 'Token has expired' }, 401))

    await expect(old).resolves.toEqual({ items: [memo], next: null })
    expect(stub.calls.filter((c) => c.path === '/api/auth/refresh')).toHaveLength(1)
  })

  it('starts a new refresh after the previous one finished', async () => {
    let expired = true
    const stub = stubFetch((req) => {
      if (req.path === '/api/auth/refresh') {
        expired = false
        return json({})
      }
      return expired ? json({ msg: 'Token has expired' }, 401) : json([memo])
    })
    const api = createApiClient({ fetch: stub.fetch })

    await memosApi(api).firstPage()
    expired = true
    await memosApi(api).firstPage()

    expect(stub.calls.filter((c) => c.path === '/api/auth/refresh')).toHaveLength(2)
  })

  it('sends the user to login when the refresh fails', async () => {
    const stub = stubFetch((req) =>
      req.path === '/api/auth/refresh' ? json({ msg: 'Token has been revoked' }, 401) : json({ msg: 'Token has expired' }, 401),
    )
    const api = createApiClient({ fetch: stub.fetch })
    const handler = vi.fn()
    setSessionExpiredHandler(handler)

    const error = await memosApi(api).firstPage().catch((e: unknown) => e)

    expect(error).toBeInstanceOf(SessionExpiredError)
    expect(error).toMatchObject({ code: 'session_expired', status: 401 })
    expect(handler).toHaveBeenCalledTimes(1)
    expect(stub.calls.map((c) => c.path)).toEqual(['/api/memos', '/api/auth/refresh'])
  })

  it('gives up when the retry is still 401 (no refresh loop)', async () => {
    const stub = stubFetch((req) => (req.path === '/api/auth/refresh' ? json({}) : json({ msg: 'Token has been revoked' }, 401)))
    const api = createApiClient({ fetch: stub.fetch })
    const handler = vi.fn()
    setSessionExpiredHandler(handler)

    await expect(memosApi(api).remove(1)).rejects.toBeInstanceOf(SessionExpiredError)

    expect(stub.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'DELETE /api/memos/1',
      'POST /api/auth/refresh',
      'DELETE /api/memos/1',
    ])
    expect(handler).toHaveBeenCalledTimes(1)
  })

  it('lets the caller opt out of the login redirect', async () => {
    const stub = stubFetch(() => json({ msg: 'Missing cookie "access_token_cookie"' }, 401))
    const api = createApiClient({ fetch: stub.fetch })
    const handler = vi.fn()
    setSessionExpiredHandler(handler)

    await expect(authApi(api).me({ notifySessionExpired: false })).rejects.toBeInstanceOf(SessionExpiredError)
    expect(handler).not.toHaveBeenCalled()
  })

  it('does not ask for a refresh without a csrf_refresh_token cookie (never logged in)', async () => {
    clearCookies()
    const stub = stubFetch(() => json({ msg: 'Missing cookie "access_token_cookie"' }, 401))
    const api = createApiClient({ fetch: stub.fetch })

    await expect(authApi(api).me({ notifySessionExpired: false })).rejects.toBeInstanceOf(SessionExpiredError)

    expect(stub.calls.map((c) => c.path)).toEqual(['/api/auth/me'])
  })

  it('never refreshes for the refresh call itself, login or register', async () => {
    const stub = stubFetch(() => json({ msg: 'nope' }, 401))
    const api = createApiClient({ fetch: stub.fetch })

    await expect(api.refresh()).resolves.toBe(false)
    await expect(authApi(api).login({ user_name: 'a', password: 'b' })).rejects.toMatchObject({ code: 'unauthorized' })
    await expect(authApi(api).register({ user_name: 'a', password: 'b' })).rejects.toMatchObject({ code: 'unauthorized' })

    expect(stub.calls.map((c) => c.path)).toEqual(['/api/auth/refresh', '/api/auth/login', '/api/auth/register'])
  })
})
