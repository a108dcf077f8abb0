package trace

// SetDemixAttributedOnly makes demixing see only the mixer's attributed
// coins (the rule before the mixer-behaviour rules), to measure them.
func (t *Tracer) SetDemixAttributedOnly(b bool) { t.demixAttributedOnly = b }
