import { computed } from 'vue'
import { useRoute } from 'vue-router'

import { searchTerms } from '@/utils/highlight'

/** The longest search the server takes (api-contract.md: `?q=` over 200 characters is a 400). */
export const QUERY_MAX = 200
/** How long typing must pause before the list is searched. */
export const SEARCH_DEBOUNCE_MS = 300

/** The search of the current page, from its URL (`?q=`), so reload, back and a shared link keep it. */
export function useSearchQuery() {
  const route = useRoute()
  const query = computed(() => {
    const raw = route.query.q
    const value = Array.isArray(raw) ? raw[0] : raw
    return (value ?? '').trim().slice(0, QUERY_MAX)
  })
  const terms = computed(() => searchTerms(query.value))
  return { query, terms }
}
