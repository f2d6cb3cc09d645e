/**
 * The app's languages (vue-i18n): English and Japanese. The language is the visitor's saved
 * choice, else the first of the browser's languages that the app speaks, else English. Vuetify's
 * own strings (its buttons' labels) come through the same instance (see plugins/vuetify.ts).
 */
import { en as vuetifyEn, ja as vuetifyJa } from 'vuetify/locale'
import { createI18n } from 'vue-i18n'

import { en, type MessageSchema } from './en'
import { ja } from './ja'

export const LOCALES = ['en', 'ja'] as const
export type Locale = (typeof LOCALES)[number]
/** Each language's name in itself, for the language switch. */
export const LOCALE_NAMES: Record<Locale, string> = { en: 'English', ja: '日本語' }

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value)
}

/** The first of the browser's languages (`navigator.languages`) that the app speaks. */
export function browserLocale(languages: readonly string[] = globalThis.navigator?.languages ?? []): Locale {
  for (const tag of languages) {
    const base = tag.toLowerCase().split('-')[0]
    if (isLocale(base)) return base
  }
  return 'en'
}

const dateTime = {
  short: { year: 'numeric', month: 'short', day: 'numeric' },
  long: { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' },
} as const

type Messages = MessageSchema & { $vuetify: typeof vuetifyEn }

export const i18n = createI18n<[Messages], Locale, false>({
  legacy: false,
  locale: 'en',
  fallbackLocale: 'en',
  messages: {
    en: { ...en, $vuetify: vuetifyEn },
    ja: { ...ja, $vuetify: vuetifyJa as typeof vuetifyEn },
  },
  datetimeFormats: { en: dateTime, ja: dateTime },
  numberFormats: {
    en: { integer: { maximumFractionDigits: 0 } },
    ja: { integer: { maximumFractionDigits: 0 } },
  },
  // Every string is translated: a missing key is a bug, reported as an error (which the e2e
  // suite fails on) rather than vue-i18n's development-only warning.
  missingWarn: false,
  fallbackWarn: false,
  missing: (locale, key) => {
    console.error(`missing message "${key}" in ${locale}`)
  },
})

/** Switches the language of the app and of the document (`<html lang>`, for screen readers). */
export function applyLocale(locale: Locale): void {
  i18n.global.locale.value = locale
  if (typeof document !== 'undefined') document.documentElement.lang = locale
}

export const t = i18n.global.t
