import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { authApi } from '@/api/auth'
import { createApiClient, retryAfterSeconds } from '@/api/client'
import { nextPageUrl, parseLinkHeader } from '@/api/links'
import { memosApi } from '@/api/memos'
import { clearCookies, empty, json, setCookies, stubFetch } from '@/test/fetchStub'

const memo = (id: number) => ({
  id,
  title: `m${id}`,
  content: '',
  archived: false,
  created_at: '2024-01-01T00:00:00Z',
  updated_at: '2024-01-01T00:00:00Z',
})

beforeEach(() => setCookies({ csrf_access_token: 'access-csrf', csrf_refresh_token: 'refresh-csrf' }))
afterEach(() => clearCookies())

describe('Link header', () => {
  it('finds rel="next" among other links, quoted or not', () => {
    const links = parseLinkHeader('</api/memos?cursor=abc>; rel="next", <https://x.test/first>; rel=first')
    expect(links.get('next')).toBe('/api/memos?cursor=abc')
    expect(links.get('first')).toBe('https://x.test/first')
    expect(parseLinkHeader('<a>; title="a, b; c"; rel="prev next"').get('next')).toBe('a')
  })

  it('has no next page without the header or without rel="next"', () => {
    expect(nextPageUrl(null, 'http://h.test/api/memos')).toBeNull()
    expect(nextPageUrl('</api/memos?cursor=x>; rel="prev"', 'http://h.test/api/memos')).toBeNull()
  })

  it('resolves a relative next link against the page that named it', () => {
    expect(nextPageUrl('<?cursor=x%2By&limit=30>; rel="next"', 'http://h.test/api/memos?limit=30')).toBe(
      'http://h.test/api/memos?cursor=x%2By&limit=30',
    )
  })

  it('never follows a next link to another origin with the user’s cookies', () => {
    expect(nextPageUrl('<https://evil.test/api/memos?cursor=x>; rel="next"', 'http://h.test/api/memos')).toBeNull()
  })
})

describe('paged memo lists', () => {
  it('asks for the first page with the order, size and search, and follows next to the end', async () => {
    const stub = stubFetch((req) => {
      if (!req.url.includes('cursor=')) {
        return new Response(JSON.stringify([memo(3), memo(2)]), {
          headers: { 'Content-Type': 'application/json', Link: '</api/memos?cursor=c2&limit=2>; rel="next"' },
        })
      }
      return json([memo(1)])
    })
    const api = memosApi(createApiClient({ fetch: stub.fetch, baseUrl: 'http://h.test/api' }))

    const first = await api.firstPage({ archived: true, q: ' 天気 ', order: '-updated_at', limit: 2 })
    expect(first.items.map((m) => m.id)).toEqual([3, 2])
    expect(first.next).toBe('http://h.test/api/memos?cursor=c2&limit=2')
    const second = await api.nextPage(first.next!)
    expect(second).toEqual({ items: [memo(1)], next: null })

    const firstUrl = new URL(stub.calls[0]!.url)
    expect(Object.fromEntries(firstUrl.searchParams)).toEqual({ archived: 'true', q: '天気', order: '-updated_at', limit: '2' })
    expect(stub.calls[1]!.url).toBe('http://h.test/api/memos?cursor=c2&limit=2')
  })

  it('treats an answer without a Link header (a server before paging) as the only page', async () => {
    const stub = stubFetch(() => json([memo(1), memo(2)]))
    const page = await memosApi(createApiClient({ fetch: stub.fetch })).firstPage()
    expect(page).toEqual({ items: [memo(1), memo(2)], next: null })
  })
})

describe('calls that carry a password', () => {
  it('report a wrong current password at once: no refresh, no second attempt', async () => {
    const stub = stubFetch(() => json({ msg: 'Wrong password' }, 401))
    const auth = authApi(createApiClient({ fetch: stub.fetch }))

    await expect(auth.changePassword({ current_password: 'x', new_password: 'long-enough-1' })).rejects.toMatchObject({
      code: 'unauthorized',
      status: 401,
    })
    await expect(auth.deleteAccount({ password: 'x' })).rejects.toMatchObject({ code: 'unauthorized' })
    expect(stub.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['POST /api/auth/password', 'DELETE /api/auth/account'])
    expect(stub.calls[0]!.body).toEqual({ current_password: 'x', new_password: 'long-enough-1' })
    expect(stub.calls[1]!.headers['x-csrf-token']).toBe('access-csrf')
  })

  it('still refresh an expired access token, then report a wrong password once', async () => {
    let expired = true
    const stub = stubFetch((req) => {
      if (req.path === '/api/auth/refresh') {
        expired = false
        return json({})
      }
      return expired ? json({ msg: 'Token has expired' }, 401) : json({ msg: 'Wrong password' }, 401)
    })
    const auth = authApi(createApiClient({ fetch: stub.fetch }))

    await expect(auth.changePassword({ current_password: 'x', new_password: 'y' })).rejects.toMatchObject({ code: 'unauthorized' })
    expect(stub.calls.map((c) => c.path)).toEqual(['/api/auth/password', '/api/auth/refresh', '/api/auth/password'])
  })

  it('delete the account with the password in the body', async () => {
    const stub = stubFetch(() => empty(204))
    await authApi(createApiClient({ fetch: stub.fetch })).deleteAccount({ password: 'pw' })
    expect(stub.calls[0]).toMatchObject({ method: 'DELETE', path: '/api/auth/account', body: { password: 'pw' } })
  })

  it('end every other login in one call', async () => {
    const stub = stubFetch(() => json({ msg: 'Logged out everywhere else', ended: 3 }))
    await expect(authApi(createApiClient({ fetch: stub.fetch })).endOtherSessions()).resolves.toMatchObject({ ended: 3 })
    expect(stub.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['POST /api/auth/logout-others'])
  })

  it('end one login by its id', async () => {
    const stub = stubFetch(() => empty(204))
    await authApi(createApiClient({ fetch: stub.fetch })).endSession('fam/1')
    expect(stub.calls[0]).toMatchObject({ method: 'DELETE', path: '/api/auth/sessions/fam%2F1' })
  })
})

describe('Retry-After', () => {
  it('reads seconds and HTTP dates', () => {
    expect(retryAfterSeconds('120')).toBe(120)
    expect(retryAfterSeconds('Wed, 21 Oct 2015 07:28:30 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(30)
    expect(retryAfterSeconds('soon')).toBeUndefined()
    expect(retryAfterSeconds(null)).toBeUndefined()
  })
})
