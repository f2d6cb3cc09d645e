import { isApiError } from '@/api/client'
import { describeError } from '@/utils/errors'

import { useNotifier } from './useNotifier'

/**
 * Runs a memo action and reports the outcome in the snackbar. A session that expired needs no
 * message here: the app is already on its way to the login page. A memo that is gone (deleted in
 * another tab) leaves the list. Returns whether it succeeded.
 */
export function useMemoActions(forget: (id: number) => void) {
  const { notify } = useNotifier()

  async function run(action: () => Promise<unknown>, success?: string, memoId?: number): Promise<boolean> {
    try {
      await action()
      if (success) notify(success, 'success')
      return true
    } catch (e) {
      if (isApiError(e) && e.code === 'session_expired') return false
      notify(describeError(e, 'memo'), 'error')
      if (isApiError(e) && e.code === 'not_found' && memoId !== undefined) forget(memoId)
      return false
    }
  }

  return { run }
}
