package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestConformance runs the one conformance suite against every way of
// opening a store.
func TestConformance(t *testing.T) {
	t.Run("disk", func(t *testing.T) { conformance(t, openDisk) })
	t.Run("memory", func(t *testing.T) { conformance(t, openMemory) })
}

// errBoom is a function's own error, returned to abort an update.
var errBoom = errors.New("boom")

func conformance(t *testing.T, open opener) {
	cases := []struct {
		name string
		run  func(t *testing.T, s *Store)
	}{
		{"an account reads back as written", func(t *testing.T, s *Store) {
			a := testAccount("alice")
			a.Staged = testDealing("alice", 2)
			a.Failures, a.Locked, a.LockedAt = 3, true, epoch.Add(time.Minute)
			a.NextAttempt = epoch.Add(time.Hour).In(time.FixedZone("X", 3600))
			update(t, s, func(tx *Tx) error { return tx.PutAccount(a) })
			view(t, s, func(tx *Tx) error {
				got, err := tx.Account("alice")
				if err != nil {
					return err
				}
				if !sameAccount(got, a) {
					t.Errorf("Account = %+v, want %+v", got, a)
				}
				return nil
			})
		}},
		{"a missing account is not found", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error { return tx.PutAccount(testAccount("alice")) })
			view(t, s, func(tx *Tx) error {
				if _, err := tx.Account("alic"); !errors.Is(err, ErrNotFound) {
					t.Errorf("Account(alic) = %v, want ErrNotFound", err)
				}
				return nil
			})
		}},
		{"an account that breaks the rules is refused", func(t *testing.T, s *Store) {
			bad := []func(*Account){
				func(a *Account) { a.Current.LoginPublicKey = a.Current.LoginPublicKey[:31] },
				func(a *Account) { a.Current.PublicShare = nil },
				func(a *Account) { a.Current.Epoch = 0 },
				func(a *Account) { a.Current.Index = 0 },
				func(a *Account) { a.Current.Index = MaxDealingIndex + 1 },
				func(a *Account) { a.Staged = testDealing("alice", 3) },
				func(a *Account) { a.Staged = testDealing("alice", 1) },
				func(a *Account) { a.Staged = testDealing("alice", 2); a.Staged.LoginPublicKey = nil },
				func(a *Account) { a.DevicePeerID = nil },
				func(a *Account) { a.DevicePeerID = make([]byte, MaxPeerIDLen+1) },
				func(a *Account) { a.Failures = -1 },
				func(a *Account) { a.User = "" },
				func(a *Account) { a.Created = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
			}
			for i, breakIt := range bad {
				a := testAccount("alice")
				breakIt(a)
				err := s.Update(context.Background(), func(tx *Tx) error { return tx.PutAccount(a) })
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("case %d: PutAccount = %v, want ErrInvalid", i, err)
				}
			}
			if err := s.Update(context.Background(), func(tx *Tx) error { return tx.PutAccount(nil) }); !errors.Is(err, ErrInvalid) {
				t.Errorf("PutAccount(nil) = %v, want ErrInvalid", err)
			}
		}},
		{"accounts are listed in user order", func(t *testing.T, s *Store) {
			users := []string{"bob", "alice", "al", "Zed", "älva", "carol"}
			update(t, s, func(tx *Tx) error {
				for _, u := range users {
					if err := tx.PutAccount(testAccount(u)); err != nil {
						return err
					}
				}
				return nil
			})
			var got []string
			view(t, s, func(tx *Tx) error {
				return tx.Accounts(func(a *Account) error { got = append(got, a.User); return nil })
			})
			want := slices.Clone(users)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("Accounts order = %q, want %q", got, want)
			}
		}},
		{"listing accounts stops at the callback's error", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error {
				for _, u := range []string{"a", "b", "c"} {
					if err := tx.PutAccount(testAccount(u)); err != nil {
						return err
					}
				}
				return nil
			})
			n := 0
			err := s.View(func(tx *Tx) error {
				return tx.Accounts(func(*Account) error { n++; return errBoom })
			})
			if !errors.Is(err, errBoom) || n != 1 {
				t.Errorf("Accounts = %v after %d calls, want errBoom after 1", err, n)
			}
		}},
		{"listing many accounts pages through them all, and the callback may write", func(t *testing.T, s *Store) {
			const n = 3*accountPage + 5
			update(t, s, func(tx *Tx) error {
				for i := range n {
					if err := tx.PutAccount(testAccount(userN(i))); err != nil {
						return err
					}
				}
				return nil
			})
			seen := 0
			update(t, s, func(tx *Tx) error {
				return tx.Accounts(func(a *Account) error {
					seen++
					a.Locked = true
					return tx.PutAccount(a)
				})
			})
			st, err := s.Stats()
			if err != nil {
				t.Fatal(err)
			}
			if seen != n || st.Accounts != n || st.LockedAccounts != n {
				t.Errorf("saw %d accounts, stats %+v; want %d, all locked", seen, st, n)
			}
		}},
		{"an OPRF key share reads back as written, per user and epoch", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error {
				for _, u := range []string{"alice", "al"} {
					for e := uint32(1); e <= 2; e++ {
						if err := tx.PutOprfKeyShare(u, e, testKeyShare(u, e)); err != nil {
							return err
						}
					}
				}
				return nil
			})
			view(t, s, func(tx *Tx) error {
				for _, u := range []string{"alice", "al"} {
					for e := uint32(1); e <= 2; e++ {
						got, err := tx.OprfKeyShare(u, e)
						if err != nil || !bytes.Equal(got, testKeyShare(u, e)) {
							t.Errorf("OPRF key share %s/%d does not read back (%v)", u, e, err)
						}
						clear(got)
					}
				}
				if _, err := tx.OprfKeyShare("alice", 3); !errors.Is(err, ErrNotFound) {
					t.Errorf("OPRF key share of an epoch never stored: %v, want ErrNotFound", err)
				}
				if _, err := tx.OprfKeyShare("a", 1); !errors.Is(err, ErrNotFound) {
					t.Errorf("OPRF key share of a user whose name prefixes another's: %v, want ErrNotFound", err)
				}
				return nil
			})
		}},
		{"an OPRF key share is stored sealed, never in the clear", func(t *testing.T, s *Store) {
			share := testKeyShare("alice", 1)
			update(t, s, func(tx *Tx) error { return tx.PutOprfKeyShare("alice", 1, share) })
			raw := rawGet(t, s, oprfKeyKey("alice", 1))
			if bytes.Contains(raw, share[len("alice"):]) || len(raw) != shareWrapOverhead+len(share) || raw[0] != shareWrapVersion {
				t.Error("stored OPRF key share is not 0x01 ‖ nonce ‖ sealed key share")
			}
		}},
		{"an OPRF key share moved to another user, epoch or keyspace is corrupt", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error { return tx.PutOprfKeyShare("alice", 1, testKeyShare("alice", 1)) })
			raw := rawGet(t, s, oprfKeyKey("alice", 1))
			rawSet(t, s, oprfKeyKey("alice", 2), raw)
			rawSet(t, s, oprfKeyKey("bob", 1), raw)
			rawSet(t, s, shareKey("alice", unit(1), 1), raw)
			view(t, s, func(tx *Tx) error {
				checks := map[string]error{}
				_, checks["another epoch"] = tx.OprfKeyShare("alice", 2)
				_, checks["another user"] = tx.OprfKeyShare("bob", 1)
				_, checks["the share keyspace"] = tx.Share("alice", unit(1), 1)
				for what, err := range checks {
					if !errors.Is(err, ErrCorrupt) {
						t.Errorf("key share moved to %s: %v, want ErrCorrupt", what, err)
					}
				}
				return nil
			})
		}},
		{"an OPRF key share must be 32 bytes of a named user and an epoch from 1", func(t *testing.T, s *Store) {
			for what, put := range map[string]func(tx *Tx) error{
				"31 bytes": func(tx *Tx) error { return tx.PutOprfKeyShare("alice", 1, make([]byte, 31)) },
				"33 bytes": func(tx *Tx) error { return tx.PutOprfKeyShare("alice", 1, make([]byte, 33)) },
				"epoch 0":  func(tx *Tx) error { return tx.PutOprfKeyShare("alice", 0, testKeyShare("alice", 0)) },
				"no user":  func(tx *Tx) error { return tx.PutOprfKeyShare("", 1, testKeyShare("", 1)) },
			} {
				if err := s.Update(context.Background(), put); !errors.Is(err, ErrInvalid) {
					t.Errorf("%s: %v, want ErrInvalid", what, err)
				}
			}
		}},
		{"a deleted OPRF key share is gone, and deletes only once", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error { return tx.PutOprfKeyShare("alice", 1, testKeyShare("alice", 1)) })
			update(t, s, func(tx *Tx) error { return tx.DeleteOprfKeyShare("alice", 1) })
			view(t, s, func(tx *Tx) error {
				if _, err := tx.OprfKeyShare("alice", 1); !errors.Is(err, ErrNotFound) {
					t.Errorf("a deleted key share: %v, want ErrNotFound", err)
				}
				return nil
			})
			err := s.Update(context.Background(), func(tx *Tx) error { return tx.DeleteOprfKeyShare("alice", 1) })
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("deleting it again: %v, want ErrNotFound", err)
			}
		}},
		{"an account's dealing is found by its epoch, current or staged", func(t *testing.T, s *Store) {
			a := testAccount("alice")
			a.Staged = testDealing("alice", 2)
			update(t, s, func(tx *Tx) error { return tx.PutAccount(a) })
			view(t, s, func(tx *Tx) error {
				got, err := tx.Account("alice")
				if err != nil {
					return err
				}
				for e, want := range map[uint32]*Dealing{0: nil, 1: &a.Current, 2: a.Staged, 3: nil} {
					if d := got.Dealing(e); !sameDealing(d, want) {
						t.Errorf("Dealing(%d) = %+v, want %+v", e, d, want)
					}
				}
				return nil
			})
		}},
		{"an invite reads back and deletes only once", func(t *testing.T, s *Store) {
			inv := &Invite{Hash: [32]byte{1, 2, 3}, User: "alice", Expires: epoch.Add(24 * time.Hour), Created: epoch}
			update(t, s, func(tx *Tx) error { return tx.PutInvite(inv) })
			view(t, s, func(tx *Tx) error {
				got, err := tx.Invite(inv.Hash)
				if err != nil {
					return err
				}
				if !sameInvite(got, inv) {
					t.Errorf("Invite = %+v, want %+v", got, inv)
				}
				if _, err := tx.Invite([32]byte{1, 2}); !errors.Is(err, ErrNotFound) {
					t.Errorf("Invite(other hash) = %v, want ErrNotFound", err)
				}
				return nil
			})
			update(t, s, func(tx *Tx) error { return tx.DeleteInvite(inv.Hash) })
			err := s.Update(context.Background(), func(tx *Tx) error { return tx.DeleteInvite(inv.Hash) })
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("second DeleteInvite = %v, want ErrNotFound", err)
			}
		}},
		{"a share reads back as written", func(t *testing.T, s *Store) {
			share := testShare("alice", unit(1), 7)
			update(t, s, func(tx *Tx) error { return tx.PutShare("alice", unit(1), 7, share) })
			view(t, s, func(tx *Tx) error {
				got, err := tx.Share("alice", unit(1), 7)
				if err != nil {
					return err
				}
				defer clear(got)
				if !bytes.Equal(got, share) {
					t.Error("Share returned other bytes than were put")
				}
				return nil
			})
		}},
		{"a share of another user is not found", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error { return tx.PutShare("alice", unit(1), 1, testShare("alice", unit(1), 1)) })
			view(t, s, func(tx *Tx) error {
				for _, u := range []string{"bob", "alic", "alicea", "Alice"} {
					if _, err := tx.Share(u, unit(1), 1); !errors.Is(err, ErrNotFound) {
						t.Errorf("Share(%q) = %v, want ErrNotFound", u, err)
					}
				}
				return nil
			})
		}},
		{"a share of another unit or version is not found", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error { return tx.PutShare("alice", unit(1), 1, testShare("alice", unit(1), 1)) })
			view(t, s, func(tx *Tx) error {
				if _, err := tx.Share("alice", unit(2), 1); !errors.Is(err, ErrNotFound) {
					t.Errorf("other unit: %v, want ErrNotFound", err)
				}
				if _, err := tx.Share("alice", unit(1), 2); !errors.Is(err, ErrNotFound) {
					t.Errorf("other version: %v, want ErrNotFound", err)
				}
				return nil
			})
		}},
		{"a share is stored sealed, never in the clear", func(t *testing.T, s *Store) {
			share := testShare("alice", unit(1), 1)
			update(t, s, func(tx *Tx) error { return tx.PutShare("alice", unit(1), 1, share) })
			raw := rawGet(t, s, shareKey("alice", unit(1), 1))
			if bytes.Contains(raw, share[1:]) || len(raw) != shareWrapOverhead+len(share) || raw[0] != shareWrapVersion {
				t.Error("stored share value is not 0x01 ‖ nonce ‖ sealed share")
			}
		}},
		{"a stored share moved to another key is corrupt", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error { return tx.PutShare("alice", unit(1), 1, testShare("alice", unit(1), 1)) })
			raw := rawGet(t, s, shareKey("alice", unit(1), 1))
			for _, to := range []UnitVersion{{unit(1), 2}, {unit(2), 1}} {
				rawSet(t, s, shareKey("alice", to.Unit, to.Version), raw)
				view(t, s, func(tx *Tx) error {
					if _, err := tx.Share("alice", to.Unit, to.Version); !errors.Is(err, ErrCorrupt) {
						t.Errorf("share moved to %v: %v, want ErrCorrupt", to, err)
					}
					return nil
				})
			}
			rawSet(t, s, shareKey("bob", unit(1), 1), raw)
			view(t, s, func(tx *Tx) error {
				if _, err := tx.Share("bob", unit(1), 1); !errors.Is(err, ErrCorrupt) {
					t.Errorf("share moved to another user: %v, want ErrCorrupt", err)
				}
				return nil
			})
		}},
		{"a damaged stored record is corrupt", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error {
				if err := tx.PutAccount(testAccount("alice")); err != nil {
					return err
				}
				return tx.PutShare("alice", unit(1), 1, testShare("alice", unit(1), 1))
			})
			raw := rawGet(t, s, shareKey("alice", unit(1), 1))
			raw[len(raw)-1] ^= 1
			rawSet(t, s, shareKey("alice", unit(1), 1), raw)
			acct := rawGet(t, s, accountKey("alice"))
			rawSet(t, s, accountKey("bob"), acct)
			rawSet(t, s, accountKey("carol"), bytes.Replace(acct, []byte(`"v":2`), []byte(`"v":1`), 1))
			rawSet(t, s, inviteKey([32]byte{9}), []byte(`{"v":1,"hash":"00","user":"alice"}`))
			rawSet(t, s, logHashKey(0), []byte{1, 2, 3})
			rawSet(t, s, logSizeKey(), []byte{1})
			view(t, s, func(tx *Tx) error {
				checks := map[string]error{}
				_, checks["flipped share bit"] = tx.Share("alice", unit(1), 1)
				_, checks["account under another user's key"] = tx.Account("bob")
				_, checks["account of unknown version"] = tx.Account("carol")
				_, checks["invite with a short hash"] = tx.Invite([32]byte{9})
				_, checks["short log hash"] = tx.LogHash(0)
				_, checks["short log size"] = tx.LogSize()
				checks["listing accounts"] = tx.Accounts(func(*Account) error { return nil })
				for what, err := range checks {
					if !errors.Is(err, ErrCorrupt) {
						t.Errorf("%s: %v, want ErrCorrupt", what, err)
					}
				}
				return nil
			})
		}},
		{"deleting a missing share is not found", func(t *testing.T, s *Store) {
			err := s.Update(context.Background(), func(tx *Tx) error { return tx.DeleteShare("alice", unit(1), 1) })
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("DeleteShare = %v, want ErrNotFound", err)
			}
		}},
		{"a deleted share is gone", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error { return tx.PutShare("alice", unit(1), 1, testShare("alice", unit(1), 1)) })
			update(t, s, func(tx *Tx) error { return tx.DeleteShare("alice", unit(1), 1) })
			view(t, s, func(tx *Tx) error {
				if _, err := tx.Share("alice", unit(1), 1); !errors.Is(err, ErrNotFound) {
					t.Errorf("Share after delete = %v, want ErrNotFound", err)
				}
				return nil
			})
		}},
		{"units are sorted by unit then version", func(t *testing.T, s *Store) {
			put := []UnitVersion{{unit(2), 1}, {unit(1), 256}, {unit(1), 2}, {unit(3), 0}, {unit(1), 1 << 40}}
			update(t, s, func(tx *Tx) error {
				for _, uv := range put {
					if err := tx.PutShare("alice", uv.Unit, uv.Version, testShare("alice", uv.Unit, uv.Version)); err != nil {
						return err
					}
				}
				return nil
			})
			want := []UnitVersion{{unit(1), 2}, {unit(1), 256}, {unit(1), 1 << 40}, {unit(2), 1}, {unit(3), 0}}
			view(t, s, func(tx *Tx) error {
				got, err := tx.Units("alice")
				if err != nil {
					return err
				}
				if !slices.Equal(got, want) {
					t.Errorf("Units = %v, want %v", got, want)
				}
				return nil
			})
		}},
		{"units come in pages that start where the last one ended", func(t *testing.T, s *Store) {
			put := []UnitVersion{{unit(2), 1}, {unit(1), 256}, {unit(1), 2}, {unit(3), 0}, {unit(1), 1 << 40}}
			update(t, s, func(tx *Tx) error {
				for _, uv := range put {
					if err := tx.PutShare("alice", uv.Unit, uv.Version, testShare("alice", uv.Unit, uv.Version)); err != nil {
						return err
					}
				}
				return tx.PutShare("alicia", unit(4), 1, testShare("alicia", unit(4), 1))
			})
			want := []UnitVersion{{unit(1), 2}, {unit(1), 256}, {unit(1), 1 << 40}, {unit(2), 1}, {unit(3), 0}}
			view(t, s, func(tx *Tx) error {
				var got []UnitVersion
				var start *UnitVersion
				for range len(want) {
					page, next, err := tx.UnitsPage("alice", start, 2)
					if err != nil {
						return err
					}
					if len(page) > 2 {
						t.Errorf("a page of 2 holds %d", len(page))
					}
					got = append(got, page...)
					if start = next; next == nil {
						break
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("UnitsPage by 2 = %v, want %v", got, want)
				}
				// A start that names no share begins after it.
				page, next, err := tx.UnitsPage("alice", &UnitVersion{unit(1), 3}, 0)
				if err != nil || next != nil || !slices.Equal(page, want[1:]) {
					t.Errorf("UnitsPage from (1, 3) = %v, %v, %v; want %v and no next page", page, next, err, want[1:])
				}
				if _, _, err := tx.UnitsPage("alice", nil, -1); !errors.Is(err, ErrInvalid) {
					t.Errorf("UnitsPage(-1) = %v, want ErrInvalid", err)
				}
				return nil
			})
		}},
		{"a user's units do not include those of a user whose name extends theirs", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error {
				for _, u := range []string{"al", "alice", "a"} {
					if err := tx.PutShare(u, unit(byte(len(u))), 1, testShare(u, unit(1), 1)); err != nil {
						return err
					}
				}
				return nil
			})
			view(t, s, func(tx *Tx) error {
				for _, u := range []string{"al", "alice", "a"} {
					got, err := tx.Units(u)
					if err != nil {
						return err
					}
					if want := []UnitVersion{{unit(byte(len(u))), 1}}; !slices.Equal(got, want) {
						t.Errorf("Units(%q) = %v, want %v", u, got, want)
					}
				}
				got, err := tx.Units("bob")
				if err != nil || len(got) != 0 {
					t.Errorf("Units(bob) = %v, %v; want none", got, err)
				}
				return nil
			})
		}},
		{"a share must be 1 to 64 bytes", func(t *testing.T, s *Store) {
			for _, n := range []int{0, MaxShareLen + 1} {
				err := s.Update(context.Background(), func(tx *Tx) error { return tx.PutShare("alice", unit(1), 1, make([]byte, n)) })
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("PutShare(%d bytes) = %v, want ErrInvalid", n, err)
				}
			}
			update(t, s, func(tx *Tx) error { return tx.PutShare("alice", unit(1), 1, make([]byte, MaxShareLen)) })
		}},
		{"a user name must be 1 to 128 bytes of UTF-8 without NUL", func(t *testing.T, s *Store) {
			bad := map[string]string{
				"empty":     "",
				"too long":  strings.Repeat("a", MaxUserLen+1),
				"not UTF-8": "al\xffce",
				"NUL":       "al\x00ce",
			}
			for what, user := range bad {
				err := s.Update(context.Background(), func(tx *Tx) error {
					errs := []error{
						tx.PutShare(user, unit(1), 1, []byte{1}),
						tx.PutAccount(testAccount(user)),
						tx.PutInvite(&Invite{User: user}),
						tx.DeleteShare(user, unit(1), 1),
					}
					_, e := tx.Share(user, unit(1), 1)
					errs = append(errs, e)
					_, e = tx.Account(user)
					errs = append(errs, e)
					_, e = tx.Units(user)
					errs = append(errs, e)
					for i, err := range errs {
						if !errors.Is(err, ErrInvalid) {
							t.Errorf("%s user, call %d: %v, want ErrInvalid", what, i, err)
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			long := strings.Repeat("é", MaxUserLen/2)
			update(t, s, func(tx *Tx) error { return tx.PutAccount(testAccount(long)) })
		}},
		{"the log size is 0 until set", func(t *testing.T, s *Store) {
			view(t, s, func(tx *Tx) error {
				if n, err := tx.LogSize(); n != 0 || err != nil {
					t.Errorf("LogSize = %d, %v; want 0", n, err)
				}
				return nil
			})
			update(t, s, func(tx *Tx) error { return tx.SetLogSize(1 << 33) })
			view(t, s, func(tx *Tx) error {
				if n, err := tx.LogSize(); n != 1<<33 || err != nil {
					t.Errorf("LogSize = %d, %v; want 2^33", n, err)
				}
				return nil
			})
		}},
		{"log entries and hashes read back by index", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error {
				for i := range int64(300) {
					if err := tx.PutLogEntry(i, []byte{byte(i), byte(i >> 8)}); err != nil {
						return err
					}
					if err := tx.PutLogHash(i, [32]byte{byte(i), byte(i >> 8), 0xff}); err != nil {
						return err
					}
				}
				return tx.PutLogEntry(300, nil)
			})
			view(t, s, func(tx *Tx) error {
				for i := range int64(300) {
					e, err := tx.LogEntry(i)
					if err != nil || !bytes.Equal(e, []byte{byte(i), byte(i >> 8)}) {
						t.Fatalf("LogEntry(%d) = %x, %v", i, e, err)
					}
					h, err := tx.LogHash(i)
					if err != nil || h != [32]byte{byte(i), byte(i >> 8), 0xff} {
						t.Fatalf("LogHash(%d) = %x, %v", i, h, err)
					}
				}
				if e, err := tx.LogEntry(300); err != nil || len(e) != 0 {
					t.Errorf("empty LogEntry = %x, %v", e, err)
				}
				if _, err := tx.LogEntry(301); !errors.Is(err, ErrNotFound) {
					t.Errorf("LogEntry(301) = %v, want ErrNotFound", err)
				}
				if _, err := tx.LogHash(300); !errors.Is(err, ErrNotFound) {
					t.Errorf("LogHash(300) = %v, want ErrNotFound", err)
				}
				return nil
			})
		}},
		{"negative log indexes and oversized entries are refused", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error {
				_, e1 := tx.LogEntry(-1)
				_, e2 := tx.LogHash(-1)
				for i, err := range []error{
					tx.PutLogEntry(-1, nil), tx.PutLogHash(-1, [32]byte{}), tx.SetLogSize(-1), e1, e2,
					tx.PutLogEntry(0, make([]byte, MaxLogEntryLen+1)),
				} {
					if !errors.Is(err, ErrInvalid) {
						t.Errorf("call %d: %v, want ErrInvalid", i, err)
					}
				}
				return nil
			})
		}},
		{"metadata reads back and is bounded", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error { return tx.SetMeta("peer-id", []byte("12D3KooW")) })
			view(t, s, func(tx *Tx) error {
				if v, err := tx.Meta("peer-id"); err != nil || string(v) != "12D3KooW" {
					t.Errorf("Meta = %q, %v", v, err)
				}
				if _, err := tx.Meta("peer"); !errors.Is(err, ErrNotFound) {
					t.Errorf("Meta(peer) = %v, want ErrNotFound", err)
				}
				return nil
			})
			update(t, s, func(tx *Tx) error {
				for i, err := range []error{
					tx.SetMeta("", nil),
					tx.SetMeta(strings.Repeat("n", MaxMetaNameLen+1), nil),
					tx.SetMeta("big", make([]byte, MaxMetaValueLen+1)),
				} {
					if !errors.Is(err, ErrInvalid) {
						t.Errorf("call %d: %v, want ErrInvalid", i, err)
					}
				}
				return nil
			})
		}},
		{"a failed update writes nothing", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error { return tx.PutShare("alice", unit(1), 1, testShare("alice", unit(1), 1)) })
			err := s.Update(context.Background(), func(tx *Tx) error {
				if err := tx.PutAccount(testAccount("bob")); err != nil {
					return err
				}
				if err := tx.DeleteShare("alice", unit(1), 1); err != nil {
					return err
				}
				if err := tx.SetLogSize(9); err != nil {
					return err
				}
				return errBoom
			})
			if !errors.Is(err, errBoom) {
				t.Fatalf("Update = %v, want the function's own error", err)
			}
			view(t, s, func(tx *Tx) error {
				if _, err := tx.Account("bob"); !errors.Is(err, ErrNotFound) {
					t.Errorf("account of a failed update: %v", err)
				}
				if _, err := tx.Share("alice", unit(1), 1); err != nil {
					t.Errorf("share deleted by a failed update: %v", err)
				}
				if n, _ := tx.LogSize(); n != 0 {
					t.Errorf("log size of a failed update: %d", n)
				}
				return nil
			})
		}},
		{"an update's own writes are visible to its later reads", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error {
				if err := tx.PutAccount(testAccount("alice")); err != nil {
					return err
				}
				if err := tx.SetLogSize(5); err != nil {
					return err
				}
				if _, err := tx.Account("alice"); err != nil {
					t.Errorf("own account: %v", err)
				}
				if n, err := tx.LogSize(); n != 5 || err != nil {
					t.Errorf("own log size: %d, %v", n, err)
				}
				return nil
			})
		}},
		{"an update's own delete hides the stored value", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error { return tx.PutShare("alice", unit(1), 1, testShare("alice", unit(1), 1)) })
			update(t, s, func(tx *Tx) error {
				if err := tx.DeleteShare("alice", unit(1), 1); err != nil {
					return err
				}
				if _, err := tx.Share("alice", unit(1), 1); !errors.Is(err, ErrNotFound) {
					t.Errorf("Share after own delete = %v, want ErrNotFound", err)
				}
				if err := tx.DeleteShare("alice", unit(1), 1); !errors.Is(err, ErrNotFound) {
					t.Errorf("second own delete = %v, want ErrNotFound", err)
				}
				return nil
			})
		}},
		{"iteration sees the update's own writes and deletes", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error {
				for v := uint64(1); v <= 4; v++ {
					if err := tx.PutShare("alice", unit(1), v, testShare("alice", unit(1), v)); err != nil {
						return err
					}
				}
				for _, u := range []string{"b", "d"} {
					if err := tx.PutAccount(testAccount(u)); err != nil {
						return err
					}
				}
				return nil
			})
			update(t, s, func(tx *Tx) error {
				for _, op := range []error{
					tx.DeleteShare("alice", unit(1), 2),
					tx.PutShare("alice", unit(1), 5, testShare("alice", unit(1), 5)),
					tx.PutShare("alice", unit(0), 9, testShare("alice", unit(0), 9)),
					tx.PutShare("alice", unit(1), 3, testShare("alice", unit(1), 3)), // overwrite
					tx.PutAccount(testAccount("a")),
					tx.PutAccount(testAccount("c")),
				} {
					if op != nil {
						return op
					}
				}
				got, err := tx.Units("alice")
				if err != nil {
					return err
				}
				want := []UnitVersion{{unit(0), 9}, {unit(1), 1}, {unit(1), 3}, {unit(1), 4}, {unit(1), 5}}
				if !slices.Equal(got, want) {
					t.Errorf("Units inside the update = %v, want %v", got, want)
				}
				var users []string
				if err := tx.Accounts(func(a *Account) error { users = append(users, a.User); return nil }); err != nil {
					return err
				}
				if !slices.Equal(users, []string{"a", "b", "c", "d"}) {
					t.Errorf("Accounts inside the update = %q", users)
				}
				return nil
			})
		}},
		{"writes in a view are refused", func(t *testing.T, s *Store) {
			err := s.View(func(tx *Tx) error { return tx.SetLogSize(1) })
			if !errors.Is(err, errReadOnly) {
				t.Errorf("write in View = %v, want errReadOnly", err)
			}
		}},
		{"a tx used after its function returned fails", func(t *testing.T, s *Store) {
			var kept *Tx
			update(t, s, func(tx *Tx) error { kept = tx; return nil })
			if err := kept.SetLogSize(1); !errors.Is(err, errTxDone) {
				t.Errorf("late write = %v, want errTxDone", err)
			}
			view(t, s, func(tx *Tx) error { kept = tx; return nil })
			if _, err := kept.LogSize(); !errors.Is(err, errTxDone) {
				t.Errorf("late read = %v, want errTxDone", err)
			}
		}},
		{"an update with a context already done runs nothing", func(t *testing.T, s *Store) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			ran := false
			err := s.Update(ctx, func(tx *Tx) error { ran = true; return nil })
			if !errors.Is(err, context.Canceled) || ran {
				t.Errorf("Update = %v (ran: %v), want context.Canceled and not run", err, ran)
			}
		}},
		{"a panicking update yields an error and the store keeps working", func(t *testing.T, s *Store) {
			err := s.Update(context.Background(), func(tx *Tx) error {
				if err := tx.SetLogSize(3); err != nil {
					return err
				}
				panic("boom")
			})
			if err == nil || !strings.Contains(err.Error(), "panicked") {
				t.Fatalf("Update = %v, want a panic error", err)
			}
			update(t, s, func(tx *Tx) error { return tx.SetMeta("after", []byte("panic")) })
			view(t, s, func(tx *Tx) error {
				if n, _ := tx.LogSize(); n != 0 {
					t.Errorf("a panicking update's write was kept")
				}
				_, err := tx.Meta("after")
				return err
			})
		}},
		{"stats count accounts, locked accounts, shares and the log", func(t *testing.T, s *Store) {
			update(t, s, func(tx *Tx) error {
				for i, u := range []string{"a", "b", "c"} {
					a := testAccount(u)
					a.Locked = i == 1
					if err := tx.PutAccount(a); err != nil {
						return err
					}
					if err := tx.PutShare(u, unit(1), 1, []byte{1}); err != nil {
						return err
					}
				}
				if err := tx.PutShare("a", unit(2), 1, []byte{1}); err != nil {
					return err
				}
				return tx.SetLogSize(42)
			})
			st, err := s.Stats()
			if err != nil {
				t.Fatal(err)
			}
			if st.Accounts != 3 || st.LockedAccounts != 1 || st.Shares != 4 || st.LogSize != 42 {
				t.Errorf("Stats = %+v", st)
			}
			if st.Commits < 1 || st.Updates < st.Commits {
				t.Errorf("Stats counters = %d updates in %d commits", st.Updates, st.Commits)
			}
		}},
		{"a closed store refuses everything, and closes again quietly", func(t *testing.T, s *Store) {
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if err := s.Update(context.Background(), func(*Tx) error { return nil }); !errors.Is(err, ErrClosed) {
				t.Errorf("Update = %v, want ErrClosed", err)
			}
			if err := s.View(func(*Tx) error { return nil }); !errors.Is(err, ErrClosed) {
				t.Errorf("View = %v, want ErrClosed", err)
			}
			if err := s.Backup(&bytes.Buffer{}); !errors.Is(err, ErrClosed) {
				t.Errorf("Backup = %v, want ErrClosed", err)
			}
			if _, err := s.Stats(); !errors.Is(err, ErrClosed) {
				t.Errorf("Stats = %v, want ErrClosed", err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, open(t)) })
	}
}

func userN(i int) string { return fmt.Sprintf("user-%04d", i) }
