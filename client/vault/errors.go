package vault

import "errors"

// Errors to match with errors.Is. The errors of this package say what is
// wrong and where, never a secret.
var (
	// ErrUnknownFormat: the vault or request journal names a format this
	// build does not read; the message holds the format found.
	ErrUnknownFormat = errors.New("unknown vault format")
	// ErrCorrupt: the file is not a valid vault or request journal; the
	// message says which file and why.
	ErrCorrupt = errors.New("the vault file is damaged")
	// ErrInvalid: a vault in memory breaks a rule of the format, so Create
	// or Save wrote nothing, or PutUnit, AddReceipts or AppendRequests was
	// given a malformed entry.
	ErrInvalid = errors.New("the vault breaks a rule of its format")
	// ErrExists: Create found a file at the path or a request journal beside
	// it, or PutUnit a unit with the same label or ID.
	ErrExists = errors.New("exists already")
	// ErrDamaged: a unit's fields do not match its MAC (Vault.CheckUnit):
	// the record in the vault was damaged or edited, and no node was asked
	// for it. The other records are not affected.
	ErrDamaged = errors.New("the record in the vault is damaged")
	// ErrDamagedLogin: the vault's login dealing does not match its MAC
	// (Vault.CheckLogin): it was damaged or edited, and no node was asked
	// to evaluate the password against it.
	ErrDamagedLogin = errors.New("the login dealing in the vault is damaged")
	// ErrNotFound: there is no vault at the path.
	ErrNotFound = errors.New("no vault")
	// ErrBusy: another process holds the vault.
	ErrBusy = errors.New("another process is using the vault")
	// ErrPermissions: the vault file may be read or written by its group or
	// by others, who could take the device key from it; or the request
	// journal may, who could hide releases in it.
	ErrPermissions = errors.New("others may read or write the vault file")
)
