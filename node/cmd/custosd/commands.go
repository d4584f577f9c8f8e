package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/custos-network/custos/internal/atomicfile"
	"github.com/custos-network/custos/node"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/store"
)

func initCmd() *cobra.Command {
	var o node.InitOptions
	cmd := &cobra.Command{
		Use:   "init --dir DIR",
		Short: "Make a new node directory with fresh keys and node.yaml",
		Long: `init makes DIR (mode 0700) with a new Ed25519 identity key, a storage key and
node.yaml, which holds every setting with its default written out and explained.
It refuses a directory that holds a node already. Back up the two key files
somewhere safe and offline: without the storage key, neither the store nor a
backup can be read. The storage key starts as a file on this disk; move it into a
TPM-sealed systemd credential or behind a KMS command (storage_key in node.yaml,
docs/operating.md) so that a copy of the disk does not hold it.`,
		Example: `  custosd init --dir /var/lib/custos --name acme
  custosd init --dir ./n1 --name n1 --listen /ip4/127.0.0.1/tcp/4001 --enrollment open`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Dir == "" {
				return usageError{fmt.Errorf("--dir is required")}
			}
			path, id, err := node.Init(o)
			if err != nil {
				return err
			}
			if asJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), initJSON{Config: path, Name: filepath.Base(o.Dir), PeerID: id.String(),
					StorageKey: filepath.Join(o.Dir, "storage.key")})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "made node %s\nconfig:  %s\npeer ID: %s\nstart it with: custosd run --config %s\n", filepath.Base(o.Dir), path, id, path)
			fmt.Fprintf(cmd.OutOrStdout(), "the storage key is in %s, on this disk; to move it off, see storage_key in node.yaml\n",
				filepath.Join(o.Dir, "storage.key"))
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Dir, "dir", "", "the new node's directory")
	cmd.Flags().StringVar(&o.Name, "name", "", "the node's name, lower-case letters, digits and hyphens (default: from --dir)")
	cmd.Flags().StringArrayVar(&o.Listen, "listen", nil, "a multiaddr to listen on; repeat for several (default: TCP, QUIC and WebTransport on 4001, WebSocket on 4002)")
	cmd.Flags().StringVar(&o.Enrollment, "enrollment", "invite", "how users enroll: invite (one-time tokens) or open (anyone; for development)")
	return cmd
}

// configFlag adds --config to cmd and returns a loader for it.
func configFlag(cmd *cobra.Command) func() (*config.Config, error) {
	path := cmd.Flags().String("config", "node.yaml", "the node's node.yaml")
	return func() (*config.Config, error) { return config.Load(*path) }
}

func runCmd() *cobra.Command {
	var dev bool
	cmd := &cobra.Command{
		Use:   "run --config DIR/node.yaml",
		Short: "Run the node until SIGINT or SIGTERM",
		Long: `run starts the node: its libp2p host, its store, the operations HTTP server
(metrics, /healthz, /readyz) and the admin socket. On SIGINT or SIGTERM it stops
taking requests, finishes those in flight, closes the store and exits 0.`,
		Example: `  custosd run --config /var/lib/custos/node.yaml
  custosd run --config ./n1/node.yaml --dev`,
	}
	load := configFlag(cmd)
	cmd.Flags().BoolVar(&dev, "dev", false, "log for a person (console format, debug level) instead of JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := load()
		if err != nil {
			return err
		}
		log, err := newLogger(cfg.Log, dev)
		if err != nil {
			return err
		}
		defer log.Sync()
		n, err := node.New(cfg, log)
		if err != nil {
			return err
		}
		return n.Run(cmd.Context())
	}
	return cmd
}

func newLogger(c config.Log, dev bool) (*zap.Logger, error) {
	zc := zap.NewProductionConfig()
	if dev {
		zc = zap.NewDevelopmentConfig()
	} else {
		if c.Format == "console" {
			zc.Encoding = "console"
		}
		level, err := zapcore.ParseLevel(c.Level)
		if err != nil {
			return nil, err
		}
		zc.Level = zap.NewAtomicLevelAt(level)
	}
	zc.DisableStacktrace = true
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	return zc.Build()
}

func cardCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "card --config DIR/node.yaml",
		Short: "Print the running node's card for the network file",
		Long: `card prints the node's card: its name, peer ID and the addresses it actually
listens on. Hand the file to the network's organisations for custos network new.`,
		Example: `  custosd card --config /var/lib/custos/node.yaml > acme.card`,
	}
	load := configFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := load()
		if err != nil {
			return err
		}
		card, err := node.AdminClient(cfg).Card(cmd.Context())
		if err != nil {
			return err
		}
		if asJSON(cmd) {
			return printJSON(cmd.OutOrStdout(), cardJSON{Addrs: card.Addrs, Name: card.Name, PeerID: card.PeerID})
		}
		_, err = cmd.OutOrStdout().Write(card.Marshal())
		return err
	}
	return cmd
}

func statusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "status --config DIR/node.yaml",
		Short:   "Print the running node's health, counts and log size",
		Example: `  custosd status --config /var/lib/custos/node.yaml --json`,
	}
	load := configFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := load()
		if err != nil {
			return err
		}
		st, err := node.AdminClient(cfg).Status(cmd.Context())
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if asJSON(cmd) {
			return printJSON(out, st)
		}
		ready := "ready"
		if !st.Ready {
			ready = "shutting down"
		}
		fmt.Fprintf(out, "node      %s (%s)\npeer ID   %s\nstate     %s, up %s\naccounts  %d (%d locked)\nshares    %d\nlog       %d entries\nwrites    %s\ndisk      %.1f MiB used, %.1f MiB free space needed to take writes\naddresses %s\n",
			st.Name, cfg.Path(node.ConfigFile), st.PeerID, ready, time.Since(st.Started).Round(time.Second),
			st.Accounts, st.LockedAccounts, st.Shares, st.LogSize, groupCommit(st.Updates, st.Commits), mib(st.DiskBytes), mib(st.ReserveBytes), strings.Join(st.Addrs, "\n          "))
		return nil
	}
	return cmd
}

func inviteCmd() *cobra.Command {
	var user string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "invite --user U --config DIR/node.yaml",
		Short: "Make a one-time enrollment token for a user",
		Long: `invite makes a one-time token with which the user enrolls at this node
(custos enroll --token NODE=TOKEN). The token is printed on the last line; the node
keeps only its hash. Send it to the user over a channel you trust.

With --new-device the token adds a device to a user enrolled here (a second
device, or a new one after custos vault import): the new device logs in with it
and the user's password, and the node adds it to the user's devices (at most 8
active). Make one only when the user asks for it through a channel you trust.`,
		Example: `  custosd invite --user alice --config /var/lib/custos/node.yaml
  custosd invite --user ci-bot --ttl 1h --config /var/lib/custos/node.yaml
  custosd invite --user alice --new-device --config /var/lib/custos/node.yaml`,
	}
	load := configFlag(cmd)
	var newDevice bool
	cmd.Flags().StringVar(&user, "user", "", "the user to invite")
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "how long the token is valid (default: auth.invite_ttl of node.yaml)")
	cmd.Flags().BoolVar(&newDevice, "new-device", false, "make a token that adds a device to the enrolled user")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if user == "" {
			return usageError{fmt.Errorf("--user is required")}
		}
		cfg, err := load()
		if err != nil {
			return err
		}
		ac, what := node.AdminClient(cfg), "invite"
		invite := ac.Invite
		if newDevice {
			invite, what = ac.InviteDevice, "new-device invite"
		}
		inv, err := invite(cmd.Context(), user, ttl)
		if err != nil {
			return err
		}
		if asJSON(cmd) {
			return printJSON(cmd.OutOrStdout(), inviteJSON{Expires: inv.Expires.UTC(), Node: cfg.Name, Token: inv.Token, User: inv.User, NewDevice: inv.NewDevice})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s for %s at %s, valid until %s:\n%s\n", what, inv.User, cfg.Name, inv.Expires.Local().Format(time.RFC3339), inv.Token)
		return nil
	}
	return cmd
}

