// Runs a mux peer in its own process: burrow's handshake blocks its caller's thread (it is a
// synchronous FFI loop), so an in-process peer could never answer it.
// usage: bun mux-peer-main.ts PATH BEHAVIOUR PORT=TARGET...
import { type MuxBehaviour, startMuxPeer } from './mux-peer'

const [path, behaviour, ...maps] = process.argv.slice(2)
const ports = Object.fromEntries(maps.map((m) => m.split('=')).map(([p, t]) => [Number(p), t!]))
const peer = await startMuxPeer({ path: path!, ports, behaviour: behaviour as MuxBehaviour })
process.stdout.write('ready\n')
process.on('SIGTERM', () => void peer.stop().then(() => process.exit(0)))
