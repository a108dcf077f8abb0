// Package archtest checks the architecture in its tests: data flows one
// way (source → chain → index → analyses → cli), only cmd/ wires packages
// together, and every package says what it is for.
package archtest
