package sim

// sign replaces placeholder signatures by real ones (signed mode).
func (w *world) sign(t *txb) {}
