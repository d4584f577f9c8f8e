// Package auditor checks the audit logs of a custos network from outside,
// as an auditor does, trusting nothing but the network file.
//
// For every node of the network file, Verify checks:
//
//   - the node's latest checkpoint (a C2SP tlog-checkpoint) is signed by the
//     key its pinned peer ID embeds, under the origin custos/<node name>;
//   - against the last checkpoint of that node kept in the state directory
//     (the first run records it): the tree did not shrink (a rollback), did
//     not change at the same size (a fork), and, when it grew, the node's
//     consistency proof shows the new tree extends the old one;
//   - with a user's vault (ReadVault): every checkpoint of the node the
//     vault holds is signed by the node and of one history with the one the
//     node serves the auditor, so that a node that showed one user a forked
//     log is caught (a split view);
//   - with full, every entry of the tree, read with the auditor's key (whose
//     peer ID the node's operator lists under auditors in node.yaml): the
//     RFC 6962 root recomputed from the entries equals the checkpoint's root,
//     every entry decodes, every release entry carries the signature of
//     the device that asked for it, and no entry refuses a request its
//     device signed while the user holds the receipt the node answered it
//     with.
//
// The checkpoint and consistency checks see what the node's stored tree
// hashes commit to. An entry changed, removed or moved behind the tree's
// back leaves those hashes, and so every checkpoint and proof, as they
// were: only the full check, which hashes the entries themselves, sees it.
//
// A node restored from a backup no longer extends what the auditor
// recorded. Verify accepts such a restore only when asked to (Options.Accept)
// and only when the node's log holds the entry custosd restore writes; the
// checkpoint it replaces stays in the state directory (AcceptedRestore).
package auditor
