/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Base URL of the memo API, e.g. `https://api.example.com/api`. Defaults to `/api`. */
  readonly VITE_API_BASE_URL?: string
}

interface ImportMeta {
  readonly env: ImportMetaEnv
}
