/**
 * The SPA against the contract's newer calls ("Paging, order and search", `POST /auth/password`,
 * `DELETE /auth/account`), played by route handlers in the browser: the SPA's side of them,
 * checked whatever server runs. paging.spec.ts, search.spec.ts and account.spec.ts check the
 * same against the real server.
 */
import type { Page, Route } from '@playwright/test'

import { expect, input, memosLoaded, newUser, openUserMenu, signUp, test } from './fixtures'

interface FakeMemo {
  id: number
  title: string
  content: string
  archived: boolean
  created_at: string
  updated_at: string
}

const COUNT = 250
const memos: FakeMemo[] = Array.from({ length: COUNT }, (_, i) => {
  const id = i + 1
  const at = new Date(Date.UTC(2025, 0, 1) + id * 60_000).toISOString()
  return {
    id,
    title: `Paged memo ${id}`,
    content: id % 50 === 0 ? `明日の東京の天気 ${id}` : `Plain text ${id}`,
    archived: false,
    created_at: at,
    updated_at: at,
  }
}).reverse() // newest edit first, as ?order=-updated_at asks

/** GET /api/memos with ?limit, ?q and an opaque ?cursor, answering with Link: rel="next". */
async function pagedMemos(route: Route, seen: URL[]): Promise<void> {
  const url = new URL(route.request().url())
  if (route.request().method() !== 'GET') return route.fallback()
  seen.push(url)
  const limit = Number(url.searchParams.get('limit') ?? 50)
  const q = url.searchParams.get('q') ?? ''
  const start = url.searchParams.has('cursor') ? Number(atob(url.searchParams.get('cursor')!)) : 0
  const matching = memos.filter((m) => !q || m.title.includes(q) || m.content.includes(q))
  const page = matching.slice(start, start + limit)
  const headers: Record<string, string> = { 'Content-Type': 'application/json' }
  if (start + limit < matching.length) {
    const next = new URLSearchParams(url.searchParams)
    next.set('cursor', btoa(String(start + limit)))
    headers.Link = `</api/memos?${next}>; rel="next"`
  }
  await route.fulfill({ status: 200, headers, body: JSON.stringify(page) })
}

async function onPagedApi(page: Page): Promise<URL[]> {
  const seen: URL[] = []
  await signUp(page, newUser('paged'))
  await page.route(/\/api\/memos(\?.*)?$/, (route) => pagedMemos(route, seen))
  await page.reload()
  await memosLoaded(page)
  return seen
}

test('the list asks for one page, then the next ones by their Link as the user scrolls', async ({ page }) => {
  const seen = await onPagedApi(page)
  expect(seen).toHaveLength(1)
  expect(seen[0]!.searchParams.get('order')).toBe('-updated_at')
  const limit = Number(seen[0]!.searchParams.get('limit'))
  await expect(page.getByTestId('memo-title').first()).toHaveText(`Paged memo ${COUNT}`)

  const titles = new Set<string>()
  for (let step = 0; step < 300 && titles.size < COUNT; step++) {
    await page.evaluate(
      () => new Promise<void>((r) => (window.scrollBy(0, window.innerHeight * 0.9), requestAnimationFrame(() => requestAnimationFrame(() => r())))),
    )
    for (const t of await page.getByTestId('memo-title').allTextContents()) titles.add(t.trim())
    expect(await page.getByTestId('memo-card').count()).toBeLessThan(40)
  }
  expect(titles.size).toBe(COUNT)
  await expect(page.getByTestId('memos-all-shown')).toBeVisible()
  // Every page once, each by the cursor of the one before.
  expect(seen).toHaveLength(Math.ceil(COUNT / limit))
  expect(seen.slice(1).every((u) => u.searchParams.has('cursor'))).toBe(true)
})

test('a search shows the server’s hits with the word marked, and an empty state when none', async ({ page }) => {
  const seen = await onPagedApi(page)
  await input(page, 'search-field').fill('天気')
  await expect(page).toHaveURL(/\?q=%E5%A4%A9%E6%B0%97$/)
  await expect(page.getByTestId('memo-card')).toHaveCount(COUNT / 50)
  await expect(page.getByTestId('search-hit').first()).toHaveText('天気')
  expect(seen.at(-1)!.searchParams.get('q')).toBe('天気')

  await input(page, 'search-field').fill('どこにもない')
  await expect(page.getByTestId('search-empty')).toBeVisible()
  await page.getByTestId('search-empty-clear').click()
  await expect(page.getByTestId('memo-title').first()).toHaveText(`Paged memo ${COUNT}`)
})

test('changing the password: a wrong current one is explained, the right one sends both, with CSRF', async ({ page }) => {
  const user = newUser('stub-pw')
  await signUp(page, user)
  const sent: Array<{ body: unknown; csrf: string | undefined }> = []
  await page.route('**/api/auth/password', async (route) => {
    const body = route.request().postDataJSON() as { current_password: string; new_password: string }
    sent.push({ body, csrf: route.request().headers()['x-csrf-token'] })
    if (body.current_password !== user.password) {
      return route.fulfill({ status: 401, contentType: 'application/json', body: '{"msg":"Wrong password"}' })
    }
    return route.fulfill({ status: 200, contentType: 'application/json', body: '{"msg":"Password changed"}' })
  })
  await openUserMenu(page)
  await page.getByTestId('menu-account').click()
  const fresh = 'a new and much longer password'

  await input(page, 'password-current').fill('not-it')
  await input(page, 'password-new').fill(fresh)
  await input(page, 'password-confirm').fill(fresh)
  await page.getByTestId('password-submit').click()
  await expect(page.getByTestId('password-error')).toHaveText('That password is not right.')
  expect(sent).toHaveLength(1) // no refresh-and-retry that would count a second wrong attempt

  await input(page, 'password-current').fill(user.password)
  await page.getByTestId('password-submit').click()
  await expect(page.getByTestId('snackbar')).toContainText('Password changed')
  await expect(input(page, 'password-new')).toHaveValue('')
  expect(sent[1]).toEqual({ body: { current_password: user.password, new_password: fresh }, csrf: expect.any(String) })
  expect(sent[1]!.csrf).not.toBe('')
})

test('deleting the account: a wrong password is explained; the right one ends on the login page', async ({ page }) => {
  const user = newUser('stub-del')
  await signUp(page, user)
  await page.route('**/api/auth/account', (route) => {
    const { password } = route.request().postDataJSON() as { password: string }
    return password === user.password
      ? route.fulfill({ status: 204 })
      : route.fulfill({ status: 401, contentType: 'application/json', body: '{"msg":"Wrong password"}' })
  })
  await page.goto('/account')
  await page.getByTestId('delete-account').click()
  await input(page, 'delete-account-confirm').fill('DELETE')
  await input(page, 'delete-account-password').fill('not-it')
  await page.getByTestId('delete-account-submit').click()
  await expect(page.getByTestId('delete-account-error')).toHaveText('That password is not right.')

  await input(page, 'delete-account-password').fill(user.password)
  await page.getByTestId('delete-account-submit').click()
  await expect(page.getByTestId('login-page')).toBeVisible()
  await expect(page.getByTestId('login-notice')).toHaveText('Your account and all of its memos were deleted.')
  await expect(page.getByTestId('app-bar')).toHaveCount(0)
})
