import { run } from './core/cli'
import { main } from './main'

process.exitCode = await run(main, process.argv.slice(2))
