// Package agent keeps one user's vault unlocked in a long-lived local
// process, so that automated processes can use its records without the
// password, a login at every node, or the vault's lock.
//
// # What runs where
//
// A Server (custos agent), once unlocked, holds the vault open and the
// client's sessions and login keys in memory. It listens on a unix socket,
// one per vault (SocketPath), in a directory only its user may enter
// (0700), itself mode 0600. Every connection's peer credentials
// (SO_PEERCRED) must show the server's own uid: another user's process is
// refused before it may send a byte (CheckPeer). A Conn (every custos
// command) checks the same of the server, so that it never sends a password
// or a record to another user's socket.
//
// An unlocked agent locks itself after an idle time without requests,
// at the end of its maximum lifetime, and on Lock: it locks the client
// (wiping its login keys, best effort as Go allows) and closes the vault.
// It then answers every request for a record with ErrLocked ("locked: run
// custos unlock"), until it is unlocked again; a locked agent that nobody
// asked for its idle time ends, and removes its socket and lock file. A
// killed agent (SIGKILL) leaves its socket behind: a Conn gets no answer
// from it (connection refused) and sees no agent; the next Server takes
// the lock file's lock, which the kernel released with the dead process,
// and replaces the socket.
//
// # The protocol
//
// One request and one response per connection. Each is a frame: a 4-byte
// big-endian length, then that many bytes of JSON, an object whose "v" is
// Version. A request is at most MaxRequest bytes and a response at most
// MaxResponse; a larger length, an unknown version, an unknown operation or
// a malformed field is refused before anything else is done. Secrets travel
// in the frames (a record's password, the password of an unlock): the
// socket is the boundary, as for ssh-agent.
//
// # What is protected
//
// Anything that runs as the agent's user can ask it for every record while
// it is unlocked: that is its purpose. The nodes still limit and log every
// release, with the vault's device. Against other users, the socket's
// permissions and peer credentials. Against reading the agent's memory:
// Protect marks the process not dumpable (no core file, no ptrace or
// /proc/PID/mem by other processes of the user without CAP_SYS_PTRACE) and
// locks its memory against swapping when RLIMIT_MEMLOCK allows it (see
// Protect). Root can read any process's memory.
package agent
