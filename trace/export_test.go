package trace

// SetDemixAttributedOnly makes demixing see only the mixer's attributed
// coins (the rule before the mixer-behaviour rules), to measure them.
func (t *Tracer) SetDemixAttributedOnly(b bool) { t.demixAttributedOnly = b }

// MixerLabel is the mixer label of output o's address ("" when none).
func (t *Tracer) MixerLabel(o int64) string { return t.mixerOf(t.g.OutputAt(o).AddrID) }

// MixerTx tells what the mixer-behaviour rules make of transaction n for
// mixer label: a sweep of its deposits, funded by it (a payout).
func (t *Tracer) MixerTx(label string, n int64) (sweep, funded bool) {
	t.demix.mu.Lock()
	defer t.demix.mu.Unlock()
	v := t.mixerViewLocked(label)
	return v.isSweep(n), v.funded(n, poolBackDepth)
}

// MixerPoolChange tells whether the rules take output o (of a funded
// transaction) for the pool's change.
func (t *Tracer) MixerPoolChange(label string, o int64) bool {
	t.demix.mu.Lock()
	defer t.demix.mu.Unlock()
	return t.mixerViewLocked(label).poolChange(o)
}

// SetDemixWindowScan makes linked demixing read every transaction of a
// deposit's window instead of the owner's outputs.
func (t *Tracer) SetDemixWindowScan(b bool) { t.demixWindowScan = b }

// SetOneWalletNoRival makes one-wallet evidence skip its rival-deposit
// check.
func (t *Tracer) SetOneWalletNoRival(b bool) { t.oneWalletNoRival = b }
