// node:fs and node:crypto bits the e2e tests share, in one import.
export { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
export { randomBytes } from 'node:crypto'
