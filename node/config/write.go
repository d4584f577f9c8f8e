package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/custos-network/custos/internal/atomicfile"
)

// header opens every file WriteDefault writes.
const header = `# node.yaml: the settings of one custos custodian node, read by
#   custosd run --config node.yaml
# Every setting is written out at its default value. Relative paths are relative
# to the directory of this file; durations are written like 90s, 15m or 1h30m.
# custosd refuses to start on an unknown setting or a bad value, naming the line.
`

// help is the comment written above each setting, by its YAML path, one
// line of the file per line of text. A test checks that every setting has
// one. Settings of a section that the file may leave out (the key sources
// other than the one in use) are written only when set.
var help = map[string]string{
	"version":      "Format of this file; leave it at 1.",
	"name":         "Node name: a-z, 0-9 and -, up to 32 characters; its audit log origin is custos/<name>.",
	"identity_key": "Ed25519 identity key file; its public key is the peer ID that clients pin.",
	"storage_key": `Where the key that encrypts data_dir and seals every share comes from; one of:
  file: PATH          a key file; whoever copies this disk has the key as well
  credential: NAME    a systemd credential (LoadCredentialEncrypted=; a TPM can seal it)
  command: [ARGV...]  a program (a KMS or HSM client) that prints the key file
Keep a copy offline, apart from data_dir and its backups (docs/operating.md).`,
	"storage_key.file":       "Key file (custos storage key v1), relative to this file's directory.",
	"storage_key.credential": "Name of the systemd credential that holds the key file.",
	"storage_key.command":    "Program, then its arguments (no shell); it must print the key file within 30s.",
	"data_dir":               "Database directory: shares, accounts, lockouts and the audit log.",
	"listen":                 "Addresses to accept clients on (multiaddrs): TCP and QUIC; for browsers,\nWebTransport (/udp/PORT/quic-v1/webtransport; custosd card prints its cert hashes),\nWebSocket (/ws; an https page may open it only to localhost) and WebSocket with TLS\n(/tls/ws, which needs tls).",
	"enrollment":             "Who may enroll: invite (one-time tokens from custosd invite) or open (testing only).",
	"http":                   "Address of /metrics, /healthz and /readyz; keep it private; \"\" turns it off.",
	"log":                    "Logging.",
	"log.format":             "json for log collectors, or console for people.",
	"log.level":              "Least severe level written: debug, info, warn or error.",
	"auth":                   "Login, lockout and sessions.",

	"tls":      "Your certificate for WebSocket listeners with TLS (/tls/ws or /wss), which https pages\nneed, for the name browsers reach this node at; reread when the files change.",
	"tls.cert": "PEM file of the certificate, then any intermediates; \"\" when no listener needs it.",
	"tls.key":  "PEM file of its private key (keep it mode 0600); \"\" when tls.cert is.",

	"auth.max_login_failures": "Login attempts without a good one that lock the account until unlocked (1-1000).",
	"auth.challenge_ttl":      "How long a client has to answer a login challenge.",
	"auth.session_idle":       "A session unused for this long ends.",
	"auth.session_max":        "A session ends this long after its login, used or not.",
	"auth.backoff_base":       "Wait imposed after a failed login; it doubles with each further failure.",
	"auth.backoff_max":        "The longest that wait grows.",
	"auth.invite_ttl":         "How long an invite token from custosd invite stays valid.",
	"auth.logins":             "Login challenges one device may ask for; guesses are limited apart, by failures.",
	"auth.logins.burst":       "Challenges allowed at once.",
	"auth.logins.every":       "One more challenge allowed per this much time.",
	"auth.stranger_log":       "Log entries of refusals to devices not enrolled here (node-wide); past it, unlogged.",
	"auth.stranger_log.burst": "Refusals logged at once.",
	"auth.stranger_log.every": "One more logged refusal allowed per this much time.",
	"auth.refusal_log":        "Log entries of an account's logins refused as locked or in backoff; past it, unlogged.",
	"auth.refusal_log.burst":  "Refusals logged at once.",
	"auth.refusal_log.every":  "One more logged refusal allowed per this much time.",

	"limits":                      "Rate and resource limits. A bucket allows burst releases at once, then one per every.",
	"limits.unit_releases":        "Share releases of one unit (record) to one user.",
	"limits.unit_releases.burst":  "Releases allowed at once.",
	"limits.unit_releases.every":  "One more release allowed per this much time.",
	"limits.user_releases":        "Release requests of one user; a batch of many units counts once.",
	"limits.user_releases.burst":  "Requests allowed at once.",
	"limits.user_releases.every":  "One more request allowed per this much time.",
	"limits.user_writes":          "Puts and deletes of one user; a put or delete of one record is one request.",
	"limits.user_writes.burst":    "Requests allowed at once.",
	"limits.user_writes.every":    "One more request allowed per this much time.",
	"limits.max_batch":            "Units one share request may name (1 to 1024).",
	"limits.request_timeout":      "Deadline of one request; a slower peer's stream is reset.",
	"limits.max_connections":      "Open connections, from all peers together; a quarter is kept for enrolled devices.",
	"limits.conn_idle_timeout":    "A connection with no request open and no logged-in device is closed after this.",
	"limits.max_streams_per_peer": "Open requests (streams) from one peer.",
	"limits.max_message_bytes":    "Largest release request read, in bytes (1024 to 67108864); other messages: 4096.",

	"auditors": "Peer IDs of auditors, who may read every audit log entry (users see their own).",
}

