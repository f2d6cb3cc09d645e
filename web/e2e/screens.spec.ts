import type { Browser, Page } from '@playwright/test'

import {
  createMemo,
  expect,
  expectAccessible,
  input,
  memoCard,
  memosLoaded,
  newUser,
  openUserMenu,
  signUp,
  snap,
  test,
  watchPage,
} from './fixtures'

type Lang = 'en' | 'ja'
type Theme = 'light' | 'dark'

/** What each screen says, to check that it speaks the browser's language. */
const TEXT = {
  en: { login: 'Log in to Memo', signup: 'Create an account', memos: 'Memos', archived: 'Archived memos', account: 'Account', title: 'Memos · Memo' },
  ja: { login: 'メモにログイン', signup: 'アカウントを作成', memos: 'メモ', archived: 'アーカイブしたメモ', account: 'アカウント', title: 'メモ · メモ' },
} as const

async function newBrowserPage(browser: Browser, baseURL: string, lang: Lang, theme: Theme) {
  const context = await browser.newContext({ baseURL, locale: lang === 'ja' ? 'ja-JP' : 'en-US', colorScheme: theme })
  const page = await context.newPage()
  return { context, page, problems: watchPage(page) }
}

async function expectTheme(page: Page, theme: Theme): Promise<void> {
  await expect(page.locator('.v-application')).toHaveClass(new RegExp(`v-theme--${theme}`))
}

/** Checks one screen: accessible (axe), and saved at desktop and phone width. */
async function screen(page: Page, name: string, lang: Lang, theme: Theme, options?: { fullPage?: boolean }) {
  await expectAccessible(page, `${name} (${lang}, ${theme})`)
  await snap(page, `${name}-${lang}-${theme}`, options)
}

for (const lang of ['en', 'ja'] as const) {
  for (const theme of ['light', 'dark'] as const) {
    test(`every screen in ${lang === 'en' ? 'English' : 'Japanese'} and the ${theme} theme: translated, accessible, saved`, async ({
      browser,
      baseURL,
    }) => {
      test.setTimeout(180_000)
      const { context, page, problems } = await newBrowserPage(browser, baseURL!, lang, theme)
      const t = TEXT[lang]
      try {
        // Logged out: the language and theme follow the browser and the system.
        await page.goto('/login')
        await expect(page.getByRole('heading', { level: 1 })).toHaveText(t.login)
        await expect(page.locator('html')).toHaveAttribute('lang', lang)
        await expectTheme(page, theme)
        await screen(page, 'login', lang, theme)
        await page.goto('/signup')
        await expect(page.getByRole('heading', { level: 1 })).toHaveText(t.signup)
        await screen(page, 'signup', lang, theme)

        // The lists.
        await signUp(page, newUser(`scr-${lang}-${theme}`))
        await memosLoaded(page)
        await expect(page).toHaveTitle(t.title)
        await screen(page, 'memos-empty', lang, theme)
        await createMemo(page, '買い物リスト', '牛乳\n卵\nパン')
        await createMemo(page, 'Weekend plans', 'Hike if the weather is good; otherwise the museum.')
        await expect(page.getByRole('heading', { level: 1 })).toHaveText(t.memos)
        await screen(page, 'memos', lang, theme)

        // A search (the highlight is the SPA's; which memos match is the server's).
        await input(page, 'search-field').fill('weather')
        await expect(page).toHaveURL(/\?q=weather$/)
        await expect(memoCard(page, 'Weekend plans').getByTestId('search-hit')).toHaveText(['weather'])
        await screen(page, 'memos-search', lang, theme)
        await page.goto('/')
        await memosLoaded(page)

        // The dialogs.
        await memoCard(page, 'Weekend plans').getByTestId('memo-edit').click()
        await expect(page.getByTestId('memo-edit-dialog')).toBeVisible()
        await screen(page, 'memo-edit', lang, theme, { fullPage: false })
        await page.keyboard.press('Escape')
        await expect(page.getByTestId('memo-edit-dialog')).toBeHidden()
        await memoCard(page, 'Weekend plans').getByTestId('memo-delete').click()
        await expect(page.getByTestId('confirm-dialog')).toBeVisible()
        await screen(page, 'memo-delete-confirm', lang, theme, { fullPage: false })
        await page.getByTestId('confirm-cancel').click()
        await expect(page.getByTestId('confirm-dialog')).toBeHidden()

        // The archive.
        await memoCard(page, '買い物リスト').getByTestId('memo-archive').click()
        await expect(memoCard(page, '買い物リスト')).toHaveCount(0)
        // The archive's notice is closed as a user would: left to its 3 s timeout, it faded out
        // during a later screen's accessibility check, which read the fading colours as low contrast.
        await expect(page.getByTestId('snackbar')).toBeVisible()
        await page.getByTestId('snackbar').getByRole('button').click()
        await expect(page.getByTestId('snackbar')).toBeHidden()
        await page.getByTestId('nav-archived').click()
        await memosLoaded(page)
        await expect(page.getByRole('heading', { level: 1 })).toHaveText(t.archived)
        await screen(page, 'archived', lang, theme)

        // The user menu and the account page.
        await openUserMenu(page)
        await screen(page, 'user-menu', lang, theme, { fullPage: false })
        await page.getByTestId('menu-account').click()
        await expect(page.getByRole('heading', { level: 1 })).toHaveText(t.account)
        await expect(page.getByTestId('session-current')).toBeVisible()
        await screen(page, 'account', lang, theme)
        await page.getByTestId('delete-account').click()
        await expect(page.getByTestId('delete-account-dialog')).toBeVisible()
        await screen(page, 'account-delete', lang, theme, { fullPage: false })
        await page.getByTestId('delete-account-cancel').click()
        await expect(page.getByTestId('delete-account-dialog')).toBeHidden()

        expect(problems).toEqual([])
      } finally {
        await context.close()
      }
    })
  }
}

