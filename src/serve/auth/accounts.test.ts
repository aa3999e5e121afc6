import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { accountStatus, groupIds, lookupAccount, mayUseIncus, parseShadowStatus } from './accounts'

let dir: string
const files = () => ({
  passwd: join(dir, 'passwd'),
  group: join(dir, 'group'),
  shadow: join(dir, 'shadow'),
  nsswitch: join(dir, 'nsswitch.conf'),
})
beforeAll(() => {
  dir = mkdtempSync('/tmp/burrow-accounts-')
  writeFileSync(
    join(dir, 'passwd'),
    'root:x:0:0:root:/root:/bin/bash\nann:x:1000:1000::/home/ann:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/bash\nbad:x:x:1::/:/bin/sh\n',
  )
  writeFileSync(
    join(dir, 'group'),
    'root:x:0:\nann:x:1000:\nbob:x:1001:\nincus:x:993:ann\nincus-admin:x:992:\ndev:x:500:ann,bob\n',
  )
  writeFileSync(join(dir, 'nsswitch.conf'), 'passwd: files systemd\ngroup: files\nshadow: files\n')
  writeFileSync(
    join(dir, 'shadow'),
    'ann:!$y$j9T$x:19000:0:99999:7:::\nbob:$y$j9T$x:19000:0:99999:7::0:\n',
  )
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test('accounts come with every group id, primary first', () => {
  expect(lookupAccount('ann', files())).toEqual({
    name: 'ann',
    uid: 1000,
    gid: 1000,
    home: '/home/ann',
    shell: '/bin/sh',
    gids: [1000, 993, 500],
  })
  expect(lookupAccount('nobody-here', files())).toBeUndefined()
  expect(lookupAccount('bad', files())).toBeUndefined()
})

test('root always may use Incus, others only through an allowed group', () => {
  const allowed = groupIds(['incus', 'incus-admin', 'no-such-group'], files())
  expect([...allowed].sort()).toEqual([992, 993])
  expect(mayUseIncus(lookupAccount('root', files())!, allowed)).toBe(true)
  expect(mayUseIncus(lookupAccount('ann', files())!, allowed)).toBe(true)
  expect(mayUseIncus(lookupAccount('bob', files())!, allowed)).toBe(false)
  expect(mayUseIncus(lookupAccount('bob', files())!, groupIds(['dev'], files()))).toBe(true)
  expect(mayUseIncus(lookupAccount('bob', files())!, groupIds(['1001'], files()))).toBe(true)
})

test.each([
  ['u:$y$h:19000:0:99999:7:::', { locked: false, expireDay: undefined }],
  ['u:!$y$h:19000:0:99999:7:::', { locked: true, expireDay: undefined }],
  ['u:!:19000::::::', { locked: true, expireDay: undefined }],
  // `*` is "no password", not locked: keys still work, as in sshd
  ['u:*:19000:0:99999:7:::', { locked: false, expireDay: undefined }],
  ['u:$y$h:19000:0:99999:7::0:', { locked: false, expireDay: 0 }],
  ['u:$y$h:19000:0:99999:7::20500:', { locked: false, expireDay: 20500 }],
  ['u:x', undefined],
])('shadow line %p → %p', (line, want) => expect(parseShadowStatus(line)).toEqual(want))

test('accountStatus reads the shadow file; no entry is neither locked nor expiring', () => {
  expect(accountStatus('ann', files())).toEqual({ locked: true, expireDay: undefined })
  expect(accountStatus('bob', files())).toEqual({ locked: false, expireDay: 0 })
  expect(accountStatus('root', files())).toEqual({ locked: false })
})
