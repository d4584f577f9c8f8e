package config

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		rule   string
		change func(c *Config)
		field  string // "" when the config is valid
		msg    string
	}{
		{"the defaults are valid", func(c *Config) {}, "", ""},
		{"a name of digits and hyphens is valid", func(c *Config) { c.Name = "0-custodian-9" }, "", ""},
		{"a name of 32 characters is valid", func(c *Config) { c.Name = strings.Repeat("x", 32) }, "", ""},
		{"an empty name is refused", func(c *Config) { c.Name = "" }, "name", "missing"},
		{"a name of 33 characters is refused", func(c *Config) { c.Name = strings.Repeat("x", 33) }, "name", "33 characters"},
		{"a name with an underscore is refused", func(c *Config) { c.Name = "acme_1" }, "name", "may hold only"},
		{"a name with a slash is refused", func(c *Config) { c.Name = "a/b" }, "name", "may hold only"},
		{"a name with non-ASCII letters is refused", func(c *Config) { c.Name = "zürich" }, "name", "may hold only"},
		{"an empty identity key path is refused", func(c *Config) { c.IdentityKey = "" }, "identity_key", "missing"},
		{"an empty data directory is refused", func(c *Config) { c.DataDir = "" }, "data_dir", "missing"},
		{"a path with a newline is refused", func(c *Config) { c.StorageKey.File = "a\nb" }, "storage_key.file", "control character"},
		{"one file for both keys is refused", func(c *Config) { c.StorageKey.File = "./identity.key" }, "storage_key.file", "identity key file too"},
		{"a storage key from a credential is valid", func(c *Config) { c.StorageKey = KeySource{Credential: "custos-storage-key"} }, "", ""},
		{"a storage key from a command is valid", func(c *Config) { c.StorageKey = KeySource{Command: []string{"/usr/bin/kms", "decrypt", ""}} }, "", ""},
		{"a storage key from nowhere is refused", func(c *Config) { c.StorageKey = KeySource{} }, "storage_key", "missing; give one of file"},
		{"a storage key from two sources is refused", func(c *Config) { c.StorageKey.Credential = "k" }, "storage_key", "gives file and credential; give only one"},
		{"a storage key from three sources is refused", func(c *Config) { c.StorageKey = KeySource{"f", "c", []string{"x"}} }, "storage_key", "gives file and credential and command"},
		{"a credential name with a slash is refused", func(c *Config) { c.StorageKey = KeySource{Credential: "../storage.key"} }, "storage_key.credential", "not a credential name"},
		{"a credential name of .. is refused", func(c *Config) { c.StorageKey = KeySource{Credential: ".."} }, "storage_key.credential", "not a credential name"},
		{"a credential name with a colon is refused", func(c *Config) { c.StorageKey = KeySource{Credential: "a:b"} }, "storage_key.credential", "not a credential name"},
		{"a credential name too long is refused", func(c *Config) { c.StorageKey = KeySource{Credential: strings.Repeat("k", 256)} }, "storage_key.credential", "not a credential name"},
		{"a command without a program is refused", func(c *Config) { c.StorageKey = KeySource{Command: []string{" ", "x"}} }, "storage_key.command[0]", "no program"},
		{"a command argument with a newline is refused", func(c *Config) { c.StorageKey = KeySource{Command: []string{"kms", "a\nb"}} }, "storage_key.command[1]", "control character"},
		{"a command of too many arguments is refused", func(c *Config) { c.StorageKey = KeySource{Command: make([]string, 65)} }, "storage_key.command", "65 arguments"},
		{"a command argument too long is refused", func(c *Config) { c.StorageKey = KeySource{Command: []string{"kms", strings.Repeat("a", 4097)}} }, "storage_key.command[1]", "4097 bytes long"},
		{"no listen address is refused", func(c *Config) { c.Listen = nil }, "listen", "no address"},
		{"a listen address given twice is refused", func(c *Config) { c.Listen = append(c.Listen, c.Listen[0]) }, "listen[4]", "listed twice (also listen[0])"},
		{"udp without quic-v1 is refused", func(c *Config) { c.Listen = []string{"/ip4/0.0.0.0/udp/4001"} }, "listen[0]", "names no transport"},
		{"an IPv6 QUIC address is valid", func(c *Config) { c.Listen = []string{"/ip6/::/udp/0/quic-v1"} }, "", ""},
		{"a WebTransport address is valid", func(c *Config) { c.Listen = []string{"/ip4/0.0.0.0/udp/4001/quic-v1/webtransport"} }, "", ""},
		{"a certhash in a listen address is refused", func(c *Config) {
			c.Listen = []string{"/ip4/0.0.0.0/udp/4001/quic-v1/webtransport/certhash/uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g"}
		}, "listen[0]", "names a certhash; leave it out"},
		{"a WebSocket with TLS and a certificate is valid", func(c *Config) {
			c.Listen = []string{"/ip4/0.0.0.0/tcp/443/tls/ws"}
			c.TLS = TLS{"cert.pem", "key.pem"}
		}, "", ""},
		{"wss is as valid as tls/ws", func(c *Config) { c.Listen = []string{"/ip4/0.0.0.0/tcp/443/wss"}; c.TLS = TLS{"cert.pem", "key.pem"} }, "", ""},
		{"a WebSocket with TLS without a certificate is refused", func(c *Config) { c.Listen = append(c.Listen, "/ip4/0.0.0.0/tcp/443/tls/ws") }, "tls", "listen[4] is a WebSocket with TLS, which needs tls.cert and tls.key"},
		{"a certificate without its key is refused", func(c *Config) { c.Listen = []string{"/ip4/0.0.0.0/tcp/443/wss"}; c.TLS.Cert = "cert.pem" }, "tls.key", "missing; tls.cert is set"},
		{"a key without its certificate is refused", func(c *Config) { c.Listen = []string{"/ip4/0.0.0.0/tcp/443/wss"}; c.TLS.Key = "key.pem" }, "tls.cert", "missing; tls.key is set"},
		{"a certificate no listener uses is refused", func(c *Config) { c.TLS = TLS{"cert.pem", "key.pem"} }, "tls", "no listen address uses it"},
		{"a certificate and key in one file are refused", func(c *Config) {
			c.Listen = []string{"/ip4/0.0.0.0/tcp/443/wss"}
			c.TLS = TLS{"both.pem", "./both.pem"}
		}, "tls.key", "certificate file too"},
		{"a listen address with a newline is refused", func(c *Config) { c.Listen = []string{"/dns4/a\nb/tcp/1"} }, "listen[0]", "control character"},
		{"an http address with a newline is refused", func(c *Config) { c.HTTP = "a\nb:1" }, "http", "not host:port"},
		{"a path with a line separator is refused", func(c *Config) { c.DataDir = "a\u2028b" }, "data_dir", "control character"},
		{"enrollment is case-sensitive", func(c *Config) { c.Enrollment = "Open" }, "enrollment", "neither invite nor open"},
		{"an empty http address is valid (off)", func(c *Config) { c.HTTP = "" }, "", ""},
		{"an http port above 65535 is refused", func(c *Config) { c.HTTP = "127.0.0.1:70000" }, "http", "not host:port"},
		{"an http address with a named port is refused", func(c *Config) { c.HTTP = "localhost:http" }, "http", "not host:port"},
		{"an IPv6 http address is valid", func(c *Config) { c.HTTP = "[::1]:9464" }, "", ""},
		{"an unknown log format is refused", func(c *Config) { c.Log.Format = "text" }, "log.format", `"text" is not one of json or console`},
		{"zero max_login_failures is refused", func(c *Config) { c.Auth.MaxLoginFailures = 0 }, "auth.max_login_failures", "0 is below the minimum 1"},
		{"max_login_failures above 1000 is refused", func(c *Config) { c.Auth.MaxLoginFailures = 1001 }, "auth.max_login_failures", "above the maximum 1000"},
		{"a zero challenge_ttl is refused", func(c *Config) { c.Auth.ChallengeTTL = 0 }, "auth.challenge_ttl", "0s is not a positive duration"},
		{"a duration of centuries is refused", func(c *Config) { c.Auth.InviteTTL = 1 << 62 }, "auth.invite_ttl", "more than 100 years"},
		{"session_idle equal to session_max is valid", func(c *Config) { c.Auth.SessionIdle = c.Auth.SessionMax }, "", ""},
		{"backoff_max below backoff_base is refused", func(c *Config) { c.Auth.BackoffMax = 500 * time.Millisecond }, "auth.backoff_max", "shorter than auth.backoff_base (1s)"},
		{"a zero burst is refused", func(c *Config) { c.Limits.UserReleases.Burst = 0 }, "limits.user_releases.burst", "below the minimum 1"},
		{"a zero refill period is refused", func(c *Config) { c.Limits.UnitReleases.Every = 0 }, "limits.unit_releases.every", "not a positive duration"},
		{"max_batch of 1024 is valid", func(c *Config) { c.Limits.MaxBatch = 1024 }, "", ""},
		{"max_batch of 1025 is refused", func(c *Config) { c.Limits.MaxBatch = 1025 }, "limits.max_batch", "1025 is above the maximum 1024"},
		{"zero max_batch is refused", func(c *Config) { c.Limits.MaxBatch = 0 }, "limits.max_batch", "below the minimum 1"},
		{"zero max_connections is refused", func(c *Config) { c.Limits.MaxConnections = 0 }, "limits.max_connections", "below the minimum 1"},
		{"negative max_streams_per_peer is refused", func(c *Config) { c.Limits.MaxStreamsPerPeer = -5 }, "limits.max_streams_per_peer", "below the minimum 1"},
		{"a tiny max_message_bytes is refused", func(c *Config) { c.Limits.MaxMessageBytes = 100 }, "limits.max_message_bytes", "below the minimum 1024"},
		{"a huge max_message_bytes is refused", func(c *Config) { c.Limits.MaxMessageBytes = 1 << 30 }, "limits.max_message_bytes", "above the maximum 67108864"},
		{"valid auditors are accepted", func(c *Config) { c.Auditors = []string{auditorA, auditorB} }, "", ""},
		{"an auditor that is not a peer ID is refused", func(c *Config) { c.Auditors = []string{auditorA, "alice"} }, "auditors[1]", "not a libp2p peer ID"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			c := Default("acme-1")
			tc.change(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			probs := Problems(err)
			if len(probs) != 1 {
				t.Fatalf("got %d problems, want 1: %v", len(probs), err)
			}
			if p := probs[0]; p.Field != tc.field || !strings.Contains(p.Msg, tc.msg) || p.File != "" || p.Line != 0 {
				t.Errorf("got %+v, want field %q and a message with %q", *p, tc.field, tc.msg)
			}
			if want := tc.field + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("message %q does not start with %q", err, want)
			}
		})
	}
}
