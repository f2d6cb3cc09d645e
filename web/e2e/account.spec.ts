import type { Browser, Page } from '@playwright/test'

import {
  expect,
  input,
  logIn,
  memosLoaded,
  needsServer,
  newUser,
  openUserMenu,
  signUp,
  snap,
  test,
  watchPage,
  type TestUser,
} from './fixtures'

const FIREFOX_ON_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0'
const SAFARI_ON_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1'

/** Another browser (its own cookies and User-Agent) logged in as `user`, on the memo list. */
async function otherBrowser(browser: Browser, baseURL: string, user: TestUser, userAgent: string) {
  const context = await browser.newContext({ baseURL, userAgent })
  const page = await context.newPage()
  const problems = watchPage(page)
  await page.goto('/login')
  await logIn(page, user)
  await memosLoaded(page)
  return { context, page, problems }
}

/** The other browser's next call to the server finds its login ended and goes to the login page. */
async function expectSentToLogin(page: Page): Promise<void> {
  await page.getByTestId('nav-archived').click()
  await expect(page.getByTestId('login-page')).toBeVisible()
  await expect(page.getByTestId('login-notice')).toBeVisible()
}

async function openAccount(page: Page): Promise<void> {
  await openUserMenu(page)
  await page.getByTestId('menu-account').click()
  await expect(page.getByTestId('account-page')).toBeVisible()
  await expect(page.getByTestId('session-current')).toBeVisible()
}

test('the logins list names each device and this one, and logging one out sends that browser to login', async ({
  page,
  browser,
  baseURL,
}) => {
  const user = newUser('logins')
  await signUp(page, user)
  const firefox = await otherBrowser(browser, baseURL!, user, FIREFOX_ON_WINDOWS)
  try {
    await openAccount(page)
    await expect(page.getByTestId('session')).toHaveCount(1)
    await expect(page.getByTestId('session-current')).toContainText('This device')
    await expect(page.getByTestId('session-current')).toContainText('Chrome')
    const other = page.getByTestId('session')
    await expect(other).toContainText('Firefox on Windows 10')
    await expect(other).toContainText(/Logged in .*Last used/)
    await snap(page, 'account')

    await other.getByTestId('session-logout').click()
    await expect(page.getByTestId('session')).toHaveCount(0)
    await expect(page.getByTestId('no-other-sessions')).toBeVisible()

    await expectSentToLogin(firefox.page)
    // This browser is still logged in.
    await page.reload()
    await expect(page.getByTestId('account-page')).toBeVisible()
    expect(firefox.problems).toEqual([])
  } finally {
    await firefox.context.close()
  }
})

test('“log out everywhere else” ends every other login and keeps this one', async ({ page, browser, baseURL }) => {
  const user = newUser('others')
  await signUp(page, user)
  const others = [
    await otherBrowser(browser, baseURL!, user, FIREFOX_ON_WINDOWS),
    await otherBrowser(browser, baseURL!, user, SAFARI_ON_IPHONE),
  ]
  try {
    await openAccount(page)
    await expect(page.getByTestId('session')).toHaveCount(2)
    // One call, however many logins: no DELETE per login.
    const ends: string[] = []
    page.on('request', (r) => {
      if (r.url().includes('/api/auth/sessions/') || r.url().endsWith('/api/auth/logout-others')) ends.push(`${r.method()} ${new URL(r.url()).pathname}`)
    })
    await page.getByTestId('logout-others').click()
    const confirm = page.getByTestId('confirm-dialog')
    await expect(confirm).toBeVisible()
    await confirm.getByTestId('confirm-ok').click()
    await expect(confirm).toBeHidden()
    await expect(page.getByTestId('session')).toHaveCount(0)
    expect(ends).toEqual(['POST /api/auth/logout-others'])

    for (const other of others) await expectSentToLogin(other.page)
    await page.getByTestId('nav-memos').click()
    await memosLoaded(page)
    await expect(page.getByTestId('login-page')).toHaveCount(0)
  } finally {
    for (const other of others) await other.context.close()
  }
})

