package config

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/custos-network/custos/api"
)

// Bounds of the settings that have them.
const (
	MaxNameLen       = api.MaxNodeNameLen
	MaxBatch         = 1024 // the protocol's cap on units per share request
	MaxLoginFailures = 1000
	MinMessageBytes  = 1 << 10
	MaxMessageBytes  = 64 << 20
)

// maxDuration caps every duration setting far above any sensible value but
// far enough below the int64 limit that adding it to a time cannot overflow.
const maxDuration = 100 * 365 * 24 * time.Hour

// Validate checks every setting and returns a *FieldError per problem
// (joined with errors.Join when there are several), or nil. Validate does not
// touch the file system: key files and the data directory may not exist yet.
func (c *Config) Validate() error {
	var p problems
	c.validate(&p)
	return p.err()
}

func (c *Config) validate(p *problems) {
	switch {
	case c.Name == "":
		p.add("name", "missing; give the node a short name such as acme-1")
	case len(c.Name) > MaxNameLen:
		p.add("name", "%q is %d characters long; the most is %d", c.Name, len(c.Name), MaxNameLen)
	case strings.TrimFunc(c.Name, isNameChar) != "" || !utf8.ValidString(c.Name):
		p.add("name", "%q may hold only lower-case letters a-z, digits and -", c.Name)
	}

	checkPath(p, "identity_key", c.IdentityKey)
	checkKeySource(p, "storage_key", c.StorageKey)
	checkPath(p, "data_dir", c.DataDir)
	if c.IdentityKey != "" && c.StorageKey.File != "" && filepath.Clean(c.IdentityKey) == filepath.Clean(c.StorageKey.File) {
		p.add("storage_key.file", "%q is the identity key file too; the two keys need two files", c.StorageKey.File)
	}

	if len(c.Listen) == 0 {
		p.add("listen", "no address; give at least one multiaddr such as /ip4/0.0.0.0/tcp/4001")
	}
	seen := make(map[string]int)
	tlsListen := -1 // a listen address that needs tls
	for i, s := range c.Listen {
		field := fmt.Sprintf("listen[%d]", i)
		if j, dup := seen[s]; dup {
			p.add(field, "%s is listed twice (also listen[%d])", s, j)
			continue
		}
		seen[s] = i
		if !printable(s) {
			p.add(field, "%q holds a control character or invalid UTF-8", s)
			continue
		}
		if checkListen(p, field, s) && tlsListen < 0 {
			tlsListen = i
		}
	}
	checkTLS(p, c.TLS, tlsListen)

	switch c.Enrollment {
	case "invite", "open":
	default:
		p.add("enrollment", "%q is neither invite nor open", c.Enrollment)
	}

	if c.HTTP != "" {
		_, port, err := net.SplitHostPort(c.HTTP)
		if err == nil {
			_, err = strconv.ParseUint(port, 10, 16)
		}
		if err != nil || !printable(c.HTTP) {
			p.add("http", "%q is not host:port with a port from 0 to 65535 (for example 127.0.0.1:9464); write \"\" to turn the server off", c.HTTP)
		}
	}

	checkOneOf(p, "log.format", c.Log.Format, "json", "console")
	checkOneOf(p, "log.level", c.Log.Level, "debug", "info", "warn", "error")

	a := &c.Auth
	checkInt(p, "auth.max_login_failures", a.MaxLoginFailures, 1, MaxLoginFailures)
	checkDuration(p, "auth.challenge_ttl", a.ChallengeTTL)
	checkDuration(p, "auth.session_idle", a.SessionIdle)
	checkDuration(p, "auth.session_max", a.SessionMax)
	if a.SessionIdle > 0 && a.SessionIdle > a.SessionMax && a.SessionMax > 0 {
		p.add("auth.session_idle", "%s is longer than auth.session_max (%s), so it would never apply",
			formatDuration(a.SessionIdle), formatDuration(a.SessionMax))
	}
	checkDuration(p, "auth.backoff_base", a.BackoffBase)
	checkDuration(p, "auth.backoff_max", a.BackoffMax)
	if a.BackoffBase > 0 && a.BackoffMax > 0 && a.BackoffBase > a.BackoffMax {
		p.add("auth.backoff_max", "%s is shorter than auth.backoff_base (%s)",
			formatDuration(a.BackoffMax), formatDuration(a.BackoffBase))
	}
	checkDuration(p, "auth.invite_ttl", a.InviteTTL)
	checkBucket(p, "auth.logins", a.Logins)
	checkBucket(p, "auth.stranger_log", a.StrangerLog)
	checkBucket(p, "auth.refusal_log", a.RefusalLog)

	l := &c.Limits
	checkBucket(p, "limits.unit_releases", l.UnitReleases)
	checkBucket(p, "limits.user_releases", l.UserReleases)
	checkBucket(p, "limits.user_writes", l.UserWrites)
	checkInt(p, "limits.max_batch", l.MaxBatch, 1, MaxBatch)
	checkDuration(p, "limits.request_timeout", l.RequestTimeout)
	checkInt(p, "limits.max_connections", l.MaxConnections, 1, -1)
	checkDuration(p, "limits.conn_idle_timeout", l.ConnIdleTimeout)
	checkInt(p, "limits.max_streams_per_peer", l.MaxStreamsPerPeer, 1, -1)
	checkInt(p, "limits.max_message_bytes", l.MaxMessageBytes, MinMessageBytes, MaxMessageBytes)

	ids := make(map[peer.ID]int)
	for i, s := range c.Auditors {
		field := fmt.Sprintf("auditors[%d]", i)
		id, err := peer.Decode(s)
		if err != nil {
			p.add(field, "%q is not a libp2p peer ID (such as 12D3KooW...)", s)
			continue
		}
		if j, dup := ids[id]; dup {
			p.add(field, "%s is listed twice (also auditors[%d])", s, j)
			continue
		}
		ids[id] = i
	}
}

func isNameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-'
}

func checkPath(p *problems, field, s string) {
	switch {
	case s == "":
		p.add(field, "missing; give a path (relative paths are relative to the config file)")
	case !printable(s):
		p.add(field, "%q holds a control character or invalid UTF-8", s)
	}
}

// Bounds of a key source.
const (
	MaxCredentialName = 255 // a file name, as systemd requires
	MaxCommandArgs    = 64
	MaxCommandArg     = 4096
)

// checkKeySource checks that exactly one source is set, and that one.
func checkKeySource(p *problems, field string, k KeySource) {
	var set []string
	if k.File != "" {
		set = append(set, SourceFile)
	}
	if k.Credential != "" {
		set = append(set, SourceCredential)
	}
	if len(k.Command) > 0 {
		set = append(set, SourceCommand)
	}
	switch len(set) {
	case 0:
		p.add(field, "missing; give one of file (a key file), credential (a systemd credential) or command (a program that prints the key)")
		return
	case 1:
	default:
		p.add(field, "gives %s; give only one source of the key", strings.Join(set, " and "))
		return
	}
	switch set[0] {
	case SourceFile:
		checkPath(p, field+".file", k.File)
	case SourceCredential:
		if !validCredentialName(k.Credential) {
			p.add(field+".credential", "%q is not a credential name: 1 to %d of A-Z a-z 0-9 . _ - (as in LoadCredentialEncrypted=NAME:PATH), not . or ..",
				k.Credential, MaxCredentialName)
		}
	case SourceCommand:
		if len(k.Command) > MaxCommandArgs {
			p.add(field+".command", "%d arguments; the most is %d (put a longer command in a script)", len(k.Command), MaxCommandArgs)
			return
		}
		for i, arg := range k.Command {
			f := fmt.Sprintf("%s.command[%d]", field, i)
			switch {
			case i == 0 && strings.TrimSpace(arg) == "":
				p.add(f, "no program; give the program's path first, then its arguments")
			case len(arg) > MaxCommandArg:
				p.add(f, "%d bytes long; the most is %d", len(arg), MaxCommandArg)
			case !printable(arg):
				p.add(f, "%.64q holds a control character or invalid UTF-8", arg)
			}
		}
	}
}

