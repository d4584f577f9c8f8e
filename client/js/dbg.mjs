import { Devnet } from '/work/wt/h13/client/js/dist/test/devnet.js'
import { Client, MemoryStorage } from '/work/wt/h13/client/js/dist/src/index.js'
import { nodeTransports } from '/work/wt/h13/client/js/dist/src/node/index.js'
const net = await Devnet.start({ n: 5, k: 3 })
const t = setInterval(() => {}, 1000)
try {
  const st = new MemoryStorage()
  await Client.init(st, net.networkFile, 'alice')
  console.log('init')
  const c = await Client.open(st, { transports: nodeTransports(), timeoutMs: 5000, logger: { warn: (m) => console.log('WARN', m) } })
  console.log('open')
  console.log(await c.enroll('correct horse battery staple', await net.invite('alice')))
  await c.unlock('correct horse battery staple'); console.log('unlocked')
  await c.put('a', { username: 'svc-acme', password: 'hunter2' }); console.log('put')
  console.log(await c.get('a'))
  await c.close()
} catch (e) { console.log('ERR', e) } finally { clearInterval(t); await net.stop() }
