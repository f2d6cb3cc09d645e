import type { Locator, Page } from '@playwright/test'

import { createMemo, expect, input, memoCard, memosLoaded, newUser, signUp, test } from './fixtures'

/** Presses Tab until `target` has the focus (at most `limit` times): it is reachable by keyboard. */
async function tabTo(page: Page, target: Locator, limit = 40): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (await target.evaluate((el) => el === document.activeElement || el.contains(document.activeElement))) return
    await page.keyboard.press('Tab')
  }
  await expect(target).toBeFocused()
}

/**
 * Waits until the open dialog holds the focus, as Vuetify gives it once the dialog has opened
 * (and a user sees it open). Before that, Vuetify may not yet count it as the topmost overlay,
 * and ignores an Escape pressed within those few milliseconds.
 */
async function focusIsIn(dialog: Locator): Promise<void> {
  await expect
    .poll(() => dialog.evaluate((el) => el.closest('.v-overlay__content')?.contains(document.activeElement) ?? false))
    .toBe(true)
}

test('every action of the memo list is reachable with the keyboard, and focus returns after each dialog', async ({ page }) => {
  await signUp(page, newUser('keys'))
  await createMemo(page, 'Keyboard memo', 'typed, not clicked')
  const card = memoCard(page, 'Keyboard memo')

  // Edit: Enter opens the dialog with the title focused; Escape closes it and focus goes back.
  await tabTo(page, card.getByTestId('memo-edit'))
  await page.keyboard.press('Enter')
  await expect(input(page, 'memo-edit-title')).toBeFocused()
  await page.keyboard.press('Escape')
  await expect(page.getByTestId('memo-edit-dialog')).toBeHidden()
  await expect(card.getByTestId('memo-edit')).toBeFocused()

  // Save with Ctrl+Enter from the keyboard.
  await page.keyboard.press('Enter')
  await input(page, 'memo-edit-content').focus()
  await page.keyboard.type(' and saved')
  await page.keyboard.press('Control+Enter')
  await expect(page.getByTestId('memo-edit-dialog')).toBeHidden()
  await expect(card.getByTestId('memo-content')).toHaveText('typed, not clicked and saved')
  await expect(card.getByTestId('memo-edit')).toBeFocused()

  // Delete, cancelled: focus returns to the Delete button.
  await tabTo(page, card.getByTestId('memo-delete'))
  await page.keyboard.press('Enter')
  await expect(page.getByTestId('confirm-dialog')).toBeVisible()
  await focusIsIn(page.getByTestId('confirm-dialog'))
  await page.keyboard.press('Escape')
  await expect(page.getByTestId('confirm-dialog')).toBeHidden()
  await expect(card.getByTestId('memo-delete')).toBeFocused()

  // Delete, confirmed: the card is gone, so focus goes to the page's heading, not to <body>.
  await page.keyboard.press('Enter')
  await tabTo(page, page.getByTestId('confirm-ok'))
  await page.keyboard.press('Enter')
  await expect(card).toHaveCount(0)
  await expect(page.getByRole('heading', { level: 1 })).toBeFocused()
})

test('the search, the user menu and the account page work from the keyboard', async ({ page }) => {
  await signUp(page, newUser('keymenu'))
  await memosLoaded(page)

  // On a freshly loaded page the skip link is the first stop, and the search comes soon after.
  await page.reload()
  await memosLoaded(page)
  await page.keyboard.press('Tab')
  await expect(page.locator('.skip-link')).toBeFocused()
  await tabTo(page, input(page, 'search-field'), 5)
  await page.keyboard.type('groceries')
  await page.keyboard.press('Enter')
  await expect(page).toHaveURL(/\?q=groceries$/)
  await page.keyboard.press('Escape')
  await expect(page).not.toHaveURL(/q=/)

  // The user menu opens with Enter and its items are reached with the arrow keys.
  await tabTo(page, page.getByTestId('user-menu'), 5)
  await page.keyboard.press('Enter')
  await expect(page.getByTestId('user-menu-list')).toBeVisible()
  const account = page.getByTestId('menu-account')
  for (let i = 0; i < 5 && !(await account.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press('ArrowDown')
  await expect(account).toBeFocused()
  await page.keyboard.press('Enter')
  await expect(page.getByTestId('account-page')).toBeVisible()

  // The delete-account dialog: Escape closes it and focus returns to its button.
  const deleteButton = page.getByTestId('delete-account')
  await tabTo(page, deleteButton)
  await page.keyboard.press('Enter')
  await expect(input(page, 'delete-account-password')).toBeFocused()
  await page.keyboard.press('Escape')
  await expect(page.getByTestId('delete-account-dialog')).toBeHidden()
  await expect(deleteButton).toBeFocused()
})
