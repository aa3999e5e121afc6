/** bun test / bun run preload: the same ssh2 patches the build applies (scripts/ssh2-patches.ts). */
import { plugin } from 'bun'
import { ssh2PatchPlugin } from './ssh2-patches'

plugin(ssh2PatchPlugin('runtime'))
