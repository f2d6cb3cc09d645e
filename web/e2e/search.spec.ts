import {
  apiSession,
  expect,
  input,
  logIn,
  memoCard,
  memosLoaded,
  needsServer,
  newUser,
  snap,
  test,
  type TestUser,
} from './fixtures'

/** A user with a few memos in English and Japanese, logged in in the page. */
async function seeded(page: import('@playwright/test').Page, baseURL: string): Promise<TestUser> {
  const user = newUser('search')
  const api = await apiSession(baseURL, user)
  await api.createMemo('買い物リスト', '牛乳と卵')
  await api.createMemo('明日の予定', '明日の東京の天気予報を確認してから出かける')
  await api.createMemo('Weather in London', 'Rain, then more rain')
  await api.dispose()
  await page.goto('/login')
  await logIn(page, user)
  await memosLoaded(page)
  return user
}

const searchField = (page: import('@playwright/test').Page) => input(page, 'search-field')

test('the search is kept in the URL: one request after typing pauses, and reload, back and a shared link keep it', async ({
  page,
  baseURL,
  browser,
}) => {
  await seeded(page, baseURL!)
  const searches: string[] = []
  page.on('request', (r) => {
    const url = new URL(r.url())
    if (url.pathname === '/api/memos' && url.searchParams.has('q')) searches.push(url.searchParams.get('q')!)
  })

  await searchField(page).pressSequentially('rain', { delay: 40 })
  await expect(page).toHaveURL(/\?q=rain$/)
  await memosLoaded(page)
  expect(searches).toEqual(['rain'])

  await page.reload()
  await expect(searchField(page)).toHaveValue('rain')
  await expect(page).toHaveURL(/\?q=rain$/)

  await page.goBack()
  await expect(page).not.toHaveURL(/q=/)
  await expect(searchField(page)).toHaveValue('')

  // A shared link opens with its search.
  const other = await browser.newPage({ baseURL })
  await other.context().addCookies(await page.context().cookies())
  await other.goto('/?q=%E5%A4%A9%E6%B0%97')
  await expect(input(other, 'search-field')).toHaveValue('天気')
  await other.close()
})

test('a Japanese word inside a sentence finds its memo, with the word highlighted', async ({ page, baseURL, serverFeatures }) => {
  needsServer(serverFeatures, 'search')
  await seeded(page, baseURL!)

  await searchField(page).fill('天気')
  await expect(page).toHaveURL(/\?q=%E5%A4%A9%E6%B0%97$/)
  await expect(page.getByTestId('memo-title')).toHaveText(['明日の予定'])
  await expect(memoCard(page, '明日の予定').getByTestId('search-hit')).toHaveText(['天気'])
  await expect(page.getByTestId('search-results-for')).toContainText('天気')
  await snap(page, 'search-hits')

  // A part of an English word, in any case.
  await searchField(page).fill('LOND')
  await expect(page.getByTestId('memo-title')).toHaveText(['Weather in London'])
  await expect(memoCard(page, 'Weather in London').getByTestId('search-hit')).toHaveText(['Lond'])
})

test('a search without a match says so, and clearing it brings the list back', async ({ page, baseURL, serverFeatures }) => {
  needsServer(serverFeatures, 'search')
  await seeded(page, baseURL!)

  await searchField(page).fill('存在しない言葉')
  await expect(page.getByTestId('search-empty')).toBeVisible()
  await expect(page.getByTestId('memo-card')).toHaveCount(0)
  await snap(page, 'search-empty')

  await page.getByTestId('search-empty-clear').click()
  await expect(page).not.toHaveURL(/q=/)
  await expect(page.getByTestId('memo-card')).toHaveCount(3)
})

test('the archive is searched on its own', async ({ page, baseURL, serverFeatures }) => {
  needsServer(serverFeatures, 'search')
  await seeded(page, baseURL!)
  await memoCard(page, 'Weather in London').getByTestId('memo-archive').click()
  await expect(memoCard(page, 'Weather in London')).toHaveCount(0)

  await page.getByTestId('nav-archived').click()
  await searchField(page).fill('rain')
  await expect(page).toHaveURL(/\/archived\?q=rain$/)
  await expect(page.getByTestId('memo-title')).toHaveText(['Weather in London'])
  await searchField(page).fill('天気')
  await expect(page.getByTestId('search-empty')).toBeVisible()
})
