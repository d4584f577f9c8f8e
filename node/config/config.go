package config

import (
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Version is the format of node.yaml that this package reads and writes.
const Version = 1

// Config is a custodian node's configuration. The yaml tags are the keys of
// node.yaml.
type Config struct {
	// Name is the node's name, [a-z0-9-], 1 to 32 characters. The audit log's
	// checkpoints carry the origin "custos/<name>".
	Name string `yaml:"name"`
	// IdentityKey is the path of the Ed25519 identity key file.
	IdentityKey string `yaml:"identity_key"`
	// StorageKey says where the 32-byte storage key comes from.
	StorageKey KeySource `yaml:"storage_key"`
	// DataDir is the Badger directory.
	DataDir string `yaml:"data_dir"`
	// Listen holds the multiaddrs the libp2p host listens on.
	Listen []string `yaml:"listen"`
	// TLS is the operator's certificate for WebSocket listeners with TLS
	// (/tls/ws or /wss), which https pages need.
	TLS TLS `yaml:"tls"`
	// Enrollment is "invite" (a one-time token per user) or "open".
	Enrollment string `yaml:"enrollment"`
	// HTTP is the host:port of the metrics, /healthz and /readyz server;
	// "" turns it off.
	HTTP   string `yaml:"http"`
	Log    Log    `yaml:"log"`
	Auth   Auth   `yaml:"auth"`
	Limits Limits `yaml:"limits"`
	// Auditors holds the peer IDs of the auditors, who may read every entry
	// of the audit log.
	Auditors []string `yaml:"auditors"`

	// Dir is the directory relative paths are resolved against: the
	// directory of the file for a Config from Load, "" (the working
	// directory) otherwise. It is not a setting of the file.
	Dir string `yaml:"-"`
}

// TLS names the PEM files of a certificate and its private key. Both are
// set, or neither; they are needed exactly when a listen address is
// /tls/ws or /wss. custosd reads them again when they change on disk, so a
// renewed certificate (certbot, for one) needs no restart.
type TLS struct {
	Cert string `yaml:"cert"` // the certificate, then any intermediates
	Key  string `yaml:"key"`  // the certificate's private key
}

// Log configures the node's logging.
type Log struct {
	Format string `yaml:"format"` // "json" or "console"
	Level  string `yaml:"level"`  // "debug", "info", "warn" or "error"
}

// Auth configures login, lockout, sessions and invites.
type Auth struct {
	// MaxLoginFailures is the number of counted login attempts with no
	// good signature since (failed logins, and evaluations never signed)
	// after which an account is locked until an admin unlocks it: the most
	// password guesses this node answers for the account.
	MaxLoginFailures int           `yaml:"max_login_failures"`
	ChallengeTTL     time.Duration `yaml:"challenge_ttl"` // how long a login challenge can be answered
	SessionIdle      time.Duration `yaml:"session_idle"`  // a session unused this long expires
	SessionMax       time.Duration `yaml:"session_max"`   // a session expires this long after login
	BackoffBase      time.Duration `yaml:"backoff_base"`  // wait after the first failed login, doubled per failure
	BackoffMax       time.Duration `yaml:"backoff_max"`   // the most the wait grows to
	InviteTTL        time.Duration `yaml:"invite_ttl"`    // how long an invite token stays valid
	Logins           Bucket        `yaml:"logins"`        // login challenges per device
	// StrangerLog bounds the log entries of refused logins and enrollments
	// from devices that are not enrolled, node-wide: anyone can make fresh
	// keys, and each refusal would otherwise grow the log.
	StrangerLog Bucket `yaml:"stranger_log"`
	// RefusalLog bounds the log entries of one account's logins refused
	// because it is locked or must wait out a backoff: its device may ask
	// again and again, at no cost, while auth.logins allows.
	RefusalLog Bucket `yaml:"refusal_log"`
}

// Limits configures rate limits and resource limits.
type Limits struct {
	UnitReleases      Bucket        `yaml:"unit_releases"`        // share releases per (user, unit)
	UserReleases      Bucket        `yaml:"user_releases"`        // release requests per user (a batch counts once)
	UserWrites        Bucket        `yaml:"user_writes"`          // puts and deletes per user
	MaxBatch          int           `yaml:"max_batch"`            // units one share request may name
	RequestTimeout    time.Duration `yaml:"request_timeout"`      // deadline of one stream
	MaxConnections    int           `yaml:"max_connections"`      // open libp2p connections
	ConnIdleTimeout   time.Duration `yaml:"conn_idle_timeout"`    // idle connections of devices not logged in are closed
	MaxStreamsPerPeer int           `yaml:"max_streams_per_peer"` // open streams per peer
	// MaxMessageBytes caps a logged-in device's release request, the one
	// message that can be large (a batch of max_batch units is about 32
	// KiB at most); every other message is held to 4 KiB.
	MaxMessageBytes int `yaml:"max_message_bytes"`
}

// A Bucket is a token bucket: one token is added every Every, and at most
// Burst are saved.
type Bucket struct {
	Burst int           `yaml:"burst"`
	Every time.Duration `yaml:"every"`
}

// Default returns the configuration of a new node called name, with every
// setting at its default. Paths are relative (to the file's directory once
// written); Auditors is empty.
func Default(name string) Config {
	return Config{
		Name:        name,
		IdentityKey: "identity.key",
		StorageKey:  KeySource{File: "storage.key"},
		DataDir:     "data",
		Listen: []string{
			"/ip4/0.0.0.0/tcp/4001",
			"/ip4/0.0.0.0/udp/4001/quic-v1",
			"/ip4/0.0.0.0/udp/4001/quic-v1/webtransport",
			"/ip4/0.0.0.0/tcp/4002/ws",
		},
		Enrollment: "invite",
		HTTP:       "127.0.0.1:9464",
		Log:        Log{Format: "json", Level: "info"},
		Auth: Auth{
			MaxLoginFailures: 10,
			ChallengeTTL:     time.Minute,
			SessionIdle:      15 * time.Minute,
			SessionMax:       12 * time.Hour,
			BackoffBase:      time.Second,
			BackoffMax:       5 * time.Minute,
			InviteTTL:        72 * time.Hour,
			Logins:           Bucket{Burst: 30, Every: 2 * time.Second},
			StrangerLog:      Bucket{Burst: 100, Every: 10 * time.Second},
			RefusalLog:       Bucket{Burst: 10, Every: time.Minute},
		},
		Limits: Limits{
			// An automated process may use a record every minute, a script
			// a few times a minute: 20 at once, then 4 a minute per
			// record, and 20 requests a minute per user (docs/operating.md
			// says how to tune them).
			UnitReleases:      Bucket{Burst: 20, Every: 15 * time.Second},
			UserReleases:      Bucket{Burst: 100, Every: 3 * time.Second},
			UserWrites:        Bucket{Burst: 5000, Every: 2 * time.Second},
			MaxBatch:          MaxBatch,
			RequestTimeout:    10 * time.Second,
			MaxConnections:    1024,
			ConnIdleTimeout:   30 * time.Second,
			MaxStreamsPerPeer: 64,
			MaxMessageBytes:   64 << 10,
		},
	}
}

// Path resolves p against c.Dir. An absolute p, or any p when Dir is "", is
// returned cleaned but otherwise unchanged, and "" stays "".
func (c *Config) Path(p string) string {
	if p == "" {
		return ""
	}
	if filepath.IsAbs(p) || c.Dir == "" {
		return filepath.Clean(p)
	}
	return filepath.Join(c.Dir, p)
}

// A KeySource says where a key comes from; exactly one field is set. Each
// source gives the same thing: the contents of a key file (package
// internal/keyfile), a header line and the key in base64.
//
// A key file sits on the node's disk, so a copy of that disk (or of the
// VM) holds the key too. A systemd credential (LoadCredentialEncrypted=,
// which a TPM can seal to the machine) and a command (a KMS or HSM client)
// keep it off the disk.
type KeySource struct {
	// File is the path of the key file.
	File string `yaml:"file,omitempty"`
	// Credential is the name of a systemd credential, read from the file
	// of that name in $CREDENTIALS_DIRECTORY.
	Credential string `yaml:"credential,omitempty"`
	// Command is a program and its arguments, run without a shell in the
	// config file's directory, that prints the key file on stdout.
	Command []string `yaml:"command,omitempty"`
}

// The names of the key sources, as KeySource.Kind returns them.
const (
	SourceFile       = "file"
	SourceCredential = "credential"
	SourceCommand    = "command"
)

// Kind returns the source that is set ("file", "credential" or "command"),
// or "" when none or more than one is.
func (k KeySource) Kind() string {
	kind, n := "", 0
	if k.File != "" {
		kind, n = SourceFile, n+1
	}
	if k.Credential != "" {
		kind, n = SourceCredential, n+1
	}
	if len(k.Command) > 0 {
		kind, n = SourceCommand, n+1
	}
	if n != 1 {
		return ""
	}
	return kind
}

// String names the source for an operator, as "file PATH", "credential
// NAME" or "command PROGRAM ARGS...".
func (k KeySource) String() string {
	switch k.Kind() {
	case SourceFile:
		return "file " + k.File
	case SourceCredential:
		return "credential " + k.Credential
	case SourceCommand:
		return "command " + strings.Join(k.Command, " ")
	}
	return "no single key source"
}

// UnmarshalYAML replaces the whole source, so that a file's storage_key
// section overrides the default file rather than adding to it.
func (k *KeySource) UnmarshalYAML(n *yaml.Node) error {
	type plain KeySource
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	if len(p.Command) == 0 {
		p.Command = nil
	}
	*k = KeySource(p)
	return nil
}
