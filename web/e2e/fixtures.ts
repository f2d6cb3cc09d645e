import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

import AxeBuilder from '@axe-core/playwright'
import { test as base, expect, request as playwrightRequest, type APIRequestContext, type Locator, type Page } from '@playwright/test'

import { startMemoServer, WEB_DIR, type MemoServer } from './server'

export { expect }

export const ARTIFACTS = join(WEB_DIR, 'e2e-artifacts')
export const DESKTOP = { width: 1280, height: 800 }
export const PHONE = { width: 375, height: 740 }

interface WorkerFixtures {
  /** Extra environment for the `memo` server; a test file sets it with `test.use()`. */
  serverEnv: Record<string, string>
  memoServer: MemoServer
  /** What the server under test supports (see `needsServer`). */
  serverFeatures: ServerFeatures
}

interface TestFixtures {
  /** Problems the page reported: uncaught errors, CSP violations, failed scripts. */
  pageProblems: string[]
}

/**
 * Records what a person would never see but must not happen: uncaught exceptions and console
 * errors other than the browser's own note about a 401/404 response (those are expected: the
 * session check and the silent refresh produce them).
 */
export function watchPage(page: Page, problems: string[] = []): string[] {
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return
    const text = msg.text()
    if (/Failed to load resource: the server responded with a status of (401|404|409)/.test(text)) return
    problems.push(`console: ${text}`)
  })
  return problems
}

export const test = base.extend<TestFixtures, WorkerFixtures>({
  serverEnv: [{}, { scope: 'worker', option: true }],
  memoServer: [
    async ({ serverEnv }, use) => {
      const server = await startMemoServer(serverEnv)
      await use(server)
      await server.stop()
    },
    { scope: 'worker', timeout: 60_000 },
  ],
  serverFeatures: [
    async ({ memoServer }, use) => {
      await use(await probeServer(memoServer.url))
    },
    { scope: 'worker' },
  ],
  baseURL: async ({ memoServer }, use) => {
    await use(memoServer.url)
  },
  pageProblems: [
    async ({ page }, use) => {
      const problems = watchPage(page)
      await use(problems)
      expect(problems, 'the page reported errors').toEqual([])
    },
    { auto: true },
  ],
})

export interface TestUser {
  name: string
  password: string
}

export function newUser(prefix = 'user'): TestUser {
  const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
  return { name: `${prefix}-${suffix}`, password: `pw-${suffix}-secret` }
}

export function input(page: Page, testId: string): Locator {
  return page.getByTestId(testId).locator('input, textarea').first()
}

/** Signs up through the form; lands on the memo list. */
export async function signUp(page: Page, user: TestUser): Promise<void> {
  await page.goto('/signup')
  await input(page, 'signup-username').fill(user.name)
  await input(page, 'signup-password').fill(user.password)
  await input(page, 'signup-confirm').fill(user.password)
  await page.getByTestId('signup-submit').click()
  await expect(page.getByTestId('memos-page')).toBeVisible()
  await expect(page.getByTestId('user-name')).toContainText(user.name)
}

/** Logs in with the keyboard only: type, Tab, type, Enter. Expects to be on the login page. */
export async function logIn(page: Page, user: TestUser): Promise<void> {
  await expect(page.getByTestId('login-page')).toBeVisible()
  await input(page, 'login-username').click()
  await page.keyboard.type(user.name)
  await page.keyboard.press('Tab')
  await expect(input(page, 'login-password')).toBeFocused()
  await page.keyboard.type(user.password)
  await page.keyboard.press('Enter')
}

/** Opens the app bar's user menu (account, language, theme, log out). */
export async function openUserMenu(page: Page): Promise<void> {
  await page.getByTestId('user-menu').click()
  await expect(page.getByTestId('user-menu-list')).toBeVisible()
}

export async function logOut(page: Page): Promise<void> {
  await openUserMenu(page)
  await page.getByTestId('logout-button').click()
  await expect(page.getByTestId('login-page')).toBeVisible()
}

