import { reactive, readonly } from 'vue'

export type NoticeKind = 'success' | 'error' | 'info'

const state = reactive({ show: false, text: '', kind: 'info' as NoticeKind, serial: 0 })

/** One app-wide snackbar: `notify('Saved')`. */
export function useNotifier() {
  function notify(text: string, kind: NoticeKind = 'info'): void {
    state.text = text
    state.kind = kind
    state.serial += 1
    state.show = true
  }
  function close(): void {
    state.show = false
  }
  return { notice: readonly(state), notify, close }
}