test('the language and theme switches in the user menu are kept across visits', async ({ browser, baseURL }) => {
  const { context, page, problems } = await newBrowserPage(browser, baseURL!, 'en', 'light')
  try {
    await signUp(page, newUser('prefs'))
    await memosLoaded(page)

    await openUserMenu(page)
    await page.getByTestId('menu-locale-ja').click()
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('メモ')
    await expect(page.locator('html')).toHaveAttribute('lang', 'ja')
    await expect(page).toHaveTitle('メモ · メモ')

    await openUserMenu(page)
    await page.getByTestId('menu-theme-dark').click()
    await expectTheme(page, 'dark')

    await page.reload()
    await memosLoaded(page)
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('メモ')
    await expectTheme(page, 'dark')

    // "Same as system" follows the system again.
    await openUserMenu(page)
    await page.getByTestId('menu-theme-system').click()
    await expectTheme(page, 'light')
    await page.emulateMedia({ colorScheme: 'dark' })
    await expectTheme(page, 'dark')
    expect(problems).toEqual([])
  } finally {
    await context.close()
  }
})

test('the server’s errors are shown in Japanese', async ({ browser, baseURL }) => {
  const { context, page } = await newBrowserPage(browser, baseURL!, 'ja', 'light')
  try {
    const user = newUser('ja-errors')
    await signUp(page, user)
    await openUserMenu(page)
    await page.getByTestId('logout-button').click()
    await expect(page.getByTestId('login-page')).toBeVisible()

    await input(page, 'login-username').fill(user.name)
    await input(page, 'login-password').fill('not-the-password')
    await page.getByTestId('login-submit').click()
    await expect(page.getByTestId('login-error')).toHaveText('ユーザー名またはパスワードが違います。')

    await page.goto('/signup')
    await input(page, 'signup-username').fill(user.name)
    await input(page, 'signup-password').fill('another-password')
    await input(page, 'signup-confirm').fill('another-password')
    await page.getByTestId('signup-submit').click()
    await expect(page.getByTestId('signup-error')).toHaveText('そのユーザー名はすでに使われています。別の名前を選んでください。')
  } finally {
    await context.close()
  }
})