test('changing the password logs the other browser out; the new password works and the old one not', async ({
  page,
  browser,
  baseURL,
  serverFeatures,
}) => {
  needsServer(serverFeatures, 'passwordChange')
  const user = newUser('password')
  await signUp(page, user)
  const firefox = await otherBrowser(browser, baseURL!, user, FIREFOX_ON_WINDOWS)
  try {
    await openAccount(page)
    const newPassword = `${user.password}-and-more-words`

    // A wrong current password is explained, and nothing changes.
    await input(page, 'password-current').fill('not-my-password')
    await input(page, 'password-new').fill(newPassword)
    await expect(page.getByTestId('password-strength')).toContainText('Strength:')
    await input(page, 'password-confirm').fill(newPassword)
    await page.getByTestId('password-submit').click()
    await expect(page.getByTestId('password-error')).toHaveText('That password is not right.')
    await snap(page, 'account-wrong-password')

    await input(page, 'password-current').fill(user.password)
    await page.getByTestId('password-submit').click()
    await expect(page.getByTestId('snackbar')).toContainText('Password changed')
    await expect(page.getByTestId('session')).toHaveCount(0)

    await expectSentToLogin(firefox.page)
    await logIn(firefox.page, user) // the old password
    await expect(firefox.page.getByTestId('login-error')).toHaveText('Wrong user name or password.')
    await input(firefox.page, 'login-username').fill('')
    await logIn(firefox.page, { name: user.name, password: newPassword })
    await memosLoaded(firefox.page)

    // This browser stayed logged in.
    await page.reload()
    await expect(page.getByTestId('account-page')).toBeVisible()
  } finally {
    await firefox.context.close()
  }
})

test('deleting the account needs the password and the typed word; then the login is refused', async ({
  page,
  browser,
  baseURL,
  serverFeatures,
}) => {
  needsServer(serverFeatures, 'accountDeletion')
  const user = newUser('delete')
  await signUp(page, user)
  const firefox = await otherBrowser(browser, baseURL!, user, FIREFOX_ON_WINDOWS)
  try {
    await openAccount(page)
    await page.getByTestId('delete-account').click()
    const dialog = page.getByTestId('delete-account-dialog')
    await expect(dialog).toBeVisible()
    const submit = dialog.getByTestId('delete-account-submit')
    await input(page, 'delete-account-password').fill(user.password)
    await expect(submit).toBeDisabled()
    await input(page, 'delete-account-confirm').fill('DELETE')
    await snap(page, 'account-delete', { fullPage: false })

    // A wrong password is refused.
    await input(page, 'delete-account-password').fill('not-my-password')
    await submit.click()
    await expect(dialog.getByTestId('delete-account-error')).toHaveText('That password is not right.')

    await input(page, 'delete-account-password').fill(user.password)
    await submit.click()
    await expect(page.getByTestId('login-page')).toBeVisible()
    await expect(page.getByTestId('login-notice')).toContainText('deleted')

    await logIn(page, user)
    await expect(page.getByTestId('login-error')).toHaveText('Wrong user name or password.')
    await expectSentToLogin(firefox.page)
  } finally {
    await firefox.context.close()
  }
})

test('a new password’s strength is shown as it is typed', async ({ page }) => {
  const user = newUser('strength')
  await signUp(page, user)
  await openAccount(page)
  const strength = page.getByTestId('password-strength')

  await input(page, 'password-new').fill('password1')
  await expect(strength).toContainText('Strength: very weak')
  await expect(strength).toContainText('Longer is stronger')

  await input(page, 'password-new').fill('violet tractor umbrella 1987 seaside')
  await expect(strength).toContainText(/Strength: (strong|very strong)/)
  await expect(strength).not.toContainText('Longer is stronger')
})
