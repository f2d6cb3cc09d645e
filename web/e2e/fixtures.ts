import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

import { test as base, expect, type Locator, type Page } from '@playwright/test'

import { startMemoServer, WEB_DIR, type MemoServer } from './server'

export { expect }

export const ARTIFACTS = join(WEB_DIR, 'e2e-artifacts')
export const DESKTOP = { width: 1280, height: 800 }
export const PHONE = { width: 375, height: 740 }

interface WorkerFixtures {
  /** Extra environment for the `memo` server; a test file sets it with `test.use()`. */
  serverEnv: Record<string, string>
  memoServer: MemoServer
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
