import { authCookie, createMemo, expect, input, logIn, logOut, memosLoaded, newUser, signUp, snap, test } from './fixtures'

test.describe('signing up and logging in', () => {
  test('a new user signs up, sees the empty memo list and their name', async ({ page }) => {
    const user = newUser('signup')
    await page.goto('/signup')
    await expect(page).toHaveTitle(/Sign up/)
    await snap(page, 'signup')

    await signUp(page, user)

    await memosLoaded(page)
    await expect(page.getByTestId('memos-empty')).toBeVisible()
    await expect(page).toHaveURL(/\/$/)
    await snap(page, 'memos-empty')
  })

  test('a taken user name is explained on sign-up', async ({ page }) => {
    const user = newUser('taken')
    await signUp(page, user)
    await logOut(page)

    await page.goto('/signup')
    await input(page, 'signup-username').fill(user.name)
    await input(page, 'signup-password').fill('another-password')
    await input(page, 'signup-confirm').fill('another-password')
    await input(page, 'signup-confirm').press('Enter')

    await expect(page.getByTestId('signup-error')).toContainText('already taken')
    await expect(page.getByTestId('signup-page')).toBeVisible()
    await snap(page, 'signup-name-taken')
  })

  test('the sign-up form checks the password before sending it', async ({ page }) => {
    const requests: string[] = []
    page.on('request', (r) => {
      if (r.url().includes('/api/auth/register')) requests.push(r.url())
    })
    await page.goto('/signup')
    await input(page, 'signup-username').fill(newUser().name)
    await input(page, 'signup-password').fill('short')
    await input(page, 'signup-confirm').fill('short')
    await page.getByTestId('signup-submit').click()

    await expect(page.getByText('At least 8 characters.')).toBeVisible()
    expect(requests).toEqual([])
  })

  test('a wrong password is explained and a right one logs in, using only the keyboard', async ({ page }) => {
    const user = newUser('login')
    await signUp(page, user)
    await logOut(page)
    await snap(page, 'login')

    await logIn(page, { name: user.name, password: 'not-the-password' })
    await expect(page.getByTestId('login-error')).toContainText('Wrong user name or password.')
    await expect(page.getByTestId('login-page')).toBeVisible()
    await snap(page, 'login-wrong-password')

    await input(page, 'login-username').fill('')
    await logIn(page, user)
    await expect(page.getByTestId('memos-page')).toBeVisible()
    await expect(page.getByTestId('user-name')).toContainText(user.name)
  })

  test('a reload keeps the session', async ({ page }) => {
    const user = newUser('reload')
    await signUp(page, user)
    await createMemo(page, 'Survives a reload')

    await page.reload()

    await expect(page.getByTestId('memos-page')).toBeVisible()
    await expect(page.getByTestId('user-name')).toContainText(user.name)
    await memosLoaded(page)
    await expect(page.getByTestId('memo-title')).toHaveText(['Survives a reload'])

    await page.goto('/archived')
    await expect(page.getByTestId('archived-page')).toBeVisible()
  })

  test('a direct URL while logged out goes to login, and back there after login', async ({ page }) => {
    const user = newUser('direct')
    await signUp(page, user)
    await logOut(page)

    await page.goto('/archived')

    await expect(page.getByTestId('login-page')).toBeVisible()
    await expect(page).toHaveURL(/\/login\?redirect=(%2F|\/)archived$/)

    await logIn(page, user)
    await expect(page.getByTestId('archived-page')).toBeVisible()
    await expect(page).toHaveURL(/\/archived$/)
  })

  test('logging out returns to login and the old session no longer works', async ({ page, context, baseURL }) => {
    const user = newUser('logout')
    await signUp(page, user)
    await createMemo(page, 'Private after logout')
    const oldCookies = await context.cookies()
    const access = authCookie(oldCookies, 'access_token_cookie')
    expect(access, 'an access token cookie').toBeDefined()
    expect(authCookie(oldCookies, 'csrf_access_token'), 'an access CSRF cookie').toBeDefined()

    await logOut(page)
    await expect(page).toHaveURL(/\/login/)

    // The app: a protected page goes to login.
    await page.goto('/')
    await expect(page.getByTestId('login-page')).toBeVisible()
    await expect(page.getByTestId('memo-list')).toHaveCount(0)

    // A copy of the old access cookie was revoked on the server.
    const status = await page.request.get(`${baseURL}/api/auth/status`, {
      headers: { Cookie: `${access!.name}=${access!.value}` },
    })
    expect(status.status()).toBe(401)

    // Even with every old cookie put back, the app does not get back in.
    await context.clearCookies()
    await context.addCookies(oldCookies)
    await page.goto('/')
    await expect(page.getByTestId('login-page')).toBeVisible()
  })

  test('a session that is gone sends the user to login with a message, and back afterwards', async ({ page, context }) => {
    const user = newUser('gone')
    await signUp(page, user)
    await createMemo(page, 'Still here')

    // The cookies disappear (e.g. the browser dropped them): the next action cannot be refreshed.
    await context.clearCookies()
    await page.getByTestId('nav-archived').click()

    await expect(page.getByTestId('login-page')).toBeVisible()
    await expect(page.getByTestId('login-notice')).toContainText('Your session has expired')
    await expect(page).toHaveURL(/redirect=(%2F|\/)archived/)
    await snap(page, 'login-session-expired')

    await logIn(page, user)
    await expect(page.getByTestId('archived-page')).toBeVisible()
  })
})
