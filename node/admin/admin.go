// Package admin is the operator's door into a running custodian node: a
// unix socket in the node's directory (mode 0600, so only the node's own
// user can use it) that serves JSON over HTTP. The running daemon owns the
// Badger directory, so every admin command that reads or changes the store
// goes through here. Serve is the node's side; Client is custosd's.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/custos-network/custos/api"
)

// SocketName is the admin socket's file name in the node directory.
const SocketName = "admin.sock"

// Ops is what the admin socket exposes; the node implements it.
type Ops interface {
	Status(ctx context.Context) (*Status, error)
	Card() *api.Card
	Invite(ctx context.Context, user string, ttl time.Duration) (token string, expires time.Time, err error)
	Lock(ctx context.Context, user string) error
	Unlock(ctx context.Context, user string) error
	Users(ctx context.Context) ([]User, error)
	Backup(ctx context.Context, w io.Writer) error
}

// Status is a node's health and size.
type Status struct {
	Name           string    `json:"name"`
	PeerID         string    `json:"peer_id"`
	Addrs          []string  `json:"addrs"`
	Ready          bool      `json:"ready"`
	Started        time.Time `json:"started"`
	Accounts       int       `json:"accounts"`
	LockedAccounts int       `json:"locked_accounts"`
	Shares         int       `json:"shares"`
	LogSize        int64     `json:"log_size"`
	DiskBytes      int64     `json:"disk_bytes"`
	ReserveBytes   int64     `json:"reserve_bytes"` // free disk the store needs before it takes writes
	Checkpoint     string    `json:"checkpoint"`    // the latest signed checkpoint, as text
	// Commits are the store's durable commits (one fsync each) since the
	// node started, and Updates the writes they carried: group commit
	// shares one fsync among the requests that wait for it together.
	Commits int64 `json:"commits"`
	Updates int64 `json:"updates"`
}

// User is one account as an operator sees it.
type User struct {
	User     string `json:"user"`
	Device   string `json:"device"` // the device's peer ID
	Locked   bool   `json:"locked"`
	Failures int    `json:"failures"`
	// Epoch is the epoch of the user's current login dealing; StagedEpoch
	// that of a password change in progress, 0 for none.
	Epoch       uint32    `json:"epoch"`
	StagedEpoch uint32    `json:"staged_epoch,omitempty"`
	Created     time.Time `json:"created"`
}

// Invite is the answer to an invite request.
type Invite struct {
	User    string    `json:"user"`
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

type userRequest struct {
	User string        `json:"user"`
	TTL  time.Duration `json:"ttl,omitempty"`
}

type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"` // an api.Code name
}

const maxRequestBody = 4096

// Listen opens the admin socket at path with mode 0600, replacing a stale
// socket that no node answers on, and refusing one that a node does.
func Listen(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("another node is running on %s", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return l, nil
}

// Serve answers admin requests on l until ctx ends.
func Serve(ctx context.Context, l net.Listener, ops Ops, log *zap.Logger) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		st, err := ops.Status(r.Context())
		respond(w, log, st, err)
	})
	mux.HandleFunc("GET /card", func(w http.ResponseWriter, r *http.Request) {
		respond(w, log, ops.Card(), nil)
	})
	mux.HandleFunc("GET /users", func(w http.ResponseWriter, r *http.Request) {
		users, err := ops.Users(r.Context())
		respond(w, log, users, err)
	})
	mux.HandleFunc("POST /invite", func(w http.ResponseWriter, r *http.Request) {
		req, err := decode(r)
		if err != nil {
			respond(w, log, nil, err)
			return
		}
		token, expires, err := ops.Invite(r.Context(), req.User, req.TTL)
		respond(w, log, &Invite{User: req.User, Token: token, Expires: expires}, err)
	})
	for path, op := range map[string]func(context.Context, string) error{"POST /lock": ops.Lock, "POST /unlock": ops.Unlock} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			req, err := decode(r)
			if err == nil {
				err = op(r.Context(), req.User)
			}
			respond(w, log, struct{}{}, err)
		})
	}
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Trailer", "X-Backup-Error")
		if err := ops.Backup(r.Context(), w); err != nil {
			// The body has started; the client sees a truncated backup,
			// which the age format detects, and this trailer says why.
			log.Error("backup failed", zap.Error(err))
			w.Header().Set("X-Backup-Error", "the backup failed; see the node's log")
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: zap.NewStdLog(log)}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin socket: %w", err)
	}
	return nil
}

func decode(r *http.Request) (*userRequest, error) {
	var req userRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, api.Errorf(api.Code_INVALID_ARGUMENT, "malformed admin request")
	}
	if !api.ValidUser(req.User) {
		return nil, api.Errorf(api.Code_INVALID_ARGUMENT, "%q is not a valid user name (1 to %d letters, digits and . _ @ + -)", req.User, api.MaxUserLen)
	}
	return &req, nil
}

// respond writes v as JSON, or the error: a StatusError's message as it is,
// anything else as an internal error (logged here in full).
func respond(w http.ResponseWriter, log *zap.Logger, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		var se *api.StatusError
		code, msg := api.Code_INTERNAL, "internal error; see the node's log"
		if errors.As(err, &se) {
			code, msg = se.Code, se.Error()
		} else {
			log.Error("admin request failed", zap.Error(err))
		}
		w.WriteHeader(httpStatus(code))
		_ = json.NewEncoder(w).Encode(errorBody{Error: msg, Code: code.String()})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

func httpStatus(c api.Code) int {
	switch c {
	case api.Code_INVALID_ARGUMENT:
		return http.StatusBadRequest
	case api.Code_NOT_FOUND:
		return http.StatusNotFound
	case api.Code_ALREADY_EXISTS:
		return http.StatusConflict
	case api.Code_UNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
