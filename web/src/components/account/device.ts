import Bowser from 'bowser'

/** A login's browser and system, read from the User-Agent it logged in with. */
export interface Device {
  browser: string
  os: string
}

/** `null` when the User-Agent is missing or names neither a browser nor a system. */
export function parseDevice(userAgent: string | null | undefined): Device | null {
  if (!userAgent) return null
  const parsed = Bowser.parse(userAgent)
  const browser = parsed.browser.name ?? ''
  const os = [parsed.os.name, parsed.os.name === 'macOS' || parsed.os.name === 'Windows' ? parsed.os.versionName : '']
    .filter(Boolean)
    .join(' ')
  if (!browser && !os) return null
  return { browser: browser || '?', os: os || '?' }
}
