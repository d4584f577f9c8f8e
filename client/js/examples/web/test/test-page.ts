// The page the storage test and the benchmark drive: it hands them the
// IndexedDB adapter, and Argon2id in WebAssembly (the SDK's, hash-wasm) to
// time on its own, through page.evaluate.
import { IndexedDBStorage, VaultBusyError } from '@custos-network/custos'
import { argon2id } from 'hash-wasm'

Object.assign(globalThis, { IndexedDBStorage, VaultBusyError, argon2id })
document.body.dataset.ready = 'true'