// WriteDefault checks c and writes it to a new file at path, mode 0600, with
// every setting written out under a one-line comment saying what it does.
// It refuses to overwrite an existing file (the error matches
// fs.ErrExist). Load of the file gives back c, with its paths resolved.
func WriteDefault(path string, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	data, err := encode(c)
	if err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := atomicfile.CreateBytes(path, 0o600, data); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

// encode renders c as WriteDefault writes it.
func encode(c Config) ([]byte, error) {
	var b strings.Builder
	b.WriteString(header)
	err := encodeStruct(&b, reflect.ValueOf(file{Version: Version, Config: c}), "", 0)
	return []byte(b.String()), err
}

func encodeStruct(b *strings.Builder, v reflect.Value, path string, indent int) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() || opts == "omitempty" && v.Field(i).IsZero() {
			continue
		}
		if opts == "inline" {
			if err := encodeStruct(b, v.Field(i), path, indent); err != nil {
				return err
			}
			continue
		}
		p := join(path, name)
		comment, ok := help[p]
		if !ok {
			return fmt.Errorf("internal error: setting %s has no comment", p)
		}
		pad := strings.Repeat(" ", indent)
		if indent == 0 {
			b.WriteString("\n")
		}
		for _, line := range strings.Split(comment, "\n") {
			fmt.Fprintf(b, "%s# %s\n", pad, line)
		}
		fmt.Fprintf(b, "%s%s:", pad, name)
		if err := encodeValue(b, v.Field(i), p, indent); err != nil {
			return err
		}
	}
	return nil
}

func encodeValue(b *strings.Builder, v reflect.Value, path string, indent int) error {
	switch {
	case v.Type() == durationType:
		fmt.Fprintf(b, " %s\n", formatDuration(time.Duration(v.Int())))
	case v.Kind() == reflect.Int:
		fmt.Fprintf(b, " %s\n", strconv.FormatInt(v.Int(), 10))
	case v.Kind() == reflect.String:
		s, err := scalar(v.String())
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		fmt.Fprintf(b, " %s\n", s)
	case v.Kind() == reflect.Slice:
		if v.Len() == 0 {
			b.WriteString(" []\n")
			return nil
		}
		b.WriteString("\n")
		for i := range v.Len() {
			s, err := scalar(v.Index(i).String())
			if err != nil {
				return fmt.Errorf("%s[%d]: %w", path, i, err)
			}
			fmt.Fprintf(b, "%s  - %s\n", strings.Repeat(" ", indent), s)
		}
	case v.Kind() == reflect.Struct:
		b.WriteString("\n")
		return encodeStruct(b, v, path, indent+2)
	default:
		return fmt.Errorf("internal error: no rule for %s of type %s", path, v.Type())
	}
	return nil
}

// scalar renders s as a one-line YAML string, quoted only when it must be.
func scalar(s string) (string, error) {
	out, err := yaml.Marshal(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s})
	if err != nil {
		return "", err
	}
	line := strings.TrimSuffix(string(out), "\n")
	if strings.Contains(line, "\n") {
		return "", errors.New("value does not fit on one line")
	}
	return line, nil
}
