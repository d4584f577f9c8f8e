// Protocol IDs and the bounds every peer relies on (api/api.go). The last
// element of an ID is its version; a node that does not speak it refuses the
// stream at negotiation, before any message.
export const Protocol = {
  enroll: '/custos/enroll/2.0.0',
  login: '/custos/login/2.0.0',
  put: '/custos/shares/put/2.0.0',
  release: '/custos/shares/release/2.0.0',
  delete: '/custos/shares/delete/2.0.0',
  list: '/custos/shares/list/2.0.0',
  passwd: '/custos/passwd/2.0.0',
  checkpoint: '/custos/audit/checkpoint/2.0.0',
  entries: '/custos/audit/entries/2.0.0',
  proof: '/custos/audit/proof/2.0.0',
  device: '/custos/device/1.0.0',
  account: '/custos/account/1.0.0',
} as const

/** The largest message the client reads, checked before anything is allocated for it. */
export const MAX_MESSAGE_SIZE = 1 << 20
/** The most unit versions one release request names. */
export const MAX_BATCH = 1024
/** The longest user name, in bytes. */
export const MAX_USER_LEN = 128
/** The size of a login challenge's nonce. */
export const NONCE_SIZE = 32
/** The size of a release request's nonce. */
export const REQUEST_NONCE_SIZE = 16
/** The longest invite token a node reads. */
export const MAX_TOKEN_LEN = 128

/** validUser: 1 to 128 ASCII letters, digits and . _ @ + - (api.ValidUser). */
export function validUser(user: string): boolean {
  return /^[A-Za-z0-9._@+-]{1,128}$/.test(user)
}
