package workflows

// RestoreCarriedSaga rebuilds a saga carried without its steps, as a run resuming it does.
func RestoreCarriedSaga(p *Progress) { p.rebuildSaga() }
