import { createMemo, expect, logOut, memoCard, memosLoaded, newUser, signUp, test } from './fixtures'

// `__Host-` cookie names (MEMO_COOKIE_HOST_PREFIX=on), with access tokens of 2 s so the
// refresh path runs too. Chromium treats http://127.0.0.1 as a secure context, so it keeps
// these Secure cookies here as it would on HTTPS.
test.use({ serverEnv: { MEMO_COOKIE_HOST_PREFIX: 'on', JWT_ACCESS_TOKEN_EXPIRES: '2' } })

test('with __Host- cookies the SPA signs up, writes, refreshes and logs out', async ({ page, context }) => {
  await signUp(page, newUser('host'))
  const names = (await context.cookies()).map((c) => c.name).sort()
  expect(names).toEqual([
    '__Host-access_token_cookie',
    '__Host-csrf_access_token',
    '__Host-csrf_refresh_token',
    '__Host-refresh_token_cookie',
  ])
  for (const cookie of await context.cookies()) {
    expect(cookie.secure, cookie.name).toBe(true)
    expect(cookie.path, cookie.name).toBe('/')
  }

  // A write needs the CSRF value from the prefixed cookie.
  await createMemo(page, 'Behind __Host-')
  await expect(memoCard(page, 'Behind __Host-')).toBeVisible()

  // After the access token expires, a reload refreshes with the prefixed refresh CSRF value.
  await expect
    .poll(async () => (await page.request.get('/api/auth/status')).status(), { timeout: 15_000, intervals: [250] })
    .toBe(401)
  const refreshed = page.waitForResponse((r) => r.url().endsWith('/api/auth/refresh'))
  await page.reload()
  expect((await refreshed).status()).toBe(200)
  await memosLoaded(page)
  await expect(memoCard(page, 'Behind __Host-')).toBeVisible()

  await logOut(page)
  expect((await page.request.get('/api/auth/status')).status()).toBe(401)
})
