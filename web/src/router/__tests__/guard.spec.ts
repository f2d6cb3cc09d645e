import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter, type Router, type RouteRecordRaw } from 'vue-router'

import { setSessionExpiredHandler } from '@/api/client'
import { memos } from '@/api/memos'
import { installGuards, installSessionExpiry, routes } from '@/router'
import { useAuthStore } from '@/stores/auth'
import { clearCookies, json, setCookies, stubFetch, type Handler } from '@/test/fetchStub'

const alice = { id: 1, user_name: 'alice', department: null, manager_role_attached: false }

let pinia: Pinia

function makeRouter(): Router {
  // The real route table; the views are stubbed so the guard is tested on its own.
  const stubbed = routes.map((r): RouteRecordRaw =>
    'component' in r && r.component ? ({ ...r, component: { render: () => null } } as RouteRecordRaw) : r,
  )
  const router = createRouter({ history: createMemoryHistory(), routes: stubbed })
  installGuards(router, pinia)
  installSessionExpiry(router, pinia)
  return router
}

function serve(handler: Handler) {
  const stub = stubFetch(handler)
  vi.stubGlobal('fetch', stub.fetch)
  return stub
}

const loggedIn: Handler = (req) => (req.path === '/api/auth/me' ? json(alice) : json([]))
const loggedOut: Handler = () => json({ msg: 'Missing cookie "access_token_cookie"' }, 401)

beforeEach(() => {
  pinia = createPinia()
  setActivePinia(pinia)
  setCookies({ csrf_access_token: 'a', csrf_refresh_token: 'r' })
})

afterEach(() => {
  vi.unstubAllGlobals()
  setSessionExpiredHandler(undefined)
  clearCookies()
})

describe('route guard', () => {
  it('sends a logged-out visitor of a protected route to /login with the redirect', async () => {
    serve(loggedOut)
    const router = makeRouter()

    await router.push('/archived?sort=new#top')

    expect(router.currentRoute.value.name).toBe('login')
    expect(router.currentRoute.value.query.redirect).toBe('/archived?sort=new#top')
  })

  it('redirects / to /login?redirect=/', async () => {
    serve(loggedOut)
    const router = makeRouter()

    await router.push('/')

    expect(router.currentRoute.value.fullPath).toBe('/login?redirect=/')
  })

  it('lets a logged-in user through and asks the server only once per load', async () => {
    const stub = serve(loggedIn)
    const router = makeRouter()

    await router.push('/')
    await router.push('/archived')
    await router.push('/')

    expect(router.currentRoute.value.name).toBe('memos')
    expect(stub.calls.filter((c) => c.path === '/api/auth/me')).toHaveLength(1)
    expect(useAuthStore(pinia).user).toEqual(alice)
  })

  it('checks the session with credentials and no CSRF header (a GET)', async () => {
    const stub = serve(loggedIn)
    const router = makeRouter()

    await router.push('/')

    expect(stub.calls[0]).toMatchObject({ method: 'GET', path: '/api/auth/me', credentials: 'include' })
    expect(stub.calls[0]?.headers['x-csrf-token']).toBeUndefined()
  })

  it('refreshes an expired access token silently during the check', async () => {
    let expired = true
    const stub = serve((req) => {
      if (req.path === '/api/auth/refresh') {
        expired = false
        return json({})
      }
      return expired ? json({ msg: 'Token has expired' }, 401) : json(alice)
    })
    const router = makeRouter()

    await router.push('/archived')

    expect(router.currentRoute.value.name).toBe('archived')
    expect(stub.calls.map((c) => c.path)).toEqual(['/api/auth/me', '/api/auth/refresh', '/api/auth/me'])
  })

  it('does not check the session for a public page while logged out', async () => {
    serve(loggedOut)
    const router = makeRouter()

    await router.push('/signup')

    expect(router.currentRoute.value.name).toBe('signup')
  })

  it('sends a logged-in user from /login on to the redirect target', async () => {
    serve(loggedIn)
    const router = makeRouter()

    await router.push('/login?redirect=/archived')

    expect(router.currentRoute.value.name).toBe('archived')
  })

  it('ignores a redirect to another site', async () => {
    serve(loggedIn)
    const router = makeRouter()

    await router.push('/login?redirect=//evil.example/x')

    expect(router.currentRoute.value.fullPath).toBe('/')
  })

  it('goes to login with a notice when the server cannot be reached, and retries next time', async () => {
    let down = true
    const stub = serve((req) => (down ? Promise.reject(new TypeError('Failed to fetch')) : loggedIn(req)))
    const router = makeRouter()

    await router.push('/')
    expect(router.currentRoute.value.name).toBe('login')
    expect(router.currentRoute.value.query).toMatchObject({ redirect: '/', reason: 'unreachable' })

    down = false
    await router.push('/')
    expect(router.currentRoute.value.name).toBe('memos')
    // Checked for `/`, again for `/login`, then successfully for `/`.
    expect(stub.calls.filter((c) => c.path === '/api/auth/me')).toHaveLength(3)
  })
})

describe('session expiry', () => {
  it('sends the user to login (and back) when a protected call cannot be refreshed', async () => {
    let sessionAlive = true
    serve((req) => {
      if (sessionAlive) return loggedIn(req)
      return json({ msg: 'Token has been revoked' }, 401)
    })
    const router = makeRouter()
    await router.push('/archived')
    expect(router.currentRoute.value.name).toBe('archived')

    sessionAlive = false
    await expect(memos.firstPage({ archived: true })).rejects.toMatchObject({ code: 'session_expired' })
    await vi.waitFor(() => expect(router.currentRoute.value.name).toBe('login'))

    expect(router.currentRoute.value.query).toMatchObject({ redirect: '/archived', reason: 'expired' })
    expect(useAuthStore(pinia).isLoggedIn).toBe(false)
  })
})
