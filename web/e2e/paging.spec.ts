import type { Locator, Page } from '@playwright/test'

import { apiSession, expect, logIn, memosLoaded, needsServer, newUser, test } from './fixtures'

const COUNT = 300
const title = (i: number) => `Memo ${String(i).padStart(3, '0')}`

/** Signs a user up through the API with COUNT memos (Memo 001 is the oldest), then logs in. */
async function seeded(page: Page, baseURL: string) {
  const user = newUser('paging')
  const api = await apiSession(baseURL, user)
  await api.createMemos(COUNT, title, (i) => `Line one of memo ${i}\nLine two`)
  await page.goto('/login')
  await logIn(page, user)
  await memosLoaded(page)
  return api
}

/** Scrolls down by most of a screen and lets the list render two frames. */
async function scrollDown(page: Page): Promise<void> {
  await page.evaluate(
    () =>
      new Promise<void>((resolve) => {
        window.scrollBy(0, 0.9 * window.innerHeight)
        requestAnimationFrame(() => requestAnimationFrame(() => resolve()))
      }),
  )
}

/** Whether the element is on screen now (Playwright's isVisible ignores the viewport). */
async function onScreen(locator: Locator): Promise<boolean> {
  if ((await locator.count()) === 0) return false
  return locator.evaluate((el) => {
    const r = el.getBoundingClientRect()
    return r.bottom > 0 && r.top < window.innerHeight
  })
}

async function cardsInDom(page: Page): Promise<number> {
  return page.getByTestId('memo-card').count()
}

test(`with ${COUNT} memos the DOM holds only the cards near the screen, and every memo comes by as it scrolls`, async ({ page, baseURL }) => {
  test.setTimeout(120_000)
  const api = await seeded(page, baseURL!)
  try {
    expect(await cardsInDom(page)).toBeLessThan(30)
    let most = 0
    const seen = new Set<string>()
    // Scroll to the end, page after page, until the list says there is nothing more.
    for (let step = 0; step < 400 && !(await onScreen(page.getByTestId('memos-all-shown'))); step++) {
      await scrollDown(page)
      for (const t of await page.getByTestId('memo-title').allTextContents()) seen.add(t.trim())
      most = Math.max(most, await cardsInDom(page))
    }
    await expect(page.getByTestId('memos-all-shown')).toBeInViewport()
    // Every memo came by, whatever the server's order.
    expect(seen.size).toBe(COUNT)
    expect(most, 'cards in the DOM at any time').toBeLessThan(40)
  } finally {
    await api.dispose()
  }
})

test('scrolling loads the next page from the Link header', async ({ page, baseURL, serverFeatures }) => {
  needsServer(serverFeatures, 'paging')
  const lists: URL[] = []
  page.on('request', (r) => {
    const url = new URL(r.url())
    if (url.pathname === '/api/memos' && r.method() === 'GET') lists.push(url)
  })
  const api = await seeded(page, baseURL!)
  try {
    expect(lists).toHaveLength(1)
    expect(lists[0]!.searchParams.get('order')).toBe('-updated_at')
    expect(Number(lists[0]!.searchParams.get('limit'))).toBeLessThan(COUNT)
    // Newest first.
    await expect(page.getByTestId('memo-title').first()).toHaveText(title(COUNT))

    await page.getByTestId('memo-list-end').scrollIntoViewIfNeeded()
    await expect.poll(() => lists.filter((u) => u.searchParams.has('cursor')).length).toBeGreaterThan(0)
  } finally {
    await api.dispose()
  }
})

test('the most recently edited memo comes first, also after a reload', async ({ page, baseURL, serverFeatures }) => {
  needsServer(serverFeatures, 'paging')
  const user = newUser('order')
  const api = await apiSession(baseURL!, user)
  try {
    const old = await api.createMemo('Oldest, edited last')
    await api.createMemo('Middle')
    await api.createMemo('Newest')
    const edited = await api.request.patch(`/api/memos/${old.id}`, {
      data: { content: 'edited' },
      headers: { 'X-CSRF-TOKEN': await api.csrf() },
    })
    expect(edited.status()).toBe(200)

    await page.goto('/login')
    await logIn(page, user)
    await memosLoaded(page)
    await expect(page.getByTestId('memo-title')).toHaveText(['Oldest, edited last', 'Newest', 'Middle'])
  } finally {
    await api.dispose()
  }
})
