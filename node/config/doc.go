// Package config reads, checks and writes node.yaml, the configuration file
// of a custodian node (custosd).
//
// # The file
//
// node.yaml is YAML with snake_case keys. Its first setting is
// "version: 1", the format of the file; a version this package does not know
// is an error, not a guess. Durations are Go duration strings ("90s", "15m",
// "1h30m"); a bare number is refused because its unit would be a guess.
// Relative paths are relative to the directory of the file, so a node
// directory can be moved as a whole.
//
// A setting left out of the file takes its default (see Default), but
// WriteDefault, which custosd init uses, writes every setting out with a
// comment, so an operator reads what the node does rather than remembering
// what it defaults to.
//
// # Strictness
//
// Load refuses what it does not understand: unknown keys (often a typo, whose
// setting would otherwise silently keep its default), a key given twice,
// values of the wrong type, an empty value, a second YAML document, anchors,
// aliases and explicit tags, and a file above MaxFileSize. Every problem is a
// *FieldError naming the file, the line and the setting; Load reports all the
// problems it finds, not only the first.
package config
