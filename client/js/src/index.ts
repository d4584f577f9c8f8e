// The custos SDK. Its nouns mirror the Go client's (docs/client.md and
// docs/js.md read alike): a Client over a vault in a VaultStorage, on the
// Network its network file describes. Platform adapters: '@custos-network/
// custos/node' (the vault in a file, WebSocket transport); in browsers,
// IndexedDBStorage here and the browser's own WebSocket and WebTransport.
export { Client, validUsername, MAX_USERNAME_LEN } from './client.js'
export type { ClientOptions, SecretRecord, UnitInfo, EnrollResult, EnrollState, NodeStatus, Logger } from './client.js'
export type { HistoryEntry, LoggedEntry } from './history.js'
export type { ChangeProgress, PendingChange } from './change.js'
export { ChangeCommittedError, NoPasswordChangeError, PasswordChangePendingError, type PasswdProgress, type PasswdStep, type PendingPasswordChange } from './passwd.js'
export { DamagedLoginError, type PasswdState } from './vault/passwd.js'
export { ForgedNoteError, StaleDealingError } from './dealingnote.js'
export { ExportFormatError, newRecoveryKey } from './vaultmove.js'
export type { Device, NodeDevices } from './devices.js'
export { NeedsReshareError, type NodeUpdate } from './networkupdate.js'
export { ReshareUnderWayError, type ResharePlan, type ReshareResult, type ReshareOptions, type ReshareStage } from './reshare.js'
export { DamagedReshareError } from './vault/reshare.js'
export { parseNetwork, type Network, type Node } from './network.js'
export { MemoryStorage, VaultBusyError, type VaultStorage } from './vault/storage.js'
export { IndexedDBStorage } from './browser/indexeddb.js'
export { DamagedError, VaultFormatError, validLabel, type Receipt, type Restore } from './vault/vault.js'
export { NoVaultError } from './vault/handle.js'
export { JournalError, type Request } from './vault/journal.js'
export type { Transports } from './host.js'
export { Code } from './gen/custos_pb.js'
export * from './errors.js'