// validCredentialName accepts the names of systemd credentials that custosd
// takes: file names of safe characters.
func validCredentialName(s string) bool {
	if s == "" || len(s) > MaxCredentialName || s == "." || s == ".." {
		return false
	}
	return strings.TrimFunc(s, func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
	}) == ""
}

// printable reports whether s is valid UTF-8 without control characters or
// line separators: a value that fits on one line of node.yaml and of a log.
func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
	})
}

// checkListen accepts a multiaddr the node can listen on: one that parses and
// names a TCP port or a QUIC (v1) port. It reports whether the address is a
// WebSocket with TLS (/tls/ws or /wss), which needs the tls settings.
func checkListen(p *problems, field, s string) (needsTLS bool) {
	m, err := ma.NewMultiaddr(s)
	if err != nil {
		p.add(field, "%q is not a multiaddr: %v", s, err)
		return false
	}
	transport := false
	for _, proto := range m.Protocols() {
		switch proto.Code {
		case ma.P_TCP, ma.P_QUIC_V1:
			transport = true
		case ma.P_CERTHASH:
			p.add(field, "%s names a certhash; leave it out: the node makes its WebTransport certificates and announces their hashes itself", s)
			return false
		case ma.P_WSS, ma.P_TLS:
			needsTLS = true
		}
	}
	if !transport {
		p.add(field, "%s names no transport; end it with /tcp/PORT, /udp/PORT/quic-v1, /udp/PORT/quic-v1/webtransport, /tcp/PORT/ws or /tcp/PORT/tls/ws", s)
		return false
	}
	return needsTLS
}

// checkTLS checks the tls settings against the listen addresses: a
// certificate and its key together, exactly when listen[tlsListen] (-1 for
// none) needs them. Whether the files exist and match is checked when the
// node starts (LoadTLS), since Validate does not touch the file system.
func checkTLS(p *problems, t TLS, tlsListen int) {
	switch {
	case t.Cert == "" && t.Key == "" && tlsListen >= 0:
		p.add("tls", "missing; listen[%d] is a WebSocket with TLS, which needs tls.cert and tls.key (the PEM files of your certificate and its key)", tlsListen)
	case t.Cert == "" && t.Key == "":
	case tlsListen < 0:
		p.add("tls", "a certificate is set but no listen address uses it; add one such as /ip4/0.0.0.0/tcp/443/tls/ws, or remove tls.cert and tls.key")
	case t.Cert == "":
		p.add("tls.cert", "missing; tls.key is set, give the certificate's PEM file too")
	case t.Key == "":
		p.add("tls.key", "missing; tls.cert is set, give its private key's PEM file too")
	default:
		checkPath(p, "tls.cert", t.Cert)
		checkPath(p, "tls.key", t.Key)
		if filepath.Clean(t.Cert) == filepath.Clean(t.Key) {
			// One PEM file with both would work, but it leaves the key as
			// readable as a certificate usually is.
			p.add("tls.key", "%q is the certificate file too; keep the key in a file of its own", t.Key)
		}
	}
}

func checkOneOf(p *problems, field, s string, allowed ...string) {
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	last := len(allowed) - 1
	p.add(field, "%q is not one of %s or %s", s, strings.Join(allowed[:last], ", "), allowed[last])
}

// checkInt checks min <= v <= max; a negative max means no maximum.
func checkInt(p *problems, field string, v, min, max int) {
	switch {
	case v < min:
		p.add(field, "%d is below the minimum %d", v, min)
	case max >= 0 && v > max:
		p.add(field, "%d is above the maximum %d", v, max)
	}
}

func checkDuration(p *problems, field string, d time.Duration) {
	switch {
	case d <= 0:
		p.add(field, "%s is not a positive duration", formatDuration(d))
	case d > maxDuration:
		p.add(field, "%s is more than 100 years", formatDuration(d))
	}
}

func checkBucket(p *problems, field string, b Bucket) {
	checkInt(p, field+".burst", b.Burst, 1, -1)
	checkDuration(p, field+".every", b.Every)
}

// formatDuration writes d as an operator would: "15m" rather than "15m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
