// jsdom lacks a few browser APIs that Vuetify uses.
class ResizeObserverStub {
  observe(): void {}
  unobserve(): void {}
  disconnect(): void {}
}
globalThis.ResizeObserver ??= ResizeObserverStub as unknown as typeof ResizeObserver
if (!globalThis.CSS) (globalThis as { CSS?: unknown }).CSS = { supports: () => false, escape: (s: string) => s }
