import { isApiError } from '@/api/client'

/** What the user was doing, to word the message. */
export type ErrorContext = 'login' | 'signup' | 'memo' | 'load' | 'logout'

/** A message a person understands, for any error thrown by the API module. */
export function describeError(error: unknown, context: ErrorContext = 'memo'): string {
  if (!isApiError(error)) return 'Something went wrong. Please try again.'
  switch (error.code) {
    case 'network':
      return "Can't reach the server. Check your connection and try again."
    case 'session_expired':
      return 'Your session has expired. Please log in again.'
    case 'unauthorized':
      return context === 'login' ? 'Wrong user name or password.' : error.message
    case 'conflict':
      return context === 'signup' ? 'That user name is already taken. Please choose another one.' : error.message
    case 'not_found':
      return context === 'memo' ? 'This memo no longer exists. The list has been refreshed.' : error.message
    case 'validation':
      return Object.values(error.fields)[0] ?? error.message
    case 'too_large':
      return 'The memo is too large.'
    case 'rate_limited':
      return 'Too many attempts. Please wait a moment and try again.'
    case 'server':
      return 'The server had a problem. Please try again in a moment.'
    default:
      return error.message || 'Something went wrong. Please try again.'
  }
}

/** Accepts only same-app paths as a post-login destination (no open redirects). */
export function safeRedirect(value: unknown, fallback = '/'): string {
  const v = Array.isArray(value) ? value[0] : value
  if (typeof v !== 'string' || !v.startsWith('/') || v.startsWith('//') || v.startsWith('/\\')) return fallback
  return v
}
