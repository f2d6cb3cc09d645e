import { createMemo, expect, expectTitlesInAnyOrder, input, memoCard, memosLoaded, newUser, signUp, snap, test } from './fixtures'

test('create, edit, archive, unarchive and delete a memo', async ({ page }) => {
  await signUp(page, newUser('memos'))
  await memosLoaded(page)

  // Create (the title field submits with Enter; the content keeps its line breaks).
  await input(page, 'memo-create-title').fill('Groceries')
  await input(page, 'memo-create-content').fill('Milk\nEggs')
  await input(page, 'memo-create-title').press('Enter')
  await expect(memoCard(page, 'Groceries')).toBeVisible()
  await expect(memoCard(page, 'Groceries').getByTestId('memo-content')).toHaveText('Milk\nEggs')
  await createMemo(page, 'Second memo', 'Some text')
  await createMemo(page, 'Third memo')
  // Most recently edited first: each new memo goes on top.
  await expect(page.getByTestId('memo-title')).toHaveText(['Third memo', 'Second memo', 'Groceries'])
  await snap(page, 'memos')

  // Edit.
  await memoCard(page, 'Groceries').getByTestId('memo-edit').click()
  const dialog = page.getByTestId('memo-edit-dialog')
  await expect(dialog).toBeVisible()
  await expect(input(page, 'memo-edit-title')).toHaveValue('Groceries')
  await snap(page, 'memo-edit', { fullPage: false })
  await input(page, 'memo-edit-title').fill('Groceries for Sunday')
  await input(page, 'memo-edit-content').fill('Milk\nEggs\nBread')
  await dialog.getByTestId('memo-edit-save').click()
  await expect(dialog).toBeHidden()
  await expect(memoCard(page, 'Groceries for Sunday').getByTestId('memo-content')).toHaveText('Milk\nEggs\nBread')
  // The edited memo moves to the top, in place.
  await expect(page.getByTestId('memo-title')).toHaveText(['Groceries for Sunday', 'Third memo', 'Second memo'])

  // The edit is on the server.
  await page.reload()
  await memosLoaded(page)
  await expectTitlesInAnyOrder(page, ['Groceries for Sunday', 'Second memo', 'Third memo'])

  // Archive: it leaves the list and shows up under Archived.
  await memoCard(page, 'Second memo').getByTestId('memo-archive').click()
  await expect(memoCard(page, 'Second memo')).toHaveCount(0)
  await page.getByTestId('nav-archived').click()
  await expect(page.getByTestId('archived-page')).toBeVisible()
  await memosLoaded(page)
  await expect(page.getByTestId('memo-title')).toHaveText(['Second memo'])
  await snap(page, 'archived')

  // Unarchive: back in the memo list.
  await memoCard(page, 'Second memo').getByTestId('memo-unarchive').click()
  await expect(page.getByTestId('memos-empty')).toBeVisible()
  await snap(page, 'archived-empty')
  await page.getByTestId('nav-memos').click()
  await memosLoaded(page)
  await expectTitlesInAnyOrder(page, ['Groceries for Sunday', 'Second memo', 'Third memo'])

  // Delete asks first; Cancel keeps the memo.
  await memoCard(page, 'Third memo').getByTestId('memo-delete').click()
  const confirm = page.getByTestId('confirm-dialog')
  await expect(confirm).toBeVisible()
  await expect(confirm).toContainText('Third memo')
  await snap(page, 'memo-delete-confirm', { fullPage: false })
  await confirm.getByTestId('confirm-cancel').click()
  await expect(confirm).toBeHidden()
  await expect(memoCard(page, 'Third memo')).toBeVisible()

  await memoCard(page, 'Third memo').getByTestId('memo-delete').click()
  await confirm.getByTestId('confirm-ok').click()
  await expect(confirm).toBeHidden()
  await expect(memoCard(page, 'Third memo')).toHaveCount(0)

  await page.reload()
  await memosLoaded(page)
  await expectTitlesInAnyOrder(page, ['Groceries for Sunday', 'Second memo'])
})

test('an archived memo can be deleted from the archive', async ({ page }) => {
  await signUp(page, newUser('archdel'))
  await createMemo(page, 'Old news')
  await memoCard(page, 'Old news').getByTestId('memo-archive').click()
  await expect(page.getByTestId('memos-empty')).toBeVisible()

  await page.goto('/archived')
  await memoCard(page, 'Old news').getByTestId('memo-delete').click()
  await page.getByTestId('confirm-ok').click()

  await expect(page.getByTestId('memos-empty')).toBeVisible()
  await page.goto('/')
  await expect(page.getByTestId('memos-empty')).toBeVisible()
})

test('an empty title is refused before anything is sent', async ({ page }) => {
  await signUp(page, newUser('empty'))
  await memosLoaded(page)
  const posts: string[] = []
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/api/memos')) posts.push(r.url())
  })

  await input(page, 'memo-create-title').fill('   ')
  await page.getByTestId('memo-create-submit').click()

  await expect(page.getByText('Enter a title.')).toBeVisible()
  expect(posts).toEqual([])
})

test('an unreachable server is explained, and nothing is lost', async ({ page, pageProblems }) => {
  await signUp(page, newUser('offline'))
  await memosLoaded(page)
  await page.route('**/api/memos', (route) => route.abort('connectionrefused'))

  await input(page, 'memo-create-title').fill('Written offline')
  await page.getByTestId('memo-create-submit').click()

  await expect(page.getByTestId('snackbar')).toContainText("Can't reach the server")
  await expect(input(page, 'memo-create-title')).toHaveValue('Written offline')

  await page.unroute('**/api/memos')
  await page.getByTestId('memo-create-submit').click()
  await expect(memoCard(page, 'Written offline')).toBeVisible()

  // The browser logs the refused connection; that one is expected.
  const expected = (p: string) => p.includes('ERR_CONNECTION_REFUSED')
  pageProblems.splice(0, pageProblems.length, ...pageProblems.filter((p) => !expected(p)))
})
