// The page the IndexedDB storage test drives: it hands the adapter to the
// test, which calls it through page.evaluate.
import { IndexedDBStorage, VaultBusyError } from '@custos-network/custos'

Object.assign(globalThis, { IndexedDBStorage, VaultBusyError })
document.body.dataset.ready = 'true'