func lockCmd(lock bool) *cobra.Command {
	var user string
	verb, short := "unlock", "Unlock a user's account and clear its failed logins"
	example := `  custosd unlock --user alice --config /var/lib/custos/node.yaml`
	if lock {
		verb, short = "lock", "Lock a user's account and end their sessions"
		example = `  custosd lock --user alice --config /var/lib/custos/node.yaml`
	}
	cmd := &cobra.Command{Use: verb + " --user U --config DIR/node.yaml", Short: short, Example: example}
	load := configFlag(cmd)
	cmd.Flags().StringVar(&user, "user", "", "the user")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if user == "" {
			return usageError{fmt.Errorf("--user is required")}
		}
		cfg, err := load()
		if err != nil {
			return err
		}
		c := node.AdminClient(cfg)
		if lock {
			err = c.Lock(cmd.Context(), user)
		} else {
			err = c.Unlock(cmd.Context(), user)
		}
		if err != nil {
			return err
		}
		if asJSON(cmd) {
			return printJSON(cmd.OutOrStdout(), lockJSON{Locked: lock, Node: cfg.Name, User: user})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%sed %s at %s\n", verb, user, cfg.Name)
		return nil
	}
	return cmd
}

func usersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "users --config DIR/node.yaml",
		Short:   "List the node's accounts",
		Example: `  custosd users --config /var/lib/custos/node.yaml`,
	}
	load := configFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := load()
		if err != nil {
			return err
		}
		users, err := node.AdminClient(cfg).Users(cmd.Context())
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if asJSON(cmd) {
			for _, u := range users {
				if err := printJSON(out, u); err != nil {
					return err
				}
			}
			return nil
		}
		for _, u := range users {
			state := "active"
			if u.Locked {
				state = "LOCKED"
			}
			epoch := fmt.Sprint(u.Epoch)
			if u.StagedEpoch != 0 {
				epoch += fmt.Sprintf(" (staged %d)", u.StagedEpoch)
			}
			devices := strings.Join(u.Devices, ", ")
			if len(u.Revoked) > 0 {
				devices += fmt.Sprintf(" (%d revoked)", len(u.Revoked))
			}
			fmt.Fprintf(out, "%-24s %-7s failures %-3d epoch %-12s enrolled %s  devices %s\n", u.User, state, u.Failures, epoch, u.Created.Local().Format(time.DateOnly), devices)
		}
		if len(users) == 0 {
			fmt.Fprintln(out, "no users")
		}
		return nil
	}
	return cmd
}

func backupCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "backup --out FILE --config DIR/node.yaml",
		Short: "Write an encrypted backup of the running node",
		Long: `backup writes the running node's whole store to FILE, encrypted (age) under a key
derived from the node's storage key: keep the storage key to be able to restore.`,
		Example: `  custosd backup --out /backups/acme-$(date +%F).age --config /var/lib/custos/node.yaml`,
	}
	load := configFlag(cmd)
	cmd.Flags().StringVar(&out, "out", "", "the backup file to write (must not exist)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if out == "" {
			return usageError{fmt.Errorf("--out is required")}
		}
		cfg, err := load()
		if err != nil {
			return err
		}
		err = atomicfile.Create(out, 0o600, func(w io.Writer) error {
			return node.AdminClient(cfg).Backup(cmd.Context(), w)
		})
		if err != nil {
			return err
		}
		if asJSON(cmd) {
			return printJSON(cmd.OutOrStdout(), backupJSON{Backup: out})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote backup %s\n", out)
		return nil
	}
	return cmd
}

