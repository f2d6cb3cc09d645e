import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

import { parseDevice } from '@/components/account/device'
import { browserLocale } from '@/i18n'
import { PREFERENCES_KEY, usePreferencesStore } from '@/stores/preferences'

beforeEach(() => setActivePinia(createPinia()))
afterEach(() => localStorage.clear())

describe('language and theme', () => {
  it('takes the first of the browser’s languages that the app speaks', () => {
    expect(browserLocale(['ja-JP', 'en-US'])).toBe('ja')
    expect(browserLocale(['fr-FR', 'en-GB', 'ja'])).toBe('en')
    expect(browserLocale(['de-DE'])).toBe('en')
  })

  it('keeps the user’s choices across visits, and ignores anything else stored', () => {
    const first = usePreferencesStore()
    first.setLocale('ja')
    first.setTheme('dark')

    setActivePinia(createPinia())
    const next = usePreferencesStore()
    expect([next.locale, next.theme]).toEqual(['ja', 'dark'])

    localStorage.setItem(PREFERENCES_KEY, '{"locale":"xx","theme":"neon"}')
    setActivePinia(createPinia())
    expect(usePreferencesStore().theme).toBe('system')
  })
})

describe('a login’s device', () => {
  it('is read from its User-Agent', () => {
    expect(
      parseDevice('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0'),
    ).toEqual({ browser: 'Firefox', os: 'Windows 10' })
    expect(
      parseDevice('Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1'),
    ).toEqual({ browser: 'Safari', os: 'iOS' })
    expect(parseDevice(null)).toBeNull()
    expect(parseDevice('')).toBeNull()
  })
})
