import { defineStore } from 'pinia'
import { ref } from 'vue'

import { browserLocale, isLocale, type Locale } from '@/i18n'

export type ThemePreference = 'system' | 'light' | 'dark'
export const THEME_PREFERENCES: readonly ThemePreference[] = ['system', 'light', 'dark']

/** The key in localStorage: only these two display choices, never anything of the session. */
export const PREFERENCES_KEY = 'memo.preferences'

interface Saved {
  locale?: Locale
  theme?: ThemePreference
}

function readSaved(storage: Storage | undefined): Saved {
  try {
    const raw: unknown = JSON.parse(storage?.getItem(PREFERENCES_KEY) ?? '{}')
    if (!raw || typeof raw !== 'object') return {}
    const { locale, theme } = raw as Record<string, unknown>
    return {
      locale: isLocale(locale) ? locale : undefined,
      theme: THEME_PREFERENCES.includes(theme as ThemePreference) ? (theme as ThemePreference) : undefined,
    }
  } catch {
    return {}
  }
}

function storage(): Storage | undefined {
  try {
    return globalThis.localStorage
  } catch {
    return undefined // storage disabled: the choices last for this visit only
  }
}

/**
 * The visitor's language and theme, kept across visits in this browser. Until they choose, the
 * language follows the browser's and the theme follows the system's.
 */
export const usePreferencesStore = defineStore('preferences', () => {
  const saved = readSaved(storage())
  const locale = ref<Locale>(saved.locale ?? browserLocale())
  const theme = ref<ThemePreference>(saved.theme ?? 'system')

  function save(): void {
    try {
      storage()?.setItem(PREFERENCES_KEY, JSON.stringify({ locale: locale.value, theme: theme.value }))
    } catch {
      // full or disabled storage: keep the choice for this visit
    }
  }

  function setLocale(value: Locale): void {
    locale.value = value
    save()
  }

  function setTheme(value: ThemePreference): void {
    theme.value = value
    save()
  }

  return { locale, theme, setLocale, setTheme }
})
