package workflows

// RestoreCarriedSaga rebuilds a saga carried without its steps, as a run resuming it does.
func RestoreCarriedSaga(p *Progress) { p.rebuildSaga() }

// SagaStepsRebuilt is the change id of the saga's rebuild when a run starts.
const SagaStepsRebuilt = sagaStepsRebuilt

// WatchHeartbeatLonger is the change id of the watchers' longer heartbeat timeout.
const WatchHeartbeatLonger = watchHeartbeatLonger
