package state

import "errors"

// Use is what the opener of a data directory's state store does with it.
type Use int

const (
	// UseWrite: the opener stores new things; a missing store is created
	// (only in an existing parent directory, see OpenEmbedded).
	UseWrite Use = iota + 1
	// UseRead: the opener only reads, or changes only what is already
	// stored: a missing store is not created and an empty store in memory
	// (OpenEmpty) stands in, where lists are empty and lookups find
	// nothing.
	UseRead
	// UseExisting: the opener needs a stored state (an audit log to
	// verify, a key to revoke): a missing store is ErrNoState and nothing
	// is created.
	UseExisting
)

// OpenFor opens the embedded store in dir for use (opts as OpenEmbedded's;
// its MustExist is set from use).
func OpenFor(dir string, use Use, opts *EmbeddedOptions) (Store, error) {
	var o EmbeddedOptions
	if opts != nil {
		o = *opts
	}
	switch use {
	case UseWrite:
		o.MustExist = false
	case UseRead, UseExisting:
		o.MustExist = true
	default:
		return nil, errors.New("state: the opener must say whether it reads (UseRead), writes (UseWrite) or needs an existing store (UseExisting)")
	}
	st, err := OpenEmbedded(dir, &o)
	if use == UseRead && errors.Is(err, ErrNoState) {
		st, err = OpenEmpty()
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}
