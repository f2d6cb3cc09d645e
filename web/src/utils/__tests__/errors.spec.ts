import { afterEach, describe, expect, it, vi } from 'vitest'

import { authApi } from '@/api/auth'
import { ApiError, createApiClient, SessionExpiredError } from '@/api/client'
import { applyLocale, i18n, type Locale } from '@/i18n'
import { stubFetch } from '@/test/fetchStub'
import { describeError } from '@/utils/errors'

/** The error the API module throws for a server answer, as the app would get it. */
async function errorFor(status: number, body: unknown, headers: Record<string, string> = {}): Promise<unknown> {
  const stub = stubFetch(
    () => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } }),
  )
  return authApi(createApiClient({ fetch: stub.fetch })).login({ user_name: 'a', password: 'b' }).catch((e: unknown) => e)
}

function inLocale<T>(locale: Locale, fn: () => T): T {
  applyLocale(locale)
  return fn()
}

afterEach(() => applyLocale('en'))

describe('the server’s errors, in the user’s language', () => {
  it('a wrong login', async () => {
    const error = await errorFor(401, { msg: 'Wrong login id or password.' })
    expect(inLocale('en', () => describeError(error, 'login'))).toBe('Wrong user name or password.')
    expect(inLocale('ja', () => describeError(error, 'login'))).toBe('ユーザー名またはパスワードが違います。')
  })

  it('a wrong current password when changing it or deleting the account', () => {
    const error = new ApiError('unauthorized', 'Wrong password', 401)
    expect(inLocale('en', () => describeError(error, 'password'))).toBe('That password is not right.')
    expect(inLocale('ja', () => describeError(error, 'account'))).toBe('パスワードが違います。')
  })

  it('a taken name on sign-up', async () => {
    const error = await errorFor(409, { msg: 'User name already taken' })
    expect(inLocale('en', () => describeError(error, 'signup'))).toBe('That user name is already taken. Please choose another one.')
    expect(inLocale('ja', () => describeError(error, 'signup'))).toBe('そのユーザー名はすでに使われています。別の名前を選んでください。')
  })

  it('an expired session', () => {
    const error = new SessionExpiredError()
    expect(inLocale('en', () => describeError(error, 'memo'))).toBe('Your session has expired. Please log in again.')
    expect(inLocale('ja', () => describeError(error, 'memo'))).toBe('セッションの有効期限が切れました。もう一度ログインしてください。')
  })

  it('too many attempts, with the wait from Retry-After', async () => {
    const seconds = await errorFor(429, { msg: 'Too many failed login attempts; try again later' }, { 'Retry-After': '30' })
    expect(inLocale('en', () => describeError(seconds, 'login'))).toBe('Too many attempts. Try again in 30 seconds.')
    expect(inLocale('ja', () => describeError(seconds, 'login'))).toBe('試行回数が多すぎます。30 秒後にもう一度お試しください。')

    const minutes = await errorFor(429, { msg: 'Too many failed login attempts; try again later' }, { 'Retry-After': '290' })
    expect(inLocale('en', () => describeError(minutes, 'login'))).toBe('Too many attempts. Try again in 5 minutes.')
    expect(inLocale('ja', () => describeError(minutes, 'login'))).toBe('試行回数が多すぎます。5 分後にもう一度お試しください。')
  })

  it('too many attempts without a Retry-After', async () => {
    const error = await errorFor(429, { msg: 'Too many failed login attempts; try again later' })
    expect(inLocale('ja', () => describeError(error, 'login'))).toBe('試行回数が多すぎます。しばらく待ってから、もう一度お試しください。')
  })

  it('an unreachable server and anything unexpected', async () => {
    const stub = stubFetch(() => Promise.reject(new TypeError('Failed to fetch')))
    const offline = await authApi(createApiClient({ fetch: stub.fetch })).me().catch((e: unknown) => e)
    expect(inLocale('ja', () => describeError(offline))).toBe('サーバーに接続できません。接続を確認して、もう一度お試しください。')
    expect(inLocale('en', () => describeError(new Error('boom')))).toBe('Something went wrong. Please try again.')
  })

  it('a memo deleted elsewhere, and a weak new password', () => {
    expect(inLocale('ja', () => describeError(new ApiError('not_found', 'Memo not found', 404), 'memo'))).toBe(
      'このメモはもうありません。一覧を更新しました。',
    )
    expect(inLocale('en', () => describeError(new ApiError('validation', 'password too short', 422), 'password'))).toBe(
      'Choose a stronger password (at least 8 characters).',
    )
  })
})

describe('the message catalogues', () => {
  it('have the same keys in both languages and no empty message', async () => {
    const { en } = await import('@/i18n/en')
    const { ja } = await import('@/i18n/ja')
    const keys = (o: object, prefix = ''): string[] =>
      Object.entries(o).flatMap(([k, v]) => (v && typeof v === 'object' ? keys(v, `${prefix}${k}.`) : [`${prefix}${k}`]))
    expect(keys(ja).sort()).toEqual(keys(en).sort())
    const values = (o: object): unknown[] => Object.values(o).flatMap((v) => (v && typeof v === 'object' ? values(v) : [v]))
    for (const v of [...values(en), ...values(ja)]) expect(typeof v === 'string' && v.trim().length > 0).toBe(true)
  })

  it('report a missing message as an error, which the e2e suite fails on', () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {})
    i18n.global.t('memos.noSuchMessage')
    expect(spy).toHaveBeenCalledWith('missing message "memos.noSuchMessage" in en')
    spy.mockRestore()
  })

  it('name the five password strengths by number', () => {
    expect([0, 1, 2, 3, 4].map((n) => inLocale('en', () => i18n.global.t(`account.strengthLevels.${n}`)))).toEqual([
      'very weak',
      'weak',
      'fair',
      'strong',
      'very strong',
    ])
  })
})
