package auth

import (
	"bytes"
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/store"
)

// Epochs are an account's dealings after a password change step: the
// current epoch, and the staged one (0 for none).
type Epochs struct {
	Current uint32
	Staged  uint32
}

func epochsOf(a *store.Account) Epochs {
	e := Epochs{Current: a.Current.Epoch}
	if a.Staged != nil {
		e.Staged = a.Staged.Epoch
	}
	return e
}

// Passwd runs one step of a password change for the session's user, in
// two steps so that an interrupted change never locks the user out:
//
//   - stage: keep a new dealing (its key share sealed, and its login public
//     key) of epoch current+1 beside the current one; logins may use
//     either. A stage of the epoch already staged replaces it, so a client
//     that lost its dealing can stage another. Any other epoch is
//     INVALID_ARGUMENT.
//   - commit(epoch): the staged dealing becomes current, and the old one,
//     key share and all, is dropped.
//   - abort(epoch): the staged dealing is dropped.
//
// A commit or abort of an epoch that is not staged is NOT_FOUND. Each
// step, done or refused, is a PASSWORD log entry naming its epoch. The
// epochs returned are the account's after the step, also after a refusal,
// so that a client resuming a change learns where this node stands. The
// caller checked the session, and wipes the key share in req.
func (s *Service) Passwd(ctx context.Context, sess *Session, req *api.PasswdRequest) (Epochs, error) {
	if err := req.Validate(); err != nil {
		return Epochs{}, err
	}
	var epochs Epochs
	err := s.store.Decide(ctx, func(tx *store.Tx) (error, error) {
		a, why, err := s.loginAccount(tx, sess.Peer, sess.User, nil)
		entry := &api.Entry{Kind: api.EntryKind_PASSWORD, User: sess.User, ClientPeerId: []byte(sess.Peer)}
		switch {
		case why != "":
			// A session outlives no account; this is only a safeguard.
			return s.refuseLogin(tx, entry, err, why)
		case err != nil:
			return nil, err
		}
		outcome, err := s.passwdStep(tx, a, req, entry)
		if err != nil {
			return nil, err
		}
		epochs = epochsOf(a)
		entry.Outcome = code(outcome)
		return outcome, s.record(tx, entry)
	})
	return epochs, err
}

// passwdStep applies req's step to a within tx, and says in entry what it
// did or why it refused (the outcome).
func (s *Service) passwdStep(tx *store.Tx, a *store.Account, req *api.PasswdRequest, entry *api.Entry) (outcome, err error) {
	switch step := req.Step.(type) {
	case *api.PasswdRequest_Stage:
		o := step.Stage.Oprf
		entry.Epoch = o.Epoch
		if o.Epoch != a.Current.Epoch+1 {
			entry.Reason = fmt.Sprintf("stage of epoch %d refused: the current epoch is %d", o.Epoch, a.Current.Epoch)
			return api.Errorf(api.Code_INVALID_ARGUMENT, "a password change stages epoch %d, the one after the current %d", a.Current.Epoch+1, a.Current.Epoch), nil
		}
		entry.Reason = fmt.Sprintf("staged epoch %d", o.Epoch)
		if a.Staged != nil {
			entry.Reason += ", replacing the dealing staged before"
		}
		d := dealing(o, step.Stage.AuthPublicKey)
		note, err := s.stagedNote(step.Stage)
		if err != nil {
			entry.Reason = "stage refused: " + err.Error()
			return err, nil
		}
		d.Note = note
		a.Staged = &d
		if err := tx.PutOprfKeyShare(a.User, o.Epoch, o.KeyShare); err != nil {
			return nil, err
		}
		return nil, tx.PutAccount(a)
	case *api.PasswdRequest_Commit:
		return s.settleStaged(tx, a, step.Commit, true, entry)
	case *api.PasswdRequest_Abort:
		return s.settleStaged(tx, a, step.Abort, false, entry)
	}
	panic("auth: internal error: a validated password change has no step")
}

// settleStaged commits (makes current, dropping the old) or aborts (drops)
// a's staged dealing of epoch, within tx.
func (s *Service) settleStaged(tx *store.Tx, a *store.Account, epoch uint32, commit bool, entry *api.Entry) (outcome, err error) {
	verb := "abort"
	if commit {
		verb = "commit"
	}
	entry.Epoch = epoch
	if a.Staged == nil || a.Staged.Epoch != epoch {
		entry.Reason = fmt.Sprintf("%s of epoch %d refused: not staged", verb, epoch)
		return api.Errorf(api.Code_NOT_FOUND, "no dealing of epoch %d is staged", epoch), nil
	}
	drop := epoch
	if commit {
		drop = a.Current.Epoch
		a.Current = *a.Staged
	}
	a.Staged = nil
	if err := tx.DeleteOprfKeyShare(a.User, drop); err != nil {
		return nil, err
	}
	entry.Reason = fmt.Sprintf("%sed epoch %d", verb, epoch)
	if commit {
		entry.Reason = fmt.Sprintf("committed epoch %d, dropped epoch %d", epoch, drop)
	}
	return nil, tx.PutAccount(a)
}

// stagedNote encodes a stage's dealing note (api.PasswdRequest.Validate
// checked it) for the account, after checking that the share at the
// stage's index is this node's: a note that names another peer there would
// send the user's other devices to the wrong node. None without a note.
func (s *Service) stagedNote(st *api.PasswdStage) ([]byte, error) {
	if st.Note == nil {
		return nil, nil
	}
	if own := st.Note.Share(st.Oprf.Index); !bytes.Equal(own.GetPeerId(), []byte(s.node)) {
		return nil, api.Errorf(api.Code_INVALID_ARGUMENT, "the dealing note names another node at index %d", st.Oprf.Index)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(st.Note)
	if err != nil {
		return nil, fmt.Errorf("encode the dealing note: %w", err)
	}
	return b, nil
}
