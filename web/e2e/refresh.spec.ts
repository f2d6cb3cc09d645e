import type { Page } from '@playwright/test'

import { createMemo, expect, expectTitlesInAnyOrder, memoCard, memosLoaded, newUser, signUp, test } from './fixtures'

// Access tokens live 2 s on this server; the refresh token stays valid.
test.use({ serverEnv: { JWT_ACCESS_TOKEN_EXPIRES: '2' } })

/** Waits (by polling the server, not by sleeping) until the page's access token is refused. */
async function waitForAccessTokenExpiry(page: Page): Promise<void> {
  await expect
    .poll(async () => (await page.request.get('/api/auth/status')).status(), {
      timeout: 15_000,
      intervals: [250],
      message: 'the access token should expire',
    })
    .toBe(401)
}

test('an expired access token is refreshed silently', async ({ page }) => {
  await signUp(page, newUser('refresh'))
  await createMemo(page, 'Before expiry')
  const refreshes: number[] = []
  page.on('response', (r) => {
    if (r.url().endsWith('/api/auth/refresh')) refreshes.push(r.status())
  })

  // A click in the app after expiry: the list loads, no login page.
  await waitForAccessTokenExpiry(page)
  await page.getByTestId('nav-archived').click()
  await memosLoaded(page)
  await expect(page.getByTestId('archived-page')).toBeVisible()
  await page.getByTestId('nav-memos').click()
  await memosLoaded(page)
  await expect(memoCard(page, 'Before expiry')).toBeVisible()
  expect(refreshes.length).toBeGreaterThanOrEqual(1)
  expect(refreshes.every((s) => s === 200)).toBe(true)

  // A write after expiry: created, and the user stays on the page.
  await waitForAccessTokenExpiry(page)
  await createMemo(page, 'After expiry')
  await expect(page).not.toHaveURL(/\/login/)

  // A reload after expiry: the session check refreshes, the page still shows the memos.
  await waitForAccessTokenExpiry(page)
  await page.reload()
  await memosLoaded(page)
  await expectTitlesInAnyOrder(page, ['Before expiry', 'After expiry'])
  await expect(page.getByTestId('login-page')).toHaveCount(0)
  expect(refreshes.every((s) => s === 200)).toBe(true)
})

test('a reload after expiry refreshes once, then the list loads with the new token', async ({ page }) => {
  await signUp(page, newUser('once'))
  await createMemo(page, 'One')
  await waitForAccessTokenExpiry(page)

  const calls: string[] = []
  page.on('response', (r) => {
    const path = new URL(r.url()).pathname
    if (path.startsWith('/api/')) calls.push(`${r.request().method()} ${path} ${r.status()}`)
  })
  await page.reload()
  await memosLoaded(page)
  await expect(page.getByTestId('memo-title')).toHaveText(['One'])

  expect(calls.slice(0, 3)).toEqual(['GET /api/auth/me 401', 'POST /api/auth/refresh 200', 'GET /api/auth/me 200'])
  expect(calls.at(-1)).toBe('GET /api/memos 200')
  // Only a slow machine (a second expiry within the 2 s) would need another refresh.
  expect(calls.filter((c) => c.includes('/auth/refresh')).length).toBeLessThanOrEqual(calls.length > 4 ? 2 : 1)
})
