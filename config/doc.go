// Package config reads what vitrine is told: the environment (Env, with
// every secret also as NAME_FILE and never printable) and the strict rules
// file (Load: includes, defaults, validation).
//
// Every problem in a rules file is reported at once, each as
// `file:line: field: problem` (Problems), so that `vitrine validate` lists
// them all and an editor can jump to each. Later stages that check rules
// (the mapping's type-check of `when`) report through the same Problems,
// using the positions recorded here (Customer.Pos, Customer.PosOf,
// Publish.WhenPos).
//
// Validation needs no network: what only the trackers can answer (tokens,
// permissions, workflows) is for `vitrine validate --online`. The sample
// rules file with every key is testdata/full.yaml.
package config