export function memoCard(page: Page, title: string): Locator {
  return page.getByTestId('memo-card').filter({ has: page.getByTestId('memo-title').getByText(title, { exact: true }) })
}

export async function createMemo(page: Page, title: string, content = ''): Promise<void> {
  await input(page, 'memo-create-title').fill(title)
  if (content) await input(page, 'memo-create-content').fill(content)
  await page.getByTestId('memo-create-submit').click()
  await expect(memoCard(page, title)).toBeVisible()
  await expect(input(page, 'memo-create-title')).toHaveValue('')
}

/**
 * The titles of the memo cards, in any order: for lists just loaded from the server, whose
 * order (`-updated_at`) other specs check (paging.spec.ts); in-place updates are checked in
 * order with `toHaveText`.
 */
export async function expectTitlesInAnyOrder(page: Page, titles: string[]): Promise<void> {
  await expect
    .poll(async () => (await page.getByTestId('memo-title').allTextContents()).map((s) => s.trim()).sort())
    .toEqual([...titles].sort())
}

/** Waits until the memo list has loaded (items or the empty state). */
export async function memosLoaded(page: Page): Promise<void> {
  await expect(page.getByTestId('memo-list').or(page.getByTestId('memos-empty'))).toBeVisible()
  await expect(page.getByTestId('memos-loading')).toHaveCount(0)
}

/**
 * Saves the screen at desktop and at phone width into web/e2e-artifacts/, and checks that the
 * phone layout does not scroll sideways.
 */
/**
 * The server's auth cookie `name` (e.g. `access_token_cookie`) among `cookies`, under either name it
 * may have: `__Host-<name>` when the server runs with `MEMO_COOKIE_HOST_PREFIX=on`, else `<name>`.
 */
export function authCookie<C extends { name: string }>(cookies: readonly C[], name: string): C | undefined {
  return cookies.find((c) => c.name === `__Host-${name}`) ?? cookies.find((c) => c.name === name)
}

export async function snap(page: Page, name: string, { fullPage = true } = {}): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true })
  const original = page.viewportSize() ?? DESKTOP
  await page.setViewportSize(DESKTOP)
  await settle(page)
  await page.screenshot({ path: join(ARTIFACTS, `${name}-desktop.png`), fullPage, animations: 'disabled' })
  await page.setViewportSize(PHONE)
  await settle(page)
  await page.screenshot({ path: join(ARTIFACTS, `${name}-phone.png`), fullPage, animations: 'disabled' })
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
  expect(overflow, `${name}: the page scrolls sideways at 375 px`).toBeLessThanOrEqual(0)
  await page.setViewportSize(original)
  await settle(page)
}

async function settle(page: Page): Promise<void> {
  // Two frames for Vuetify's resize handling; screenshots finish transitions themselves.
  await page.evaluate(
    () => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))),
  )
}

// --- the API directly: seeding, and what the server under test supports ----------------------

/** A user's session through the API alone (no browser page), for seeding data. */
export interface ApiSession {
  request: APIRequestContext
  csrf(): Promise<string>
  createMemo(title: string, content?: string): Promise<{ id: number; title: string }>
  /** Creates `count` memos, a few requests at a time, memo 1 first and memo `count` last; `title(i)` for i = 1..count. */
  createMemos(count: number, title: (i: number) => string, content?: (i: number) => string): Promise<void>
  dispose(): Promise<void>
}

