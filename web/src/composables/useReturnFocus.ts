import { watch, type Ref } from 'vue'

/**
 * Focus goes back where it was when a dialog closes (WAI-ARIA's dialog pattern), or, when that
 * element is gone (the memo it belonged to was deleted), to the page's heading, never to <body>.
 * Returns the handler for the dialog's `after-leave` event.
 */
export function useReturnFocus(open: Ref<boolean>): () => void {
  let opener: HTMLElement | null = null
  watch(open, (isOpen) => {
    if (isOpen && document.activeElement instanceof HTMLElement && document.activeElement !== document.body) {
      opener = document.activeElement
    }
  })
  return () => {
    const target = opener?.isConnected ? opener : document.querySelector<HTMLElement>('main h1')
    opener = null
    if (!target) return
    if (target.tagName === 'H1' && !target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1')
    target.focus()
  }
}
