import { isApiError, type ApiError } from '@/api/client'
import { i18n } from '@/i18n'

/** What the user was doing, to word the message. */
export type ErrorContext = 'login' | 'signup' | 'memo' | 'load' | 'logout' | 'password' | 'account' | 'session'

type Translate = (key: string, named?: Record<string, unknown>) => string

/** "in 5 minutes" / "5 分後", in the app's language. */
export function waitPhrase(seconds: number, locale: string = i18n.global.locale.value): string {
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' })
  if (seconds < 90) return rtf.format(Math.max(1, Math.ceil(seconds)), 'second')
  if (seconds < 90 * 60) return rtf.format(Math.ceil(seconds / 60), 'minute')
  return rtf.format(Math.ceil(seconds / 3600), 'hour')
}

function unauthorized(context: ErrorContext, t: Translate): string {
  if (context === 'login') return t('errors.wrongLogin')
  if (context === 'password' || context === 'account') return t('errors.wrongPassword')
  return t('errors.sessionExpired')
}

function validation(error: ApiError, context: ErrorContext, t: Translate): string {
  if (context === 'password') return t('errors.weakPassword')
  const detail = Object.values(error.fields)[0] ?? error.message
  return t('errors.invalid', { detail })
}

/**
 * A message a person understands, in the app's language, for any error the API module throws.
 * The server's `{"msg"}` texts are English and technical; the cases a user meets (wrong
 * password, name taken, session expired, too many attempts and how long to wait) get their own
 * translated sentence.
 */
export function describeError(
  error: unknown,
  context: ErrorContext = 'memo',
  t: Translate = i18n.global.t as Translate,
): string {
  if (!isApiError(error)) return t('errors.unknown')
  switch (error.code) {
    case 'network':
      return t('errors.network')
    case 'session_expired':
      return t('errors.sessionExpired')
    case 'unauthorized':
      return unauthorized(context, t)
    case 'conflict':
      return context === 'signup' ? t('errors.nameTaken') : t('errors.invalid', { detail: error.message })
    case 'not_found':
      if (context === 'memo') return t('errors.memoGone')
      if (context === 'session') return t('errors.sessionGone')
      return t('errors.unknown')
    case 'validation':
      return validation(error, context, t)
    case 'too_large':
      return t('errors.tooLarge')
    case 'rate_limited':
      return error.retryAfter !== undefined
        ? t('errors.tooManyWait', { when: waitPhrase(error.retryAfter) })
        : t('errors.tooMany')
    case 'server':
      return t('errors.server')
    default:
      return t('errors.unknown')
  }
}

/** Accepts only same-app paths as a post-login destination (no open redirects). */
export function safeRedirect(value: unknown, fallback = '/'): string {
  const v = Array.isArray(value) ? value[0] : value
  if (typeof v !== 'string' || !v.startsWith('/') || v.startsWith('//') || v.startsWith('/\\')) return fallback
  return v
}
