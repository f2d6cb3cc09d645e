import { createMemo, expect, memosLoaded, newUser, signUp, test, watchPage } from './fixtures'

test('two users never see each other’s memos', async ({ page, browser, baseURL }) => {
  const alice = newUser('alice')
  const bob = newUser('bob')

  await signUp(page, alice)
  await createMemo(page, 'Alice secret', 'only for Alice')

  const bobContext = await browser.newContext({ baseURL })
  const bobPage = await bobContext.newPage()
  const bobProblems = watchPage(bobPage)
  try {
    await signUp(bobPage, bob)
    await memosLoaded(bobPage)
    await expect(bobPage.getByTestId('memos-empty')).toBeVisible()
    await createMemo(bobPage, 'Bob secret')

    // Each sees only their own, also after a reload.
    await page.reload()
    await memosLoaded(page)
    await expect(page.getByTestId('memo-title')).toHaveText(['Alice secret'])
    await expect(page.getByTestId('user-name')).toContainText(alice.name)
    await bobPage.reload()
    await memosLoaded(bobPage)
    await expect(bobPage.getByTestId('memo-title')).toHaveText(['Bob secret'])
    await expect(bobPage.getByTestId('user-name')).toContainText(bob.name)

    // Bob cannot read or change Alice's memo through the API either.
    const aliceMemos = (await (await page.request.get('/api/memos')).json()) as Array<{ id: number }>
    const aliceId = aliceMemos[0]!.id
    expect((await bobPage.request.get(`/api/memos/${aliceId}`)).status()).toBe(404)

    // Archived lists are separate too.
    await page.getByTestId('memo-archive').click()
    await bobPage.goto('/archived')
    await memosLoaded(bobPage)
    await expect(bobPage.getByTestId('memos-empty')).toBeVisible()
    expect(bobProblems).toEqual([])
  } finally {
    await bobContext.close()
  }
})