func restoreCmd() *cobra.Command {
	var in string
	var replace bool
	cmd := &cobra.Command{
		Use:   "restore --in FILE --config DIR/node.yaml [--replace]",
		Short: "Restore a backup into the stopped node, and log that it did",
		Long: `restore reads a backup written by custosd backup into the node's data directory.
The node must be stopped, and its storage key must be the one the backup was made
with. The data directory must be empty or absent, unless --replace is given: then
the store it holds is moved aside to DATA_DIR.replaced-TIME (delete it yourself once
you no longer need it).

Restore appends one ADMIN entry to the restored log, so that users and auditors
see the rollback for what it is:
  restore: backup of log size N
  restore: backup of log size N replaces a log of size M with root R
Records put after the backup are gone from this node; auditors who checked a
later checkpoint see an inconsistent log, and accept the restore with
custos audit verify --accept NODE (see docs/operating.md).`,
		Example: `  custosd restore --in /backups/acme-2026-11-28.age --config /var/lib/custos/node.yaml --replace`,
	}
	load := configFlag(cmd)
	cmd.Flags().StringVar(&in, "in", "", "the backup file")
	cmd.Flags().BoolVar(&replace, "replace", false, "move a data directory that holds a store aside instead of refusing it")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if in == "" {
			return usageError{fmt.Errorf("--in is required")}
		}
		cfg, err := load()
		if err != nil {
			return err
		}
		f, err := os.Open(in)
		if err != nil {
			return err
		}
		defer f.Close()
		// What a storage key command writes to stderr is shown as it is.
		log, err := newLogger(config.Log{Format: "console", Level: "warn"}, false)
		if err != nil {
			return err
		}
		defer log.Sync()
		done, err := node.RestoreWith(cmd.Context(), cfg, f, node.RestoreOptions{Replace: replace}, log)
		if errors.Is(err, store.ErrNotEmpty) {
			return fmt.Errorf("%w; add --replace to move the store it holds aside, or move it yourself", err)
		}
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if asJSON(cmd) {
			return printJSON(out, restoredJSON{Aside: done.Aside, Backup: in, DataDir: cfg.Path(cfg.DataDir), Entry: done.Entry})
		}
		fmt.Fprintf(out, "restored %s into %s\nlogged: %s\n", in, cfg.Path(cfg.DataDir), done.Entry)
		if done.Aside != "" {
			fmt.Fprintf(out, "the store it replaced is in %s\n", done.Aside)
		}
		return nil
	}
	return cmd
}

// The shapes of --json that are custosd's own (status and users print the
// admin API's): snake_case keys in alphabetical order, as custos has.
type (
	initJSON struct {
		Config     string `json:"config"`
		Name       string `json:"name"`
		PeerID     string `json:"peer_id"`
		StorageKey string `json:"storage_key"`
	}
	cardJSON struct {
		Addrs  []string `json:"addrs"`
		Name   string   `json:"name"`
		PeerID string   `json:"peer_id"`
	}
	inviteJSON struct {
		Expires   time.Time `json:"expires"`
		NewDevice bool      `json:"new_device"`
		Node      string    `json:"node"`
		Token     string    `json:"token"`
		User      string    `json:"user"`
	}
	lockJSON struct {
		Locked bool   `json:"locked"`
		Node   string `json:"node"`
		User   string `json:"user"`
	}
	backupJSON struct {
		Backup string `json:"backup"`
	}
	restoredJSON struct {
		Aside   string `json:"aside"` // where the replaced data directory is; "" for none
		Backup  string `json:"backup"`
		DataDir string `json:"data_dir"`
		Entry   string `json:"entry"` // the entry it logged
	}
)

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// groupCommit says how many writes the node made durable since it started
// and how many fsyncs they took.
func groupCommit(updates, commits int64) string {
	if commits == 0 {
		return "none since start"
	}
	return fmt.Sprintf("%d since start, in %d fsyncs (%.1f a fsync)", updates, commits, float64(updates)/float64(commits))
}
