namespace UFork.Supervision;

/// <summary>
/// A worker process died, or was killed as unhealthy, without being asked to stop: the failure of its
/// WorkerActor that the arbiter's <see cref="WorkerSupervisorStrategy"/> rules on. It carries only the
/// facts of the death; what follows from them is the strategy's to decide.
/// </summary>
public sealed class WorkerFailedException(DeadWorker death)
    : Exception($"worker {death.Slot} (pid {death.Pid}) died: {death.Reason}")
{
    public DeadWorker Death { get; } = death;
}