export async function apiSession(baseURL: string, user: TestUser, { register = true, userAgent = '' } = {}): Promise<ApiSession> {
  const request = await playwrightRequest.newContext({ baseURL, extraHTTPHeaders: userAgent ? { 'User-Agent': userAgent } : {} })
  if (register) {
    const registered = await request.post('/api/auth/register', { data: { user_name: user.name, password: user.password } })
    expect(registered.status(), 'register').toBe(201)
  }
  const login = await request.post('/api/auth/login', { data: { user_name: user.name, password: user.password } })
  expect(login.status(), 'login').toBe(200)
  const csrf = async () => authCookie((await request.storageState()).cookies, 'csrf_access_token')?.value ?? ''
  const createMemo = async (title: string, content = '') => {
    const response = await request.post('/api/memos', { data: { title, content }, headers: { 'X-CSRF-TOKEN': await csrf() } })
    expect(response.status(), `create ${title}`).toBe(201)
    return (await response.json()) as { id: number; title: string }
  }
  return {
    request,
    csrf,
    createMemo,
    async createMemos(count, title, content = () => '') {
      // Eight at a time for speed, but the first and the last alone: memos made in one batch
      // are written in any order, and specs count on memo 1 being the oldest and memo
      // `count` the newest (the SPA lists the most recently edited first).
      const PARALLEL = 8
      if (count < 1) return
      await createMemo(title(1), content(1))
      for (let start = 2; start < count; start += PARALLEL) {
        const batch = Array.from({ length: Math.min(PARALLEL, count - start) }, (_, k) => start + k)
        await Promise.all(batch.map((i) => createMemo(title(i), content(i))))
      }
      if (count > 1) await createMemo(title(count), content(count))
    },
    dispose: () => request.dispose(),
  }
}

/** The server features of issues 10 and 14 that some specs need. */
export interface ServerFeatures {
  /** `?limit=` and a `Link: <...>; rel="next"` header (with `?order=`). */
  paging: boolean
  /** `?q=` search. */
  search: boolean
  /** `POST /api/auth/password`. */
  passwordChange: boolean
  /** `DELETE /api/auth/account`. */
  accountDeletion: boolean
}

/** Asks the running server what it supports, with a throwaway user. */
export async function probeServer(baseURL: string): Promise<ServerFeatures> {
  const session = await apiSession(baseURL, newUser('probe'))
  try {
    for (const title of ['probe alpha', 'probe beta', 'probe gamma']) await session.createMemo(title)
    const page = await session.request.get('/api/memos?limit=1&order=-updated_at')
    const paging = page.ok() && ((await page.json()) as unknown[]).length === 1 && /rel="?next"?/.test(page.headers().link ?? '')
    const found = await session.request.get('/api/memos?q=beta')
    const search = found.ok() && ((await found.json()) as Array<{ title: string }>).map((m) => m.title).join() === 'probe beta'
    const headers = { 'X-CSRF-TOKEN': await session.csrf() }
    // A wrong password: 401 where the route exists, 404/405 where it does not. Nothing changes.
    const password = await session.request.post('/api/auth/password', {
      data: { current_password: 'not-the-password', new_password: 'another-long-password' },
      headers,
    })
    const account = await session.request.delete('/api/auth/account', { data: { password: 'not-the-password' }, headers })
    return {
      paging,
      search,
      passwordChange: password.status() === 401,
      accountDeletion: account.status() === 401,
    }
  } finally {
    await session.dispose()
  }
}

/**
 * Skips the calling test when the server lacks a feature it needs, but only when
 * E2E_ALLOW_MISSING_SERVER_FEATURES=1 says that is expected (a server built before issues 10 and
 * 14 landed). Otherwise the test runs, and fails, as it should on a server that ought to have it.
 */
export function needsServer(features: ServerFeatures, ...needed: Array<keyof ServerFeatures>): void {
  const missing = needed.filter((f) => !features[f])
  test.skip(
    missing.length > 0 && process.env.E2E_ALLOW_MISSING_SERVER_FEATURES === '1',
    `the server under test lacks ${missing.join(', ')} (issues 10/14)`,
  )
}

// --- accessibility -----------------------------------------------------------------------------

/** Runs axe-core (WCAG 2.1 A and AA rules) on the page; fails on any serious or critical finding. */
export async function expectAccessible(page: Page, screen: string): Promise<void> {
  // Colours are only judged at rest: a field's counter fading in would read as low contrast.
  await page.waitForFunction(() =>
    document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity),
  )
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()
  const serious = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => {
      const nodes = v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary ?? ''}`.replace(/\s+/g, ' '))
      return `${v.id} (${v.impact}): ${v.help} — ${nodes.join(' | ')}`
    })
  expect(serious, `${screen}: serious accessibility violations`).toEqual([])
}
